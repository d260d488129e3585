package axestest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/storage"
)

// guardTests run a real guard with a fake clock over the store.
var guardTests = []subtest{
	{"LockAtLimit", testLockAtLimit},
	{"CoolOffBoundary", testCoolOffBoundary},
	{"Tiers", testTiers},
	{"WindowShorterThanCoolOff", testWindowShorterThanCoolOff},
	{"FixedCoolOff", testFixedCoolOff},
	{"RecordOnly", testRecordOnly},
	{"Pending", testPending},
	{"CrashedTicket", testCrashedTicket},
	{"CrashedTicketSteadyTraffic", testCrashedTicketSteadyTraffic},
	{"LateSettlement", testLateSettlement},
	{"ResetOnSuccess", testResetOnSuccess},
	{"ResetWhileInFlight", testResetWhileInFlight},
	{"LockedListAfterShareReset", testLockedListAfterShareReset},
	{"Reset", testReset},
	{"ExplainStatusList", testExplainStatusList},
}

// testLockAtLimit: with a limit of 3, the third failure locks (and is
// answered Locked); a locked client's credentials are not checked, and its
// attempt counts and extends the lock.
func testLockAtLimit(t *testing.T, e *env) {
	const cool = 10 * time.Minute
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 3, CoolOff: cool}, clk)
	id := ident("198.51.100.1", "alice")
	ipB := bucketOf(t, g, id, "ip_address")
	for i, v := range []axes.Verdict{axes.Invalid, axes.Invalid, axes.Locked} {
		r := fail(t, g, id, 1)
		want := res{Verdict: v, Failures: i + 1}
		if v == axes.Locked {
			want.LockedUntil = base.Add(cool)
		}
		checkResult(t, fmt.Sprintf("failure %d", i+1), r, want)
		if r.Limit != 3 || r.Bucket != ipB {
			t.Errorf("failure %d: limit %d, bucket %+v; want 3, %+v", i+1, r.Limit, r.Bucket, ipB)
		}
		if v == axes.Locked && r.CoolOff != cool {
			t.Errorf("the locking failure: cool-off %v, want %v", r.CoolOff, cool)
		}
	}
	clk.Set(base.Add(time.Minute))
	checked := false
	r, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { checked = true; return true, nil })
	if err != nil {
		t.Fatal(err)
	}
	if checked {
		t.Error("the credentials of a locked-out client were checked")
	}
	checkResult(t, "an attempt while locked", r, res{Verdict: axes.Locked, Failures: 4, LockedUntil: base.Add(time.Minute + cool)})
	if _, err := g.Admit(t.Context(), id); !errors.Is(err, axes.ErrLockedOut) {
		t.Errorf("Admit while locked: err = %v, want one matching axes.ErrLockedOut", err)
	}
}

// testCoolOffBoundary: the lock holds until exactly the last failure plus
// the cool-off, and the count (kept as long as the cool-off) goes with it.
func testCoolOffBoundary(t *testing.T, e *env) {
	const cool = 10 * time.Minute
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 3, CoolOff: cool}, clk)
	id := ident("198.51.100.2", "")
	fail(t, g, id, 3)
	end := base.Add(cool)
	clk.Set(end.Add(-time.Microsecond))
	r := status(t, g, id)
	checkResult(t, "1µs before the end", r, res{Verdict: axes.Locked, Failures: 3, LockedUntil: end})
	if ra := r.RetryAfter(clk.Now()); ra != time.Second {
		t.Errorf("1µs before the end: RetryAfter = %v, want 1s", ra)
	}
	clk.Set(end)
	checkResult(t, "at the end", status(t, g, id), res{Verdict: axes.Allowed})
	checkResult(t, "a failure at the end starts afresh", fail(t, g, id, 1), res{Verdict: axes.Invalid, Failures: 1})
}

