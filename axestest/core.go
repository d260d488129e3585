package axestest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// testAdmitFailLock: an admitted attempt reserves a place and counts
// nothing; OpFail turns the reservation into a failure, and the limit-th
// failure locks; an attempt refused while locked is counted. Directly and
// through a guard.
func testAdmitFailLock(t *testing.T, e *env) {
	s := e.s
	const cool = 10 * time.Minute
	p := policy(3, cool, cool)
	b := ipBucket("192.0.2.1")
	t0 := base
	check(t, "admit 1", do(t, s, axes.OpAdmit, t0, p, b), outcome{Admitted: true}, b)
	checkRec(t, "after admit 1", peek(t, s, t0, p, b), rec{Reserved: 1, ReservedAt: t0})
	check(t, "fail 1", do(t, s, axes.OpFail, t0, p, b), outcome{Counted: true, Failures: 1}, b)
	checkRec(t, "after fail 1", peek(t, s, t0, p, b), rec{Failures: 1, LastFailure: t0})
	check(t, "attempt 2", attempt(t, s, t0.Add(time.Second), p, b), outcome{Counted: true, Failures: 2}, b)
	t2 := t0.Add(2 * time.Second)
	check(t, "admit 3", do(t, s, axes.OpAdmit, t2, p, b), outcome{Admitted: true, Failures: 2}, b)
	checkRec(t, "after admit 3", peek(t, s, t2, p, b), rec{Failures: 2, LastFailure: t0.Add(time.Second), Reserved: 1, ReservedAt: t2})
	f3 := t2.Add(500 * time.Millisecond)
	check(t, "fail 3 locks", do(t, s, axes.OpFail, f3, p, b),
		outcome{Locked: true, Counted: true, Failures: 3, LockedUntil: f3.Add(cool)}, b)
	t3 := t0.Add(3 * time.Second)
	check(t, "admit 4", do(t, s, axes.OpAdmit, t3, p, b),
		outcome{Locked: true, Counted: true, Failures: 4, LockedUntil: t3.Add(cool)}, b)
	check(t, "peek", do(t, s, axes.OpPeek, t0.Add(4*time.Second), p, b),
		outcome{Locked: true, Failures: 4, LockedUntil: t3.Add(cool)}, b)
	checkRec(t, "after admit 4", peek(t, s, t0.Add(4*time.Second), p, b), rec{Failures: 4, LastFailure: t3})

	// An unrelated bucket is not affected.
	other := ipBucket("192.0.2.2")
	check(t, "other bucket", do(t, s, axes.OpAdmit, t0.Add(4*time.Second), p, other), outcome{Admitted: true}, other)

	t.Run("Guard", func(t *testing.T) {
		clk := newClock()
		g := newGuard(t, e.fresh(t), axes.Config{FailureLimit: 3, CoolOff: cool}, clk)
		id := ident("198.51.100.7", "alice")
		for i, want := range []axes.Verdict{axes.Invalid, axes.Invalid, axes.Locked} {
			if got := fail(t, g, id, 1); got != want {
				t.Errorf("failure %d: verdict %v, want %v", i+1, got, want)
			}
		}
		clk.Set(base.Add(time.Minute))
		checked := false
		res, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { checked = true; return true, nil })
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if checked {
			t.Error("the credentials of a locked-out client were checked")
		}
		if res.Verdict != axes.Locked || res.Failures != 4 || !res.LockedUntil.Equal(base.Add(time.Minute+cool)) {
			t.Errorf("locked attempt: verdict %v, failures %d, until %v; want locked, 4, %v",
				res.Verdict, res.Failures, res.LockedUntil, base.Add(time.Minute+cool))
		}
	})

	t.Run("GuardPending", func(t *testing.T) {
		// Three tickets in flight fill a bucket with limit 3: a fourth
		// attempt is refused without being counted, until they settle.
		clk := newClock()
		s := e.fresh(t)
		g := newGuard(t, s, axes.Config{FailureLimit: 3, CoolOff: cool}, clk)
		id := ident("198.51.100.9", "bob")
		var tickets []*axes.Ticket
		for i := range 3 {
			tk, err := g.Admit(t.Context(), id)
			if err != nil {
				t.Fatalf("Admit %d: %v", i+1, err)
			}
			tickets = append(tickets, tk)
		}
		for range 2 {
			_, err := g.Admit(t.Context(), id)
			var le *axes.LockoutError
			if !errors.As(err, &le) || !errors.Is(err, axes.ErrLockedOut) {
				t.Fatalf("Admit with 3 tickets in flight: err = %v, want a *LockoutError", err)
			}
			if le.Result.Verdict != axes.Locked || le.Result.Failures != 0 || !le.Result.LockedUntil.Equal(base.Add(axes.DefaultReservationLease)) {
				t.Errorf("pending refusal: verdict %v, failures %d, until %v; want locked, 0, %v",
					le.Result.Verdict, le.Result.Failures, le.Result.LockedUntil, base.Add(axes.DefaultReservationLease))
			}
		}
		ipB := bucket(t, g, id, axes.KindLockout, "ip_address")
		checkRec(t, "with 3 tickets in flight", peek(t, s, base, g.Policy(id), ipB), rec{Reserved: 3, ReservedAt: base})
		clk.Set(base.Add(time.Second))
		for i, want := range []axes.Verdict{axes.Invalid, axes.Invalid, axes.Locked} {
			res, err := tickets[i].Fail(t.Context())
			if err != nil {
				t.Fatalf("Fail %d: %v", i+1, err)
			}
			if res.Verdict != want || res.Failures != i+1 {
				t.Errorf("Fail %d: verdict %v, failures %d; want %v, %d", i+1, res.Verdict, res.Failures, want, i+1)
			}
		}
		if v := fail(t, g, id, 1); v != axes.Locked {
			t.Errorf("attempt after the lock: verdict %v, want locked", v)
		}
		checkRec(t, "after the lock", peek(t, s, clk.Now(), g.Policy(id), ipB), rec{Failures: 4, LastFailure: clk.Now()})
	})
}

