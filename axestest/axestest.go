// Package axestest is the conformance suite for [storage.Store]
// implementations. Every store in this repository runs it, and a
// third-party store should too:
//
//	func TestStore(t *testing.T) {
//		axestest.RunStoreTests(t, func(t *testing.T) storage.Store {
//			return mystore.New(...)
//		})
//	}
//
// # What a store must do
//
// A store runs steps: each [storage.Op] names one bucket and one
// [storage.Step], and the store reads the bucket's [storage.State] (the
// zero State when it has none), calls [storage.Apply], writes the state
// Apply returns — deletes the bucket when that state is
// [storage.State.Empty], writes nothing for a Peek — and returns the
// answer, with no other writer to that key in between. The suite checks
// each part of that sentence on its own:
//
//   - Step: hand-computed states after simple steps; Peek writes nothing;
//     an empty state deletes the bucket; two ops on one key in one call
//     see each other, in order; every State field round-trips exactly
//     (times are integer microseconds, shares keep their order and their
//     Unicode users); bucket descriptors are kept; keys are byte strings,
//     not always valid UTF-8 (one holds every byte from 0x01 to 0xff), and
//     keys that differ in one byte, in case only, or after a kilobyte are
//     distinct; a done context fails and writes nothing; after Close, Do
//     returns [storage.ErrClosed].
//   - Concurrency: 200 admissions at once on one bucket with a limit of 3
//     admit exactly 3, concurrent settlements lose nothing, and a real
//     [axes.Guard] never runs more credential checks on a bucket at once
//     than its limit.
//   - Guard: lockouts, cool-offs, tiers, windows, FixedCoolOff,
//     RecordOnly, crashed tickets that lapse into failures, late
//     settlements, resets of a user's share while another user's check is
//     running, through a guard with a fake [Clock] and exact boundaries.
//   - Lister, Purger, AuditLog, LogPruner, RuleStore: the optional
//     capabilities, each skipped (with a message) when the store does not
//     offer it through [storage.Find].
//   - Property: random sequences of attempts, settlements, clock steps and
//     resets through a guard on the store and through a guard on an
//     in-memory reference store, compared result by result. The reference
//     store runs a second implementation of the step function, written
//     from docs/step.md apart from storage.Apply.
//
// A store that reproduces Apply outside Go (a Lua script, SQL) runs
// [RunStepVectors] and [RunStepProperty] on its port as well.
//
// Time never passes for the suite: the guard reads a fake [Clock] and
// every step carries its time, so boundaries are tested to the
// microsecond. A store must never read the clock for a decision.
//
// Each subtest gets its own store from the [Factory], and closes it at the
// end unless the subtest closed it. A store backed by a server should give
// every call its own namespace (a key prefix, a fresh schema, truncated
// tables).
//
// The package imports the standard library and the axes module only, so
// depending on it adds nothing to a store's module graph.
package axestest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/storage"
)

// Factory returns a new, empty store for one subtest. The suite closes it
// unless the subtest already did.
type Factory func(t *testing.T) storage.Store

// subtest is one leaf of the suite.
type subtest struct {
	name string
	fn   func(*testing.T, *env)
}

// RunStoreTests runs the [storage.Store] contract against stores made by
// newStore, one fresh store per subtest, and the contract of each optional
// capability the store offers.
func RunStoreTests(t *testing.T, newStore Factory) {
	t.Helper()
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Step", stepTests},
		{"Concurrency", concurrencyTests},
		{"Guard", guardTests},
		{"Waiting", waitingTests},
		{"Optional", optionalTests},
		{"Property", []subtest{{"Sequences", testProperty}}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, newEnv(t, newStore))
				})
			}
		})
	}
}

// base is the time every subtest starts at. It is 5 s past a whole minute,
// so a ticket admitted at base lapses 55 s after it with a 30 s lease, and
// 115 s after it with a one-minute lease.
var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// env is one store under test.
type env struct {
	s       storage.Store
	factory Factory
	closed  bool
}