// testTiers: a client that keeps failing climbs the tiers, up to a lock
// until reset.
func testTiers(t *testing.T, e *env) {
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{Tiers: []axes.Tier{
		{Failures: 3, CoolOff: time.Minute}, {Failures: 5, CoolOff: 10 * time.Minute}, {Failures: 7, CoolOff: 0},
	}}, clk)
	id := ident("198.51.100.3", "")
	fail(t, g, id, 2)
	steps := []struct {
		at       time.Duration
		failures int
		cool     time.Duration // 0: until reset
	}{
		{0, 3, time.Minute},
		{time.Minute, 4, time.Minute},
		{2 * time.Minute, 5, 10 * time.Minute},
		{12 * time.Minute, 6, 10 * time.Minute},
		{22 * time.Minute, 7, 0},
	}
	for _, st := range steps {
		clk.Set(base.Add(st.at))
		want := res{Verdict: axes.Locked, Failures: st.failures}
		if st.cool > 0 {
			want.LockedUntil = base.Add(st.at + st.cool)
		}
		r := fail(t, g, id, 1)
		checkResult(t, fmt.Sprintf("failure %d at +%v", st.failures, st.at), r, want)
		if r.CoolOff != st.cool {
			t.Errorf("failure %d: cool-off %v, want %v", st.failures, r.CoolOff, st.cool)
		}
		if st.cool > 0 {
			clk.Set(base.Add(st.at + st.cool - time.Microsecond))
			checkResult(t, fmt.Sprintf("1µs before the end of tier lock %d", st.failures), status(t, g, id), want)
		}
	}
	clk.Set(base.AddDate(1, 0, 0))
	if r := status(t, g, id); r.Verdict != axes.Locked || !r.Permanent() || r.Failures != 7 {
		t.Errorf("a year later: verdict %v, permanent %v, %d failures; want locked until reset, 7", r.Verdict, r.Permanent(), r.Failures)
	}
}

// testWindowShorterThanCoolOff: a count is kept at least as long as the
// lock it causes; below the limit it is forgotten after the window.
func testWindowShorterThanCoolOff(t *testing.T, e *env) {
	const cool = 10 * time.Minute
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 3, CoolOff: cool, FailureWindow: time.Minute}, clk)
	id := ident("198.51.100.4", "")
	fail(t, g, id, 3)
	locked := res{Verdict: axes.Locked, Failures: 3, LockedUntil: base.Add(cool)}
	for _, d := range []time.Duration{2 * time.Minute, cool - time.Microsecond} {
		clk.Set(base.Add(d))
		checkResult(t, fmt.Sprintf("at +%v", d), status(t, g, id), locked)
	}
	clk.Set(base.Add(cool))
	checkResult(t, "when the lock ends", status(t, g, id), res{Verdict: axes.Allowed})

	at := base.Add(20 * time.Minute)
	clk.Set(at)
	fail(t, g, id, 2)
	clk.Set(at.Add(time.Minute - time.Microsecond))
	checkResult(t, "below the limit, 1µs before the window ends", status(t, g, id), res{Verdict: axes.Allowed, Failures: 2})
	clk.Set(at.Add(time.Minute))
	checkResult(t, "below the limit, when the window ends", status(t, g, id), res{Verdict: axes.Allowed})
}

// testFixedCoolOff: attempts while locked are refused without counting,
// so the lock ends a fixed time after the failure that caused it.
func testFixedCoolOff(t *testing.T, e *env) {
	const cool = 10 * time.Minute
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 3, CoolOff: cool, FixedCoolOff: true}, clk)
	id := ident("198.51.100.5", "")
	fail(t, g, id, 3)
	locked := res{Verdict: axes.Locked, Failures: 3, LockedUntil: base.Add(cool)}
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, cool - time.Microsecond} {
		clk.Set(base.Add(d))
		checkResult(t, fmt.Sprintf("an attempt at +%v", d), fail(t, g, id, 1), locked)
	}
	clk.Set(base.Add(cool))
	checkResult(t, "when the lock ends", status(t, g, id), res{Verdict: axes.Allowed})
}

// testRecordOnly: failures count, nothing locks, and tickets in flight
// never fill a bucket.
func testRecordOnly(t *testing.T, e *env) {
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 2, CoolOff: time.Hour, RecordOnly: true}, clk)
	id := ident("198.51.100.6", "")
	for i := 1; i <= 5; i++ {
		checkResult(t, fmt.Sprintf("failure %d", i), fail(t, g, id, 1), res{Verdict: axes.Invalid, Failures: i})
	}
	var tickets []*axes.Ticket
	for range 5 {
		tickets = append(tickets, admit(t, g, id))
	}
	for _, tk := range tickets {
		if err := tk.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	checkResult(t, "status", status(t, g, id), res{Verdict: axes.Allowed, Failures: 5})
}

