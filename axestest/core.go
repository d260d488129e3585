package axestest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// testAdmitFailLock: limit 3 admits three attempts (the third would lock
// on failure) and refuses the fourth, directly and through a guard.
func testAdmitFailLock(t *testing.T, e *env) {
	s := e.s
	const cool = 10 * time.Minute
	p := policy(3, cool, cool)
	b := ipBucket("192.0.2.1")
	t0 := base
	check(t, "admit 1", do(t, s, axes.OpAdmit, t0, p, b),
		outcome{Admitted: true, Counted: true, Failures: 1}, b)
	check(t, "admit 2", do(t, s, axes.OpAdmit, t0.Add(time.Second), p, b),
		outcome{Admitted: true, Counted: true, Failures: 2}, b)
	check(t, "admit 3", do(t, s, axes.OpAdmit, t0.Add(2*time.Second), p, b),
		outcome{Admitted: true, Counted: true, Failures: 3, LocksOnFailure: true, FailLockedUntil: t0.Add(2*time.Second + cool)}, b)
	check(t, "admit 4", do(t, s, axes.OpAdmit, t0.Add(3*time.Second), p, b),
		outcome{Locked: true, Counted: true, Failures: 4, LockedUntil: t0.Add(3*time.Second + cool)}, b)
	check(t, "peek", do(t, s, axes.OpPeek, t0.Add(4*time.Second), p, b),
		outcome{Locked: true, Failures: 4, LockedUntil: t0.Add(3*time.Second + cool)}, b)

	// An unrelated bucket is not affected.
	other := ipBucket("192.0.2.2")
	check(t, "other bucket", do(t, s, axes.OpAdmit, t0.Add(4*time.Second), p, other),
		outcome{Admitted: true, Counted: true, Failures: 1}, other)

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
}

// testRelease: OpRelease gives a reservation back, never below zero.
func testRelease(t *testing.T, e *env) {
	s := e.s
	p := policy(3, time.Hour, time.Hour)
	b := ipBucket("192.0.2.10")
	t0 := base
	do(t, s, axes.OpAdmit, t0, p, b)
	do(t, s, axes.OpAdmit, t0, p, b)
	check(t, "release 1", do(t, s, axes.OpRelease, t0, p, b), outcome{Failures: 1}, b)
	check(t, "release 2", do(t, s, axes.OpRelease, t0, p, b), outcome{Failures: 0}, b)
	check(t, "release of nothing", do(t, s, axes.OpRelease, t0, p, b), outcome{Failures: 0}, b)
	check(t, "admit after release", do(t, s, axes.OpAdmit, t0, p, b),
		outcome{Admitted: true, Counted: true, Failures: 1}, b)

	// A reservation that would lock, given back, unlocks.
	do(t, s, axes.OpAdmit, t0, p, b)
	check(t, "admit to limit", do(t, s, axes.OpAdmit, t0, p, b),
		outcome{Admitted: true, Counted: true, Failures: 3, LocksOnFailure: true, FailLockedUntil: t0.Add(time.Hour)}, b)
	check(t, "release at limit", do(t, s, axes.OpRelease, t0, p, b), outcome{Failures: 2}, b)
	check(t, "admit again", do(t, s, axes.OpAdmit, t0.Add(time.Second), p, b),
		outcome{Admitted: true, Counted: true, Failures: 3, LocksOnFailure: true, FailLockedUntil: t0.Add(time.Second + time.Hour)}, b)
}

// testResetUser: a success with ResetOnSuccess clears the user's buckets
// and takes only the user's own failures off the IP bucket.
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
	count := func(what string, b axes.Bucket, want int) {
		t.Helper()
		if got := failures(t, e.s, clk.Now(), p, b); got != want {
			t.Errorf("%s: %s failures = %d, want %d", what, b.Params, got, want)
		}
	}
	count("before", ipB, 3)
	count("before", aliceB, 2)
	count("before", bobB, 1)

	clk.Set(base.Add(time.Second))
	if res := succeed(t, g, alice); res.Verdict != axes.Allowed {
		t.Fatalf("alice's login: verdict %v, want allowed", res.Verdict)
	}
	count("after alice's success", ipB, 1)
	count("after alice's success", aliceB, 0)
	count("after alice's success", bobB, 1)

	succeed(t, g, bob)
	count("after bob's success", ipB, 0)
	count("after bob's success", bobB, 0)

	// A direct OpResetUser on a username+IP bucket clears it too.
	b := axes.Bucket{Key: "test|u+ip", Kind: axes.KindLockout, Params: "username+ip_address", IP: ip, Username: "carol"}
	do(t, e.s, axes.OpAdmit, clk.Now(), p, b)
	do(t, e.s, axes.OpAdmit, clk.Now(), p, b)
	check(t, "reset username+ip", do(t, e.s, axes.OpResetUser, clk.Now(), p, b), outcome{}, b)
}

