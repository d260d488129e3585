// Package axestest is the conformance suite for [axes.Store]
// implementations. Every store in this repository runs it, and a
// third-party store should too:
//
//	func TestStore(t *testing.T) {
//		axestest.RunStoreTests(t, func(t *testing.T) axes.Store {
//			return mystore.New(...)
//		})
//	}
//
// The suite drives the store with [axes.Op] values built directly and
// through a real [axes.Guard] with a fake clock, so it never sleeps: every
// time is carried by the op. Times are whole microseconds, so a store may
// keep microsecond precision (and no finer); it must give times back equal
// under [time.Time.Equal], in any location.
//
// Optional capabilities ([axes.Lister], [axes.Deleter], [axes.Purger],
// [axes.AuditLog] with [axes.LogReader], [axes.LogPruner]) are tested when
// the store implements them; their subtests are skipped, with a message,
// when it does not.
//
// The package imports only the standard library and the axes core, so
// depending on it adds nothing to a store's module graph.
package axestest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// Factory returns a new, empty store for one test. The suite closes it
// unless the test already did. A store backed by a server should give each
// call its own namespace (a key prefix, a fresh schema or truncated tables)
// and may register its own cleanup with t.Cleanup.
type Factory func(t *testing.T) axes.Store

// RunStoreTests runs the [axes.Store] contract against stores made by
// newStore, one fresh store per subtest, and the contract of each optional
// interface the store implements.
func RunStoreTests(t *testing.T, newStore Factory) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"AdmitFailLock", testAdmitFailLock},
		{"Release", testRelease},
		{"ResetUser", testResetUser},
		{"Concurrency", testConcurrency},
		{"Expiry", testExpiry},
		{"OddKeys", testOddKeys},
		{"CanceledContext", testCanceledContext},
		{"Closed", testClosed},
		{"Property", testProperty},
		{"Lister", testLister},
		{"Deleter", testDeleter},
		{"Purger", testPurger},
		{"AuditLog", testAuditLog},
		{"RuleStore", testRuleStore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newEnv(t, newStore))
		})
	}
}

// base is the time every test starts at; it is a whole second, and every
// time the suite stores is a whole microsecond.
var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// env is one store under test.
type env struct {
	s       axes.Store
	factory Factory
	closed  bool
}

