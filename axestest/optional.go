package axestest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// fixture is a store with failures of three users on two addresses, made
// through a guard that counts by IP, by username and by both:
//
//	t0:    alice@1.1.1.1 fails 3 times: locked until t0+10m
//	t0+1m: bob@2.2.2.2 fails once
//	t0+2m: carol@1.1.1.1 is refused (the IP is locked) and counted:
//	       the IP bucket has 4 failures, locked until t0+12m
type fixture struct {
	s     axes.Store
	g     *axes.Guard
	p     axes.Policy
	alice axes.Identity
	bob   axes.Identity
	carol axes.Identity
	// lockout buckets
	ip1, ip2, aliceU, aliceIP, bobU, bobIP, carolU, carolIP axes.Bucket
	// attribution buckets
	aliceA, bobA, carolA axes.Bucket
}

const fixtureCoolOff = 10 * time.Minute

func newFixture(t *testing.T, s axes.Store) *fixture {
	t.Helper()
	clk := newClock()
	g := newGuard(t, s, axes.Config{
		FailureLimit: 3, CoolOff: fixtureCoolOff,
		LockoutParameters: []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}, {axes.ParamUsername, axes.ParamIPAddress}},
	}, clk)
	f := &fixture{s: s, g: g,
		alice: ident("1.1.1.1", "alice"), bob: ident("2.2.2.2", "bob"), carol: ident("1.1.1.1", "carol")}
	f.p = g.Policy(f.alice)
	lock := func(id axes.Identity, params string) axes.Bucket {
		return bucket(t, g, id, axes.KindLockout, params)
	}
	attr := func(id axes.Identity) axes.Bucket { return bucket(t, g, id, axes.KindAttribution, "ip_address") }
	f.ip1, f.ip2 = lock(f.alice, "ip_address"), lock(f.bob, "ip_address")
	f.aliceU, f.aliceIP = lock(f.alice, "username"), lock(f.alice, "username+ip_address")
	f.bobU, f.bobIP = lock(f.bob, "username"), lock(f.bob, "username+ip_address")
	f.carolU, f.carolIP = lock(f.carol, "username"), lock(f.carol, "username+ip_address")
	f.aliceA, f.bobA, f.carolA = attr(f.alice), attr(f.bob), attr(f.carol)

	if v := fail(t, g, f.alice, 3); v != axes.Locked {
		t.Fatalf("fixture: alice's third failure: verdict %v, want locked", v)
	}
	clk.Set(base.Add(time.Minute))
	fail(t, g, f.bob, 1)
	clk.Set(base.Add(2 * time.Minute))
	if v := fail(t, g, f.carol, 1); v != axes.Locked {
		t.Fatalf("fixture: carol's attempt: verdict %v, want locked", v)
	}
	return f
}

func (f *fixture) lockouts() []axes.Bucket {
	return []axes.Bucket{f.ip1, f.ip2, f.aliceU, f.aliceIP, f.bobU, f.bobIP, f.carolU, f.carolIP}
}

// count returns the failures of lockout bucket b at t0+2m.
func (f *fixture) count(t *testing.T, b axes.Bucket) int {
	t.Helper()
	return failures(t, f.s, base.Add(2*time.Minute), f.p, b)
}

// expectCounts checks the failures of the lockout buckets (absent: 0).
func (f *fixture) expectCounts(t *testing.T, want map[string]int) {
	t.Helper()
	for _, b := range f.lockouts() {
		if got := f.count(t, b); got != want[b.Key] {
			t.Errorf("%s bucket %q/%q: failures = %d, want %d", b.Params, b.IP, b.Username, got, want[b.Key])
		}
	}
}

// all returns the counts the fixture starts with.
func (f *fixture) all() map[string]int {
	return map[string]int{
		f.ip1.Key: 4, f.aliceU.Key: 3, f.aliceIP.Key: 3,
		f.ip2.Key: 1, f.bobU.Key: 1, f.bobIP.Key: 1,
		f.carolU.Key: 1, f.carolIP.Key: 1,
	}
}

