package ginsession

import (
	"errors"
	"fmt"
	"reflect"
	"time"
)

// ErrTypeMismatch is returned (wrapped, naming the key) by GetAs and Scan
// when the stored value does not fit the requested type: another kind of
// value, or an integer outside the type's range.
var ErrTypeMismatch = errors.New("ginsession: stored value does not fit the requested type")

// GetAs returns the value stored under key as a T: a struct (msgpack or json
// tags), slice, map or scalar. It returns ErrKeyNotFound when key is not set,
// and an error wrapping ErrTypeMismatch that names the key and what it holds
// when the value does not fit T, including an integer out of T's range (1000
// is never read back as a uint8 of 232). Use it where a gin-contrib/sessions
// port would write v.(int): Get returns integers as int64.
func GetAs[T any](s *Session, key string) (T, error) {
	var v T
	err := s.Scan(key, &v)
	return v, err
}

// scanChecked decodes raw into dst and refuses a value that did not fit.
func (s *Session) scanChecked(key string, raw []byte, dst any) error {
	if err := s.m.values.scan(raw, dst); err != nil {
		return fmt.Errorf("ginsession: read %q as %s: %w: it holds %s (%v)", key, typeName(dst), ErrTypeMismatch, describe(raw), err)
	}
	if err := s.checkIntegers(raw, dst); err != nil {
		return fmt.Errorf("ginsession: read %q as %s: %w: %v", key, typeName(dst), ErrTypeMismatch, err)
	}
	return nil
}

// checkIntegers reports an integer that msgpack truncated on its way into
// dst: the decoded value, encoded again, must hold the same integers as raw
// wherever both have one (keys a struct ignores are skipped).
func (s *Session) checkIntegers(raw []byte, dst any) error {
	switch dst.(type) {
	case *string, *[]byte, *bool, *float64, *float32, *time.Time, *any, *map[string]any, *[]any:
		return nil // no integer can be truncated into these
	}
	again, err := s.m.values.encode(reflect.ValueOf(dst).Elem().Interface())
	if err != nil {
		return nil // not re-encodable (a custom decoder): nothing to compare
	}
	want, err := decodeValue(raw)
	if err != nil {
		return nil
	}
	got, err := decodeValue(again)
	if err != nil {
		return nil
	}
	return sameIntegers(want, got, "value")
}

// sameIntegers walks two decoded values side by side and reports the first
// integer that differs.
func sameIntegers(want, got any, path string) error {
	switch w := want.(type) {
	case int64, uint64:
		if isInteger(got) && !sameInt(w, got) {
			return fmt.Errorf("%s %v does not fit (read as %v)", path, w, got)
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return nil
		}
		for k, wv := range w {
			if gv, ok := g[k]; ok {
				if err := sameIntegers(wv, gv, path+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return nil
		}
		for i := range min(len(w), len(g)) {
			if err := sameIntegers(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// isInteger reports whether v is a decoded integer.
func isInteger(v any) bool {
	switch v.(type) {
	case int64, uint64:
		return true
	}
	return false
}

// sameInt compares two integers held as int64 or uint64.
func sameInt(a, b any) bool {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case uint64:
			return x >= 0 && uint64(x) == y
		}
	case uint64:
		switch y := b.(type) {
		case uint64:
			return x == y
		case int64:
			return y >= 0 && uint64(y) == x
		}
	}
	return false
}

// typeName names the type dst points to, for error messages.
func typeName(dst any) string {
	t := reflect.TypeOf(dst)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "nil"
	}
	return t.String()
}

// describe says what kind of value raw holds, for error messages (never the
// value itself, which may be sensitive).
func describe(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch b := raw[0]; {
	case b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3):
		return "an integer"
	case b >= 0xa0 && b <= 0xbf || b >= 0xd9 && b <= 0xdb:
		return "a string"
	case b >= 0x80 && b <= 0x8f || b == 0xde || b == 0xdf:
		return "a map"
	case b >= 0x90 && b <= 0x9f || b == 0xdc || b == 0xdd:
		return "a list"
	case b == 0xc0:
		return "nil"
	case b == 0xc2 || b == 0xc3:
		return "a boolean"
	case b == 0xca || b == 0xcb:
		return "a float"
	case b >= 0xc4 && b <= 0xc6:
		return "binary data"
	case b == 0xd6 && len(raw) > 1 && raw[1] == 0xff || b == 0xd7 && len(raw) > 1 && raw[1] == 0xff || b == 0xc7 && len(raw) > 2 && raw[2] == 0xff:
		return "a time"
	}
	return "an extension value"
}
