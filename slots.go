package ginsession

import (
	"hash/maphash"
	"sync/atomic"
)

// slotTable is a fixed, direct-mapped table of atomically replaced
// entries, the shape of both memos (cookiememo.go, recordmemo.go): a hash
// of the key with a per-table random seed picks its one slot, so a client
// cannot aim its keys at another visitor's slot.
type slotTable[T any] struct {
	seed  maphash.Seed
	slots []atomic.Pointer[T]
}

// newSlotTable returns a table of n empty slots.
func newSlotTable[T any](n int) slotTable[T] {
	return slotTable[T]{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[T], n)}
}

// slot returns key's slot.
func (t *slotTable[T]) slot(key string) *atomic.Pointer[T] {
	return &t.slots[maphash.String(t.seed, key)%uint64(len(t.slots))]
}