// testReservations: records that hold only reservations are kept and
// deleted when empty; a refusal while attempts are verified is not
// counted; OpFail settles one reservation per bucket, attribution
// included; Reserved and ReservedAt round-trip at microsecond precision.
func testReservations(t *testing.T, e *env) {
	const cool = 10 * time.Minute
	p := policy(3, cool, cool)
	l, _ := e.s.(axes.Lister)
	listed := func(t *testing.T, s axes.Store, want ...axes.Bucket) []axes.Record {
		t.Helper()
		if l == nil {
			return nil
		}
		recs, err := s.(axes.Lister).List(t.Context(), axes.Filter{})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if got, want := keysOf(recs), sortedKeys(want...); !slices.Equal(got, want) {
			t.Errorf("List keys = %q, want %q", got, want)
		}
		return recs
	}

	t.Run("OnlyReservations", func(t *testing.T) {
		s := e.fresh(t)
		b := ipBucket("192.0.2.20")
		at := base.Add(123456 * time.Microsecond)
		check(t, "admit", do(t, s, axes.OpAdmit, at, p, b), outcome{Admitted: true}, b)
		checkRec(t, "a record with one reservation", peek(t, s, at, p, b), rec{Reserved: 1, ReservedAt: at})
		at2 := at.Add(7 * time.Microsecond)
		do(t, s, axes.OpAdmit, at2, p, b)
		checkRec(t, "a record with two reservations", peek(t, s, at2, p, b), rec{Reserved: 2, ReservedAt: at2})
		if recs := listed(t, s, b); len(recs) == 1 {
			checkRec(t, "listed", recs[0], rec{Reserved: 2, ReservedAt: at2})
			if recs[0].Bucket != b || recs[0].Locked {
				t.Errorf("listed %+v, locked %v; want %+v, unlocked", recs[0].Bucket, recs[0].Locked, b)
			}
		}
		check(t, "release 1", do(t, s, axes.OpRelease, at2, p, b), outcome{}, b)
		checkRec(t, "after release 1", peek(t, s, at2, p, b), rec{Reserved: 1, ReservedAt: at2})
		check(t, "release 2", do(t, s, axes.OpRelease, at2, p, b), outcome{}, b)
		checkRec(t, "after release 2", peek(t, s, at2, p, b), rec{})
		listed(t, s)
	})

	t.Run("PendingNotCounted", func(t *testing.T) {
		s := e.fresh(t)
		b := ipBucket("192.0.2.21")
		for i := range 3 {
			at := base.Add(time.Duration(i) * time.Second)
			check(t, "admit", do(t, s, axes.OpAdmit, at, p, b), outcome{Admitted: true}, b)
		}
		last := base.Add(2 * time.Second)
		for i := range 5 {
			at := last.Add(time.Duration(i) * time.Second)
			check(t, "admit while 3 are verified", do(t, s, axes.OpAdmit, at, p, b),
				outcome{Locked: true, Pending: true, LockedUntil: last.Add(lease)}, b)
		}
		checkRec(t, "after the refusals", peek(t, s, last.Add(10*time.Second), p, b), rec{Reserved: 3, ReservedAt: last})
		// One reservation becomes a failure: still full, still not counted.
		f1 := base.Add(20 * time.Second)
		check(t, "fail 1", do(t, s, axes.OpFail, f1, p, b), outcome{Counted: true, Failures: 1}, b)
		check(t, "admit with 1 failure, 2 verified", do(t, s, axes.OpAdmit, f1, p, b),
			outcome{Locked: true, Pending: true, Failures: 1, LockedUntil: last.Add(lease)}, b)
		check(t, "fail 2", do(t, s, axes.OpFail, f1, p, b), outcome{Counted: true, Failures: 2}, b)
		f3 := f1.Add(time.Second)
		check(t, "fail 3 locks", do(t, s, axes.OpFail, f3, p, b),
			outcome{Locked: true, Counted: true, Failures: 3, LockedUntil: f3.Add(cool)}, b)
		checkRec(t, "after 3 failures", peek(t, s, f3, p, b), rec{Failures: 3, LastFailure: f3})
		check(t, "admit while locked", do(t, s, axes.OpAdmit, f3, p, b),
			outcome{Locked: true, Counted: true, Failures: 4, LockedUntil: f3.Add(cool)}, b)
		// A fail with nothing reserved counts nothing.
		check(t, "fail with nothing reserved", do(t, s, axes.OpFail, f3, p, b),
			outcome{Locked: true, Counted: true, Failures: 4, LockedUntil: f3.Add(cool)}, b)
		checkRec(t, "after the extra fail", peek(t, s, f3, p, b), rec{Failures: 4, LastFailure: f3})
	})

	t.Run("ReleaseMakesRoom", func(t *testing.T) {
		s := e.fresh(t)
		b := ipBucket("192.0.2.22")
		attempt(t, s, base, p, b)
		do(t, s, axes.OpAdmit, base, p, b)
		do(t, s, axes.OpAdmit, base, p, b)
		check(t, "full", do(t, s, axes.OpAdmit, base, p, b),
			outcome{Locked: true, Pending: true, Failures: 1, LockedUntil: base.Add(lease)}, b)
		check(t, "release", do(t, s, axes.OpRelease, base.Add(time.Second), p, b), outcome{Failures: 1}, b)
		at := base.Add(2 * time.Second)
		check(t, "admit after release", do(t, s, axes.OpAdmit, at, p, b), outcome{Admitted: true, Failures: 1}, b)
		checkRec(t, "after the second admit", peek(t, s, at, p, b), rec{Failures: 1, LastFailure: base, Reserved: 2, ReservedAt: at})
	})

	t.Run("NoLease", func(t *testing.T) {
		// Without a lease, a pending refusal lasts until the attempts
		// settle (zero LockedUntil), and reservations never lapse.
		s := e.fresh(t)
		p := policy(1, cool, cool)
		p.Lease = 0
		b := ipBucket("192.0.2.23")
		do(t, s, axes.OpAdmit, base, p, b)
		check(t, "pending", do(t, s, axes.OpAdmit, base, p, b), outcome{Locked: true, Pending: true}, b)
		later := base.AddDate(10, 0, 0)
		checkRec(t, "10 years later", peek(t, s, later, p, b), rec{Reserved: 1, ReservedAt: base})
		check(t, "fail 10 years later", do(t, s, axes.OpFail, later, p, b),
			outcome{Locked: true, Counted: true, Failures: 1, LockedUntil: later.Add(cool)}, b)
	})

	t.Run("RecordOnly", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(1, cool, cool)
		p.RecordOnly = true
		b := ipBucket("192.0.2.24")
		for i := range 4 {
			check(t, "admit beyond the limit", do(t, s, axes.OpAdmit, base, p, b), outcome{Admitted: true, Failures: i}, b)
			check(t, "fail", do(t, s, axes.OpFail, base, p, b), outcome{Counted: true, Failures: i + 1}, b)
		}
	})

	t.Run("SeveralBuckets", func(t *testing.T) {
		// Every bucket of the op is reserved and settled, attribution
		// included; one full lockout bucket refuses the whole attempt.
		s := e.fresh(t)
		clk := newClock()
		g := newGuard(t, s, axes.Config{
			FailureLimit: 2, CoolOff: cool,
			LockoutParameters: []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}},
		}, clk)
		alice, bob := ident("192.0.2.25", "alice"), ident("192.0.2.25", "bob")
		p := g.Policy(alice)
		ipB := bucket(t, g, alice, axes.KindLockout, "ip_address")
		userB := bucket(t, g, alice, axes.KindLockout, "username")
		attrB := bucket(t, g, alice, axes.KindAttribution, "ip_address")
		all := buckets(t, g, alice)
		check(t, "admit alice", do(t, s, axes.OpAdmit, base, p, all...), outcome{Admitted: true}, axes.Bucket{})
		for _, b := range []axes.Bucket{ipB, userB, attrB} {
			checkRec(t, b.Params+" after admit", peek(t, s, base, p, b), rec{Reserved: 1, ReservedAt: base})
		}
		at := base.Add(time.Second)
		check(t, "fail alice", do(t, s, axes.OpFail, at, p, all...), outcome{Counted: true, Failures: 1}, axes.Bucket{})
		for _, b := range []axes.Bucket{ipB, userB, attrB} {
			checkRec(t, b.Params+" after fail", peek(t, s, at, p, b), rec{Failures: 1, LastFailure: at})
		}
		// bob fills the IP bucket: alice is refused, and nothing of hers
		// changes.
		do(t, s, axes.OpAdmit, at, p, buckets(t, g, bob)...)
		check(t, "admit alice with the IP bucket full", do(t, s, axes.OpAdmit, at, p, all...),
			outcome{Locked: true, Pending: true, Failures: 1, LockedUntil: at.Add(lease)}, axes.Bucket{})
		checkRec(t, "alice's bucket after the refusal", peek(t, s, at, p, userB), rec{Failures: 1, LastFailure: at})
		checkRec(t, "alice's share after the refusal", peek(t, s, at, p, attrB), rec{Failures: 1, LastFailure: at})
		checkRec(t, "IP bucket after the refusal", peek(t, s, at, p, ipB), rec{Failures: 1, LastFailure: at, Reserved: 1, ReservedAt: at})
	})
}

