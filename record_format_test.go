package ginsession

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
