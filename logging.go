package ginsession

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// faultLogEvery is how often one store fault is logged while it repeats: an
// outage must not write a line per request (thousands a second), nor go
// unlogged.
const faultLogEvery = 10 * time.Second

// maxFaultKinds bounds the distinct faults remembered between lines.
const maxFaultKinds = 64

// faultLog logs store faults, each distinct one (message and the error's
// text with its numbers masked) at most once per faultLogEvery, with the
// count of repeats it left out.
type faultLog struct {
	logger *slog.Logger
	now    func() time.Time
	mu     sync.Mutex
	seen   map[string]*faultCount
}

// faultCount is one fault's state between log lines.
type faultCount struct {
	quietUntil time.Time
	repeats    int // occurrences not logged since the last line
}

// newFaultLog returns a faultLog writing to logger, timed by now.
func newFaultLog(logger *slog.Logger, now func() time.Time) *faultLog {
	return &faultLog{logger: logger, now: now, seen: make(map[string]*faultCount)}
}

// log writes msg with err at level, unless the same fault was logged less
// than faultLogEvery ago; the next line it writes says how many repeats
// were left out.
func (f *faultLog) log(level slog.Level, msg string, err error) {
	key := msg + "\x00" + faultShape(err.Error())
	now := f.now()
	f.mu.Lock()
	c := f.seen[key]
	if c != nil && now.Before(c.quietUntil) {
		c.repeats++
		f.mu.Unlock()
		return
	}
	if c == nil {
		if len(f.seen) >= maxFaultKinds {
			clear(f.seen)
		}
		c = &faultCount{}
		f.seen[key] = c
	}
	repeats := c.repeats
	c.quietUntil, c.repeats = now.Add(faultLogEvery), 0
	f.mu.Unlock()
	if repeats > 0 {
		f.logger.Log(context.Background(), level, msg, "error", err, "repeats_not_logged", repeats)
		return
	}
	f.logger.Log(context.Background(), level, msg, "error", err)
}

// faultShape masks the digits of an error's text, so that one fault seen on
// many connections ("read tcp 127.0.0.1:53122->127.0.0.1:11211: i/o
// timeout", a new local port each time) counts as one.
func faultShape(text string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, text)
}