// testLease: a reservation older than the policy's lease lapses into a
// failure, exactly at ReservedAt+Lease, and is counted once: a later
// OpFail or OpRelease of the same attempt changes nothing.
func testLease(t *testing.T, e *env) {
	const cool = time.Hour
	ns := time.Nanosecond
	p := policy(3, cool, cool)

	t.Run("Lapse", func(t *testing.T) {
		s := e.s
		b := ipBucket("192.0.2.30")
		r := base.Add(time.Second)
		do(t, s, axes.OpAdmit, base, p, b)
		do(t, s, axes.OpAdmit, r, p, b)
		// The last reservation sets the time: the first one has not lapsed
		// at base+lease.
		check(t, "at the first reservation's lease", do(t, s, axes.OpPeek, base.Add(lease), p, b), outcome{}, b)
		checkRec(t, "1ns before the lease ends", peek(t, s, r.Add(lease-ns), p, b), rec{Reserved: 2, ReservedAt: r})
		check(t, "at the lease's end", do(t, s, axes.OpPeek, r.Add(lease), p, b), outcome{Failures: 2}, b)
		checkRec(t, "at the lease's end", peek(t, s, r.Add(lease), p, b), rec{Failures: 2, LastFailure: r})
		at := r.Add(lease + time.Second)
		check(t, "fail after the lapse", do(t, s, axes.OpFail, at, p, b), outcome{Counted: true, Failures: 2}, b)
		check(t, "release after the lapse", do(t, s, axes.OpRelease, at, p, b), outcome{Failures: 2}, b)
		checkRec(t, "after settling lapsed attempts", peek(t, s, at, p, b), rec{Failures: 2, LastFailure: r})
	})

	t.Run("LapseLocks", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(2, cool, cool)
		b := ipBucket("192.0.2.31")
		do(t, s, axes.OpAdmit, base, p, b)
		do(t, s, axes.OpAdmit, base, p, b)
		check(t, "pending", do(t, s, axes.OpAdmit, base.Add(30*time.Second), p, b),
			outcome{Locked: true, Pending: true, LockedUntil: base.Add(lease)}, b)
		check(t, "pending 1ns before the lease ends", do(t, s, axes.OpAdmit, base.Add(lease-ns), p, b),
			outcome{Locked: true, Pending: true, LockedUntil: base.Add(lease)}, b)
		at := base.Add(lease)
		check(t, "locked by the lapsed attempts, and counted", do(t, s, axes.OpAdmit, at, p, b),
			outcome{Locked: true, Counted: true, Failures: 3, LockedUntil: at.Add(cool)}, b)
	})

	t.Run("ReleaseAfterLapse", func(t *testing.T) {
		s := e.fresh(t)
		b := ipBucket("192.0.2.32")
		attempt(t, s, base, p, b)
		do(t, s, axes.OpAdmit, base.Add(time.Second), p, b)
		at := base.Add(time.Second + lease)
		check(t, "release at the lease's end", do(t, s, axes.OpRelease, at, p, b), outcome{Failures: 2}, b)
		checkRec(t, "after the release", peek(t, s, at, p, b), rec{Failures: 2, LastFailure: base.Add(time.Second)})
		check(t, "admit after it", do(t, s, axes.OpAdmit, at, p, b), outcome{Admitted: true, Failures: 2}, b)
		check(t, "release", do(t, s, axes.OpRelease, at, p, b), outcome{Failures: 2}, b)
		checkRec(t, "after the second release", peek(t, s, at, p, b), rec{Failures: 2, LastFailure: base.Add(time.Second)})
	})

	t.Run("Guard", func(t *testing.T) {
		const d = 30 * time.Second
		clk := newClock()
		s := e.fresh(t)
		g := newGuard(t, s, axes.Config{FailureLimit: 3, CoolOff: cool}, clk, axes.WithReservationLease(d))
		id := ident("198.51.100.30", "")
		tk, err := g.Admit(t.Context(), id) // its process dies: never settled
		if err != nil {
			t.Fatalf("Admit: %v", err)
		}
		status := func(at time.Time) int {
			t.Helper()
			clk.Set(at)
			res, err := g.Status(t.Context(), id)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			return res.Failures
		}
		if n := status(base.Add(d - ns)); n != 0 {
			t.Errorf("1ns before the lease ends: %d failures, want 0", n)
		}
		if n := status(base.Add(d)); n != 1 {
			t.Errorf("at the lease's end: %d failures, want 1", n)
		}
		if _, err := tk.Fail(t.Context()); err != nil {
			t.Fatalf("Fail: %v", err)
		}
		if n := status(base.Add(d + time.Second)); n != 1 {
			t.Errorf("after failing the lapsed ticket: %d failures, want 1 (counted once)", n)
		}
	})
}

