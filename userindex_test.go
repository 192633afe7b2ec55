package ginsession

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// handleN returns a well-formed handle (43 base64url bytes) numbered n.
func handleN(n int) string { return fmt.Sprintf("h%042d", n) }

// entryOf returns a list entry.
func entryOf(handle, device string) indexEntry {
	return indexEntry{handle: []byte(handle), device: []byte(device), entered: 1_900_000_000}
}

// listOf returns an unsealed stored list of n entries (zero tag).
func listOf(n int) []byte {
	var x userIndex
	for i := range n {
		x.entries = append(x.entries, entryOf(handleN(i), "Firefox on Linux"))
	}
	return x.encode(nil)
}

func TestUserIndexFormatIsFixed(t *testing.T) {
	x := userIndex{entries: []indexEntry{entryOf(strings.Repeat("A", idLen), "curl")}}
	got := hex.EncodeToString(x.encode(nil))
	want := "9301" + "91" + "93" + "d92b" + strings.Repeat("41", idLen) + "a4" + hex.EncodeToString([]byte("curl")) +
		"d3" + "00000000713fb300" + "c420" + strings.Repeat("00", tagSize)
	if got != want {
		t.Fatalf("stored list\n got %s\nwant %s", got, want)
	}
	var back userIndex
	if err := back.decode(x.encode(nil)); err != nil || len(back.entries) != 1 ||
		string(back.entries[0].handle) != string(x.entries[0].handle) || string(back.entries[0].device) != "curl" || back.entries[0].entered != 1_900_000_000 {
		t.Fatalf("decode: %v %+v", err, back)
	}
}

func TestUserIndexDecodeRefusesWhatItDoesNotWrite(t *testing.T) {
	good := listOf(2)
	body := good[:len(good)-tagField]
	tag := good[len(good)-tagField:]
	with := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	entered := []byte{0xd3, 0, 0, 0, 0, 0x71, 0x3f, 0xb3, 0}
	entry := func(handle, device string) []byte {
		return append(appendStr(appendStr([]byte{0x93}, handle), device), entered...)
	}
	one := func(e []byte) []byte { return with([]byte{0x93, indexVersion, 0x91}, e, tag) }
	for name, b := range map[string][]byte{
		"empty":               {},
		"truncated":           good[:len(good)-1],
		"no tag header":       with(body, []byte{0xc4, 0x1f}, tag[2:]),
		"trailing byte":       with(body, []byte{0xc0}, tag),
		"another version":     with([]byte{0x93, indexVersion + 1}, body[2:], tag),
		"a session record":    with([]byte{0x97}, body[1:], tag),
		"count past entries":  with([]byte{0x93, indexVersion, 0x93}, body[3:], tag),
		"long count header":   with([]byte{0x93, indexVersion, 0xdc, 0x00, 0x02}, body[3:], tag),
		"one past the bound":  listOf(MaxTrackedSessions + 1),
		"short handle":        one(entry(handleN(1)[1:], "d")),
		"long handle":         one(entry(handleN(1)+"A", "d")),
		"handle with a slash": one(entry("/"+handleN(1)[1:], "d")),
		"handle with a space": one(entry(" "+handleN(1)[1:], "d")),
		"device too long":     one(entry(handleN(1), strings.Repeat("d", maxDeviceLen+1))),
		"device not UTF-8":    one(entry(handleN(1), "\xff")),
		"entry of four":       one(append(entry(handleN(1), "d"), 0xc0)),
		"entry of two":        one(appendStr(appendStr([]byte{0x92}, handleN(1)), "d")),
		"entered not int64":   one(append(appendStr(appendStr([]byte{0x93}, handleN(1)), "d"), 0x01)),
		"entered cut short":   one(append(appendStr(appendStr([]byte{0x93}, handleN(1)), "d"), entered[:8]...)),
		"entry not an array":  one([]byte{0xc0}),
	} {
		var x userIndex
		if err := x.decode(b); err == nil || x.entries != nil {
			t.Errorf("%s: decoded %+v, want errCorrupt", name, x.entries)
		}
	}
	for _, n := range []int{0, 1, 15, 16, MaxTrackedSessions} {
		var x userIndex
		if err := x.decode(listOf(n)); err != nil || len(x.entries) != n {
			t.Errorf("%d entries: %v (%d decoded)", n, err, len(x.entries))
		}
	}
	var x userIndex
	if err := x.decode(one(entry(handleN(1), strings.Repeat("é", maxDeviceLen/2)))); err != nil {
		t.Errorf("a device of exactly maxDeviceLen bytes: %v", err)
	}
}

func TestUserIndexEnterAndLeave(t *testing.T) {
	b := func(s string) []byte { return []byte(s) }
	var x userIndex
	if !x.enter(b("a"), b("d"), 1) || !x.enter(b("b"), b("d"), 1) || x.enter(b("a"), b("d"), 1) {
		t.Fatal("enter reports changes wrongly")
	}
	if !x.enter(b("a"), b("other"), 2) || string(x.entries[1].handle) != "a" || string(x.entries[1].device) != "other" {
		t.Errorf("a re-entered session is not the newest with its new device: %q", x.entries)
	}
	if !x.leave(b("missing"), b("a")) || x.leave(b("a")) || len(x.entries) != 1 || string(x.entries[0].handle) != "b" {
		t.Errorf("leave: %q", x.entries)
	}
	if x.find(b("B")) >= 0 || x.find(b("b")) != 0 || x.find(nil) >= 0 {
		t.Errorf("find is not exact")
	}
}

func FuzzDecodeUserIndex(f *testing.F) {
	for _, n := range []int{0, 1, 16, MaxTrackedSessions, MaxTrackedSessions + 1} {
		f.Add(listOf(n))
	}
	f.Add([]byte{0x93, indexVersion, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var x userIndex
		if err := x.decode(b); err != nil {
			return
		}
		if len(x.entries) > MaxTrackedSessions {
			t.Fatalf("%d entries decoded", len(x.entries))
		}
		again := x.encode(nil)
		if !bytes.Equal(again[:len(again)-tagSize], b[:len(b)-tagSize]) {
			t.Fatalf("decoded list re-encodes differently:\n%x\n%x", b, again)
		}
	})
}