func newEnv(t *testing.T, newStore Factory) *env {
	t.Helper()
	e := &env{s: openStore(t, newStore), factory: newStore}
	t.Cleanup(func() {
		if e.closed {
			return
		}
		if err := e.s.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return e
}

func openStore(t *testing.T, newStore Factory) axes.Store {
	t.Helper()
	s := newStore(t)
	if s == nil {
		t.Fatal("the Factory returned a nil store")
	}
	return s
}

// fresh returns another new store, closed at the end of t.
func (e *env) fresh(t *testing.T) axes.Store {
	t.Helper()
	return newEnv(t, e.factory).s
}

// Clock is a fake clock for tests: pass its Now to axes.WithClock and move
// it with Set or Advance. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

func newClock() *Clock { return NewClock(base) }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newGuard returns a guard over s reading clk.
func newGuard(t *testing.T, s axes.Store, cfg axes.Config, clk *Clock) *axes.Guard {
	t.Helper()
	g, err := axes.New(s, cfg, axes.WithClock(clk.Now))
	if err != nil {
		t.Fatalf("axes.New: %v", err)
	}
	return g
}

// ident returns an identity; ip may be "".
func ident(ip, username string) axes.Identity {
	id := axes.Identity{Username: username}
	if ip != "" {
		id.IP = netip.MustParseAddr(ip)
	}
	return id
}

// buckets returns the buckets the guard counts id in.
func buckets(t *testing.T, g *axes.Guard, id axes.Identity) []axes.Bucket {
	t.Helper()
	bs, err := g.Buckets(id)
	if err != nil {
		t.Fatalf("Buckets(%+v): %v", id, err)
	}
	return bs
}

// bucket returns the bucket of id with the given params and kind.
func bucket(t *testing.T, g *axes.Guard, id axes.Identity, kind axes.BucketKind, params string) axes.Bucket {
	t.Helper()
	for _, b := range buckets(t, g, id) {
		if b.Kind == kind && b.Params == params {
			return b
		}
	}
	t.Fatalf("identity %+v has no bucket of kind %d for %q", id, kind, params)
	return axes.Bucket{}
}

// ipBucket returns a hand-made lockout bucket for an IP address.
func ipBucket(ip string) axes.Bucket {
	return axes.Bucket{Key: "test|ip=" + ip, Kind: axes.KindLockout, Params: "ip_address", IP: ip}
}

// policy returns a one-tier policy.
func policy(limit int, coolOff, window time.Duration) axes.Policy {
	return axes.Policy{Limit: limit, Tiers: []axes.Tier{{Failures: limit, CoolOff: coolOff}}, Window: window}
}

// do runs op and fails the test on an error.
func do(t *testing.T, s axes.Store, kind axes.OpKind, now time.Time, p axes.Policy, bs ...axes.Bucket) axes.Outcome {
	t.Helper()
	op := &axes.Op{Kind: kind, Now: now, Buckets: bs, Policy: p}
	o, err := s.Do(t.Context(), op)
	if err != nil {
		t.Fatalf("Do(%s at %s): %v", kindName(kind), now.Format(time.RFC3339Nano), err)
	}
	return o
}

// failures returns the failure count of b at now, read with OpPeek.
func failures(t *testing.T, s axes.Store, now time.Time, p axes.Policy, b axes.Bucket) int {
	t.Helper()
	return do(t, s, axes.OpPeek, now, p, b).Failures
}

func kindName(k axes.OpKind) string {
	switch k {
	case axes.OpAdmit:
		return "OpAdmit"
	case axes.OpRelease:
		return "OpRelease"
	case axes.OpResetUser:
		return "OpResetUser"
	case axes.OpPeek:
		return "OpPeek"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// outcome is the part of an Outcome a test checks; zero times mean zero.
type outcome struct {
	Admitted, Locked, Counted bool
	Failures                  int
	LockedUntil               time.Time
	LocksOnFailure            bool
	FailLockedUntil           time.Time
}

// check compares the fields of got listed in want, and the bucket when
// b.Key is set.
func check(t *testing.T, what string, got axes.Outcome, want outcome, b axes.Bucket) {
	t.Helper()
	if d := diffOutcome(got, axes.Outcome{
		Admitted: want.Admitted, Locked: want.Locked, Counted: want.Counted,
		Failures: want.Failures, LockedUntil: want.LockedUntil,
		LocksOnFailure: want.LocksOnFailure, FailLockedUntil: want.FailLockedUntil,
		Bucket: got.Bucket, FailBucket: got.FailBucket,
	}); d != "" {
		t.Errorf("%s: %s", what, d)
	}
	if b.Key != "" && got.Bucket != b {
		t.Errorf("%s: Bucket = %+v, want %+v", what, got.Bucket, b)
	}
	if b.Key != "" && want.LocksOnFailure && got.FailBucket != b {
		t.Errorf("%s: FailBucket = %+v, want %+v", what, got.FailBucket, b)
	}
}

// diffOutcome describes how got differs from want, or returns "".
func diffOutcome(got, want axes.Outcome) string {
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.Admitted != want.Admitted {
		add("Admitted", got.Admitted, want.Admitted)
	}
	if got.Locked != want.Locked {
		add("Locked", got.Locked, want.Locked)
	}
	if got.Counted != want.Counted {
		add("Counted", got.Counted, want.Counted)
	}
	if got.Failures != want.Failures {
		add("Failures", got.Failures, want.Failures)
	}
	if got.Bucket != want.Bucket {
		add("Bucket", fmt.Sprintf("%+v", got.Bucket), fmt.Sprintf("%+v", want.Bucket))
	}
	if !got.LockedUntil.Equal(want.LockedUntil) {
		add("LockedUntil", got.LockedUntil, want.LockedUntil)
	}
	if got.LocksOnFailure != want.LocksOnFailure {
		add("LocksOnFailure", got.LocksOnFailure, want.LocksOnFailure)
	}
	if !got.FailLockedUntil.Equal(want.FailLockedUntil) {
		add("FailLockedUntil", got.FailLockedUntil, want.FailLockedUntil)
	}
	if got.FailBucket != want.FailBucket {
		add("FailBucket", fmt.Sprintf("%+v", got.FailBucket), fmt.Sprintf("%+v", want.FailBucket))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

// fail makes n failed login attempts for id through g: each is admitted
// and failed, or refused (and then counted while locked, unless the policy
// says otherwise). It returns the verdict of the last attempt.
func fail(t *testing.T, g *axes.Guard, id axes.Identity, n int) axes.Verdict {
	t.Helper()
	var v axes.Verdict
	for range n {
		res, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { return false, nil })
		if err != nil {
			t.Fatalf("Authenticate(%+v): %v", id, err)
		}
		v = res.Verdict
	}
	return v
}

// succeed makes a successful login attempt for id through g.
func succeed(t *testing.T, g *axes.Guard, id axes.Identity) axes.Result {
	t.Helper()
	res, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { return true, nil })
	if err != nil {
		t.Fatalf("Authenticate(%+v): %v", id, err)
	}
	return res
}

// keysOf returns the sorted keys of recs.
func keysOf(recs []axes.Record) []string {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key
	}
	slices.Sort(keys)
	return keys
}

// sortedKeys returns the sorted keys of bs.
func sortedKeys(bs ...axes.Bucket) []string {
	keys := make([]string, len(bs))
	for i, b := range bs {
		keys[i] = b.Key
	}
	slices.Sort(keys)
	return keys
}