// testRelease: OpRelease gives a reservation back, never below zero, and
// leaves the failures alone.
func testRelease(t *testing.T, e *env) {
	s := e.s
	p := policy(3, time.Hour, time.Hour)
	b := ipBucket("192.0.2.10")
	t0 := base
	do(t, s, axes.OpAdmit, t0, p, b)
	do(t, s, axes.OpAdmit, t0, p, b)
	check(t, "release 1", do(t, s, axes.OpRelease, t0, p, b), outcome{}, b)
	checkRec(t, "after release 1", peek(t, s, t0, p, b), rec{Reserved: 1, ReservedAt: t0})
	check(t, "release 2", do(t, s, axes.OpRelease, t0, p, b), outcome{}, b)
	check(t, "release of nothing", do(t, s, axes.OpRelease, t0, p, b), outcome{}, b)
	checkRec(t, "after releasing everything", peek(t, s, t0, p, b), rec{})
	check(t, "admit after release", do(t, s, axes.OpAdmit, t0, p, b), outcome{Admitted: true}, b)
	check(t, "fail", do(t, s, axes.OpFail, t0, p, b), outcome{Counted: true, Failures: 1}, b)

	// Releasing keeps the failures and their time.
	t1 := t0.Add(time.Second)
	do(t, s, axes.OpAdmit, t1, p, b)
	check(t, "release with a failure", do(t, s, axes.OpRelease, t1.Add(time.Second), p, b), outcome{Failures: 1}, b)
	checkRec(t, "after the release", peek(t, s, t1.Add(time.Second), p, b), rec{Failures: 1, LastFailure: t0})
	check(t, "release of nothing, with a failure", do(t, s, axes.OpRelease, t1.Add(time.Second), p, b), outcome{Failures: 1}, b)
	checkRec(t, "after releasing nothing", peek(t, s, t1.Add(time.Second), p, b), rec{Failures: 1, LastFailure: t0})
}

// testResetUser: a success with ResetOnSuccess gives the reservation back,
// clears the user's buckets and takes only the user's own failures off the
// IP bucket; without a username it only gives the reservation back.
func testResetUser(t *testing.T, e *env) {
	clk := newClock()
	g := newGuard(t, e.s, axes.Config{
		FailureLimit: 10, ResetOnSuccess: true,
		LockoutParameters: []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}},
	}, clk)
	const ip = "203.0.113.5"
	alice, bob := ident(ip, "alice"), ident(ip, "bob")
	fail(t, g, alice, 2)
	fail(t, g, bob, 1)
	p := g.Policy(alice)
	ipB := bucket(t, g, alice, axes.KindLockout, "ip_address")
	aliceB := bucket(t, g, alice, axes.KindLockout, "username")
	bobB := bucket(t, g, bob, axes.KindLockout, "username")
	aliceA := bucket(t, g, alice, axes.KindAttribution, "ip_address")
	count := func(what string, b axes.Bucket, want int) {
		t.Helper()
		r := peek(t, e.s, clk.Now(), p, b)
		if r.Failures != want || r.Reserved != 0 {
			t.Errorf("%s: %s %q: %d failures, %d reserved; want %d, 0", what, b.Params, b.Username, r.Failures, r.Reserved, want)
		}
	}
	count("before", ipB, 3)
	count("before", aliceB, 2)
	count("before", bobB, 1)
	count("before", aliceA, 2)

	clk.Set(base.Add(time.Second))
	if res := succeed(t, g, alice); res.Verdict != axes.Allowed {
		t.Fatalf("alice's login: verdict %v, want allowed", res.Verdict)
	}
	count("after alice's success", ipB, 1)
	count("after alice's success", aliceB, 0)
	count("after alice's success", bobB, 1)
	count("after alice's success", aliceA, 0)

	succeed(t, g, bob)
	count("after bob's success", ipB, 0)
	count("after bob's success", bobB, 0)

	// A direct OpResetUser on a username+IP bucket clears it, and gives
	// its reservation back.
	b := axes.Bucket{Key: "test|u+ip", Kind: axes.KindLockout, Params: "username+ip_address", IP: ip, Username: "carol"}
	attempt(t, e.s, clk.Now(), p, b)
	attempt(t, e.s, clk.Now(), p, b)
	do(t, e.s, axes.OpAdmit, clk.Now(), p, b)
	check(t, "reset username+ip", do(t, e.s, axes.OpResetUser, clk.Now(), p, b), outcome{}, b)
	checkRec(t, "after reset username+ip", peek(t, e.s, clk.Now(), p, b), rec{})

	t.Run("WithoutUsername", func(t *testing.T) {
		// Nothing to reset: the success gives the reservation back and
		// the address keeps its failures.
		s := e.fresh(t)
		clk := newClock()
		g := newGuard(t, s, axes.Config{FailureLimit: 3, ResetOnSuccess: true}, clk)
		id := ident("203.0.113.6", "")
		fail(t, g, id, 2)
		clk.Set(base.Add(time.Second))
		if res := succeed(t, g, id); res.Verdict != axes.Allowed {
			t.Fatalf("login: verdict %v, want allowed", res.Verdict)
		}
		ipB := bucket(t, g, id, axes.KindLockout, "ip_address")
		checkRec(t, "after the success", peek(t, s, clk.Now(), g.Policy(id), ipB), rec{Failures: 2, LastFailure: base})
		// The place it held is free: one more failure is admitted and locks.
		if v := fail(t, g, id, 1); v != axes.Locked {
			t.Errorf("third failure: verdict %v, want locked", v)
		}
		// Directly.
		b := ipBucket("203.0.113.7")
		attempt(t, s, base, g.Policy(id), b)
		do(t, s, axes.OpAdmit, base, g.Policy(id), b)
		check(t, "reset on an IP bucket", do(t, s, axes.OpResetUser, base, g.Policy(id), b), outcome{Failures: 1}, b)
		checkRec(t, "after the reset", peek(t, s, base, g.Policy(id), b), rec{Failures: 1, LastFailure: base})
	})
}