func newEnv(t *testing.T, newStore Factory) *env {
	t.Helper()
	s := newStore(t)
	if s == nil {
		t.Fatal("the Factory returned a nil store")
	}
	e := &env{s: s, factory: newStore}
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

// Clock is a fake clock for tests: pass its Now to [axes.WithClock] and
// move it with Set or Advance. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

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

// Times and durations in the integer microseconds of steps.
const (
	second = int64(time.Second / time.Microsecond)
	minute = 60 * second
	hour   = 60 * minute
)

// us returns t in Unix microseconds.
func us(t time.Time) int64 { return storage.Micros(t) }

// t0 is base in Unix microseconds.
var t0 = us(base)

// policy returns a one-tier policy: limit failures lock for cool µs (0:
// until reset), counts are kept window µs, tickets lapse after lease µs.
func policy(limit int, cool, window, lease int64) storage.Policy {
	return storage.Policy{Limit: limit, Tiers: []storage.Tier{{Failures: limit, CoolOff: cool}}, Window: window, Lease: lease}
}

// ipBucket returns a hand-made bucket for an address.
func ipBucket(ip string) storage.Bucket {
	return storage.Bucket{Key: "axestest|ip=" + ip, Params: "ip_address", IP: ip}
}

// stepOf returns a step of kind at now under p, crediting user.
func stepOf(kind storage.Kind, now int64, p storage.Policy, user string) storage.Step {
	return storage.Step{Kind: kind, Now: now, Policy: p, User: user}
}

// held returns a step that settles a ticket of cohort slot.
func held(kind storage.Kind, now int64, p storage.Policy, user string, slot int64) storage.Step {
	s := stepOf(kind, now, p, user)
	s.Held, s.Slot = true, slot
	return s
}

// do runs ops on s and fails the test on an error or a wrong number of
// answers.
func do(t *testing.T, s storage.Store, ops ...storage.Op) []storage.Answer {
	t.Helper()
	ans, err := s.Do(t.Context(), ops)
	if err != nil {
		t.Fatalf("Do(%s): %v", describeOps(ops), err)
	}
	if len(ans) != len(ops) {
		t.Fatalf("Do(%s) returned %d answers for %d ops", describeOps(ops), len(ans), len(ops))
	}
	return ans
}

// one runs a single step on b and returns its answer.
func one(t *testing.T, s storage.Store, b storage.Bucket, st storage.Step) storage.Answer {
	t.Helper()
	return do(t, s, storage.Op{Bucket: b, Step: st})[0]
}

// peek returns the answer of a Peek on b at now under p.
func peek(t *testing.T, s storage.Store, b storage.Bucket, now int64, p storage.Policy) storage.Answer {
	t.Helper()
	return one(t, s, b, stepOf(storage.Peek, now, p, ""))
}

func describeOps(ops []storage.Op) string {
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s %q at %s", op.Step.Kind, op.Bucket.Key, at(op.Step.Now)))
	}
	return strings.Join(parts, ", ")
}

// at describes a time in µs relative to base.
func at(v int64) string {
	if v == 0 {
		return "0"
	}
	d := time.Duration(v-t0) * time.Microsecond
	if d >= 0 {
		return "base+" + d.String()
	}
	return "base" + d.String()
}

// checkAnswer compares every field of an answer.
func checkAnswer(t *testing.T, what string, got, want storage.Answer) {
	t.Helper()
	if got != want {
		t.Errorf("%s: answer\n got %s\nwant %s", what, showAnswer(got), showAnswer(want))
	}
}

func showAnswer(a storage.Answer) string {
	return fmt.Sprintf("{Admitted:%v Slot:%d Locked:%v Full:%v Counted:%v Until:%s Failures:%d LastFailure:%s ForgetAt:%s InFlight:%d Taken:%d}",
		a.Admitted, a.Slot, a.Locked, a.Full, a.Counted, at(a.Until), a.Failures, at(a.LastFailure), at(a.ForgetAt), a.InFlight, a.Taken)
}

