package axestest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/storage"
)

// optionalTests check the optional capabilities; each skips when the store
// does not offer its capability.
var optionalTests = []subtest{
	{"Lister", testLister},
	{"Purger", testPurger},
	{"AuditLog", testAuditLog},
	{"LogPruner", testLogPruner},
	{"RuleStore", testRuleStore},
}

// keysOf returns the sorted keys of es.
func keysOf(es []storage.Entry) []string {
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.Bucket.Key
	}
	slices.Sort(keys)
	return keys
}

// sorted returns keys sorted.
func sorted(keys ...string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return keys
}

// testLister: every filter selects exactly its buckets (ShareOf may select
// more, but never fewer), and entries carry their state as stored.
func testLister(t *testing.T, e *env) {
	l, ok := lister(e.s)
	if !ok {
		t.Skip("the store does not implement storage.Lister")
	}
	f := newFixture(t, e.s)
	dave := ident("2.2.2.2", "dave")
	tk := admit(t, f.g, dave) // buckets that hold only a ticket
	defer func() { _ = tk.Release(t.Context()) }()
	k := f.key
	ip1, ip2, ip6 := k(t, f.alice, "ip_address"), k(t, f.bob, "ip_address"), k(t, f.erin, "ip_address")
	all := sorted(ip1, ip2, ip6,
		k(t, f.alice, "username"), k(t, f.alice, "username+ip_address"),
		k(t, f.bob, "username"), k(t, f.bob, "username+ip_address"),
		k(t, f.erin, "username"), k(t, f.erin, "username+ip_address"),
		k(t, dave, "username"), k(t, dave, "username+ip_address"))
	listOf := func(flt storage.Filter) []storage.Entry {
		t.Helper()
		es, err := l.List(t.Context(), flt)
		if err != nil {
			t.Fatalf("List(%+v): %v", flt, err)
		}
		return es
	}
	if got := keysOf(listOf(storage.Filter{})); !slices.Equal(got, all) {
		t.Errorf("List(everything) keys = %q, want %q", got, all)
	}
	exact := []struct {
		f    storage.Filter
		want []string
	}{
		{storage.Filter{IP: "1.1.1.1"}, sorted(ip1, k(t, f.alice, "username+ip_address"))},
		{storage.Filter{IP: "2.2.2.2"}, sorted(ip2, k(t, f.bob, "username+ip_address"), k(t, dave, "username+ip_address"))},
		{storage.Filter{IP: "2001:db8::/64"}, sorted(ip6, k(t, f.erin, "username+ip_address"))},
		{storage.Filter{Username: "alice"}, sorted(k(t, f.alice, "username"), k(t, f.alice, "username+ip_address"))},
		{storage.Filter{Username: "dave"}, sorted(k(t, dave, "username"), k(t, dave, "username+ip_address"))},
		{storage.Filter{IP: "1.1.1.1", Username: "alice"}, sorted(k(t, f.alice, "username+ip_address"))},
		{storage.Filter{IP: "1.1.1.1", Username: "carol"}, nil}, // her refusal made no bucket
		{storage.Filter{IP: "2.2.2.2", Username: "alice"}, nil},
		{storage.Filter{Username: "nobody"}, nil},
		{storage.Filter{IP: "1.1.1.2"}, nil},
	}
	for _, c := range exact {
		if got := keysOf(listOf(c.f)); !slices.Equal(got, sorted(c.want...)) {
			t.Errorf("List(%+v) keys = %q, want %q", c.f, got, c.want)
		}
	}
	superset := []struct {
		f    storage.Filter
		want []string
	}{
		{storage.Filter{ShareOf: "alice"}, []string{ip1}},
		{storage.Filter{ShareOf: "carol"}, []string{ip1}},
		{storage.Filter{ShareOf: "carol", IP: "1.1.1.1"}, []string{ip1}},
		{storage.Filter{ShareOf: "bob"}, []string{ip2}},
		{storage.Filter{ShareOf: "erin", IP: "2001:db8::/64"}, []string{ip6}},
	}
	for _, c := range superset {
		got := keysOf(listOf(c.f))
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("List(%+v) keys = %q, want them to include %q", c.f, got, w)
			}
		}
	}

	// Entries carry the state as stored.
	states := map[string]storage.Entry{}
	for _, e := range listOf(storage.Filter{}) {
		states[e.Bucket.Key] = e
	}
	last := us(base.Add(2 * time.Minute))
	if st := states[ip1].State; st.Failures != 4 || st.LastFailure != last || st.Reserved+st.Older != 0 ||
		!slices.Equal(st.Shares, []storage.Share{{User: "alice", Failures: 3}, {User: "carol", Failures: 1}}) {
		t.Errorf("listed state of 1.1.1.1 = %s, want 4 failures (last %s), shares alice 3 and carol 1, nothing in flight", showState(st), at(last))
	}
	if b := bucketOf(t, f.g, f.erin, "username+ip_address"); states[b.Key].Bucket != b {
		t.Errorf("listed bucket %+v, want %+v", states[b.Key].Bucket, b)
	}
	slot := last / storage.Duration(axes.DefaultReservationLease)
	if st := states[k(t, dave, "username")].State; st.Failures != 0 || st.Reserved != 1 || st.Older != 0 || st.Slot != slot {
		t.Errorf("listed state of dave's bucket = %s, want only his ticket (1 reserved in cohort %d)", showState(st), slot)
	}
}

