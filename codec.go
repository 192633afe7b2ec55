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
