package ginsession

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
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
	err := s.read(key, &v)
	return v, err
}

// read decodes the value stored under key into dst, for Scan and GetAs.
func (s *Session) read(key string, dst any) error {
	var raw []byte
	var ok bool
	if err := s.with(func(st *state) { raw, ok = st.rec.get(key) }); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("ginsession: scan %q: %w", key, ErrKeyNotFound)
	}
	return s.scanChecked(key, raw, dst)
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
// dst: it walks the stored value and the decoded one side by side and
// compares every integer the stored value holds with what dst received
// (msgpack sets integer fields without a range check). Keys dst has no
// field for are skipped.
func (s *Session) checkIntegers(raw []byte, dst any) error {
	switch dst.(type) {
	case *string, *[]byte, *bool, *float64, *float32, *time.Time, *any, *map[string]any, *[]any:
		return nil // no integer can be truncated into these
	}
	want, err := decodeValue(raw)
	if err != nil {
		return nil // msgpack read it; nothing to compare with
	}
	return sameIntegers(want, reflect.ValueOf(dst).Elem(), "value")
}

// sameIntegers compares the decoded stored value want with got, the Go
// value it was read into, and reports the first integer that differs.
func sameIntegers(want any, got reflect.Value, path string) error {
	for got.Kind() == reflect.Pointer || got.Kind() == reflect.Interface {
		if got.IsNil() {
			return nil
		}
		got = got.Elem()
	}
	switch w := want.(type) {
	case int64, uint64:
		if !fitsExactly(w, got) {
			return fmt.Errorf("%s %v does not fit %s", path, w, got.Type())
		}
	case map[string]any:
		return sameFields(w, got, path)
	case []any:
		if got.Kind() != reflect.Slice && got.Kind() != reflect.Array {
			return nil
		}
		for i := range min(len(w), got.Len()) {
			if err := sameIntegers(w[i], got.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameFields compares a stored map with the struct or map it was read into.
func sameFields(want map[string]any, got reflect.Value, path string) error {
	switch got.Kind() {
	case reflect.Map:
		if got.Type().Key().Kind() != reflect.String {
			return nil
		}
		for k, wv := range want {
			if gv := got.MapIndex(reflect.ValueOf(k).Convert(got.Type().Key())); gv.IsValid() {
				if err := sameIntegers(wv, gv, path+"."+k); err != nil {
					return err
				}
			}
		}
	case reflect.Struct:
		t := got.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous && f.Type.Kind() == reflect.Struct && fieldName(f) == f.Name {
				if err := sameFields(want, got.Field(i), path); err != nil { // msgpack inlines embedded structs
					return err
				}
				continue
			}
			if wv, ok := want[fieldName(f)]; ok {
				if err := sameIntegers(wv, got.Field(i), path+"."+fieldName(f)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fieldName is the key msgpack uses for f: its msgpack tag, else its json
// tag (the codec falls back to json tags), else its name.
func fieldName(f reflect.StructField) string {
	for _, tag := range []string{"msgpack", "json"} {
		if name, _, _ := strings.Cut(f.Tag.Get(tag), ","); name != "" {
			return name
		}
	}
	return f.Name
}

// fitsExactly reports whether got, an integer or float destination, holds
// exactly the stored integer w (floats and other kinds are not checked).
func fitsExactly(w any, got reflect.Value) bool {
	switch got.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return sameInt(w, got.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return sameInt(w, got.Uint())
	}
	return true
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
