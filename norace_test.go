//go:build !race

package ginsession

// raceEnabled reports a -race build: sync.Pool then drops items at random,
// so allocation counts that rely on pooling are not exact.
const raceEnabled = false
