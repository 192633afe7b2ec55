package ginsession

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// typicalRecord returns the encoded, unsealed record of a typical session.
func typicalRecord() []byte {
	return recordOf(1, 1, false, map[string][]byte{"user_name": []byte("\xa5alice"), "n": {0x2a}}).encode(nil)
}

// With one slot, every key shares it: the memo must still tell keys and
// bytes apart, and anything it does not hold goes through the MAC.
func TestRecordMemoVouchesOnlyForTheBytesAndKeyItSaw(t *testing.T) {
	rs, _ := fuzzSealers()
	rs.memo = newRecordMemo(1)
	sealed := rs.seal("k:a", typicalRecord())
	if _, err := openRecord(rs, "k:a", sealed); err != nil {
		t.Fatalf("opening what was just sealed: %v", err)
	}
	if _, err := openRecord(rs, "k:b", sealed); err == nil {
		t.Fatal("the remembered bytes opened under another key")
	}
	for i := range sealed {
		forged := bytes.Clone(sealed)
		forged[i] ^= 0x01
		if _, err := openRecord(rs, "k:a", forged); err == nil {
			t.Fatalf("the remembered bytes with byte %d changed opened", i)
		}
	}
	if _, err := openRecord(rs, "k:a", sealed[:len(sealed)-1]); err == nil {
		t.Fatal("a prefix of the remembered bytes opened")
	}
}

// A record only an old secret verifies is never remembered, so every read
// of it reports oldSeal and the next write re-seals it.
func TestRecordMemoLeavesOldSecretRecordsToBeResealed(t *testing.T) {
	rs, oldOnly := fuzzSealers()
	rs.memo = newRecordMemo(1)
	old := oldOnly.seal("k:a", typicalRecord())
	for i := range 2 {
		r, err := openRecord(rs, "k:a", old)
		if err != nil || !r.oldSeal {
			t.Fatalf("open #%d of an old-secret record: %v, oldSeal %v", i+1, err, r != nil && r.oldSeal)
		}
	}
}

func TestRecordMemoHoldsTheLastRecordOfASlot(t *testing.T) {
	rm := newRecordMemo(1)
	a, b := []byte("record a"), []byte("record b")
	rm.remember("k:a", a)
	if !rm.holds("k:a", a) || rm.holds("k:a", b) {
		t.Fatal("the memo does not hold exactly what it was given")
	}
	a[0] = 'X' // the memo keeps its own copy
	if !rm.holds("k:a", []byte("record a")) {
		t.Fatal("the memo shares the caller's buffer")
	}
	rm.remember("k:b", b)
	if rm.holds("k:a", []byte("record a")) || !rm.holds("k:b", b) {
		t.Fatal("a newer record did not take the slot")
	}
	if rm.holds("k:b", b[:len(b)-1]) || rm.holds("k:b", append(bytes.Clone(b), 'x')) {
		t.Fatal("the memo holds a prefix or an extension of what it was given")
	}
	big := make([]byte, recordMemoMax+1)
	rm.remember("k:c", big)
	if rm.holds("k:c", big) {
		t.Fatalf("a record over %d bytes was remembered", recordMemoMax)
	}
}

// Goroutines reading and writing one slot (run with -race).
func TestRecordMemoConcurrentUse(t *testing.T) {
	rm := newRecordMemo(1)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				b := []byte(fmt.Sprintf("record %d-%d", g, i))
				rm.remember("k", b)
				rm.holds("k", b)
			}
		})
	}
	wg.Wait()
}