func showState(s storage.State) string {
	return fmt.Sprintf("{Failures:%d LastFailure:%s Reserved:%d Older:%d Slot:%d Shares:%v ExpiresAt:%s}",
		s.Failures, at(s.LastFailure), s.Reserved, s.Older, s.Slot, s.Shares, at(s.ExpiresAt))
}

// diffState describes how got differs from want, field by field, or
// returns "". Nil and empty shares are equal.
func diffState(got, want storage.State) string {
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.Failures != want.Failures {
		add("Failures", got.Failures, want.Failures)
	}
	if got.LastFailure != want.LastFailure {
		add("LastFailure", at(got.LastFailure), at(want.LastFailure))
	}
	if got.Reserved != want.Reserved {
		add("Reserved", got.Reserved, want.Reserved)
	}
	if got.Older != want.Older {
		add("Older", got.Older, want.Older)
	}
	if got.Slot != want.Slot {
		add("Slot", got.Slot, want.Slot)
	}
	if !slices.Equal(got.Shares, want.Shares) {
		add("Shares", fmt.Sprintf("%q", got.Shares), fmt.Sprintf("%q", want.Shares))
	}
	if got.ExpiresAt != want.ExpiresAt {
		add("ExpiresAt", at(got.ExpiresAt), at(want.ExpiresAt))
	}
	return strings.Join(d, "; ")
}

// lister returns the store's Lister, if it has one.
func lister(s storage.Store) (storage.Lister, bool) { return storage.Find[storage.Lister](s) }