// attribution reports how many failures attribution bucket a still holds,
// as seen by OpResetUser: it takes a's failures off the parent and
// compares. It consumes a.
func (f *fixture) attribution(t *testing.T, parent, a axes.Bucket) int {
	t.Helper()
	now := base.Add(2 * time.Minute)
	before := f.count(t, parent)
	after := do(t, f.s, axes.OpResetUser, now, f.p, parent, a).Failures
	return before - after
}

func testLister(t *testing.T, e *env) {
	l, ok := e.s.(axes.Lister)
	if !ok {
		t.Skip("the store does not implement axes.Lister")
	}
	f := newFixture(t, e.s)
	t0 := base
	list := func(flt axes.Filter) []axes.Record {
		t.Helper()
		recs, err := l.List(t.Context(), flt)
		if err != nil {
			t.Fatalf("List(%+v): %v", flt, err)
		}
		return recs
	}
	recs := list(axes.Filter{})
	if got, want := keysOf(recs), sortedKeys(f.lockouts()...); !slices.Equal(got, want) {
		t.Errorf("List(all) keys = %q, want %q", got, want)
	}
	byKey := map[string]axes.Bucket{}
	for _, b := range f.lockouts() {
		byKey[b.Key] = b
	}
	for i, r := range recs {
		if r.Kind != axes.KindLockout {
			t.Errorf("List returned a record of kind %d: %+v", r.Kind, r.Bucket)
		}
		if b, ok := byKey[r.Key]; ok && r.Bucket != b {
			t.Errorf("listed bucket = %+v, want %+v", r.Bucket, b)
		}
		if i > 0 && r.LastFailure.After(recs[i-1].LastFailure) {
			t.Errorf("List is not newest first: %v after %v", r.LastFailure, recs[i-1].LastFailure)
		}
		if r.Reserved != 0 || !r.ReservedAt.IsZero() {
			t.Errorf("listed %s %q/%q: %d reserved at %v, want none (every attempt settled)", r.Params, r.IP, r.Username, r.Reserved, r.ReservedAt)
		}
	}
	want := map[string]struct {
		failures    int
		last, until time.Time
		locked      bool
	}{
		f.ip1.Key:    {4, t0.Add(2 * time.Minute), t0.Add(2*time.Minute + fixtureCoolOff), true},
		f.aliceU.Key: {3, t0, t0.Add(fixtureCoolOff), true},
		f.bobU.Key:   {1, t0.Add(time.Minute), time.Time{}, false},
	}
	for _, r := range recs {
		w, ok := want[r.Key]
		if !ok {
			continue
		}
		if r.Failures != w.failures || !r.LastFailure.Equal(w.last) || r.Locked != w.locked || !r.LockedUntil.Equal(w.until) {
			t.Errorf("listed %s %q/%q: failures %d, last %v, locked %v until %v; want %d, %v, %v until %v",
				r.Params, r.IP, r.Username, r.Failures, r.LastFailure, r.Locked, r.LockedUntil, w.failures, w.last, w.locked, w.until)
		}
	}

	t.Run("Reservations", func(t *testing.T) {
		// Reserved and ReservedAt round-trip; a record holding only
		// reservations is listed, unlocked, and goes when released.
		s := e.fresh(t)
		l := s.(axes.Lister)
		f := newFixture(t, s)
		dave := ident("2.2.2.2", "dave")
		daveU := bucket(t, f.g, dave, axes.KindLockout, "username")
		daveIP := bucket(t, f.g, dave, axes.KindLockout, "username+ip_address")
		at := t0.Add(3*time.Minute + 654321*time.Microsecond)
		bs := buckets(t, f.g, dave)
		do(t, s, axes.OpAdmit, at, f.p, bs...)
		at2 := at.Add(time.Microsecond)
		do(t, s, axes.OpAdmit, at2, f.p, bs...)
		recs, err := l.List(t.Context(), axes.Filter{IP: "2.2.2.2"})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if got, want := keysOf(recs), sortedKeys(f.ip2, f.bobIP, daveIP); !slices.Equal(got, want) {
			t.Fatalf("List(2.2.2.2) keys = %q, want %q", got, want)
		}
		for _, r := range recs {
			want := rec{Reserved: 2, ReservedAt: at2}
			if r.Key == f.ip2.Key {
				want.Failures, want.LastFailure = 1, t0.Add(time.Minute)
			}
			if r.Key == f.bobIP.Key {
				want = rec{Failures: 1, LastFailure: t0.Add(time.Minute)}
			}
			checkRec(t, "listed "+r.Params+" "+r.Username, r, want)
			if r.Locked {
				t.Errorf("listed %s %q/%q as locked, want unlocked", r.Params, r.IP, r.Username)
			}
		}
		got, err := l.List(t.Context(), axes.Filter{LockedOnly: true, Now: at2, Username: "dave"})
		if err != nil || len(got) != 0 {
			t.Errorf("List(locked, dave) = %q, %v; want none", keysOf(got), err)
		}
		do(t, s, axes.OpRelease, at2, f.p, bs...)
		do(t, s, axes.OpFail, at2, f.p, bs...)
		got, err = l.List(t.Context(), axes.Filter{Username: "dave"})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if !slices.Equal(keysOf(got), sortedKeys(daveU, daveIP)) {
			t.Fatalf("List(dave) keys = %q, want %q", keysOf(got), sortedKeys(daveU, daveIP))
		}
		for _, r := range got {
			checkRec(t, "dave's "+r.Params+" after a release and a fail", r, rec{Failures: 1, LastFailure: at2})
		}
		// Released to nothing: deleted.
		dave2 := ident("3.3.3.3", "erin")
		bs2 := buckets(t, f.g, dave2)
		do(t, s, axes.OpAdmit, at2, f.p, bs2...)
		if got, err := l.List(t.Context(), axes.Filter{Username: "erin"}); err != nil || len(got) != 2 {
			t.Errorf("List(erin) with reservations = %q, %v; want her 2 buckets", keysOf(got), err)
		}
		do(t, s, axes.OpRelease, at2, f.p, bs2...)
		if got, err := l.List(t.Context(), axes.Filter{Username: "erin"}); err != nil || len(got) != 0 {
			t.Errorf("List(erin) after the release = %q, %v; want none (empty records are deleted)", keysOf(got), err)
		}
		if got, err := l.List(t.Context(), axes.Filter{IP: "3.3.3.3"}); err != nil || len(got) != 0 {
			t.Errorf("List(3.3.3.3) after the release = %q, %v; want none (empty records are deleted)", keysOf(got), err)
		}
	})

	for _, c := range []struct {
		name string
		flt  axes.Filter
		want []axes.Bucket
	}{
		{"IP", axes.Filter{IP: "1.1.1.1"}, []axes.Bucket{f.ip1, f.aliceIP, f.carolIP}},
		{"Username", axes.Filter{Username: "alice"}, []axes.Bucket{f.aliceU, f.aliceIP}},
		{"IPAndUsername", axes.Filter{IP: "1.1.1.1", Username: "carol"}, []axes.Bucket{f.carolIP}},
		{"NoMatch", axes.Filter{Username: "nobody"}, nil},
		{"LockedOnly", axes.Filter{LockedOnly: true, Now: t0.Add(2 * time.Minute)}, []axes.Bucket{f.ip1, f.aliceU, f.aliceIP}},
		{"LockedOnlyAtLockEnd", axes.Filter{LockedOnly: true, Now: t0.Add(fixtureCoolOff)}, []axes.Bucket{f.ip1}},
		{"LockedOnly1nsBeforeEnd", axes.Filter{LockedOnly: true, Now: t0.Add(2*time.Minute + fixtureCoolOff - 1)}, []axes.Bucket{f.ip1}},
		{"LockedOnlyAfterAll", axes.Filter{LockedOnly: true, Now: t0.Add(2*time.Minute + fixtureCoolOff)}, nil},
		{"LockedOnlyUsername", axes.Filter{LockedOnly: true, Now: t0.Add(2 * time.Minute), Username: "carol"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := keysOf(list(c.flt)), sortedKeys(c.want...); !slices.Equal(got, want) {
				t.Errorf("List(%+v) keys = %q, want %q", c.flt, got, want)
			}
		})
	}
}

