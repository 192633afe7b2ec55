package ginsession

import (
	"math"
	"time"
)

// The typed getters return the zero value when key is missing or holds a
// value of another type; they never panic. Use Get or Scan to tell "missing"
// from "zero".

// GetString returns the string (or []byte, as a string) under key.
func (s *Session) GetString(key string) string {
	raw, ok := s.raw(key)
	if !ok {
		return ""
	}
	if str, n, ok := strAtStart(raw); ok && n == len(raw) {
		return str // the common case, decoded without boxing
	}
	switch v := s.decode(key, raw).(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// GetInt returns the integer under key when it fits in an int.
func (s *Session) GetInt(key string) int {
	n := s.GetInt64(key)
	if n > math.MaxInt || n < math.MinInt {
		return 0
	}
	return int(n)
}

// GetInt64 returns the integer under key when it fits in an int64.
func (s *Session) GetInt64(key string) int64 {
	raw, ok := s.raw(key)
	if !ok {
		return 0
	}
	if i, _, big, n, ok := intAt(raw); ok && n == len(raw) && !big {
		return i // the common case, decoded without boxing
	}
	switch v := s.decode(key, raw).(type) {
	case int64:
		return v
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v)
		}
	}
	return 0
}

// GetFloat64 returns the number under key as a float64 (integers convert).
func (s *Session) GetFloat64(key string) float64 {
	switch v := s.Get(key).(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	}
	return 0
}

// GetBool returns the bool under key.
func (s *Session) GetBool(key string) bool {
	b, _ := s.Get(key).(bool)
	return b
}

// GetTime returns the time.Time under key (stored with msgpack's timestamp
// extension, nanosecond precision, in the local time zone).
func (s *Session) GetTime(key string) time.Time {
	t, _ := s.Get(key).(time.Time)
	return t
}

// GetBytes returns the []byte (or string, as bytes) under key.
func (s *Session) GetBytes(key string) []byte {
	switch v := s.Get(key).(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	}
	return nil
}