// testConcurrency: the store serialises concurrent ops, so exactly Limit
// attempts are admitted however many arrive at once, the others are
// refused without being counted, and no failure is lost.
func testConcurrency(t *testing.T, e *env) {
	const n = 200
	t.Run("OneBucket", func(t *testing.T) {
		s := e.s
		p := policy(3, time.Hour, time.Hour)
		b := ipBucket("192.0.2.50")
		var admitted, pending, other atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				o, err := s.Do(t.Context(), &axes.Op{Kind: axes.OpAdmit, Now: base, Buckets: []axes.Bucket{b}, Policy: p})
				switch {
				case err != nil:
					t.Errorf("Do: %v", err)
				case o.Admitted && !o.Counted:
					admitted.Add(1)
				case o.Locked && o.Pending && !o.Counted:
					pending.Add(1)
				default:
					other.Add(1)
				}
			})
		}
		wg.Wait()
		if a, pe, o := admitted.Load(), pending.Load(), other.Load(); a != 3 || pe != n-3 || o != 0 {
			t.Errorf("%d concurrent attempts with limit 3: %d admitted, %d refused as pending, %d else; want 3, %d, 0", n, a, pe, o, n-3)
		}
		checkRec(t, "after the admissions", peek(t, s, base, p, b), rec{Reserved: 3, ReservedAt: base})
		var locked atomic.Int64
		for range 3 {
			wg.Go(func() {
				o, err := s.Do(t.Context(), &axes.Op{Kind: axes.OpFail, Now: base, Buckets: []axes.Bucket{b}, Policy: p})
				if err != nil {
					t.Errorf("Do(fail): %v", err)
				}
				if o.Locked {
					locked.Add(1)
				}
			})
		}
		wg.Wait()
		if got := locked.Load(); got != 1 {
			t.Errorf("3 concurrent fails with limit 3: %d reported the lock, want 1 (the third)", got)
		}
		checkRec(t, "after the fails", peek(t, s, base, p, b), rec{Failures: 3, LastFailure: base})
		// Refused while locked: every one counted.
		at := base.Add(time.Second)
		var counted atomic.Int64
		for range n {
			wg.Go(func() {
				o, err := s.Do(t.Context(), &axes.Op{Kind: axes.OpAdmit, Now: at, Buckets: []axes.Bucket{b}, Policy: p})
				if err != nil {
					t.Errorf("Do: %v", err)
				}
				if o.Locked && o.Counted && !o.Admitted {
					counted.Add(1)
				}
			})
		}
		wg.Wait()
		if got := counted.Load(); got != n {
			t.Errorf("%d attempts refused and counted while locked, want %d", got, n)
		}
		if got := failures(t, s, at, p, b); got != n+3 {
			t.Errorf("failures after %d concurrent locked attempts = %d, want %d (lost updates)", n, got, n+3)
		}
	})

	t.Run("AdmitFail", func(t *testing.T) {
		// Admitted and failed concurrently under a high limit: every
		// reservation becomes exactly one failure.
		s := e.fresh(t)
		p := policy(1<<20, time.Hour, time.Hour)
		b := ipBucket("192.0.2.53")
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				op := &axes.Op{Kind: axes.OpAdmit, Now: base, Buckets: []axes.Bucket{b}, Policy: p}
				if o, err := s.Do(t.Context(), op); err != nil || !o.Admitted {
					t.Errorf("Do(admit) = %+v, %v; want admitted", o, err)
					return
				}
				op.Kind = axes.OpFail
				if _, err := s.Do(t.Context(), op); err != nil {
					t.Errorf("Do(fail): %v", err)
				}
			})
		}
		wg.Wait()
		checkRec(t, "after the attempts", peek(t, s, base, p, b), rec{Failures: n, LastFailure: base})
	})

	t.Run("AdmitRelease", func(t *testing.T) {
		// Admitted attempts give their reservation back: at no time are
		// more than Limit of them between admission and release, and the
		// refused ones are not counted.
		s := e.fresh(t)
		p := policy(3, time.Hour, time.Hour)
		b := ipBucket("192.0.2.51")
		var admitted, refused, inFlight, maxInFlight atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				op := &axes.Op{Kind: axes.OpAdmit, Now: base, Buckets: []axes.Bucket{b}, Policy: p}
				o, err := s.Do(t.Context(), op)
				if err != nil {
					t.Errorf("Do(admit): %v", err)
					return
				}
				if !o.Admitted {
					if !o.Pending || o.Counted {
						t.Errorf("refused admission: %+v, want pending and not counted", o)
					}
					refused.Add(1)
					return
				}
				admitted.Add(1)
				cur := inFlight.Add(1)
				for {
					m := maxInFlight.Load()
					if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
						break
					}
				}
				inFlight.Add(-1)
				op.Kind = axes.OpRelease
				if _, err := s.Do(t.Context(), op); err != nil {
					t.Errorf("Do(release): %v", err)
				}
			})
		}
		wg.Wait()
		if got := maxInFlight.Load(); got > 3 {
			t.Errorf("%d admitted attempts were in flight at once, want at most 3", got)
		}
		if admitted.Load() < 3 || admitted.Load()+refused.Load() != n {
			t.Errorf("admitted %d, refused %d: want at least 3 admitted and %d in all", admitted.Load(), refused.Load(), n)
		}
		checkRec(t, "after every release", peek(t, s, base, p, b), rec{})
	})

	t.Run("SharedBucket", func(t *testing.T) {
		// Two identities with different bucket sets share the IP bucket.
		s := e.fresh(t)
		clk := newClock()
		g := newGuard(t, s, axes.Config{
			FailureLimit: 3, CoolOff: time.Hour,
			LockoutParameters: []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}},
		}, clk)
		const ip = "192.0.2.52"
		ids := []axes.Identity{ident(ip, "alice"), ident(ip, "bob")}
		var mu sync.Mutex
		var tickets []*axes.Ticket
		var wg sync.WaitGroup
		for i := range n {
			id := ids[i%2]
			wg.Go(func() {
				tk, err := g.Admit(t.Context(), id)
				switch {
				case err == nil:
					mu.Lock()
					tickets = append(tickets, tk) // settled after the lease
					mu.Unlock()
				case !errors.Is(err, axes.ErrLockedOut):
					t.Errorf("Admit(%s): %v", id.Username, err)
				}
			})
		}
		wg.Wait()
		if got := len(tickets); got != 3 {
			t.Errorf("%d concurrent attempts on a shared bucket with limit 3: %d admitted, want 3", n, got)
		}
		p := g.Policy(ids[0])
		ipB := bucket(t, g, ids[0], axes.KindLockout, "ip_address")
		checkRec(t, "shared IP bucket", peek(t, s, base, p, ipB), rec{Reserved: len(tickets), ReservedAt: base})
		reserved := 0
		for _, id := range ids {
			r := peek(t, s, base, p, bucket(t, g, id, axes.KindLockout, "username"))
			if r.Failures != 0 {
				t.Errorf("%s's bucket: %d failures, want 0 (refusals while pending are not counted)", id.Username, r.Failures)
			}
			reserved += r.Reserved
		}
		if reserved != len(tickets) {
			t.Errorf("the username buckets hold %d reservations, want %d", reserved, len(tickets))
		}
		// The tickets are never settled in time: their reservations lapse
		// into failures, which lock; failing them later counts nothing.
		clk.Set(base.Add(axes.DefaultReservationLease))
		o := do(t, s, axes.OpPeek, clk.Now(), p, ipB)
		check(t, "after the lease", o, outcome{Locked: true, Failures: 3, LockedUntil: base.Add(time.Hour)}, ipB)
		for _, tk := range tickets {
			if _, err := tk.Fail(t.Context()); err != nil {
				t.Errorf("Fail: %v", err)
			}
		}
		checkRec(t, "after failing the lapsed tickets", peek(t, s, clk.Now(), p, ipB), rec{Failures: 3, LastFailure: base})
	})
}