// testConcurrency: the store serialises concurrent ops, so exactly Limit
// attempts are admitted however many arrive at once.
func testConcurrency(t *testing.T, e *env) {
	const n = 200
	t.Run("OneBucket", func(t *testing.T) {
		s := e.s
		p := policy(3, time.Hour, time.Hour)
		b := ipBucket("192.0.2.50")
		var admitted, counted atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				o, err := s.Do(t.Context(), &axes.Op{Kind: axes.OpAdmit, Now: base, Buckets: []axes.Bucket{b}, Policy: p})
				if err != nil {
					t.Errorf("Do: %v", err)
					return
				}
				if o.Admitted {
					admitted.Add(1)
				}
				if o.Counted {
					counted.Add(1)
				}
			})
		}
		wg.Wait()
		if got := admitted.Load(); got != 3 {
			t.Errorf("%d concurrent attempts with limit 3: %d admitted, want 3", n, got)
		}
		if got := counted.Load(); got != n {
			t.Errorf("%d attempts counted, want %d", got, n)
		}
		if got := failures(t, s, base, p, b); got != n {
			t.Errorf("failures after %d concurrent attempts = %d, want %d (lost updates)", n, got, n)
		}
	})

	t.Run("AdmitRelease", func(t *testing.T) {
		// Admitted attempts give their reservation back: at no time are
		// more than Limit of them between admission and release.
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
		if got, want := failures(t, s, base, p, b), int(refused.Load()); got != want {
			t.Errorf("failures = %d, want %d (the refused attempts)", got, want)
		}
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
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			id := ids[i%2]
			wg.Go(func() {
				_, err := g.Admit(t.Context(), id)
				switch {
				case err == nil:
					admitted.Add(1) // the ticket is never settled: the failure stays
				case !errors.Is(err, axes.ErrLockedOut):
					t.Errorf("Admit(%s): %v", id.Username, err)
				}
			})
		}
		wg.Wait()
		if got := admitted.Load(); got != 3 {
			t.Errorf("%d concurrent attempts on a shared bucket with limit 3: %d admitted, want 3", n, got)
		}
		p := g.Policy(ids[0])
		if got := failures(t, s, base, p, bucket(t, g, ids[0], axes.KindLockout, "ip_address")); got != n {
			t.Errorf("shared IP bucket: failures = %d, want %d", got, n)
		}
		for _, id := range ids {
			if got := failures(t, s, base, p, bucket(t, g, id, axes.KindLockout, "username")); got != n/2 {
				t.Errorf("%s's bucket: failures = %d, want %d", id.Username, got, n/2)
			}
		}
	})
}

