package ginsession

import (
	"testing"
)

// With one slot, every lookup meets the remembered value: a value that
// differs from it in any one character must still be verified, and fail.
func TestCookieResolverComparesRememberedValuesWhole(t *testing.T) {
	codec := newCookieCodec("session_id", testSecret, nil)
	r := newCookieResolver(codec, "p:", 1)
	valid := codec.encode(newID())
	who, ok := r.resolve(valid)
	if !ok || who.id != valid[:idLen] || who.key != storageKey("p:", valid[:idLen]) || !who.current {
		t.Fatalf("resolve(valid) = %+v, %v", who, ok)
	}
	for i := range len(valid) {
		if i == idLen {
			continue // the dot
		}
		b := []byte(valid)
		b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
		for range 2 { // a forged value that got stored would pass the second time
			if who, ok := r.resolve(string(b)); ok {
				t.Fatalf("a value differing at %d from the remembered one resolved to %+v", i, who)
			}
		}
		if again, ok := r.resolve(valid); !ok || again != who {
			t.Fatalf("after a forged value the slot no longer holds the valid one: %+v, %v", again, ok)
		}
	}
}

// A value only an old secret signed resolves, from the memo too, as one to
// re-sign.
func TestCookieResolverRemembersOldSecretVerdict(t *testing.T) {
	const oldSecret = "an old secret that still verifies cookies........"
	id := newID()
	value := newCookieCodec("session_id", oldSecret, nil).encode(id)
	r := newCookieResolver(newCookieCodec("session_id", testSecret, []string{oldSecret}), "p:", 1)
	var first *cookieIdentity
	for i := range 2 {
		who, ok := r.resolve(value)
		if !ok || who.id != id || who.current || who.key != storageKey("p:", id) {
			t.Fatalf("resolve #%d = %+v, %v; want ID %q, not current", i+1, who, ok, id)
		}
		if i == 0 {
			first = who
		} else if who != first {
			t.Fatal("the second resolve did not come from the memo")
		}
	}
	if _, ok := newCookieResolver(newCookieCodec("session_id", testSecret, nil), "p:", 1).resolve(value); ok {
		t.Fatal("a resolver without the old secret accepted its cookie")
	}
}

func TestSameSecret(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "xbc", false},
		{"abc", "ab", false},
		{"ab", "abc", false},
		{"0123456789abcdefXYZ", "0123456789abcdefXYZ", true},
		{"0123456789abcdefXYZ", "0123456789abcdefXYz", false}, // in the tail
		{"0123456789abcdefXYZ", "0123456789abcdeFXYZ", false}, // in the second word
		{"0123456789abcdefXYZ", "1123456789abcdefXYZ", false}, // in the first word
	} {
		if got := sameSecret(tc.a, tc.b); got != tc.want {
			t.Errorf("sameSecret(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