// testPending: tickets in flight hold every place under the limit; a
// further attempt is refused without being counted, until they settle, and
// told to come back when a check is expected to have settled (at least a
// second; never the lease).
func testPending(t *testing.T, e *env) {
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 3, CoolOff: time.Hour}, clk)
	id := ident("198.51.100.7", "bob")
	var tickets []*axes.Ticket
	for range 3 {
		tickets = append(tickets, admit(t, g, id))
	}
	for range 2 {
		_, err := g.Admit(t.Context(), id)
		if !errors.Is(err, axes.ErrLockedOut) {
			t.Fatalf("Admit with 3 tickets in flight: err = %v, want one matching axes.ErrLockedOut", err)
		}
		checkResult(t, "the refusal", lockout(t, "Admit", err), res{Verdict: axes.Locked, LockedUntil: base.Add(time.Second)})
	}
	if b := explainBucket(t, g, id, "ip_address"); b.InFlight != 3 || b.Failures != 0 {
		t.Errorf("with 3 tickets in flight: %d in flight, %d failures; want 3, 0", b.InFlight, b.Failures)
	}
	clk.Set(base.Add(time.Second))
	for i, v := range []axes.Verdict{axes.Invalid, axes.Invalid, axes.Locked} {
		r, err := tickets[i].Fail(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := res{Verdict: v, Failures: i + 1}
		if v == axes.Locked {
			want.LockedUntil = base.Add(time.Second + time.Hour)
		}
		checkResult(t, fmt.Sprintf("settling ticket %d", i+1), r, want)
	}
	if _, err := tickets[0].Fail(t.Context()); !errors.Is(err, axes.ErrSettled) {
		t.Errorf("a second Fail: err = %v, want axes.ErrSettled", err)
	}
}

// testCrashedTicket: a ticket that is never settled counts as a failure
// after more than one lease and within two.
func testCrashedTicket(t *testing.T, e *env) {
	const lease = 30 * time.Second
	clk := NewClock(base.Add(7 * time.Second))
	g := newGuard(t, e.s, axes.Config{FailureLimit: 10, CoolOff: time.Hour}, clk, axes.WithReservationLease(lease))
	id := ident("198.51.100.8", "")
	start := clk.Now()
	admit(t, g, id) // never settled
	counted := time.Duration(-1)
	for d := time.Duration(0); d <= 2*lease; d += time.Second {
		clk.Set(start.Add(d))
		b := explainBucket(t, g, id, "ip_address")
		switch {
		case d <= lease && (b.Failures != 0 || b.InFlight != 1):
			t.Errorf("+%v after the admission (not more than a lease): %d failures, %d in flight; want 0, 1", d, b.Failures, b.InFlight)
		case b.Failures == 1 && b.InFlight == 0 && counted < 0:
			counted = d
		}
	}
	if counted < 0 {
		t.Errorf("the crashed ticket was not counted within two leases (%v)", 2*lease)
	}
	if b := explainBucket(t, g, id, "ip_address"); b.Failures != 1 || b.InFlight != 0 {
		t.Errorf("two leases after the admission: %d failures, %d in flight; want 1, 0", b.Failures, b.InFlight)
	}
	t.Logf("counted %v after its admission", counted)
}

// testCrashedTicketSteadyTraffic: new tickets every 20 s (each in flight
// for 10 s) do not postpone the lapse of a crashed one: with a 30 s lease
// it is counted within 60 s of its admission, and not within 30 s.
func testCrashedTicketSteadyTraffic(t *testing.T, e *env) {
	const lease = 30 * time.Second
	clk := NewClock(base.Add(7 * time.Second))
	g := newGuard(t, e.s, axes.Config{FailureLimit: 10, CoolOff: time.Hour}, clk, axes.WithReservationLease(lease))
	id := ident("198.51.100.9", "")
	start := clk.Now()
	admit(t, g, id) // never settled
	var tk *axes.Ticket
	for d := 10 * time.Second; d <= 2*time.Minute; d += 10 * time.Second {
		clk.Set(start.Add(d))
		if d%(20*time.Second) == 0 {
			tk = admit(t, g, id)
		} else if tk != nil {
			if err := tk.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
			tk = nil
		}
		f := explainBucket(t, g, id, "ip_address").Failures
		switch {
		case d <= lease && f != 0:
			t.Errorf("+%v under steady traffic: %d failures, want 0 (a lease has not passed)", d, f)
		case d >= 2*lease && f != 1:
			t.Errorf("+%v under steady traffic: %d failures, want 1 (the crashed ticket, counted within two leases)", d, f)
		}
	}
}