// testExpiry pins every time boundary: a lock holds until exactly last
// failure + cool-off, a count until exactly last failure + window.
func testExpiry(t *testing.T, e *env) {
	const cool = 10 * time.Minute
	L := base
	ns := time.Nanosecond

	t.Run("CoolOff", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(1, cool, cool)
		b := ipBucket("192.0.2.60")
		check(t, "admit", do(t, s, axes.OpAdmit, L, p, b),
			outcome{Admitted: true, Counted: true, Failures: 1, LocksOnFailure: true, FailLockedUntil: L.Add(cool)}, b)
		check(t, "1ns before the end", do(t, s, axes.OpPeek, L.Add(cool-ns), p, b),
			outcome{Locked: true, Failures: 1, LockedUntil: L.Add(cool)}, b)
		check(t, "at the end", do(t, s, axes.OpPeek, L.Add(cool), p, b), outcome{}, b)
		check(t, "admit at the end", do(t, s, axes.OpAdmit, L.Add(cool), p, b),
			outcome{Admitted: true, Counted: true, Failures: 1, LocksOnFailure: true, FailLockedUntil: L.Add(2 * cool)}, b)
	})

	t.Run("Window", func(t *testing.T) {
		s := e.fresh(t)
		const window = time.Hour
		p := policy(2, cool, window)
		b := ipBucket("192.0.2.61")
		do(t, s, axes.OpAdmit, L, p, b)
		check(t, "second admit", do(t, s, axes.OpAdmit, L, p, b),
			outcome{Admitted: true, Counted: true, Failures: 2, LocksOnFailure: true, FailLockedUntil: L.Add(cool)}, b)
		check(t, "1ns before the lock ends", do(t, s, axes.OpPeek, L.Add(cool-ns), p, b),
			outcome{Locked: true, Failures: 2, LockedUntil: L.Add(cool)}, b)
		check(t, "lock ended, count kept", do(t, s, axes.OpPeek, L.Add(cool), p, b), outcome{Failures: 2}, b)
		check(t, "1ns before the window ends", do(t, s, axes.OpPeek, L.Add(window-ns), p, b), outcome{Failures: 2}, b)
		check(t, "at the window's end", do(t, s, axes.OpPeek, L.Add(window), p, b), outcome{}, b)

		// Below the limit, the count is forgotten at the window's end too.
		b2 := ipBucket("192.0.2.62")
		do(t, s, axes.OpAdmit, L, p, b2)
		check(t, "below limit, 1ns before", do(t, s, axes.OpPeek, L.Add(window-ns), p, b2), outcome{Failures: 1}, b2)
		check(t, "below limit, at the end", do(t, s, axes.OpPeek, L.Add(window), p, b2), outcome{}, b2)
		check(t, "admit restarts at 1", do(t, s, axes.OpAdmit, L.Add(window), p, b2),
			outcome{Admitted: true, Counted: true, Failures: 1}, b2)
	})

	t.Run("Permanent", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(2, 0, 0)
		b := ipBucket("192.0.2.63")
		do(t, s, axes.OpAdmit, L, p, b)
		check(t, "second admit", do(t, s, axes.OpAdmit, L, p, b),
			outcome{Admitted: true, Counted: true, Failures: 2, LocksOnFailure: true}, b)
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
		do(t, s, axes.OpAdmit, L, p, b)
		check(t, "refused, not counted", do(t, s, axes.OpAdmit, L.Add(5*time.Minute), p, b),
			outcome{Locked: true, Failures: 1, LockedUntil: L.Add(cool)}, b)
		check(t, "1ns before the end", do(t, s, axes.OpPeek, L.Add(cool-ns), p, b),
			outcome{Locked: true, Failures: 1, LockedUntil: L.Add(cool)}, b)
		check(t, "admit at the end", do(t, s, axes.OpAdmit, L.Add(cool), p, b),
			outcome{Admitted: true, Counted: true, Failures: 1, LocksOnFailure: true, FailLockedUntil: L.Add(2 * cool)}, b)
	})

	t.Run("Extends", func(t *testing.T) {
		s := e.fresh(t)
		p := policy(1, cool, cool)
		b := ipBucket("192.0.2.65")
		do(t, s, axes.OpAdmit, L, p, b)
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
		p := axes.Policy{Limit: 2, Tiers: []axes.Tier{{Failures: 2, CoolOff: time.Minute}, {Failures: 4, CoolOff: time.Hour}}, Window: time.Hour}
		b := ipBucket("192.0.2.66")
		do(t, s, axes.OpAdmit, L, p, b)
		check(t, "tier 1", do(t, s, axes.OpAdmit, L, p, b),
			outcome{Admitted: true, Counted: true, Failures: 2, LocksOnFailure: true, FailLockedUntil: L.Add(time.Minute)}, b)
		t1 := L.Add(time.Minute)
		check(t, "after tier 1's lock", do(t, s, axes.OpAdmit, t1, p, b),
			outcome{Admitted: true, Counted: true, Failures: 3, LocksOnFailure: true, FailLockedUntil: t1.Add(time.Minute)}, b)
		t2 := t1.Add(time.Minute)
		check(t, "tier 2", do(t, s, axes.OpAdmit, t2, p, b),
			outcome{Admitted: true, Counted: true, Failures: 4, LocksOnFailure: true, FailLockedUntil: t2.Add(time.Hour)}, b)
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
			check(t, "record only", do(t, s, axes.OpAdmit, L, p, b),
				outcome{Admitted: true, Counted: true, Failures: i}, b)
		}
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
			if r.Failures != wantN[r.Key] || !r.LastFailure.Equal(base) {
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
	if got := failures(t, s, base, p, b); got != 0 {
		t.Errorf("failures after cancelled ops = %d, want 0", got)
	}
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
	for _, k := range []axes.OpKind{axes.OpAdmit, axes.OpPeek} {
		_, err := s.Do(t.Context(), &axes.Op{Kind: k, Now: base, Buckets: []axes.Bucket{b}, Policy: p})
		if !errors.Is(err, axes.ErrClosed) {
			t.Errorf("Do(%s) after Close: err = %v, want one matching axes.ErrClosed", kindName(k), err)
		}
	}
	if err := s.Close(); err != nil && !errors.Is(err, axes.ErrClosed) {
		t.Errorf("second Close() = %v, want nil or axes.ErrClosed", err)
	}
}
