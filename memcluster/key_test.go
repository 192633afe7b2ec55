package memcluster

import (
	"strings"
	"testing"
)

func TestValidKey(t *testing.T) {
	cases := []struct {
		key  string
		want bool
	}{
		{"", false},
		{"k", true},
		{strings.Repeat("k", 250), true},
		{strings.Repeat("k", 251), false},
		{"a b", false},
		{"a\x00b", false},
		{"a\x1fb", false},
		{"a\x20b", false},
		{"a\x21b", true},
		{"a\x7eb", true},
		{"a\x7fb", false},
		{"a\x80b", true},
		{"ключ", true},
	}
	for _, tc := range cases {
		if got := ValidKey(tc.key); got != tc.want {
			t.Errorf("ValidKey(%.20q) (len %d) = %v, want %v", tc.key, len(tc.key), got, tc.want)
		}
	}
}