// testLateSettlement: a ticket settled after it lapsed changes nothing;
// in particular it does not give back the place of a newer ticket in
// flight.
func testLateSettlement(t *testing.T, e *env) {
	const lease = 30 * time.Second
	for _, settle := range []string{"Fail", "Release"} {
		t.Run(settle, func(t *testing.T) {
			clk := NewClock(base)
			g := newGuard(t, e.s, axes.Config{FailureLimit: 2, CoolOff: time.Hour}, clk, axes.WithReservationLease(lease))
			id := ident("198.51.100.10", "")
			if settle == "Release" {
				id = ident("198.51.100.11", "")
			}
			old := admit(t, g, id)
			clk.Set(base.Add(2 * lease))
			checkResult(t, "after the lapse", status(t, g, id), res{Verdict: axes.Allowed, Failures: 1})
			newer := admit(t, g, id)
			clk.Set(base.Add(2*lease + time.Second))
			if settle == "Fail" {
				r, err := old.Fail(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, "the late Fail", r, res{Verdict: axes.Invalid, Failures: 1})
			} else if err := old.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
			if b := explainBucket(t, g, id, "ip_address"); b.Failures != 1 || b.InFlight != 1 {
				t.Errorf("after the late %s: %d failures, %d in flight; want 1 (the lapse), 1 (the newer ticket)", settle, b.Failures, b.InFlight)
			}
			// One failure and the newer ticket fill the limit of 2.
			if _, err := g.Admit(t.Context(), id); !errors.Is(err, axes.ErrLockedOut) {
				t.Errorf("Admit with one failure and one ticket in flight (limit 2): err = %v, want a refusal", err)
			}
			r, err := newer.Fail(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, "the newer ticket fails", r, res{Verdict: axes.Locked, Failures: 2, LockedUntil: clk.Now().Add(time.Hour)})
		})
	}
}

// userIPGroups count by address and by username.
var userIPGroups = []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}}

// testResetOnSuccess: a successful login clears the user's own bucket and
// takes only the user's share off the address's bucket.
func testResetOnSuccess(t *testing.T, e *env) {
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 5, CoolOff: time.Hour, ResetOnSuccess: true, LockoutParameters: userIPGroups}, clk)
	alice, bob := ident("198.51.100.12", "alice"), ident("198.51.100.12", "bob")
	alice2 := ident("198.51.100.13", "alice")
	fail(t, g, alice, 2)
	fail(t, g, bob, 1)
	fail(t, g, alice2, 1)
	clk.Set(base.Add(time.Minute))
	r := succeed(t, g, alice)
	if r.Verdict != axes.Allowed || r.Failures != 1 {
		t.Errorf("alice's success: verdict %v, %d failures; want allowed, 1 (bob's, on the address)", r.Verdict, r.Failures)
	}
	for _, c := range []struct {
		id     axes.Identity
		params string
		want   int
	}{
		{bob, "ip_address", 1}, {bob, "username", 1}, {alice, "username", 0},
		{alice2, "ip_address", 1}, // another address: not this attempt's bucket
	} {
		if got := explainBucket(t, g, c.id, c.params).Failures; got != c.want {
			t.Errorf("%s bucket of %s@%v after alice's success: %d failures, want %d", c.params, c.id.Username, c.id.IP, got, c.want)
		}
	}
}

