package axes

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time                       { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration)                  { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *clock) Set(start time.Time, d time.Duration) { c.mu.Lock(); c.t = start.Add(d); c.mu.Unlock() }

var (
	ip1 = netip.MustParseAddr("1.1.1.1")
	ip2 = netip.MustParseAddr("2.2.2.2")
)

func newGuard(t *testing.T, cfg Config, opts ...Option) (*Guard, *mapStore, *clock) {
	t.Helper()
	s, c := newMapStore(), newClock()
	g, err := New(s, cfg, append([]Option{WithClock(c.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return g, s, c
}

// try runs one attempt whose credentials are right when ok is true.
func try(t *testing.T, g *Guard, user string, ip netip.Addr, ok bool) Verdict {
	t.Helper()
	res, err := g.Authenticate(context.Background(), Identity{IP: ip, Username: user, UserAgent: "UA1", Method: "POST"},
		func(context.Context) (bool, error) { return ok, nil })
	if err != nil {
		t.Fatalf("Authenticate(%s, %s): %v", user, ip, err)
	}
	return res.Verdict
}

func verdicts(t *testing.T, g *Guard, user string, ip netip.Addr, ok bool, n int) string {
	t.Helper()
	var out []string
	for range n {
		out = append(out, try(t, g, user, ip, ok).String())
	}
	return strings.Join(out, ",")
}

func TestLimitThreeLocksOnThirdFailure(t *testing.T) {
	g, _, _ := newGuard(t, Config{})
	if got, want := verdicts(t, g, "alice", ip1, false, 4), "invalid,invalid,locked,locked"; got != want {
		t.Fatalf("verdicts = %s, want %s", got, want)
	}
	if got := try(t, g, "alice", ip1, true); got != Locked {
		t.Errorf("right password while locked = %s, want locked", got)
	}
	if got := try(t, g, "alice", ip2, true); got != Allowed {
		t.Errorf("other IP = %s, want allowed", got)
	}
}

func TestCheckNotRunWhileLocked(t *testing.T) {
	g, _, _ := newGuard(t, Config{})
	var checks int
	for range 10 {
		_, err := g.Authenticate(context.Background(), Identity{IP: ip1}, func(context.Context) (bool, error) {
			checks++
			return false, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checks != 3 {
		t.Errorf("credential checks = %d, want 3", checks)
	}
}

func TestConcurrentAdmissionsNeverExceedLimit(t *testing.T) {
	g, _, _ := newGuard(t, Config{})
	var checks, invalid, locked atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			res, err := g.Authenticate(context.Background(), Identity{IP: ip1, Username: "alice"}, func(context.Context) (bool, error) {
				checks.Add(1)
				time.Sleep(time.Millisecond)
				return false, nil
			})
			if err != nil {
				t.Errorf("Authenticate: %v", err)
			}
			switch res.Verdict {
			case Invalid:
				invalid.Add(1)
			case Locked:
				locked.Add(1)
			}
		})
	}
	wg.Wait()
	if checks.Load() != 3 || invalid.Load() != 2 || locked.Load() != 198 {
		t.Errorf("checks=%d invalid=%d locked=%d, want 3, 2, 198", checks.Load(), invalid.Load(), locked.Load())
	}
}

func TestCoolOffBoundaryAndExtension(t *testing.T) {
	g, _, c := newGuard(t, Config{CoolOff: 10 * time.Minute})
	start := c.Now()
	verdicts(t, g, "alice", ip1, false, 3)
	c.Set(start, 10*time.Minute-time.Nanosecond)
	res, _ := g.Status(context.Background(), Identity{IP: ip1})
	if res.Verdict != Locked {
		t.Fatalf("status just before the cool-off ends = %s, want locked", res.Verdict)
	}
	if got := res.RetryAfter(c.Now()); got != time.Second {
		t.Errorf("RetryAfter = %s, want 1s (rounded up)", got)
	}
	c.Set(start, 10*time.Minute)
	if got := try(t, g, "alice", ip1, true); got != Allowed {
		t.Errorf("login exactly at the end of the cool-off = %s, want allowed", got)
	}

	// S09: an attempt during the lockout restarts the cool-off.
	g, _, c = newGuard(t, Config{CoolOff: 10 * time.Minute})
	start = c.Now()
	verdicts(t, g, "alice", ip1, false, 3)
	c.Set(start, 5*time.Minute)
	if got := try(t, g, "alice", ip1, false); got != Locked {
		t.Fatalf("attempt during lockout = %s", got)
	}
	c.Set(start, 10*time.Minute+time.Second)
	if got := try(t, g, "alice", ip1, true); got != Locked {
		t.Errorf("at 10m01s after an attempt at 5m = %s, want locked", got)
	}
}

func TestFixedCoolOffDoesNotExtend(t *testing.T) {
	g, s, c := newGuard(t, Config{CoolOff: 10 * time.Minute, FixedCoolOff: true})
	start := c.Now()
	verdicts(t, g, "alice", ip1, false, 3)
	c.Set(start, 5*time.Minute)
	if got := try(t, g, "alice", ip1, false); got != Locked {
		t.Fatalf("attempt during lockout = %s", got)
	}
	bs, _ := g.Buckets(Identity{IP: ip1})
	if r := s.get(bs[0].Key); r.Failures != 3 {
		t.Errorf("failures = %d, want 3 (refused attempt not counted)", r.Failures)
	}
	c.Set(start, 10*time.Minute+time.Second)
	if got := try(t, g, "alice", ip1, true); got != Allowed {
		t.Errorf("after the fixed cool-off = %s, want allowed", got)
	}
}

func TestPermanentLock(t *testing.T) {
	g, _, c := newGuard(t, Config{})
	verdicts(t, g, "alice", ip1, false, 3)
	c.Add(30 * 24 * time.Hour)
	if got := try(t, g, "alice", ip1, true); got != Locked {
		t.Errorf("30 days later = %s, want locked", got)
	}
}

func TestWindowIsInactivityPerBucket(t *testing.T) {
	// S11/S12: the count of a bucket lives until cool-off after its last failure.
	g, _, c := newGuard(t, Config{CoolOff: 10 * time.Minute})
	start := c.Now()
	try(t, g, "alice", ip1, false)
	c.Set(start, 6*time.Minute)
	try(t, g, "bob", ip1, false)
	c.Set(start, 11*time.Minute)
	if got := try(t, g, "carol", ip1, false); got != Locked {
		t.Errorf("third failure 5m after the second = %s, want locked", got)
	}
	c.Set(start, 30*time.Minute)
	if got := try(t, g, "carol", ip1, false); got != Invalid {
		t.Errorf("after the window = %s, want invalid (count forgotten)", got)
	}
}

func TestResetOnSuccessOnlyTakesOwnFailures(t *testing.T) {
	// S25: the user's own failures go; S26 (differs from axes): another
	// user's success does not wipe the IP's counter.
	g, _, _ := newGuard(t, Config{ResetOnSuccess: true})
	verdicts(t, g, "alice", ip1, false, 2)
	try(t, g, "alice", ip1, true)
	if got, want := verdicts(t, g, "alice", ip1, false, 3), "invalid,invalid,locked"; got != want {
		t.Errorf("after alice's reset = %s, want %s", got, want)
	}

	g, _, _ = newGuard(t, Config{ResetOnSuccess: true})
	verdicts(t, g, "mallory", ip1, false, 2)
	if got := try(t, g, "bob", ip1, true); got != Allowed {
		t.Fatalf("bob = %s", got)
	}
	if got := try(t, g, "mallory", ip1, false); got != Locked {
		t.Errorf("mallory's third failure after bob's login = %s, want locked", got)
	}
}

func TestSuccessGivesBackReservation(t *testing.T) {
	// S24: without reset, a success neither counts nor clears.
	g, _, _ := newGuard(t, Config{})
	verdicts(t, g, "alice", ip1, false, 2)
	if got := try(t, g, "alice", ip1, true); got != Allowed {
		t.Fatalf("success = %s", got)
	}
	if got := try(t, g, "alice", ip1, false); got != Locked {
		t.Errorf("third failure = %s, want locked", got)
	}
}

func TestTiersEscalate(t *testing.T) {
	g, _, c := newGuard(t, Config{Tiers: []Tier{{6, 15 * time.Minute}, {3, time.Minute}}})
	start := c.Now()
	verdicts(t, g, "x", ip1, false, 3) // locked for 1m
	for i := 4; i <= 6; i++ {
		c.Add(time.Minute)
		if got := try(t, g, "x", ip1, false); got != Locked {
			t.Fatalf("failure %d = %s, want locked", i, got)
		}
	}
	// Six failures: 15 minutes from the last one.
	last := c.Now()
	c.Set(last, 14*time.Minute)
	if res, _ := g.Status(context.Background(), Identity{IP: ip1}); res.Verdict != Locked || res.CoolOff != 15*time.Minute {
		t.Errorf("14m after the sixth failure: %s with cool-off %s, want locked for 15m", res.Verdict, res.CoolOff)
	}
	c.Set(last, 15*time.Minute)
	if got := try(t, g, "x", ip1, true); got != Allowed {
		t.Errorf("after the 15m tier = %s, want allowed", got)
	}
	_ = start
}

func TestLockoutParameterGroups(t *testing.T) {
	cfg := Config{LockoutParameters: []Group{{ParamUsername, ParamIPAddress}}}
	g, _, _ := newGuard(t, cfg)
	verdicts(t, g, "alice", ip1, false, 3)
	for _, p := range []struct {
		user string
		ip   netip.Addr
		want Verdict
	}{{"alice", ip1, Locked}, {"alice", ip2, Allowed}, {"bob", ip1, Allowed}} {
		if got := try(t, g, p.user, p.ip, true); got != p.want {
			t.Errorf("%s@%s = %s, want %s", p.user, p.ip, got, p.want)
		}
	}
}

func TestUsernameThatLooksLikeAnIPHasItsOwnBucket(t *testing.T) {
	// S41 (differs from the axes cache handler): no key collision.
	g, _, _ := newGuard(t, Config{LockoutParameters: []Group{{ParamUsername}, {ParamIPAddress}}})
	verdicts(t, g, "1.1.1.1", netip.MustParseAddr("9.9.9.9"), false, 3)
	if got := try(t, g, "alice", ip1, true); got != Allowed {
		t.Errorf("alice from 1.1.1.1 = %s, want allowed", got)
	}
}

func TestEmptyUsernameSkipsUsernameGroups(t *testing.T) {
	g, _, _ := newGuard(t, Config{LockoutParameters: []Group{{ParamUsername}}})
	if got := verdicts(t, g, "", ip1, false, 5); strings.Contains(got, "locked") {
		t.Errorf("empty usernames = %s, want never locked", got)
	}
	if got := try(t, g, "bob", ip2, true); got != Allowed {
		t.Errorf("bob = %s", got)
	}
}

func TestUsernamesAreNormalized(t *testing.T) {
	g, _, _ := newGuard(t, Config{LockoutParameters: []Group{{ParamUsername}}})
	try(t, g, "Alice", ip1, false)
	try(t, g, " ALICE ", ip2, false)
	if got := try(t, g, "alice", ip1, false); got != Locked {
		t.Errorf("third failure over case variants = %s, want locked", got)
	}
}

func TestDenyAndAllowLists(t *testing.T) {
	g, s, _ := newGuard(t, Config{IPDenylist: []netip.Prefix{netip.MustParsePrefix("1.1.0.0/16")}})
	if got := try(t, g, "alice", ip1, true); got != Denied {
		t.Errorf("denied IP = %s", got)
	}
	if len(s.states) != 0 {
		t.Errorf("deny list counted %d records", len(s.states))
	}
	g, s, _ = newGuard(t, Config{IPAllowlist: []netip.Prefix{netip.MustParsePrefix("1.1.1.1/32")}, NeverLockoutAllowlist: true})
	if got := verdicts(t, g, "alice", ip1, false, 10); strings.Contains(got, "locked") {
		t.Errorf("allow-listed = %s", got)
	}
	if len(s.states) != 0 {
		t.Errorf("allow list counted %d records", len(s.states))
	}
	g, _, _ = newGuard(t, Config{IPAllowlist: []netip.Prefix{netip.MustParsePrefix("1.1.1.1/32")}, OnlyAllowlist: true})
	if got := try(t, g, "alice", ip2, true); got != Denied {
		t.Errorf("not on the only-allow list = %s, want denied", got)
	}
	if got := try(t, g, "alice", ip1, true); got != Allowed {
		t.Errorf("on the only-allow list = %s, want allowed", got)
	}
}

func TestHooksAndRecordOnly(t *testing.T) {
	var locked, failed, in int
	h := Hooks{
		LockedOut:   func(context.Context, Event) { locked++ },
		LoginFailed: func(context.Context, Event) { failed++ },
		LoggedIn:    func(context.Context, Event) { in++ },
	}
	g, _, _ := newGuard(t, Config{}, WithHooks(h))
	verdicts(t, g, "alice", ip1, false, 3)
	try(t, g, "alice", ip1, true) // S03: counted while locked
	if locked != 2 || failed != 4 || in != 0 {
		t.Errorf("locked=%d failed=%d in=%d, want 2, 4, 0", locked, failed, in)
	}
	locked, failed = 0, 0
	g, _, _ = newGuard(t, Config{RecordOnly: true}, WithHooks(h))
	if got := verdicts(t, g, "alice", ip1, false, 5); strings.Contains(got, "locked") {
		t.Errorf("record only = %s", got)
	}
	if try(t, g, "alice", ip1, true) != Allowed || locked != 0 || failed != 5 {
		t.Errorf("record only: locked=%d failed=%d", locked, failed)
	}
}

func TestDisabledIsANoOp(t *testing.T) {
	g, s, _ := newGuard(t, Config{Disabled: true, IPDenylist: []netip.Prefix{netip.MustParsePrefix("1.1.1.1/32")}})
	if got := verdicts(t, g, "alice", ip1, false, 5); strings.Contains(got, "locked") || strings.Contains(got, "denied") {
		t.Errorf("disabled = %s", got)
	}
	if len(s.states) != 0 {
		t.Errorf("disabled guard wrote %d records", len(s.states))
	}
}

func TestTicketSettlesOnce(t *testing.T) {
	g, _, _ := newGuard(t, Config{})
	tk, err := g.Admit(context.Background(), Identity{IP: ip1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Fail(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Succeed(context.Background()); !errors.Is(err, ErrSettled) {
		t.Errorf("second settle error = %v, want ErrSettled", err)
	}
}

func TestCheckErrorGivesReservationBack(t *testing.T) {
	g, s, _ := newGuard(t, Config{})
	boom := errors.New("user database down")
	for range 5 {
		_, err := g.Authenticate(context.Background(), Identity{IP: ip1}, func(context.Context) (bool, error) { return false, boom })
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the check's error", err)
		}
	}
	if len(s.states) != 0 {
		t.Errorf("records after check errors = %d, want 0", len(s.states))
	}
}

func TestUnsettledTicketKeepsItsFailure(t *testing.T) {
	g, s, c := newGuard(t, Config{})
	func() {
		defer func() { _ = recover() }()
		_, _ = g.Authenticate(context.Background(), Identity{IP: ip1}, func(context.Context) (bool, error) { panic("handler bug") })
	}()
	bs, _ := g.Buckets(Identity{IP: ip1})
	if r := s.get(bs[0].Key); r.Reserved != 1 || r.Failures != 0 {
		t.Errorf("after a panic in the check: reserved %d, failures %d; want 1, 0 (the place is held)", r.Reserved, r.Failures)
	}
	c.Add(DefaultReservationLease)
	if res, err := g.Status(context.Background(), Identity{IP: ip1}); err != nil || res.Failures != 0 {
		t.Errorf("one lease later: failures %d, %v; want 0 (a ticket lapses after more than one lease)", res.Failures, err)
	}
	c.Add(DefaultReservationLease)
	res, err := g.Status(context.Background(), Identity{IP: ip1})
	if err != nil || res.Failures != 1 {
		t.Errorf("two leases later: failures %d, %v; want 1 (the lapsed ticket is a failure)", res.Failures, err)
	}
}

func TestNoIPIsAnError(t *testing.T) {
	g, _, _ := newGuard(t, Config{})
	if _, err := g.Admit(context.Background(), Identity{Username: "alice"}); !errors.Is(err, ErrNoIP) {
		t.Errorf("err = %v, want ErrNoIP", err)
	}
}

func TestIPv6ClientsGroupedByPrefix(t *testing.T) {
	g, _, _ := newGuard(t, Config{})
	verdicts(t, g, "alice", netip.MustParseAddr("2001:db8::1"), false, 3)
	if got := try(t, g, "alice", netip.MustParseAddr("2001:db8::2"), true); got != Locked {
		t.Errorf("same /64 = %s, want locked (S40 differs from axes)", got)
	}
	if got := try(t, g, "alice", netip.MustParseAddr("2001:db8:0:1::2"), true); got != Allowed {
		t.Errorf("other /64 = %s, want allowed", got)
	}
	if got := try(t, g, "alice", netip.MustParseAddr("::ffff:1.1.1.1"), false); got != Invalid {
		t.Errorf("mapped v4 = %s", got)
	}
	if got := try(t, g, "alice", ip1, false); got != Invalid {
		t.Errorf("v4 after mapped = %s, want invalid (shares the mapped address' bucket: 2nd failure)", got)
	}
	if got := try(t, g, "alice", ip1, false); got != Locked {
		t.Errorf("third failure on 1.1.1.1 counting the mapped one = %s, want locked", got)
	}
}

func TestFailureLimitFunc(t *testing.T) {
	// S37.
	g, _, _ := newGuard(t, Config{FailureLimitFunc: func(id Identity) int {
		if id.Username == "root" {
			return 1
		}
		return 3
	}})
	if got := try(t, g, "root", ip1, false); got != Locked {
		t.Errorf("root's first failure = %s, want locked", got)
	}
	if got := verdicts(t, g, "alice", ip2, false, 3); got != "invalid,invalid,locked" {
		t.Errorf("alice = %s", got)
	}
}

func TestExplain(t *testing.T) {
	g, _, c := newGuard(t, Config{CoolOff: time.Hour, LockoutParameters: []Group{{ParamUsername}, {ParamIPAddress}},
		IPDenylist: []netip.Prefix{netip.MustParsePrefix("9.9.9.0/24")}})
	verdicts(t, g, "alice", ip1, false, 3)
	ex, err := g.Explain(context.Background(), Identity{IP: ip2, Username: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Verdict != Locked || len(ex.Buckets) != 2 || !strings.Contains(ex.Reason, "locked by the username bucket") {
		t.Fatalf("Explain = %+v", ex)
	}
	u := ex.Buckets[0]
	if u.Bucket.Username != "alice" || u.Failures != 3 || !u.Locked || !u.LockedUntil.Equal(c.Now().Add(time.Hour)) {
		t.Errorf("username bucket = %+v", u)
	}
	if ip := ex.Buckets[1]; ip.Failures != 0 || ip.Locked {
		t.Errorf("IP bucket of 2.2.2.2 = %+v, want empty", ip)
	}
	ex, _ = g.Explain(context.Background(), Identity{IP: netip.MustParseAddr("9.9.9.9")})
	if ex.Verdict != Denied || !strings.Contains(ex.Reason, "deny list") {
		t.Errorf("denied Explain = %+v", ex)
	}
	// Explaining counts nothing.
	ex, _ = g.Explain(context.Background(), Identity{IP: ip2, Username: "bob"})
	if ex.Verdict != Allowed || ex.Buckets[0].Failures != 0 {
		t.Errorf("bob Explain = %+v", ex)
	}
}
