package ginsession

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// maxDepth bounds the nesting of stored values, so hostile bytes cannot
// exhaust the stack.
const maxDepth = 64

// errTooDeep is returned by Set for values nested deeper than maxDepth.
var errTooDeep = fmt.Errorf("value nests containers more than %d levels deep", maxDepth-1)

// errCorrupt reports stored bytes that are not a valid ginsession record.
var errCorrupt = errors.New("ginsession: corrupt session record")

// valueEncoder encodes one value to msgpack; pooled, since building an
// Encoder allocates.
type valueEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

// valueCodec turns Go values into msgpack bytes and back. Structs use their
// msgpack tags, falling back to json tags; no type registration is needed.
type valueCodec struct {
	encoders sync.Pool
	decoders sync.Pool
}

// newValueCodec returns a codec with empty pools.
func newValueCodec() *valueCodec {
	vc := &valueCodec{}
	vc.encoders.New = func() any {
		e := &valueEncoder{}
		e.enc = msgpack.NewEncoder(&e.buf)
		e.enc.SetCustomStructTag("json")
		e.enc.UseCompactInts(true)
		return e
	}
	vc.decoders.New = func() any {
		d := msgpack.NewDecoder(nil)
		d.SetCustomStructTag("json")
		return d
	}
	return vc
}

// encode returns v as msgpack bytes (a fresh slice the caller owns).
func (vc *valueCodec) encode(v any) (raw []byte, err error) {
	// A value's own MarshalMsgpack may panic; keep that out of the request.
	defer func() {
		if r := recover(); r != nil {
			raw, err = nil, errors.New("msgpack encoder panicked")
		}
	}()
	e := vc.encoders.Get().(*valueEncoder)
	defer vc.encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	// Stored values are checked on load with the same depth limit: refuse
	// now what could not be read back.
	if _, err := skipValue(e.buf.Bytes(), 1); err != nil {
		return nil, errTooDeep
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// scan decodes raw into dst, a non-nil pointer.
func (vc *valueCodec) scan(raw []byte, dst any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("msgpack decoder panicked")
		}
	}()
	d := vc.decoders.Get().(*msgpack.Decoder)
	defer vc.decoders.Put(d)
	d.Reset(bytes.NewReader(raw))
	d.SetCustomStructTag("json")
	return d.Decode(dst)
}

// decodeValue decodes one complete msgpack value into the dynamic types
// ginsession promises: nil, bool, int64 (uint64 above MaxInt64), float64,
// string, []byte, time.Time, []any and map[string]any.
func decodeValue(raw []byte) (any, error) {
	v, n, err := decodeAny(raw, 1) // the depth skipValue gave it on load
	if err != nil {
		return nil, err
	}
	if n != len(raw) {
		return nil, errCorrupt
	}
	return v, nil
}

// decodeAny decodes the msgpack value at the start of b and returns it with
// its length in bytes.
func decodeAny(b []byte, depth int) (any, int, error) {
	if len(b) == 0 || depth > maxDepth {
		return nil, 0, errCorrupt
	}
	if i, u, big, n, ok := intAt(b); ok {
		if big {
			return u, n, nil
		}
		return i, n, nil
	}
	if str, n, ok := strAtStart(b); ok {
		return str, n, nil
	}
	c := b[0] // a truncated integer or string falls through to errCorrupt
	switch {
	case c >= 0x90 && c <= 0x9f:
		return arrayAt(b, 1, int(c&0x0f), depth)
	case c >= 0x80 && c <= 0x8f:
		return mapAt(b, 1, int(c&0x0f), depth)
	}
	switch c {
	case 0xc0:
		return nil, 1, nil
	case 0xc2:
		return false, 1, nil
	case 0xc3:
		return true, 1, nil
	case 0xca:
		if len(b) < 5 {
			return nil, 0, errCorrupt
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[1:]))), 5, nil
	case 0xcb:
		if len(b) < 9 {
			return nil, 0, errCorrupt
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b[1:])), 9, nil
	case 0xc4, 0xc5, 0xc6:
		return sized(b, c-0xc4, func(off, n int) (any, int, error) {
			if len(b)-off < n {
				return nil, 0, errCorrupt
			}
			return bytes.Clone(b[off : off+n]), off + n, nil
		})
	case 0xdc, 0xdd:
		return sized(b, c-0xdc+1, func(off, n int) (any, int, error) { return arrayAt(b, off, n, depth) })
	case 0xde, 0xdf:
		return sized(b, c-0xde+1, func(off, n int) (any, int, error) { return mapAt(b, off, n, depth) })
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc8, 0xc9:
		return extAt(b)
	}
	return nil, 0, errCorrupt // 0xc1 is never used
}