// testExpiry pins every time boundary: a lock holds until exactly last
// failure + cool-off, a count until exactly last failure + window; and an
// expiry never moves earlier, whatever the policy of a later op.
func testExpiry(t *testing.T, e *env) {
	const cool = 10 * time.Minute
	L := base
	ns := time.Nanosecond

	t.Run("CoolOff", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(1, cool, cool)
		b := ipBucket("192.0.2.60")
		check(t, "attempt", attempt(t, s, L, p, b),
			outcome{Locked: true, Counted: true, Failures: 1, LockedUntil: L.Add(cool)}, b)
		check(t, "1ns before the end", do(t, s, axes.OpPeek, L.Add(cool-ns), p, b),
			outcome{Locked: true, Failures: 1, LockedUntil: L.Add(cool)}, b)
		check(t, "at the end", do(t, s, axes.OpPeek, L.Add(cool), p, b), outcome{}, b)
		check(t, "attempt at the end", attempt(t, s, L.Add(cool), p, b),
			outcome{Locked: true, Counted: true, Failures: 1, LockedUntil: L.Add(2 * cool)}, b)
	})

	t.Run("Window", func(t *testing.T) {
		s := e.fresh(t)
		const window = time.Hour
		p := policy(2, cool, window)
		b := ipBucket("192.0.2.61")
		attempt(t, s, L, p, b)
		check(t, "second attempt", attempt(t, s, L, p, b),
			outcome{Locked: true, Counted: true, Failures: 2, LockedUntil: L.Add(cool)}, b)
		check(t, "1ns before the lock ends", do(t, s, axes.OpPeek, L.Add(cool-ns), p, b),
			outcome{Locked: true, Failures: 2, LockedUntil: L.Add(cool)}, b)
		check(t, "lock ended, count kept", do(t, s, axes.OpPeek, L.Add(cool), p, b), outcome{Failures: 2}, b)
		check(t, "1ns before the window ends", do(t, s, axes.OpPeek, L.Add(window-ns), p, b), outcome{Failures: 2}, b)
		check(t, "at the window's end", do(t, s, axes.OpPeek, L.Add(window), p, b), outcome{}, b)

		// Below the limit, the count is forgotten at the window's end too.
		b2 := ipBucket("192.0.2.62")
		attempt(t, s, L, p, b2)
		check(t, "below limit, 1ns before", do(t, s, axes.OpPeek, L.Add(window-ns), p, b2), outcome{Failures: 1}, b2)
		check(t, "below limit, at the end", do(t, s, axes.OpPeek, L.Add(window), p, b2), outcome{}, b2)
		check(t, "attempt restarts at 1", attempt(t, s, L.Add(window), p, b2),
			outcome{Counted: true, Failures: 1}, b2)
	})

	t.Run("Permanent", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(2, 0, 0)
		b := ipBucket("192.0.2.63")
		attempt(t, s, L, p, b)
		check(t, "second attempt", attempt(t, s, L, p, b),
			outcome{Locked: true, Counted: true, Failures: 2}, b)
		later := L.AddDate(10, 0, 0)
		check(t, "10 years later", do(t, s, axes.OpPeek, later, p, b), outcome{Locked: true, Failures: 2}, b)
		check(t, "admit 10 years later", do(t, s, axes.OpAdmit, later, p, b),
			outcome{Locked: true, Counted: true, Failures: 3}, b)
	})

	t.Run("FixedCoolOff", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(1, cool, cool)
		p.FixedCoolOff = true
		b := ipBucket("192.0.2.64")
		attempt(t, s, L, p, b)
		check(t, "refused, not counted", do(t, s, axes.OpAdmit, L.Add(5*time.Minute), p, b),
			outcome{Locked: true, Failures: 1, LockedUntil: L.Add(cool)}, b)
		check(t, "1ns before the end", do(t, s, axes.OpPeek, L.Add(cool-ns), p, b),
			outcome{Locked: true, Failures: 1, LockedUntil: L.Add(cool)}, b)
		check(t, "attempt at the end", attempt(t, s, L.Add(cool), p, b),
			outcome{Locked: true, Counted: true, Failures: 1, LockedUntil: L.Add(2 * cool)}, b)
	})

	t.Run("Extends", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(1, cool, cool)
		b := ipBucket("192.0.2.65")
		attempt(t, s, L, p, b)
		at := L.Add(5 * time.Minute)
		check(t, "refused and counted", do(t, s, axes.OpAdmit, at, p, b),
			outcome{Locked: true, Counted: true, Failures: 2, LockedUntil: at.Add(cool)}, b)
		check(t, "at the first lock's end", do(t, s, axes.OpPeek, L.Add(cool), p, b),
			outcome{Locked: true, Failures: 2, LockedUntil: at.Add(cool)}, b)
		check(t, "1ns before the extended end", do(t, s, axes.OpPeek, at.Add(cool-ns), p, b),
			outcome{Locked: true, Failures: 2, LockedUntil: at.Add(cool)}, b)
		check(t, "at the extended end", do(t, s, axes.OpPeek, at.Add(cool), p, b), outcome{}, b)
	})

	t.Run("Tiers", func(t *testing.T) {
		s := e.fresh(t)
		p := axes.Policy{Limit: 2, Tiers: []axes.Tier{{Failures: 2, CoolOff: time.Minute}, {Failures: 4, CoolOff: time.Hour}}, Window: time.Hour, Lease: lease}
		b := ipBucket("192.0.2.66")
		attempt(t, s, L, p, b)
		check(t, "tier 1", attempt(t, s, L, p, b),
			outcome{Locked: true, Counted: true, Failures: 2, LockedUntil: L.Add(time.Minute)}, b)
		t1 := L.Add(time.Minute)
		check(t, "after tier 1's lock", attempt(t, s, t1, p, b),
			outcome{Locked: true, Counted: true, Failures: 3, LockedUntil: t1.Add(time.Minute)}, b)
		t2 := t1.Add(time.Minute)
		check(t, "tier 2", attempt(t, s, t2, p, b),
			outcome{Locked: true, Counted: true, Failures: 4, LockedUntil: t2.Add(time.Hour)}, b)
		check(t, "tier 2, 1ns before the end", do(t, s, axes.OpPeek, t2.Add(time.Hour-ns), p, b),
			outcome{Locked: true, Failures: 4, LockedUntil: t2.Add(time.Hour)}, b)
		check(t, "tier 2 at the end", do(t, s, axes.OpPeek, t2.Add(time.Hour), p, b), outcome{}, b)
	})

	t.Run("RecordOnly", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(1, cool, cool)
		p.RecordOnly = true
		b := ipBucket("192.0.2.67")
		for i := 1; i <= 4; i++ {
			check(t, "record only", attempt(t, s, L, p, b), outcome{Counted: true, Failures: i}, b)
		}
	})

	t.Run("LenientPolicy", func(t *testing.T) {
		// A strict policy locks a bucket; ops under a lenient policy
		// (shorter window and lease) must not make the store forget it
		// early: ExpiresAt never moves earlier.
		s := e.fresh(t)
		strict := policy(1, time.Hour, time.Hour)
		lenient := policy(100, time.Minute, time.Minute)
		lenient.Lease = 10 * time.Second
		b := ipBucket("192.0.2.68")
		check(t, "strict attempt", attempt(t, s, L, strict, b),
			outcome{Locked: true, Counted: true, Failures: 1, LockedUntil: L.Add(time.Hour)}, b)
		expires := peek(t, s, L, strict, b).ExpiresAt
		if want := L.Add(time.Hour); expires.IsZero() || expires.Before(want) {
			t.Fatalf("ExpiresAt after the strict lock = %v, want %v or later", expires, want)
		}
		at := L.Add(10 * time.Second)
		check(t, "lenient admit", do(t, s, axes.OpAdmit, at, lenient, b), outcome{Admitted: true, Failures: 1}, b)
		if got := peek(t, s, at, lenient, b).ExpiresAt; !got.Equal(expires) {
			t.Errorf("ExpiresAt after a lenient admit = %v, want %v (never earlier)", got, expires)
		}
		at = L.Add(15 * time.Second) // before the lenient lease ends
		check(t, "lenient release", do(t, s, axes.OpRelease, at, lenient, b), outcome{Failures: 1}, b)
		if got := peek(t, s, at, lenient, b).ExpiresAt; !got.Equal(expires) {
			t.Errorf("ExpiresAt after a lenient release = %v, want %v (never earlier)", got, expires)
		}
		check(t, "strict, after the lenient ops would have expired", do(t, s, axes.OpPeek, L.Add(30*time.Minute), strict, b),
			outcome{Locked: true, Failures: 1, LockedUntil: L.Add(time.Hour)}, b)

		// A record that never expires stays so.
		perm := policy(1, 0, 0)
		b2 := ipBucket("192.0.2.69")
		attempt(t, s, L, perm, b2)
		do(t, s, axes.OpRelease, L.Add(time.Second), lenient, b2)
		if got := peek(t, s, L.Add(time.Second), perm, b2).ExpiresAt; !got.IsZero() {
			t.Errorf("ExpiresAt of a permanent lock after a lenient op = %v, want zero (never)", got)
		}
		check(t, "permanent, a year later", do(t, s, axes.OpPeek, L.AddDate(1, 0, 0), perm, b2), outcome{Locked: true, Failures: 1}, b2)
	})

	t.Run("Guard", func(t *testing.T) {
		clk := newClock()
		g := newGuard(t, e.fresh(t), axes.Config{FailureLimit: 3, CoolOff: cool}, clk)
		id := ident("198.51.100.8", "")
		if v := fail(t, g, id, 3); v != axes.Locked {
			t.Fatalf("third failure: verdict %v, want locked", v)
		}
		status := func(at time.Time) axes.Result {
			t.Helper()
			clk.Set(at)
			res, err := g.Status(t.Context(), id)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			return res
		}
		if res := status(L.Add(cool - ns)); res.Verdict != axes.Locked || res.RetryAfter(L.Add(cool-ns)) != time.Second {
			t.Errorf("1ns before the end: verdict %v, retry after %v; want locked, 1s", res.Verdict, res.RetryAfter(L.Add(cool-ns)))
		}
		if res := status(L.Add(cool)); res.Verdict != axes.Allowed || res.Failures != 0 {
			t.Errorf("at the end: verdict %v, failures %d; want allowed, 0", res.Verdict, res.Failures)
		}
	})
}