func testDeleter(t *testing.T, e *env) {
	if _, ok := e.s.(axes.Deleter); !ok {
		t.Skip("the store does not implement axes.Deleter")
	}
	del := func(t *testing.T, f *fixture, flt axes.Filter, want int) {
		t.Helper()
		n, err := f.s.(axes.Deleter).Delete(t.Context(), flt)
		if err != nil {
			t.Fatalf("Delete(%+v): %v", flt, err)
		}
		if n != want {
			t.Errorf("Delete(%+v) = %d, want %d", flt, n, want)
		}
	}
	without := func(m map[string]int, bs ...axes.Bucket) map[string]int {
		for _, b := range bs {
			delete(m, b.Key)
		}
		return m
	}
	gone := func(t *testing.T, f *fixture, parent, a axes.Bucket) {
		t.Helper()
		if n := f.attribution(t, parent, a); n != 0 {
			t.Errorf("attribution of %q on %q still holds %d failures, want it deleted", a.Username, parent.Key, n)
		}
	}
	kept := func(t *testing.T, f *fixture, parent, a axes.Bucket, want int) {
		t.Helper()
		if n := f.attribution(t, parent, a); n != want {
			t.Errorf("attribution of %q on %q holds %d failures, want %d (kept)", a.Username, parent.Key, n, want)
		}
	}

	t.Run("ByIP", func(t *testing.T) {
		f := newFixture(t, e.fresh(t))
		del(t, f, axes.Filter{IP: "2.2.2.2"}, 2)
		f.expectCounts(t, without(f.all(), f.ip2, f.bobIP))
		gone(t, f, f.ip2, f.bobA)
		kept(t, f, f.ip1, f.aliceA, 3)
	})
	t.Run("ByUsername", func(t *testing.T) {
		f := newFixture(t, e.fresh(t))
		// alice's buckets go, and her share of the IP-only bucket (3 of
		// its 4 failures) is taken off it: 2 removed, 1 reduced.
		del(t, f, axes.Filter{Username: "alice"}, 3)
		want := without(f.all(), f.aliceU, f.aliceIP)
		want[f.ip1.Key] -= 3
		f.expectCounts(t, want)
		gone(t, f, f.ip1, f.aliceA)
		kept(t, f, f.ip1, f.carolA, 1)
	})
	t.Run("ByIPAndUsername", func(t *testing.T) {
		f := newFixture(t, e.fresh(t))
		del(t, f, axes.Filter{IP: "1.1.1.1", Username: "carol"}, 2)
		want := without(f.all(), f.carolIP)
		want[f.ip1.Key]-- // carol's one failure from 1.1.1.1
		f.expectCounts(t, want)
		gone(t, f, f.ip1, f.carolA)
		kept(t, f, f.ip1, f.aliceA, 3)
	})
	t.Run("LockedOnly", func(t *testing.T) {
		f := newFixture(t, e.fresh(t))
		del(t, f, axes.Filter{LockedOnly: true, Now: base.Add(5 * time.Minute)}, 3)
		f.expectCounts(t, without(f.all(), f.ip1, f.aliceU, f.aliceIP))
		// The attribution records of a deleted bucket go with it.
		gone(t, f, f.ip1, f.aliceA)
		gone(t, f, f.ip1, f.carolA)
		kept(t, f, f.ip2, f.bobA, 1)
	})
	t.Run("All", func(t *testing.T) {
		f := newFixture(t, e.fresh(t))
		del(t, f, axes.Filter{}, 8)
		f.expectCounts(t, nil)
		if l, ok := f.s.(axes.Lister); ok {
			recs, err := l.List(t.Context(), axes.Filter{})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(recs) != 0 {
				t.Errorf("List after deleting all = %q, want none", keysOf(recs))
			}
		}
		gone(t, f, f.ip1, f.aliceA)
		gone(t, f, f.ip2, f.bobA)
		del(t, f, axes.Filter{}, 0)
	})
	t.Run("ExpiredShare", func(t *testing.T) {
		// alice's share of the IP bucket expires with her failures; bob's
		// later failures restart the bucket. Resetting alice at that time
		// (through the guard, which gives the store the time) must not take
		// her expired share off bob's count: the store treats an expired
		// record as absent, as Apply does.
		s := e.fresh(t)
		clk := newClock()
		g := newGuard(t, s, axes.Config{FailureLimit: 5, CoolOff: 10 * time.Minute}, clk)
		const ip = "192.0.2.40"
		alice, bob := ident(ip, "alice"), ident(ip, "bob")
		fail(t, g, alice, 3)
		clk.Set(base.Add(time.Hour))
		fail(t, g, bob, 3)
		n, err := g.Reset(t.Context(), axes.Filter{Username: "alice"})
		if err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if n != 0 {
			t.Errorf("Reset(alice) = %d, want 0 (her share had expired)", n)
		}
		ipB := bucket(t, g, bob, axes.KindLockout, "ip_address")
		if got := failures(t, s, clk.Now(), g.Policy(bob), ipB); got != 3 {
			t.Errorf("IP bucket after deleting alice = %d failures, want bob's 3", got)
		}
	})
	t.Run("NoMatch", func(t *testing.T) {
		f := newFixture(t, e.fresh(t))
		del(t, f, axes.Filter{Username: "nobody"}, 0)
		del(t, f, axes.Filter{IP: "3.3.3.3"}, 0)
		f.expectCounts(t, f.all())
		kept(t, f, f.ip1, f.aliceA, 3)
	})
}