// intAt decodes the msgpack integer at the start of b: ok is false when b
// does not start with a complete integer. An unsigned value above MaxInt64
// is returned in u with big set; every other value in i.
func intAt(b []byte) (i int64, u uint64, big bool, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false, 0, false
	}
	switch c := b[0]; {
	case c <= 0x7f:
		return int64(c), 0, false, 1, true
	case c >= 0xe0:
		return int64(int8(c)), 0, false, 1, true
	case c >= 0xcc && c <= 0xcf:
		w := 1 << (c - 0xcc)
		if len(b) < 1+w {
			return 0, 0, false, 0, false
		}
		if u = readUint(b[1:1+w], w); u > math.MaxInt64 {
			return 0, u, true, 1 + w, true
		}
		return int64(u), 0, false, 1 + w, true
	case c >= 0xd0 && c <= 0xd3:
		w := 1 << (c - 0xd0)
		if len(b) < 1+w {
			return 0, 0, false, 0, false
		}
		shift := 64 - 8*w
		return int64(readUint(b[1:1+w], w)<<shift) >> shift, 0, false, 1 + w, true
	}
	return 0, 0, false, 0, false
}

// strAtStart decodes the msgpack string at the start of b without boxing
// it: ok is false when b does not start with a complete string.
func strAtStart(b []byte) (s string, n int, ok bool) {
	start, end, ok := strBounds(b, 0)
	if !ok {
		return "", 0, false
	}
	return string(b[start:end]), end, true
}

// strBounds locates the msgpack string whose header is at b[off]: its bytes
// are b[start:end]. ok is false when no complete string starts there.
func strBounds(b []byte, off int) (start, end int, ok bool) {
	if off >= len(b) {
		return 0, 0, false
	}
	var size uint64
	switch c := b[off]; {
	case c >= 0xa0 && c <= 0xbf:
		start, size = off+1, uint64(c&0x1f)
	case c >= 0xd9 && c <= 0xdb:
		w := 1 << (c - 0xd9)
		if len(b)-off < 1+w {
			return 0, 0, false
		}
		start, size = off+1+w, readUint(b[off+1:off+1+w], w)
	default:
		return 0, 0, false
	}
	if size > uint64(len(b)-start) {
		return 0, 0, false
	}
	return start, start + int(size), true
}

// sized reads a length field of 1<<sizeClass bytes after the type byte and
// hands offset and length to then.
func sized(b []byte, sizeClass byte, then func(off, n int) (any, int, error)) (any, int, error) {
	w := 1 << sizeClass
	if len(b) < 1+w {
		return nil, 0, errCorrupt
	}
	n := readUint(b[1:1+w], w)
	if n > uint64(len(b)) {
		return nil, 0, errCorrupt
	}
	return then(1+w, int(n))
}

// readUint reads a big-endian unsigned integer of w bytes (1, 2, 4 or 8).
func readUint(b []byte, w int) uint64 {
	switch w {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	}
	return binary.BigEndian.Uint64(b)
}

// arrayAt decodes n elements starting at off.
func arrayAt(b []byte, off, n, depth int) (any, int, error) {
	if n > len(b)-off { // every element takes at least one byte
		return nil, 0, errCorrupt
	}
	out := make([]any, n)
	for i := range out {
		v, m, err := decodeAny(b[off:], depth+1)
		if err != nil {
			return nil, 0, err
		}
		out[i] = v
		off += m
	}
	return out, off, nil
}

// mapAt decodes n key/value pairs starting at off. String keys are kept;
// integer keys (from a Go map[int]T) become their decimal string, as in
// JSON; any other key type is rejected as foreign data.
func mapAt(b []byte, off, n, depth int) (any, int, error) {
	if n > (len(b)-off)/2 {
		return nil, 0, errCorrupt
	}
	out := make(map[string]any, n)
	for range n {
		k, m, err := decodeAny(b[off:], depth+1)
		if err != nil {
			return nil, 0, err
		}
		key, ok := mapKey(k)
		if !ok {
			return nil, 0, errCorrupt
		}
		off += m
		v, m, err := decodeAny(b[off:], depth+1)
		if err != nil {
			return nil, 0, err
		}
		out[key] = v
		off += m
	}
	return out, off, nil
}