// testResetWhileInFlight: resetting alice while bob's check is running on
// the address they share keeps bob's ticket: his failure counts after.
func testResetWhileInFlight(t *testing.T, e *env) {
	if _, ok := lister(e.s); !ok {
		t.Skip("the store does not implement storage.Lister, which Guard.Reset needs")
	}
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 5, CoolOff: time.Hour, LockoutParameters: userIPGroups}, clk)
	alice, bob := ident("198.51.100.14", "alice"), ident("198.51.100.14", "bob")
	fail(t, g, alice, 2)
	tk := admit(t, g, bob)
	clk.Set(base.Add(time.Second))
	n, err := g.Reset(t.Context(), axes.Filter{Username: "alice"})
	if err != nil || n != 2 {
		t.Errorf("Reset(alice) = %d, %v; want 2 (her bucket and her share of the address), nil", n, err)
	}
	if b := explainBucket(t, g, bob, "ip_address"); b.Failures != 0 || b.InFlight != 1 {
		t.Errorf("the address after the reset: %d failures, %d in flight; want 0, 1 (bob's ticket)", b.Failures, b.InFlight)
	}
	clk.Set(base.Add(2 * time.Second))
	r, err := tk.Fail(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "bob's failure after the reset", r, res{Verdict: axes.Invalid, Failures: 1})
	for _, params := range []string{"ip_address", "username"} {
		if b := explainBucket(t, g, bob, params); b.Failures != 1 || b.InFlight != 0 {
			t.Errorf("bob's %s bucket: %d failures, %d in flight; want 1, 0", params, b.Failures, b.InFlight)
		}
	}
}

// testLockedListAfterShareReset: once a user's share is taken off a locked
// address, List(LockedOnly) no longer lists the address, and the guard
// admits it: the two agree.
func testLockedListAfterShareReset(t *testing.T, e *env) {
	if _, ok := lister(e.s); !ok {
		t.Skip("the store does not implement storage.Lister")
	}
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{FailureLimit: 3, CoolOff: time.Hour}, clk)
	alice, bob, carol := ident("198.51.100.15", "alice"), ident("198.51.100.15", "bob"), ident("198.51.100.15", "carol")
	fail(t, g, alice, 2)
	fail(t, g, bob, 1)
	lockedList := func() []axes.BucketState {
		t.Helper()
		bs, err := g.List(t.Context(), axes.Filter{LockedOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		return bs
	}
	ipB := bucketOf(t, g, alice, "ip_address")
	if bs := lockedList(); len(bs) != 1 || bs[0].Bucket != ipB {
		t.Fatalf("List(LockedOnly) with the address locked = %v, want its bucket only", bs)
	}
	clk.Set(base.Add(time.Second))
	if n, err := g.Reset(t.Context(), axes.Filter{Username: "alice"}); err != nil || n != 1 {
		t.Errorf("Reset(alice) = %d, %v; want 1, nil", n, err)
	}
	if bs := lockedList(); len(bs) != 0 {
		t.Errorf("List(LockedOnly) after taking alice's share = %v, want none", bs)
	}
	tk, err := g.Admit(t.Context(), carol)
	if err != nil {
		t.Fatalf("Admit(carol) after the reset: %v, want admitted", err)
	}
	if err := tk.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	bs, err := g.List(t.Context(), axes.Filter{IP: "198.51.100.15"})
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].Failures != 1 || bs[0].Locked {
		t.Errorf("List(address) after the reset = %+v, want one unlocked bucket with bob's failure", bs)
	}
}

// fixture is a store with failures of three users on two addresses and
// one IPv6 client, made through a guard that counts by address, by
// username and by both:
//
//	base:    alice@1.1.1.1 fails 3 times: locked until base+10m
//	base+1m: bob@2.2.2.2 fails once; erin@2001:db8::1 fails once
//	base+2m: carol@1.1.1.1 is refused (the address is locked) and
//	         counted in the address's bucket alone, which locked her
//	         (a refusal makes no bucket of its own): the address has 4
//	         failures, carol's share 1, locked until base+12m
type fixture struct {
	s                 storage.Store
	clk               *Clock
	g                 *axes.Guard
	alice, bob, carol axes.Identity
	erin              axes.Identity
	ids               []axes.Identity
}

const fixtureCoolOff = 10 * time.Minute