func testPurger(t *testing.T, e *env) {
	pg, ok := e.s.(axes.Purger)
	if !ok {
		t.Skip("the store does not implement axes.Purger")
	}
	s := e.s
	const cool = 10 * time.Minute
	p := policy(1, cool, cool)
	perm := policy(1, 0, 0)
	noLease := policy(3, cool, cool)
	noLease.Lease = 0
	a, b, c, d := ipBucket("192.0.2.90"), ipBucket("192.0.2.91"), ipBucket("192.0.2.92"), ipBucket("192.0.2.93")
	t0 := base
	// a and b are each failed, then counted once more while locked, with
	// no reservation left: each expires exactly when its count ends.
	attempt(t, s, t0, p, a)
	do(t, s, axes.OpAdmit, t0.Add(5*time.Minute), p, a) // expires at t0+15m
	attempt(t, s, t0.Add(10*time.Minute), p, b)
	do(t, s, axes.OpAdmit, t0.Add(15*time.Minute), p, b) // expires at t0+25m
	attempt(t, s, t0, perm, c)                           // never expires
	do(t, s, axes.OpAdmit, t0, noLease, d)               // a reservation that never lapses: never expires
	ea := t0.Add(15 * time.Minute)
	if got := peek(t, s, t0.Add(5*time.Minute), p, a).ExpiresAt; !got.Equal(ea) {
		t.Errorf("ExpiresAt of a = %v, want %v", got, ea)
	}
	purge := func(now time.Time, most int) int {
		t.Helper()
		n, err := pg.Purge(t.Context(), now)
		if err != nil {
			t.Fatalf("Purge(%v): %v", now, err)
		}
		if n < 0 || n > most {
			t.Errorf("Purge(+%v) = %d, want 0 (for a store that expires records itself) to %d", now.Sub(base), n, most)
		}
		return n
	}
	if n := purge(ea.Add(-time.Microsecond), 0); n != 0 {
		t.Errorf("Purge before anything expired = %d, want 0", n)
	}
	if got := failures(t, s, ea.Add(-time.Microsecond), p, a); got != 2 {
		t.Errorf("a record purged before it expired: failures = %d, want 2", got)
	}
	n := purge(ea, 1)
	if got := failures(t, s, ea, p, b); got != 2 {
		t.Errorf("a record purged before it expired: failures = %d, want 2", got)
	}
	if l, ok := s.(axes.Lister); ok && n == 1 {
		recs, err := l.List(t.Context(), axes.Filter{})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if got, want := keysOf(recs), sortedKeys(b, c, d); !slices.Equal(got, want) {
			t.Errorf("after Purge, List keys = %q, want %q", got, want)
		}
	}
	far := t0.AddDate(100, 0, 0)
	purge(far, 1)
	check(t, "a permanent lock after Purge", do(t, s, axes.OpPeek, far, perm, c), outcome{Locked: true, Failures: 1}, c)
	checkRec(t, "a reservation without lease after Purge", peek(t, s, far, noLease, d), rec{Reserved: 1, ReservedAt: t0})
}