// testPurger: Purge removes exactly the buckets that expired at or before
// its time (or none, for a store that expires keys by itself).
func testPurger(t *testing.T, e *env) {
	pg, ok := storage.Find[storage.Purger](e.s)
	if !ok {
		t.Skip("the store does not implement storage.Purger")
	}
	s := e.s
	p := policy(5, 10*minute, 10*minute, minute)
	perm := policy(1, 0, 0, minute)
	noLease := policy(3, 10*minute, 10*minute, 0)
	a, b, c, d, x := ipBucket("192.0.2.40"), ipBucket("192.0.2.41"), ipBucket("192.0.2.42"), ipBucket("192.0.2.43"), ipBucket("192.0.2.44")
	one(t, s, a, stepOf(storage.Fail, t0, p, ""))          // expires at base+10m
	one(t, s, b, stepOf(storage.Fail, t0+5*minute, p, "")) // at base+15m
	one(t, s, c, stepOf(storage.Fail, t0, perm, ""))       // never
	one(t, s, d, stepOf(storage.Admit, t0, noLease, ""))   // a ticket that never lapses: never
	one(t, s, x, stepOf(storage.Admit, t0, p, ""))         // lapses at base+115s, expires 10m later
	purge := func(now int64, expired int) int {
		t.Helper()
		n, err := pg.Purge(t.Context(), storage.Time(now))
		if err != nil {
			t.Fatalf("Purge(%s): %v", at(now), err)
		}
		switch {
		case expired == 0 && n != 0:
			t.Errorf("Purge(%s) = %d, want 0: nothing had expired", at(now), n)
		case n != 0 && n != expired:
			t.Errorf("Purge(%s) = %d, want %d (or 0, for a store that expires keys by itself)", at(now), n, expired)
		}
		return n
	}
	alive := func(when string, now int64) {
		t.Helper()
		for _, c := range []struct {
			b    storage.Bucket
			p    storage.Policy
			want storage.Answer
		}{
			{c, perm, storage.Answer{Locked: true, Failures: 1, LastFailure: t0}},
			{d, noLease, storage.Answer{InFlight: 1}},
		} {
			checkAnswer(t, when+": "+c.b.IP, peek(t, s, c.b, now, c.p), c.want)
		}
	}
	purge(t0+10*minute-1, 0)
	n := purge(t0+10*minute, 1)
	alive("after the first purge", t0+10*minute)
	if got := peek(t, s, b, t0+10*minute, p).Failures; got != 1 {
		t.Errorf("after the first purge: %s has %d failures, want 1 (it expires at base+15m)", b.IP, got)
	}
	if got := peek(t, s, x, t0+10*minute, p).Failures; got != 1 {
		t.Errorf("after the first purge: %s has %d failures, want 1 (its lapsed ticket)", x.IP, got)
	}
	if es, ok := list(t, s, storage.Filter{}); ok && n == 1 {
		if got, want := keysOf(es), sorted(b.Key, c.Key, d.Key, x.Key); !slices.Equal(got, want) {
			t.Errorf("after the first purge, List keys = %q, want %q", got, want)
		}
	}
	far := us(base.AddDate(100, 0, 0))
	left := 2 // b and x
	if n == 0 {
		left = 3 // a too, unless the store expired it by itself
	}
	n = purge(far, left)
	alive("a century later", far)
	if es, ok := list(t, s, storage.Filter{}); ok && n > 0 {
		if got, want := keysOf(es), sorted(c.Key, d.Key); !slices.Equal(got, want) {
			t.Errorf("after the second purge, List keys = %q, want %q", got, want)
		}
	}
}