// mapKey converts a decoded map key to a string key.
func mapKey(k any) (string, bool) {
	switch k := k.(type) {
	case string:
		return k, true
	case int64:
		return strconv.FormatInt(k, 10), true
	case uint64:
		return strconv.FormatUint(k, 10), true
	}
	return "", false
}

// extAt decodes an extension value; only msgpack's timestamp (type -1) is
// understood.
func extAt(b []byte) (any, int, error) {
	var typ int8
	var off, n int
	switch c := b[0]; c {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		n, off = 1<<(c-0xd4), 2
	default:
		w := 1 << (c - 0xc7)
		if len(b) < 2+w {
			return nil, 0, errCorrupt
		}
		l := readUint(b[1:1+w], w)
		if l > uint64(len(b)) {
			return nil, 0, errCorrupt
		}
		n, off = int(l), 2+w
	}
	if len(b) < off+n {
		return nil, 0, errCorrupt
	}
	typ = int8(b[off-1])
	if typ != -1 {
		return nil, 0, errCorrupt
	}
	data := b[off : off+n]
	var t time.Time
	switch n {
	case 4:
		t = time.Unix(int64(binary.BigEndian.Uint32(data)), 0)
	case 8:
		v := binary.BigEndian.Uint64(data)
		t = time.Unix(int64(v&0x3ffffffff), int64(v>>34))
	case 12:
		t = time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(binary.BigEndian.Uint32(data)))
	default:
		return nil, 0, errCorrupt
	}
	return t, off + n, nil
}

// skipValue returns the length of the msgpack value at the start of b,
// checking structure and nesting depth without building anything.
func skipValue(b []byte, depth int) (int, error) {
	if len(b) == 0 || depth > maxDepth {
		return 0, errCorrupt
	}
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, nil
	case c >= 0xa0 && c <= 0xbf:
		return span(b, 1, int(c&0x1f))
	case c >= 0x90 && c <= 0x9f:
		return skipMany(b, 1, int(c&0x0f), depth)
	case c >= 0x80 && c <= 0x8f:
		return skipMany(b, 1, 2*int(c&0x0f), depth)
	}
	if w := fixedWidth(c); w > 0 {
		return span(b, 1, w)
	}
	var w, perItem, extra int
	switch c {
	case 0xd9, 0xc4:
		w = 1
	case 0xda, 0xc5:
		w = 2
	case 0xdb, 0xc6:
		w = 4
	case 0xdc:
		w, perItem = 2, 1
	case 0xdd:
		w, perItem = 4, 1
	case 0xde:
		w, perItem = 2, 2
	case 0xdf:
		w, perItem = 4, 2
	case 0xc7:
		w, extra = 1, 1
	case 0xc8:
		w, extra = 2, 1
	case 0xc9:
		w, extra = 4, 1
	default:
		return 0, errCorrupt
	}
	if len(b) < 1+w {
		return 0, errCorrupt
	}
	n := readUint(b[1:1+w], w)
	if n > uint64(len(b)) {
		return 0, errCorrupt
	}
	if perItem > 0 {
		return skipMany(b, 1+w, perItem*int(n), depth)
	}
	return span(b, 1+w+extra, int(n))
}

// fixedWidth returns the payload size of a fixed-size msgpack type (ints,
// floats, fixext), or 0.
func fixedWidth(c byte) int {
	switch c {
	case 0xcc, 0xd0:
		return 1
	case 0xcd, 0xd1, 0xd4:
		return 2
	case 0xd5:
		return 3
	case 0xce, 0xd2, 0xca:
		return 4
	case 0xd6:
		return 5
	case 0xcf, 0xd3, 0xcb:
		return 8
	case 0xd7:
		return 9
	case 0xd8:
		return 17
	}
	return 0
}

// span checks that n bytes follow off and returns off+n.
func span(b []byte, off, n int) (int, error) {
	if len(b)-off < n {
		return 0, errCorrupt
	}
	return off + n, nil
}

// skipMany skips count values starting at off.
func skipMany(b []byte, off, count, depth int) (int, error) {
	if count > len(b)-off {
		return 0, errCorrupt
	}
	for range count {
		m, err := skipValue(b[off:], depth+1)
		if err != nil {
			return 0, err
		}
		off += m
	}
	return off, nil
}