func newFixture(t *testing.T, s storage.Store) *fixture {
	t.Helper()
	clk := NewClock(base)
	f := &fixture{s: s, clk: clk, g: newGuard(t, s, axes.Config{
		FailureLimit: 3, CoolOff: fixtureCoolOff,
		LockoutParameters: []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}, {axes.ParamUsername, axes.ParamIPAddress}},
	}, clk),
		alice: ident("1.1.1.1", "alice"), bob: ident("2.2.2.2", "bob"), carol: ident("1.1.1.1", "carol"),
		erin: ident("2001:db8::1", "erin")}
	f.ids = []axes.Identity{f.alice, f.bob, f.carol, f.erin}
	if r := fail(t, f.g, f.alice, 3); r.Verdict != axes.Locked {
		t.Fatalf("fixture: alice's third failure: %v, want locked", r.Verdict)
	}
	clk.Set(base.Add(time.Minute))
	fail(t, f.g, f.bob, 1)
	fail(t, f.g, f.erin, 1)
	clk.Set(base.Add(2 * time.Minute))
	if r := fail(t, f.g, f.carol, 1); r.Verdict != axes.Locked || r.Failures != 4 {
		t.Fatalf("fixture: carol's attempt: %v with %d failures, want locked with 4", r.Verdict, r.Failures)
	}
	return f
}

// key returns the key of id's bucket with params.
func (f *fixture) key(t *testing.T, id axes.Identity, params string) string {
	t.Helper()
	return bucketOf(t, f.g, id, params).Key
}

// counts returns the failures of every bucket of the fixture's
// identities, by key, as Explain reports them (0s left out).
func (f *fixture) counts(t *testing.T) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, id := range f.ids {
		ex, err := f.g.Explain(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range ex.Buckets {
			if b.Failures > 0 {
				m[b.Bucket.Key] = b.Failures
			}
		}
	}
	return m
}

// initial returns the counts the fixture starts with.
func (f *fixture) initial(t *testing.T) map[string]int {
	t.Helper()
	return map[string]int{
		f.key(t, f.alice, "ip_address"): 4, f.key(t, f.alice, "username"): 3, f.key(t, f.alice, "username+ip_address"): 3,
		f.key(t, f.bob, "ip_address"): 1, f.key(t, f.bob, "username"): 1, f.key(t, f.bob, "username+ip_address"): 1,
		f.key(t, f.erin, "ip_address"): 1, f.key(t, f.erin, "username"): 1, f.key(t, f.erin, "username+ip_address"): 1,
	}
}

func (f *fixture) expect(t *testing.T, what string, want map[string]int) {
	t.Helper()
	got := f.counts(t)
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: bucket %q has %d failures, want %d", what, k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: bucket %q has %d failures, want 0", what, k, n)
		}
	}
}