// hashOf returns a session hash as the guard writes it.
func hashOf(session string) string {
	sum := sha256.Sum256([]byte(session))
	return hex.EncodeToString(sum[:])
}

// auditLog returns the store's AuditLog and LogReader, or skips.
func auditLog(t *testing.T, s storage.Store) (storage.AuditLog, storage.LogReader) {
	t.Helper()
	al, ok := storage.Find[storage.AuditLog](s)
	if !ok {
		t.Skip("the store does not implement storage.AuditLog")
	}
	lr, ok := storage.Find[storage.LogReader](s)
	if !ok {
		t.Skip("the store implements storage.AuditLog but not storage.LogReader, so the log cannot be checked")
	}
	return al, lr
}

func checkAccess(t *testing.T, what string, got []storage.AccessEntry, want ...storage.AccessEntry) {
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

func checkFailures(t *testing.T, what string, got []storage.FailureEntry, want ...storage.FailureEntry) {
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

// auditFixture writes three logins and the failures of three users: alice
// five times with a cap of 3, bob once, carol five times without a cap.
type auditFixture struct {
	logins       []storage.AccessEntry
	alice, carol []storage.FailureEntry
	bob          storage.FailureEntry
}

func newAuditFixture(t *testing.T, al storage.AuditLog) *auditFixture {
	t.Helper()
	ctx := t.Context()
	f := &auditFixture{logins: []storage.AccessEntry{
		{Time: base, Username: "alice", IP: "1.1.1.1", UserAgent: "UA/1 \"quoted\"", Path: "/login?next=/ü", SessionHash: hashOf("s1")},
		{Time: base.Add(time.Minute), Username: "alice", IP: "2001:db8::1", UserAgent: "UA/2", Path: "/admin/login", SessionHash: hashOf("s2")},
		{Time: base.Add(2 * time.Minute), Username: "bob", IP: "2.2.2.2", SessionHash: hashOf("s1")},
	}}
	for _, le := range f.logins {
		if err := al.LogLogin(ctx, le); err != nil {
			t.Fatalf("LogLogin: %v", err)
		}
	}
	f.bob = storage.FailureEntry{Time: base.Add(10 * time.Second), Username: "bob", IP: "2.2.2.2"}
	for i := range 5 {
		fe := storage.FailureEntry{Time: base.Add(time.Duration(i) * time.Minute), Username: "alice",
			IP: "1.1.1.1", UserAgent: "UA", Path: fmt.Sprintf("/login/%d", i), LockedOut: i >= 2}
		f.alice = append(f.alice, fe)
		if err := al.LogFailure(ctx, fe, 3); err != nil {
			t.Fatalf("LogFailure: %v", err)
		}
		if i == 0 {
			if err := al.LogFailure(ctx, f.bob, 3); err != nil {
				t.Fatalf("LogFailure: %v", err)
			}
		}
	}
	for i := range 5 {
		fe := storage.FailureEntry{Time: base.Add(time.Duration(5+i) * time.Minute), Username: "carol", IP: "3.3.3.3"}
		f.carol = append(f.carol, fe)
		if err := al.LogFailure(ctx, fe, 0); err != nil {
			t.Fatalf("LogFailure: %v", err)
		}
	}
	return f
}

// testAuditLog: entries come back newest first, whole; a logout closes the
// open entries of its user and session only; the failure log keeps at most
// the cap of entries per user, dropping the oldest.
func testAuditLog(t *testing.T, e *env) {
	al, lr := auditLog(t, e.s)
	ctx := t.Context()
	f := newAuditFixture(t, al)
	access := func(username string, limit int) []storage.AccessEntry {
		t.Helper()
		es, err := lr.AccessLog(ctx, username, limit)
		if err != nil {
			t.Fatalf("AccessLog(%q, %d): %v", username, limit, err)
		}
		return es
	}
	failures := func(username string, limit int) []storage.FailureEntry {
		t.Helper()
		es, err := lr.FailureLog(ctx, username, limit)
		if err != nil {
			t.Fatalf("FailureLog(%q, %d): %v", username, limit, err)
		}
		return es
	}
	ls := f.logins
	checkAccess(t, "AccessLog(alice)", access("alice", 0), ls[1], ls[0])
	checkAccess(t, "AccessLog(everyone)", access("", 0), ls[2], ls[1], ls[0])
	checkAccess(t, "AccessLog(alice, 1)", access("alice", 1), ls[1])

	logout := base.Add(5 * time.Minute)
	if n, err := al.LogLogout(ctx, "alice", hashOf("s1"), logout); err != nil || n != 1 {
		t.Errorf("LogLogout(alice, session 1) = %d, %v; want 1, nil", n, err)
	}
	closed := ls[0]
	closed.LogoutTime = logout
	checkAccess(t, "after the logout", access("", 0), ls[2], ls[1], closed)
	if n, err := al.LogLogout(ctx, "alice", hashOf("s1"), logout.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("a second LogLogout(alice, session 1) = %d, %v; want 0, nil", n, err)
	}
	if n, err := al.LogLogout(ctx, "carol", hashOf("s1"), logout); err != nil || n != 0 {
		t.Errorf("LogLogout(carol) = %d, %v; want 0, nil", n, err)
	}

	checkFailures(t, "FailureLog(alice), capped at 3", failures("alice", 0), f.alice[4], f.alice[3], f.alice[2])
	checkFailures(t, "FailureLog(alice, 2)", failures("alice", 2), f.alice[4], f.alice[3])
	checkFailures(t, "FailureLog(bob)", failures("bob", 0), f.bob)
	c := f.carol
	checkFailures(t, "FailureLog(carol), no cap", failures("carol", 0), c[4], c[3], c[2], c[1], c[0])
	if got := failures("", 0); len(got) != 9 {
		t.Errorf("FailureLog(everyone) has %d entries, want 9", len(got))
	}

	t.Run("Guard", func(t *testing.T) {
		// Through a guard on a store of its own: a login with a session,
		// and its logout.
		s := newEnv(t, e.factory).s
		al, lr := auditLog(t, s)
		clk := NewClock(base)
		g := newGuard(t, s, axes.Config{EnableAccessFailureLog: true}, clk, axes.WithAuditLog(al))
		id := ident("192.0.2.50", "alice")
		fail(t, g, id, 1)
		for _, session := range []string{"one", "two"} {
			tk := admit(t, g, id)
			if _, err := tk.SucceedSession(t.Context(), session); err != nil {
				t.Fatal(err)
			}
		}
		clk.Set(base.Add(time.Minute))
		if err := g.Logout(t.Context(), id, "one"); err != nil {
			t.Fatal(err)
		}
		es, err := lr.AccessLog(t.Context(), "alice", 0)
		if err != nil {
			t.Fatal(err)
		}
		open := 0
		for _, e := range es {
			switch e.SessionHash {
			case hashOf("one"):
				if !e.LogoutTime.Equal(clk.Now()) {
					t.Errorf("the entry of the session logged out has logout time %v, want %v", e.LogoutTime, clk.Now())
				}
			case hashOf("two"):
				open++
				if !e.LogoutTime.IsZero() {
					t.Errorf("the entry of the other session was closed at %v", e.LogoutTime)
				}
			default:
				t.Errorf("an access entry with an unknown session hash: %+v", e)
			}
		}
		if len(es) != 2 || open != 1 {
			t.Errorf("AccessLog(alice) = %+v, want the two logins", es)
		}
		fs, err := lr.FailureLog(t.Context(), "alice", 0)
		if err != nil || len(fs) != 1 || fs[0].IP != "192.0.2.50" || !fs[0].Time.Equal(base) {
			t.Errorf("FailureLog(alice) = %+v, %v; want her one failure at base from 192.0.2.50", fs, err)
		}
	})
}

// testLogPruner: pruning removes the entries strictly older than its time,
// and every entry for the zero time.
func testLogPruner(t *testing.T, e *env) {
	pr, ok := storage.Find[storage.LogPruner](e.s)
	if !ok {
		t.Skip("the store does not implement storage.LogPruner")
	}
	al, lr := auditLog(t, e.s)
	ctx := t.Context()
	f := newAuditFixture(t, al)
	prune := func(what string, fn func(time.Time) (int, error), before time.Time, want int) {
		t.Helper()
		if n, err := fn(before); err != nil || n != want {
			t.Errorf("%s(%v) = %d, %v; want %d, nil", what, before, n, err, want)
		}
	}
	pf := func(b time.Time) (int, error) { return pr.PruneFailureLog(ctx, b) }
	pa := func(b time.Time) (int, error) { return pr.PruneAccessLog(ctx, b) }
	failures := func(username string) []storage.FailureEntry {
		t.Helper()
		es, err := lr.FailureLog(ctx, username, 0)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	access := func() []storage.AccessEntry {
		t.Helper()
		es, err := lr.AccessLog(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	// Strictly before base+3m: alice's entry at 2m and bob's at 10s (the
	// cap dropped alice's entries at 0m and 1m).
	prune("PruneFailureLog", pf, base.Add(3*time.Minute), 2)
	checkFailures(t, "FailureLog(alice) after pruning", failures("alice"), f.alice[4], f.alice[3])
	checkFailures(t, "FailureLog(bob) after pruning", failures("bob"))
	prune("PruneFailureLog", pf, time.Time{}, 7)
	checkFailures(t, "FailureLog after pruning everything", failures(""))

	prune("PruneAccessLog", pa, base.Add(time.Minute), 1)
	checkAccess(t, "AccessLog after pruning", access(), f.logins[2], f.logins[1])
	prune("PruneAccessLog", pa, time.Time{}, 2)
	checkAccess(t, "AccessLog after pruning everything", access())
}

// testRuleStore: rules round-trip and are replaced by prefix and action;
// they lapse at their expiry; through guards, deny wins over allow,
// neither counts, and two guards on one store share the rules.
func testRuleStore(t *testing.T, e *env) {
	rs, ok := storage.Find[storage.RuleStore](e.s)
	if !ok {
		t.Skip("the store does not implement storage.RuleStore")
	}
	ctx := t.Context()
	net10 := netip.MustParsePrefix("10.0.0.0/8")
	one := netip.MustParsePrefix("10.1.2.3/32")
	v6 := netip.MustParsePrefix("2001:db8::/48")
	rules := []storage.Rule{
		{Prefix: net10, Action: storage.ActionAllow, Reason: "office", Created: base},
		{Prefix: one, Action: storage.ActionDeny, Reason: "abuse report #12 — ü", Created: base, Expires: base.Add(time.Hour)},
		{Prefix: v6, Action: storage.ActionDeny, Created: base},
		{Prefix: net10, Action: storage.ActionDeny, Reason: "same prefix, other action", Created: base, Expires: base.Add(time.Minute)},
	}
	for _, r := range rules {
		if err := rs.PutRule(ctx, r); err != nil {
			t.Fatalf("PutRule(%+v): %v", r, err)
		}
	}
	rules[0].Reason = "office (renamed)"
	if err := rs.PutRule(ctx, rules[0]); err != nil {
		t.Fatalf("PutRule (replacing): %v", err)
	}
	got, err := rs.Rules(ctx, base)
	if err != nil {
		t.Fatalf("Rules: %v", err)
	}
	if len(got) != len(rules) {
		t.Errorf("Rules = %d rules, want %d: %+v", len(got), len(rules), got)
	}
	for _, want := range rules {
		i := slices.IndexFunc(got, func(r storage.Rule) bool { return r.Prefix == want.Prefix && r.Action == want.Action })
		if i < 0 {
			t.Errorf("rule %v %v missing", want.Action, want.Prefix)
			continue
		}
		if g := got[i]; g.Reason != want.Reason || !g.Created.Equal(want.Created) || !g.Expires.Equal(want.Expires) {
			t.Errorf("rule round trip: got %+v, want %+v", g, want)
		}
	}
	count := func(when time.Time) int {
		t.Helper()
		in, err := rs.Rules(ctx, when)
		if err != nil {
			t.Fatal(err)
		}
		return len(in)
	}
	if n := count(base.Add(time.Minute - time.Microsecond)); n != 4 {
		t.Errorf("Rules 1µs before the first expiry = %d rules, want 4", n)
	}
	if n := count(base.Add(time.Minute)); n != 3 {
		t.Errorf("Rules at the first expiry = %d rules, want 3", n)
	}
	if n := count(base.Add(time.Hour)); n != 2 {
		t.Errorf("Rules at the second expiry = %d rules, want 2", n)
	}
	if found, err := rs.DeleteRule(ctx, net10, storage.ActionDeny); err != nil || !found {
		t.Errorf("DeleteRule(10/8 deny) = %v, %v; want true, nil", found, err)
	}
	if found, err := rs.DeleteRule(ctx, net10, storage.ActionDeny); err != nil || found {
		t.Errorf("DeleteRule(10/8 deny) twice = %v, %v; want false, nil", found, err)
	}

	// Two guards on the store, reading the rules on every attempt.
	clk := NewClock(base.Add(2 * time.Minute))
	g1 := newGuard(t, e.s, axes.Config{}, clk, axes.WithRuleRefresh(0))
	g2 := newGuard(t, e.s, axes.Config{}, clk, axes.WithRuleRefresh(0))
	try := func(g *axes.Guard, ip string, want axes.Verdict, n int) {
		t.Helper()
		for i := range n {
			r := fail(t, g, ident(ip, "alice"), 1)
			if r.Verdict != want {
				t.Fatalf("attempt %d from %s at %s: %v, want %v", i+1, ip, at(us(clk.Now())), r.Verdict, want)
			}
		}
	}
	try(g1, "10.1.2.3", axes.Denied, 2)    // the /32 deny wins over the /8 allow
	try(g2, "10.9.9.9", axes.Invalid, 5)   // allowed: never counted, never locked
	try(g1, "2001:db8::7", axes.Denied, 1) // an IPv6 deny
	clk.Set(base.Add(time.Hour))
	try(g2, "10.1.2.3", axes.Invalid, 3) // the deny lapsed; the allow stays
	if err := g1.AddRule(ctx, storage.Rule{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Action: storage.ActionDeny}); err != nil {
		t.Fatal(err)
	}
	try(g2, "192.0.2.60", axes.Denied, 1) // added through the other guard
	if found, err := g2.RemoveRule(ctx, net10, storage.ActionAllow); err != nil || !found {
		t.Fatalf("RemoveRule(10/8 allow) = %v, %v; want true, nil", found, err)
	}
	try(g1, "10.9.9.9", axes.Invalid, 2)
	try(g1, "10.9.9.9", axes.Locked, 1) // counted now that the allow is gone

	e.closed = true
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rs.PutRule(ctx, rules[0]); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("PutRule after Close = %v, want one matching storage.ErrClosed", err)
	}
}
