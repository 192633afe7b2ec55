package ginsession

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

// storedFormats are the fixed records in testdata/records, as earlier
// versions of ginsession wrote them, with what each must read as. A change
// to the record format that stops reading one fails here: a rolling deploy
// runs old and new binaries against the same memcached.
var storedFormats = []struct {
	file             string
	created, touched int64
	persistent       bool
	values           map[string]any
	flashes          int
	stamped          bool
	stampChecked     int64
}{
	{"v2-plain.hex", 1_800_000_000, 1_800_000_100, false, map[string]any{"user_name": "alice", "n": int64(3)}, 0, false, 0},
	{"v2-remembered.hex", 1_800_000_000, 1_800_000_200, true, map[string]any{"user_name": "bob"}, 1, false, 0},
	{"v2-stamped.hex", 1_800_000_000, 1_800_000_300, false, map[string]any{"user_name": "carol"}, 0, true, 1_800_000_250},
}

// readStoredFormat returns the bytes of a testdata record: the hex on its
// lines that are not comments.
func readStoredFormat(t testing.TB, file string) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "records", file))
	if err != nil {
		t.Fatal(err)
	}
	var hexText strings.Builder
	for line := range strings.Lines(string(text)) {
		if !strings.HasPrefix(line, "#") {
			hexText.WriteString(strings.TrimSpace(line))
		}
	}
	b, err := hex.DecodeString(hexText.String())
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return b
}

func TestStoredRecordFormatsStillRead(t *testing.T) {
	rs, _ := fuzzSealers()
	for _, f := range storedFormats {
		t.Run(f.file, func(t *testing.T) {
			b := readStoredFormat(t, f.file)
			r, err := openRecord(rs, fuzzRecordKey, b)
			if err != nil {
				t.Fatalf("does not open: %v", err)
			}
			if r.created != f.created || r.touched != f.touched || r.persistent != f.persistent ||
				len(r.flashes) != f.flashes || r.stamped() != f.stamped || r.stampChecked != f.stampChecked {
				t.Fatalf("read as created=%d touched=%d persistent=%v flashes=%d stamp=%x checked=%d",
					r.created, r.touched, r.persistent, len(r.flashes), r.stamp, r.stampChecked)
			}
			if r.count() != len(f.values) {
				t.Fatalf("%d values, want %d", r.count(), len(f.values))
			}
			for k, want := range f.values {
				raw, ok := r.get(k)
				if !ok {
					t.Fatalf("value %q missing", k)
				}
				got, err := decodeValue(raw)
				if err != nil || got != want {
					t.Fatalf("value %q = %#v (%v), want %#v", k, got, err, want)
				}
			}
			if again := rs.seal(fuzzRecordKey, r.encode(nil)); !bytes.Equal(again, b) {
				t.Fatalf("re-encodes to %x", again)
			}
		})
	}
}

// During a rolling deploy a binary of this version reads a record that a
// later version wrote with optional fields it does not know: the session
// stands with those fields absent, and writing it back drops them.
func TestARecordOfALaterVersionKeepsItsSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := integrityApp(t, client, Options{})
		a.engine.GET("/write", func(c *gin.Context) { Default(c).Set("visits", 1) })
		cookie, key := a.login("carol")
		stored := a.raw(key)
		body := bytes.Clone(stored[:len(stored)-tagField])
		later := []byte{0xc0, 0x82, 0xa1, 'x', 0x01, 0xa1, 'y', 0x92, 0x01, 0x02} // no guard, then a field of a later version
		body[0] = 0x90 | byte(fixedFields+2)
		b := append(append(append(body, later...), 0xc4, tagSize), make([]byte, tagSize)...)
		if err := a.store.Client.Set(&memcache.Item{Key: key, Value: a.m.store.records.seal(key, b)}); err != nil {
			t.Fatal(err)
		}
		a.wantMe(cookie, "carol", "a record with a later version's field")
		a.serve("/write", cookie)
		if again := a.raw(key); laterFields(again) || bytes.Contains(again, later[1:]) {
			t.Errorf("the record written back keeps the field this version does not know: %x", again)
		}
		a.wantMe(cookie, "carol", "the record written back")
	})
}

func TestRecordOptionalFieldsAreCanonical(t *testing.T) {
	rs, _ := fuzzSealers()
	for name, b := range map[string][]byte{
		"a nil last field":         withOptional(rs, 0xc0),
		"nil, then nil":            withOptional(rs, 0xc0, 0xc0),
		"fewer fields than fixed":  rs.seal(fuzzRecordKey, append([]byte{0x90 | (fixedFields - 1)}, withOptional(rs)[1:]...)),
		"more fields than held":    rs.seal(fuzzRecordKey, append([]byte{0x90 | (fixedFields + 2)}, withOptional(rs, guardBytes()...)[1:]...)),
		"a guard with a zero hash": withOptional(rs, (&record{meta: meta{stampChecked: 1}}).encodeGuard(nil)...),
	} {
		if _, err := openRecord(rs, fuzzRecordKey, b); err == nil {
			t.Errorf("%s: opened, want refused", name)
		}
	}
	r, err := openRecord(rs, fuzzRecordKey, withOptional(rs, append(guardBytes(), 0x07)...))
	if err != nil || !r.stamped() || r.stampChecked != 1_700_000_050 {
		t.Fatalf("a guard then a later field: %v, stamped %v", err, r != nil && r.stamped())
	}
	if enc := r.encode(nil); laterFields(enc) || enc[0] != 0x90|(fixedFields+1) {
		t.Errorf("re-encoded with %d fields, want the guard only", enc[0]&0x0f)
	}
}