// list returns the entries of f; ok is false when the store cannot list.
func list(t *testing.T, s storage.Store, f storage.Filter) (entries []storage.Entry, ok bool) {
	t.Helper()
	l, ok := lister(s)
	if !ok {
		return nil, false
	}
	es, err := l.List(t.Context(), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return es, true
}

// entry returns the listed entry of key; listed is false when the store
// cannot list, found when it lists no such key.
func entry(t *testing.T, s storage.Store, key string) (e storage.Entry, found, listed bool) {
	t.Helper()
	es, ok := list(t, s, storage.Filter{})
	if !ok {
		return storage.Entry{}, false, false
	}
	n := 0
	for _, x := range es {
		if x.Bucket.Key == key {
			e, found = x, true
			n++
		}
	}
	if n > 1 {
		t.Errorf("List returned the key %q %d times", key, n)
	}
	return e, found, true
}

// expectState checks the stored state of b: through a Peek at now under
// p (its counts, last failure and tickets in flight), and, when the store
// can list, the listed state field by field and the bucket's descriptor.
// A zero want means that the bucket is absent.
func expectState(t *testing.T, what string, s storage.Store, b storage.Bucket, now int64, p storage.Policy, want storage.State) {
	t.Helper()
	a := peek(t, s, b, now, p)
	if a.Failures != want.Failures || a.LastFailure != want.LastFailure || a.InFlight != want.Reserved+want.Older {
		t.Errorf("%s: a Peek sees %d failures (last %s) and %d in flight; want %d (last %s) and %d",
			what, a.Failures, at(a.LastFailure), a.InFlight, want.Failures, at(want.LastFailure), want.Reserved+want.Older)
	}
	e, found, listed := entry(t, s, b.Key)
	switch {
	case !listed:
	case want.Empty() && found:
		t.Errorf("%s: the bucket should be deleted, but List holds %s", what, showState(e.State))
	case want.Empty():
	case !found:
		t.Errorf("%s: List does not hold the bucket; want %s", what, showState(want))
	default:
		if d := diffState(e.State, want); d != "" {
			t.Errorf("%s: listed state %s\n (%s)", what, showState(e.State), d)
		}
		if e.Bucket != b {
			t.Errorf("%s: listed bucket %+v, want %+v", what, e.Bucket, b)
		}
	}
}

// newGuard returns a guard over s reading clk. Unless cfg says how long to
// wait for a place, an attempt that finds every place held is refused at
// once: the suite's clock stands still while tickets are held, so a wait
// could only end by its real-time bound (the Waiting subtests set one).
func newGuard(t *testing.T, s storage.Store, cfg axes.Config, clk *Clock, opts ...axes.Option) *axes.Guard {
	t.Helper()
	if cfg.MaxWait == 0 {
		cfg.MaxWait = -1
	}
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

// bucketOf returns the bucket of id with the given lockout parameters.
func bucketOf(t *testing.T, g *axes.Guard, id axes.Identity, params string) storage.Bucket {
	t.Helper()
	bs, err := g.Buckets(id)
	if err != nil {
		t.Fatalf("Buckets(%+v): %v", id, err)
	}
	for _, b := range bs {
		if b.Params == params {
			return b
		}
	}
	t.Fatalf("identity %v@%v has no %q bucket", id.Username, id.IP, params)
	return storage.Bucket{}
}

func wrong(context.Context) (bool, error) { return false, nil }
func right(context.Context) (bool, error) { return true, nil }

// fail makes n failed login attempts for id through g, one after the
// other, and returns the result of the last.
func fail(t *testing.T, g *axes.Guard, id axes.Identity, n int) axes.Result {
	t.Helper()
	var res axes.Result
	for range n {
		var err error
		res, err = g.Authenticate(t.Context(), id, wrong)
		if err != nil {
			t.Fatalf("Authenticate(%v@%v): %v", id.Username, id.IP, err)
		}
	}
	return res
}

// succeed makes one successful login attempt for id through g.
func succeed(t *testing.T, g *axes.Guard, id axes.Identity) axes.Result {
	t.Helper()
	res, err := g.Authenticate(t.Context(), id, right)
	if err != nil {
		t.Fatalf("Authenticate(%v@%v): %v", id.Username, id.IP, err)
	}
	return res
}

// admit admits id and fails the test when it is refused.
func admit(t *testing.T, g *axes.Guard, id axes.Identity) *axes.Ticket {
	t.Helper()
	tk, err := g.Admit(t.Context(), id)
	if err != nil {
		t.Fatalf("Admit(%v@%v) at %s: %v", id.Username, id.IP, g.Now().Sub(base), err)
	}
	return tk
}

// status returns g.Status(id).
func status(t *testing.T, g *axes.Guard, id axes.Identity) axes.Result {
	t.Helper()
	res, err := g.Status(t.Context(), id)
	if err != nil {
		t.Fatalf("Status(%v@%v): %v", id.Username, id.IP, err)
	}
	return res
}

// explainBucket returns the state of id's bucket with the given
// parameters, as Explain reports it.
func explainBucket(t *testing.T, g *axes.Guard, id axes.Identity, params string) axes.BucketState {
	t.Helper()
	ex, err := g.Explain(t.Context(), id)
	if err != nil {
		t.Fatalf("Explain(%v@%v): %v", id.Username, id.IP, err)
	}
	for _, b := range ex.Buckets {
		if b.Bucket.Params == params {
			return b
		}
	}
	t.Fatalf("Explain(%v@%v) has no %q bucket", id.Username, id.IP, params)
	return axes.BucketState{}
}

// res is the part of a Result a test checks; a zero LockedUntil means
// zero.
type res struct {
	Verdict     axes.Verdict
	Failures    int
	LockedUntil time.Time
}

func checkResult(t *testing.T, what string, got axes.Result, want res) {
	t.Helper()
	if got.Verdict != want.Verdict || got.Failures != want.Failures || !got.LockedUntil.Equal(want.LockedUntil) {
		t.Errorf("%s: verdict %v, %d failures, locked until %s; want %v, %d, %s", what,
			got.Verdict, got.Failures, showTime(got.LockedUntil), want.Verdict, want.Failures, showTime(want.LockedUntil))
	}
}

func showTime(v time.Time) string {
	if v.IsZero() {
		return "zero"
	}
	return at(us(v))
}

// lockout returns the result carried by a *axes.LockoutError, and fails
// the test when err is not one.
func lockout(t *testing.T, what string, err error) axes.Result {
	t.Helper()
	var le *axes.LockoutError
	if !errors.As(err, &le) {
		t.Fatalf("%s: err = %v, want a *axes.LockoutError", what, err)
	}
	return le.Result
}