func testAuditLog(t *testing.T, e *env) {
	al, ok := e.s.(axes.AuditLog)
	if !ok {
		t.Skip("the store does not implement axes.AuditLog")
	}
	lr, ok := e.s.(axes.LogReader)
	if !ok {
		t.Skip("the store implements axes.AuditLog but not axes.LogReader, so the log cannot be checked")
	}
	ctx := t.Context()
	t0 := base
	h1, h2 := axes.SessionHash("session-1"), axes.SessionHash("session-2")
	logins := []axes.AccessEntry{
		{Time: t0, Username: "alice", IP: "1.1.1.1", UserAgent: "UA/1 \"quoted\"", Path: "/login?next=/ü", SessionHash: h1},
		{Time: t0.Add(time.Minute), Username: "alice", IP: "2001:db8::1", UserAgent: "UA/2", Path: "/admin/login", SessionHash: h2},
		{Time: t0.Add(2 * time.Minute), Username: "bob", IP: "2.2.2.2", SessionHash: h1},
	}
	for _, le := range logins {
		if err := al.LogLogin(ctx, le); err != nil {
			t.Fatalf("LogLogin: %v", err)
		}
	}
	access := func(username string, limit int) []axes.AccessEntry {
		t.Helper()
		es, err := lr.AccessLog(ctx, username, limit)
		if err != nil {
			t.Fatalf("AccessLog(%q, %d): %v", username, limit, err)
		}
		return es
	}
	checkAccess := func(what string, got []axes.AccessEntry, want ...axes.AccessEntry) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %d entries, want %d: %+v", what, len(got), len(want), got)
			return
		}
		for i := range got {
			g, w := got[i], want[i]
			if !g.Time.Equal(w.Time) || !g.LogoutTime.Equal(w.LogoutTime) {
				t.Errorf("%s[%d]: time %v, logout %v; want %v, %v", what, i, g.Time, g.LogoutTime, w.Time, w.LogoutTime)
			}
			g.Time, g.LogoutTime, w.Time, w.LogoutTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if g != w {
				t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
			}
		}
	}
	checkAccess("AccessLog(alice)", access("alice", 0), logins[1], logins[0])
	checkAccess("AccessLog(all)", access("", 0), logins[2], logins[1], logins[0])
	checkAccess("AccessLog(alice, 1)", access("alice", 1), logins[1])

	logout := t0.Add(5 * time.Minute)
	n, err := al.LogLogout(ctx, "alice", h1, logout)
	if err != nil || n != 1 {
		t.Errorf("LogLogout(alice, session 1) = %d, %v; want 1, nil", n, err)
	}
	closed := logins[0]
	closed.LogoutTime = logout
	checkAccess("after logout", access("", 0), logins[2], logins[1], closed)
	if n, err := al.LogLogout(ctx, "alice", h1, logout.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("second LogLogout(alice, session 1) = %d, %v; want 0, nil", n, err)
	}
	if n, err := al.LogLogout(ctx, "carol", h1, logout); err != nil || n != 0 {
		t.Errorf("LogLogout(carol) = %d, %v; want 0, nil", n, err)
	}

	// Failures: alice five times with a cap of 3, bob once, carol five
	// times without a cap.
	var fails []axes.FailureEntry
	for i := range 5 {
		fails = append(fails, axes.FailureEntry{Time: t0.Add(time.Duration(i) * time.Minute), Username: "alice",
			IP: "1.1.1.1", UserAgent: "UA", Path: fmt.Sprintf("/login/%d", i), LockedOut: i >= 2})
	}
	bobFail := axes.FailureEntry{Time: t0.Add(10 * time.Second), Username: "bob", IP: "2.2.2.2"}
	for i, fe := range fails {
		if err := al.LogFailure(ctx, fe, 3); err != nil {
			t.Fatalf("LogFailure: %v", err)
		}
		if i == 0 {
			if err := al.LogFailure(ctx, bobFail, 3); err != nil {
				t.Fatalf("LogFailure: %v", err)
			}
		}
	}
	var carol []axes.FailureEntry
	for i := range 5 {
		fe := axes.FailureEntry{Time: t0.Add(time.Duration(5+i) * time.Minute), Username: "carol", IP: "3.3.3.3"}
		carol = append(carol, fe)
		if err := al.LogFailure(ctx, fe, 0); err != nil {
			t.Fatalf("LogFailure: %v", err)
		}
	}
	failuresOf := func(username string, limit int) []axes.FailureEntry {
		t.Helper()
		es, err := lr.FailureLog(ctx, username, limit)
		if err != nil {
			t.Fatalf("FailureLog(%q, %d): %v", username, limit, err)
		}
		return es
	}
	checkFail := func(what string, got []axes.FailureEntry, want ...axes.FailureEntry) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %d entries, want %d: %+v", what, len(got), len(want), got)
			return
		}
		for i := range got {
			g, w := got[i], want[i]
			if !g.Time.Equal(w.Time) {
				t.Errorf("%s[%d]: time %v, want %v", what, i, g.Time, w.Time)
			}
			g.Time, w.Time = time.Time{}, time.Time{}
			if g != w {
				t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
			}
		}
	}
	checkFail("FailureLog(alice), capped at 3", failuresOf("alice", 0), fails[4], fails[3], fails[2])
	checkFail("FailureLog(alice, 2)", failuresOf("alice", 2), fails[4], fails[3])
	checkFail("FailureLog(bob)", failuresOf("bob", 0), bobFail)
	checkFail("FailureLog(carol), no cap", failuresOf("carol", 0), carol[4], carol[3], carol[2], carol[1], carol[0])
	if got := failuresOf("", 0); len(got) != 9 {
		t.Errorf("FailureLog(all) has %d entries, want 9", len(got))
	}

	t.Run("Prune", func(t *testing.T) {
		pr, ok := e.s.(axes.LogPruner)
		if !ok {
			t.Skip("the store does not implement axes.LogPruner")
		}
		prune := func(what string, fn func(time.Time) (int, error), before time.Time, want int) {
			t.Helper()
			n, err := fn(before)
			if err != nil || n != want {
				t.Errorf("%s(%v) = %d, %v; want %d, nil", what, before, n, err, want)
			}
		}
		pf := func(b time.Time) (int, error) { return pr.PruneFailureLog(ctx, b) }
		pa := func(b time.Time) (int, error) { return pr.PruneAccessLog(ctx, b) }
		// Entries strictly before t0+3m go: alice's at 2m, bob's at 10s.
		prune("PruneFailureLog", pf, t0.Add(3*time.Minute), 2)
		checkFail("FailureLog(alice) after pruning", failuresOf("alice", 0), fails[4], fails[3])
		checkFail("FailureLog(bob) after pruning", failuresOf("bob", 0))
		prune("PruneFailureLog", pf, time.Time{}, 7)
		checkFail("FailureLog(all) after pruning all", failuresOf("", 0))

		prune("PruneAccessLog", pa, t0.Add(time.Minute), 1)
		checkAccess("AccessLog(all) after pruning", access("", 0), logins[2], logins[1])
		prune("PruneAccessLog", pa, time.Time{}, 2)
		checkAccess("AccessLog(all) after pruning all", access("", 0))
	})
}