// oddUsernames are usernames that break naive key schemes.
var oddUsernames = []string{
	"a|b", "a=b", "a:b", "a\nb", "a\x00b", "\x00", "|", "=", ":", " ",
	"user|username=1:x", "1:x", "b|username=1:a", "a", "A", "😀", "ü",
	"\u00e9", "e\u0301", // the same letter, composed and decomposed
	strings.Repeat("é", 127) + "x",    // 255 bytes
	strings.Repeat("日", 85),           // 255 bytes
	strings.Repeat("ü", 200),          // 400 bytes: the guard cuts it to 254
	strings.Repeat("x", 200) + "-one", // long keys differing only at the end
	strings.Repeat("x", 200) + "-two",
	"1.1.1.1", "192.0.2.1/32", "2001:db8::/64",
}

// testOddKeys: usernames with separators, control characters and long
// multi-byte strings each get their own bucket, and round-trip.
func testOddKeys(t *testing.T, e *env) {
	t.Run("Usernames", func(t *testing.T) {
		s := e.s
		clk := newClock()
		g := newGuard(t, s, axes.Config{
			FailureLimit: 1000, LockoutParameters: []axes.Group{{axes.ParamUsername}},
			NormalizeUsername: func(s string) string { return s },
		}, clk)
		want := map[string]axes.Bucket{}
		wantN := map[string]int{}
		for i, u := range oddUsernames {
			id := ident("", u)
			b := bucket(t, g, id, axes.KindLockout, "username")
			if prev, dup := want[b.Key]; dup {
				t.Fatalf("usernames %q and %q have the same key", prev.Username, u)
			}
			want[b.Key], wantN[b.Key] = b, i+1
			fail(t, g, id, i+1)
		}
		p := g.Policy(axes.Identity{})
		for key, b := range want {
			if got := failures(t, s, base, p, b); got != wantN[key] {
				t.Errorf("username %q: failures = %d, want %d", b.Username, got, wantN[key])
			}
		}
		l, ok := s.(axes.Lister)
		if !ok {
			return
		}
		recs, err := l.List(t.Context(), axes.Filter{})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(recs) != len(want) {
			t.Errorf("List returned %d records, want %d", len(recs), len(want))
		}
		for _, r := range recs {
			b, ok := want[r.Key]
			if !ok {
				t.Errorf("List returned an unknown key %q", r.Key)
				continue
			}
			if r.Bucket != b {
				t.Errorf("listed bucket = %+v, want %+v", r.Bucket, b)
			}
			if r.Failures != wantN[r.Key] || !r.LastFailure.Equal(base) || r.Reserved != 0 {
				t.Errorf("username %q: listed failures %d at %v, want %d at %v", b.Username, r.Failures, r.LastFailure, wantN[r.Key], base)
			}
		}
		for _, b := range want {
			recs, err := l.List(t.Context(), axes.Filter{Username: b.Username})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(recs) != 1 || recs[0].Key != b.Key {
				t.Errorf("List(username %q) = %v, want only %q", b.Username, keysOf(recs), b.Key)
			}
		}
	})

	t.Run("UsernameLikeIP", func(t *testing.T) {
		s := e.fresh(t)
		clk := newClock()
		g := newGuard(t, s, axes.Config{
			FailureLimit:      1000,
			LockoutParameters: []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}},
		}, clk)
		fromIP := ident("1.1.1.1", "zed")
		named := ident("2.2.2.2", "1.1.1.1")
		v6 := ident("2001:db8::1", "")
		fail(t, g, fromIP, 1)
		fail(t, g, named, 2)
		fail(t, g, v6, 3)
		ipB := bucket(t, g, fromIP, axes.KindLockout, "ip_address")
		userB := bucket(t, g, named, axes.KindLockout, "username")
		v6B := bucket(t, g, v6, axes.KindLockout, "ip_address")
		if ipB.Key == userB.Key {
			t.Fatalf("IP 1.1.1.1 and username 1.1.1.1 share the key %q", ipB.Key)
		}
		p := g.Policy(fromIP)
		for _, c := range []struct {
			b axes.Bucket
			n int
		}{{ipB, 1}, {userB, 2}, {v6B, 3}} {
			if got := failures(t, s, base, p, c.b); got != c.n {
				t.Errorf("%s %q/%q: failures = %d, want %d", c.b.Params, c.b.IP, c.b.Username, got, c.n)
			}
		}
		l, ok := s.(axes.Lister)
		if !ok {
			return
		}
		for _, c := range []struct {
			f    axes.Filter
			want axes.Bucket
		}{
			{axes.Filter{IP: "1.1.1.1"}, ipB},
			{axes.Filter{Username: "1.1.1.1"}, userB},
			{axes.Filter{IP: "2001:db8::/64"}, v6B},
		} {
			recs, err := l.List(t.Context(), c.f)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(recs) != 1 || recs[0].Bucket != c.want {
				t.Errorf("List(%+v) = %+v, want only %+v", c.f, recs, c.want)
			}
		}
	})
}

