package ginsession

import "encoding/binary"

// A record's fields after the flashes are optional, in the order of
// optionalFields. A record lists them up to the last one it holds, a field
// it lacks before that written as nil (0xc0), so the array's length says
// how many there are; the tag stays last. The table sets the limits: the
// most fields a record has (fixedFields plus the table) and the encoder's
// size guess.
//
// Rolling deploys. A decoder skips, unread, the optional fields past the
// ones its table knows (each must still be one well-formed msgpack value,
// up to maxFields in all). So while old and new binaries run side by side,
// an old binary reads a record a newer one wrote as if its new fields were
// absent, keeps the session, and drops those fields when it writes the
// record back. Releases before this rule (up to the one that added the
// guard) refuse such a record, and their users would read as logged out:
// write a new field only once every running binary knows this rule.

// optionalField is one entry of the table: whether a record holds the
// field, its encoder and decoder, and its largest encoded size.
type optionalField struct {
	name    string
	maxSize int
	present func(r *record) bool
	encode  func(r *record, dst []byte) []byte
	decode  func(r *record, body []byte, off int) (int, error)
}

// optionalFields is the table, in stored order. Append new fields at its
// end, never reorder or remove one: its position is its name in stored
// records.
var optionalFields = [...]optionalField{
	{"guard", guardField, (*record).stamped, (*record).encodeGuard, (*record).decodeGuard},
}

const (
	// fixedFields are the elements every record has: version, created,
	// touched, persistent, values, flashes and the tag.
	fixedFields = 7
	// maxFields is the most elements a record's array may have (a
	// fixarray): the fixed ones, those of the table, and fields of later
	// versions, which are skipped.
	maxFields = 15
)

// The table's fields fit a fixarray.
const _ uint = maxFields - fixedFields - uint(len(optionalFields))

// encodeOptional appends the optional fields r holds, and nil for those
// it lacks before the last one it holds, and returns the array's length.
func (r *record) encodeOptional(dst []byte) ([]byte, int) {
	last := -1
	for i, f := range optionalFields {
		if f.present(r) {
			last = i
		}
	}
	for _, f := range optionalFields[:last+1] {
		if f.present(r) {
			dst = f.encode(r, dst)
		} else {
			dst = append(dst, 0xc0)
		}
	}
	return dst, fixedFields + last + 1
}

// decodeOptional reads n optional fields at body[off:] and returns the
// offset after them: the table's own (nil: absent), then any later ones,
// skipped. The last one must not be nil, as the encoder would have left
// it out.
func (r *record) decodeOptional(body []byte, off, n int) (int, error) {
	for i := range n {
		if off >= len(body) {
			return 0, errCorrupt
		}
		switch {
		case body[off] == 0xc0:
			if i == n-1 {
				return 0, errCorrupt
			}
			off++
		case i < len(optionalFields):
			var err error
			if off, err = optionalFields[i].decode(r, body, off); err != nil {
				return 0, err
			}
		default:
			m, err := skipValue(body[off:], 1)
			if err != nil {
				return 0, err
			}
			off += m
		}
	}
	return off, nil
}

// encodeGuard appends the [checked, stamp] pair.
func (r *record) encodeGuard(dst []byte) []byte {
	dst = append(dst, 0x92, 0xd3)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.stampChecked))
	return append(append(dst, 0xc4, stampSize), r.stamp[:]...)
}
