// Package clientcontract is the behaviour every session-store client must
// share with a real memcached: one table of cases (storage commands, CAS,
// expirations, key and item limits, concurrent CAS) that a test runs against
// each client. A case asserts only what memcached itself does, so a case
// that passes against a memcached process and fails against another client
// is a bug in that client.
package clientcontract

//lint:file-ignore ST1005 the errors are test failure messages, which start with the method that failed (Get, Set...)

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Client is the client under contract: the methods of *memcache.Client that
// a session store uses (ginsession.Client has the same method set).
type Client interface {
	Get(key string) (*memcache.Item, error)
	Add(item *memcache.Item) error
	Set(item *memcache.Item) error
	CompareAndSwap(item *memcache.Item) error
	Delete(key string) error
	Touch(key string, seconds int32) error
}

// Run runs every case of the contract as a parallel subtest of t, each
// against a fresh client from newClient, on real time: the expiry case
// polls with a deadline. opts (Skip) leave out cases a client is known to
// fail.
func Run(t *testing.T, newClient func(t *testing.T) Client, opts ...Option) {
	run(t, func(t *testing.T) *env {
		return &env{c: newClient(t), now: time.Now}
	}, opts)
}

// RunFakeClock is Run for clients that read the time from a function (an
// in-process client): newClient gets a fake clock that the expiry cases
// advance instead of waiting.
func RunFakeClock(t *testing.T, newClient func(t *testing.T, now func() time.Time) Client, opts ...Option) {
	run(t, func(t *testing.T) *env {
		var clock atomic.Int64
		clock.Store(time.Unix(1_900_000_000, 0).UnixNano())
		now := func() time.Time { return time.Unix(0, clock.Load()) }
		return &env{
			c:       newClient(t, now),
			now:     now,
			advance: func(d time.Duration) { clock.Add(int64(d)) },
		}
	}, opts)
}

// An Option changes which cases Run runs.
type Option func(skips map[string]string)

// Skip leaves out the named case, with reason in the test log, for a client
// that is known to differ from memcached there (a proxy that rejects a
// request memcached accepts). Use it only where the session store never
// depends on the difference, and say why in reason: the case still runs
// against every other client. A name that is not in the table fails the
// run, so a renamed case is never skipped by accident.
func Skip(name, reason string) Option {
	return func(skips map[string]string) { skips[name] = reason }
}

// run runs the table, each case in a fresh environment from newEnv, except
// the cases opts skip.
func run(t *testing.T, newEnv func(t *testing.T) *env, opts []Option) {
	t.Helper()
	skips, err := skipsOf(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			if reason, ok := skips[tc.name]; ok {
				t.Skip("skipped for this client: " + reason)
			}
			t.Parallel()
			e := newEnv(t)
			e.prefix = uniquePrefix()
			if err := tc.run(e); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// skipsOf returns the reason of each case opts skip, by name, or an error
// naming a skipped case the table does not have.
func skipsOf(opts []Option) (map[string]string, error) {
	skips := map[string]string{}
	for _, o := range opts {
		o(skips)
	}
	all := cases()
	for name := range skips {
		if !slices.ContainsFunc(all, func(tc testCase) bool { return tc.name == name }) {
			return nil, fmt.Errorf("clientcontract: Skip(%q): no such case", name)
		}
	}
	return skips, nil
}

// cases returns the whole table.
func cases() []testCase {
	var all []testCase
	for _, part := range [][]testCase{storageCases(), expiryCases(), limitCases()} {
		all = append(all, part...)
	}
	return all
}

// env is what a case sees of one client.
type env struct {
	c Client
	// now is the client's clock, for absolute expirations.
	now func() time.Time
	// advance moves a fake clock forward. It is nil for clients on real
	// time, where cases poll with a deadline instead.
	advance func(d time.Duration)
	// prefix makes this case's keys unique to the run.
	prefix string
}

// key returns a key unique to this run and case.
func (e *env) key(name string) string { return e.prefix + name }

// testCase is one row of the table. run returns the first contract
// violation, or nil.
type testCase struct {
	name string
	run  func(e *env) error
}

// uniquePrefix returns a key prefix unique to this run.
func uniquePrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "contract:" + hex.EncodeToString(b[:]) + ":"
}

// setGet stores item and reads it back.
func setGet(e *env, item *memcache.Item) (*memcache.Item, error) {
	if err := e.c.Set(item); err != nil {
		return nil, fmt.Errorf("Set: %w", err)
	}
	it, err := e.c.Get(item.Key)
	if err != nil {
		return nil, fmt.Errorf("Get after Set: %w", err)
	}
	if it.CasID == 0 {
		return nil, errors.New("Get after Set returned CasID 0")
	}
	return it, nil
}

// wantErr checks that err is want.
func wantErr(op string, err, want error) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: error = %v, want %v", op, err, want)
	}
	return nil
}

// wantMiss checks that k is not retrievable.
func wantMiss(e *env, k string) error {
	it, err := e.c.Get(k)
	if err == nil {
		return fmt.Errorf("Get %q: found %d bytes, want a miss", k, len(it.Value))
	}
	return wantErr("Get", err, memcache.ErrCacheMiss)
}

// wantValue checks that k holds value.
func wantValue(e *env, k, value string) error {
	it, err := e.c.Get(k)
	if err != nil {
		return fmt.Errorf("Get %q: %w, want %q", k, err, value)
	}
	if string(it.Value) != value {
		return fmt.Errorf("Get %q = %.40q, want %q", k, it.Value, value)
	}
	return nil
}
