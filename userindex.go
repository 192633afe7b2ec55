package ginsession

import (
	"crypto/subtle"
	"encoding/binary"
	"unicode/utf8"
)

// A user's session list (Options.TrackSessions) is one msgpack array
// stored under the user's index key (store.indexKey), sealed like a
// session record (recordmac.go) so that nothing but ginsession can add a
// session to it:
//
//	[indexVersion, [[handle, device, entered]...], tag]
//
// handle is the base64url suffix of a session's storage key (a hash of the
// session ID, which cannot be turned back into a cookie), device the text
// describeDevice made at Login and entered the Unix second the entry was
// made (int64, 0xd3). Entries are oldest first. The decoder refuses
// anything but this shape, more than MaxTrackedSessions entries, a handle
// that is not 43 base64url bytes and a device over maxDeviceLen bytes or
// not UTF-8.
const (
	indexVersion = 1
	maxDeviceLen = 64
)

// MaxTrackedSessions is the most sessions a user's list holds (see
// Options.TrackSessions): a Login past it drops the oldest entry from the
// list. The session it named still works until it ends; a security stamp
// (Options.UserStamp) still ends it.
const MaxTrackedSessions = 64

// userIndex is a decoded session list.
type userIndex struct {
	entries []indexEntry // oldest first
}

// indexEntry is one session in a user's list. Decoded entries alias the
// stored bytes, so reading a full list allocates only its entry slice.
type indexEntry struct {
	handle []byte // the storage key's suffix
	device []byte
	// entered is when the entry was made: the Login enters it just before
	// its session is stored, so until a grace time has passed a session
	// that is not found yet may still be on its way (see store.settled).
	entered int64
}

// find returns the position of handle, compared in constant time with
// every entry (a handle comes from the client), or -1.
func (x *userIndex) find(handle []byte) int {
	at := -1
	for i, e := range x.entries {
		if subtle.ConstantTimeCompare(e.handle, handle) == 1 {
			at = i
		}
	}
	return at
}

// enter adds a session as the newest entry, dropping the oldest past
// MaxTrackedSessions. It reports whether the list changed.
func (x *userIndex) enter(handle, device []byte, now int64) bool {
	if at := x.find(handle); at >= 0 {
		if string(x.entries[at].device) == string(device) {
			return false
		}
		x.entries = append(x.entries[:at], x.entries[at+1:]...)
	}
	x.entries = append(x.entries, indexEntry{handle: handle, device: device, entered: now})
	if over := len(x.entries) - MaxTrackedSessions; over > 0 {
		x.entries = x.entries[over:]
	}
	return true
}

// leave removes the given sessions; it reports whether the list changed.
func (x *userIndex) leave(handles ...[]byte) bool {
	changed := false
	for _, h := range handles {
		if at := x.find(h); at >= 0 {
			x.entries = append(x.entries[:at], x.entries[at+1:]...)
			changed = true
		}
	}
	return changed
}

// encode appends the list's stored form to dst, with room for the tag at
// its end (recordSealer.sign fills it).
func (x *userIndex) encode(dst []byte) []byte {
	dst = append(dst, 0x93, indexVersion)
	dst = appendContainerLen(dst, len(x.entries), 0x90, 0xdc)
	for _, e := range x.entries {
		dst = append(dst, 0x93)
		dst = appendStr(dst, e.handle)
		dst = appendStr(dst, e.device)
		dst = binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(e.entered))
	}
	dst = append(dst, 0xc4, tagSize)
	return append(dst, make([]byte, tagSize)...)
}

// decode reads a stored list whose tag was verified. A malformed one is
// errCorrupt and leaves x empty.
func (x *userIndex) decode(b []byte) error {
	x.entries = nil
	if len(b) < 3+tagField || b[0] != 0x93 || b[1] != indexVersion {
		return errCorrupt
	}
	body := b[:len(b)-tagField]
	if tag := b[len(b)-tagField:]; tag[0] != 0xc4 || tag[1] != tagSize {
		return errCorrupt
	}
	n, size, err := containerLen(body[2:], 0x90, 0xdc)
	if err != nil || n > MaxTrackedSessions || containerHeaderLen(n) != size {
		return errCorrupt
	}
	entries := make([]indexEntry, 0, n)
	off := 2 + size
	for range n {
		if off >= len(body) || body[off] != 0x93 {
			return errCorrupt
		}
		h0, h1, ok := strBounds(body, off+1)
		if !ok || h1-h0 != idLen || !isBase64URL(body[h0:h1]) {
			return errCorrupt
		}
		d0, d1, ok := strBounds(body, h1)
		if !ok || d1-d0 > maxDeviceLen || !utf8.Valid(body[d0:d1]) {
			return errCorrupt
		}
		if len(body)-d1 < 9 || body[d1] != 0xd3 {
			return errCorrupt
		}
		entered := int64(binary.BigEndian.Uint64(body[d1+1:]))
		entries = append(entries, indexEntry{handle: body[h0:h1:h1], device: body[d0:d1:d1], entered: entered})
		off = d1 + 9
	}
	if off != len(body) {
		return errCorrupt
	}
	x.entries = entries
	return nil
}

// isBase64URL reports whether b holds only unpadded base64url characters.
func isBase64URL(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