// testCanceledContext: a done context makes Do fail with the context's
// error, and nothing is written.
func testCanceledContext(t *testing.T, e *env) {
	s := e.s
	p := policy(3, time.Hour, time.Hour)
	b := ipBucket("192.0.2.70")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Do(ctx, &axes.Op{Kind: axes.OpAdmit, Now: base, Buckets: []axes.Bucket{b}, Policy: p})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context: err = %v, want one matching context.Canceled", err)
	}
	ctx, cancel = context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = s.Do(ctx, &axes.Op{Kind: axes.OpAdmit, Now: base, Buckets: []axes.Bucket{b}, Policy: p})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do with an expired deadline: err = %v, want one matching context.DeadlineExceeded", err)
	}
	checkRec(t, "after cancelled ops", peek(t, s, base, p, b), rec{})
}

// testClosed: after Close, Do returns ErrClosed; closing twice is safe.
func testClosed(t *testing.T, e *env) {
	s := e.s
	p := policy(3, time.Hour, time.Hour)
	b := ipBucket("192.0.2.80")
	do(t, s, axes.OpAdmit, base, p, b)
	e.closed = true
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	for _, k := range []axes.OpKind{axes.OpAdmit, axes.OpFail, axes.OpRelease, axes.OpResetUser, axes.OpPeek} {
		_, err := s.Do(t.Context(), &axes.Op{Kind: k, Now: base, Buckets: []axes.Bucket{b}, Policy: p})
		if !errors.Is(err, axes.ErrClosed) {
			t.Errorf("Do(%s) after Close: err = %v, want one matching axes.ErrClosed", kindName(k), err)
		}
	}
	if err := s.Close(); err != nil && !errors.Is(err, axes.ErrClosed) {
		t.Errorf("second Close() = %v, want nil or axes.ErrClosed", err)
	}
}
