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
// A record holds settled failures and reservations (attempts admitted and
// not yet settled) separately: the store must keep Reserved and ReservedAt
// as faithfully as Failures and LastFailure, keep a record that holds only
// reservations, and delete a record only when it is empty
// ([axes.Record.Empty]). The suite checks this through OpPeek, whose
// outcome carries the live records, and through [axes.Lister].
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
		{"Reservations", testReservations},
		{"Lease", testLease},
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
func newGuard(t *testing.T, s axes.Store, cfg axes.Config, clk *Clock, opts ...axes.Option) *axes.Guard {
	t.Helper()
	g, err := axes.New(s, cfg, append([]axes.Option{axes.WithClock(clk.Now)}, opts...)...)
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

// lease is the reservation lease of the policies the suite builds, as
// long as the guard's default.
const lease = time.Minute

// policy returns a one-tier policy with the suite's lease.
func policy(limit int, coolOff, window time.Duration) axes.Policy {
	return axes.Policy{Limit: limit, Tiers: []axes.Tier{{Failures: limit, CoolOff: coolOff}}, Window: window, Lease: lease}
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

// attempt makes one failed attempt on bs at now: an OpAdmit that must be
// admitted, then an OpFail; it returns the outcome of the OpFail.
func attempt(t *testing.T, s axes.Store, now time.Time, p axes.Policy, bs ...axes.Bucket) axes.Outcome {
	t.Helper()
	if o := do(t, s, axes.OpAdmit, now, p, bs...); !o.Admitted {
		t.Fatalf("admit at +%s on %v: refused (%+v), want admitted", now.Sub(base), sortedKeys(bs...), o)
	}
	return do(t, s, axes.OpFail, now, p, bs...)
}

// failures returns the failure count of b at now, read with OpPeek.
func failures(t *testing.T, s axes.Store, now time.Time, p axes.Policy, b axes.Bucket) int {
	t.Helper()
	return do(t, s, axes.OpPeek, now, p, b).Failures
}

// peek returns the live record of b at now, read with OpPeek (a zero
// Record with b's bucket when there is none).
func peek(t *testing.T, s axes.Store, now time.Time, p axes.Policy, b axes.Bucket) axes.Record {
	t.Helper()
	o := do(t, s, axes.OpPeek, now, p, b)
	if len(o.Records) != 1 {
		t.Fatalf("OpPeek on one bucket returned %d records, want 1", len(o.Records))
	}
	return o.Records[0]
}

// rec is the part of a Record a test checks; zero times mean zero.
type rec struct {
	Failures    int
	LastFailure time.Time
	Reserved    int
	ReservedAt  time.Time
}

// checkRec compares the counts and times of got with want.
func checkRec(t *testing.T, what string, got axes.Record, want rec) {
	t.Helper()
	if got.Failures != want.Failures || !got.LastFailure.Equal(want.LastFailure) ||
		got.Reserved != want.Reserved || !got.ReservedAt.Equal(want.ReservedAt) {
		t.Errorf("%s: record has %d failures (last %v), %d reserved (at %v); want %d (last %v), %d (at %v)", what,
			got.Failures, got.LastFailure, got.Reserved, got.ReservedAt,
			want.Failures, want.LastFailure, want.Reserved, want.ReservedAt)
	}
}

func kindName(k axes.OpKind) string {
	switch k {
	case axes.OpAdmit:
		return "OpAdmit"
	case axes.OpFail:
		return "OpFail"
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
	Admitted, Locked, Pending, Counted bool
	Failures                           int
	LockedUntil                        time.Time
}

// check compares the fields of got listed in want, and the bucket when
// b.Key is set.
func check(t *testing.T, what string, got axes.Outcome, want outcome, b axes.Bucket) {
	t.Helper()
	if d := diffOutcome(got, axes.Outcome{
		Admitted: want.Admitted, Locked: want.Locked, Pending: want.Pending, Counted: want.Counted,
		Failures: want.Failures, LockedUntil: want.LockedUntil,
		Bucket: got.Bucket, Records: got.Records,
	}); d != "" {
		t.Errorf("%s: %s", what, d)
	}
	if b.Key != "" && got.Bucket != b {
		t.Errorf("%s: Bucket = %+v, want %+v", what, got.Bucket, b)
	}
}

// diffOutcome describes how got differs from want, or returns "". Records
// are compared field by field, times with Equal.
func diffOutcome(got, want axes.Outcome) string {
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.Admitted != want.Admitted {
		add("Admitted", got.Admitted, want.Admitted)
	}
	if got.Locked != want.Locked {
		add("Locked", got.Locked, want.Locked)
	}
	if got.Pending != want.Pending {
		add("Pending", got.Pending, want.Pending)
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
	if len(got.Records) != len(want.Records) {
		add("len(Records)", len(got.Records), len(want.Records))
	} else {
		for i := range got.Records {
			if rd := diffRecord(got.Records[i], want.Records[i]); rd != "" {
				d = append(d, fmt.Sprintf("Records[%d]: %s", i, rd))
			}
		}
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

// diffRecord describes how got differs from want, or returns "".
func diffRecord(got, want axes.Record) string {
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.Bucket != want.Bucket {
		add("Bucket", fmt.Sprintf("%+v", got.Bucket), fmt.Sprintf("%+v", want.Bucket))
	}
	if got.Failures != want.Failures {
		add("Failures", got.Failures, want.Failures)
	}
	if !got.LastFailure.Equal(want.LastFailure) {
		add("LastFailure", got.LastFailure, want.LastFailure)
	}
	if got.Reserved != want.Reserved {
		add("Reserved", got.Reserved, want.Reserved)
	}
	if !got.ReservedAt.Equal(want.ReservedAt) {
		add("ReservedAt", got.ReservedAt, want.ReservedAt)
	}
	if got.Locked != want.Locked {
		add("Locked", got.Locked, want.Locked)
	}
	if !got.LockedUntil.Equal(want.LockedUntil) {
		add("LockedUntil", got.LockedUntil, want.LockedUntil)
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) {
		add("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

// fail makes n failed login attempts for id through g, one after the
// other: each is admitted and failed (a store round trip each), or refused
// (and then counted while locked, unless the policy says otherwise). It
// returns the verdict of the last attempt.
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