// testReset: Guard.Reset by address, username, both and everything, with
// exact counts of the buckets reduced and of what is left.
func testReset(t *testing.T, e *env) {
	if _, ok := lister(e.s); !ok {
		t.Skip("the store does not implement storage.Lister, which Guard.Reset needs")
	}
	cases := []struct {
		name string
		f    axes.Filter
		n    int
		left func(t *testing.T, f *fixture, m map[string]int)
	}{
		{"IP", axes.Filter{IP: "1.1.1.1"}, 2, func(t *testing.T, f *fixture, m map[string]int) {
			delete(m, f.key(t, f.alice, "ip_address"))
			delete(m, f.key(t, f.alice, "username+ip_address"))
		}},
		{"IPv6", axes.Filter{IP: "2001:db8::77"}, 2, func(t *testing.T, f *fixture, m map[string]int) {
			delete(m, f.key(t, f.erin, "ip_address"))
			delete(m, f.key(t, f.erin, "username+ip_address"))
		}},
		{"Username", axes.Filter{Username: "Alice"}, 3, func(t *testing.T, f *fixture, m map[string]int) {
			delete(m, f.key(t, f.alice, "username"))
			delete(m, f.key(t, f.alice, "username+ip_address"))
			m[f.key(t, f.alice, "ip_address")] = 1 // carol's share stays
		}},
		{"IPAndUsername", axes.Filter{IP: "1.1.1.1", Username: "carol"}, 1, func(t *testing.T, f *fixture, m map[string]int) {
			m[f.key(t, f.alice, "ip_address")] = 3 // alice's share stays
		}},
		{"UsernameElsewhere", axes.Filter{IP: "2.2.2.2", Username: "alice"}, 0, func(*testing.T, *fixture, map[string]int) {}},
		{"LockedOnly", axes.Filter{LockedOnly: true}, 3, func(t *testing.T, f *fixture, m map[string]int) {
			delete(m, f.key(t, f.alice, "ip_address"))
			delete(m, f.key(t, f.alice, "username"))
			delete(m, f.key(t, f.alice, "username+ip_address"))
		}},
		{"Everything", axes.Filter{}, 9, func(_ *testing.T, _ *fixture, m map[string]int) { clear(m) }},
		{"NoMatch", axes.Filter{Username: "nobody"}, 0, func(*testing.T, *fixture, map[string]int) {}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := e.s
			if i > 0 {
				s = newEnv(t, e.factory).s
			}
			f := newFixture(t, s)
			want := f.initial(t)
			f.expect(t, "the fixture", want)
			n, err := f.g.Reset(t.Context(), c.f)
			if err != nil || n != c.n {
				t.Errorf("Reset(%+v) = %d, %v; want %d, nil", c.f, n, err, c.n)
			}
			c.left(t, f, want)
			f.expect(t, "after the reset", want)
			if c.name == "Everything" {
				if bs, err := f.g.List(t.Context(), axes.Filter{}); err != nil || len(bs) != 0 {
					t.Errorf("List after resetting everything = %v, %v; want none", bs, err)
				}
			}
		})
	}
}

// testExplainStatusList: at several times, Explain, Status and List tell
// the same story about every bucket, tickets in flight included.
func testExplainStatusList(t *testing.T, e *env) {
	f := newFixture(t, e.s)
	tk := admit(t, f.g, ident("2.2.2.2", "dave"))
	defer func() { _ = tk.Release(context.Background()) }()
	_, canList := lister(e.s)
	if !canList {
		t.Log("the store cannot list: only Explain and Status are compared")
	}
	for _, d := range []time.Duration{2 * time.Minute, fixtureCoolOff, 12*time.Minute - time.Microsecond, 12 * time.Minute, time.Hour} {
		f.clk.Set(base.Add(d))
		var listed map[string]axes.BucketState
		if canList {
			bs, err := f.g.List(t.Context(), axes.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			listed = map[string]axes.BucketState{}
			for _, b := range bs {
				listed[b.Bucket.Key] = b
			}
		}
		for _, id := range append(slices.Clone(f.ids), ident("2.2.2.2", "dave")) {
			ex, err := f.g.Explain(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			st := status(t, f.g, id)
			most, locked := 0, false
			for _, b := range ex.Buckets {
				most = max(most, b.Failures)
				locked = locked || b.Locked
				if !canList {
					continue
				}
				l, ok := listed[b.Bucket.Key]
				switch {
				case !ok && (b.Failures > 0 || b.InFlight > 0):
					t.Errorf("+%v: Explain(%s) shows %s with %d failures, %d in flight; List does not list it", d, id.Username, b.Bucket.Params, b.Failures, b.InFlight)
				case ok && !sameBucketState(l, b):
					t.Errorf("+%v: %s of %s: List says %+v, Explain says %+v", d, b.Bucket.Params, id.Username, l, b)
				}
			}
			if st.Verdict != ex.Verdict || st.Failures != most || (st.Verdict == axes.Locked) != locked {
				t.Errorf("+%v: %s: Status says %v with %d failures, Explain %v with at most %d (locked %v)", d, id.Username, st.Verdict, st.Failures, ex.Verdict, most, locked)
			}
		}
	}
}

// sameBucketState compares two bucket states, times with Equal.
func sameBucketState(a, b axes.BucketState) bool {
	return a.Bucket == b.Bucket && a.Failures == b.Failures && a.LastFailure.Equal(b.LastFailure) &&
		a.InFlight == b.InFlight && a.Locked == b.Locked && a.LockedUntil.Equal(b.LockedUntil) &&
		a.CoolOff == b.CoolOff && a.ForgetAt.Equal(b.ForgetAt)
}
