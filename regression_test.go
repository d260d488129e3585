package axes

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// R1 (found in review, fixed): with ResetOnSuccess, a success without a username never gives its
// reservation back (OpResetUser only clears username buckets and
// attribution shares, and there is no attribution without a username).
func TestRegressionResetOnSuccessWithoutUsernameCountsSuccesses(t *testing.T) {
	g, _, _ := newGuard(t, Config{ResetOnSuccess: true})
	for i := range 3 {
		if v := try(t, g, "", ip1, true); v != Allowed {
			t.Fatalf("success %d: %s", i+1, v)
		}
	}
	st, err := g.Status(context.Background(), Identity{IP: ip1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Verdict != Allowed || st.Failures != 0 {
		t.Fatalf("after 3 successful logins: %s with %d failures; want allowed, 0", st.Verdict, st.Failures)
	}
}

// R2 (found in review, fixed): OpRelease keeps the reservation's LastFailure, so a success moves
// the window of the old failures forward: they are never forgotten while
// the user keeps logging in.
func TestRegressionSuccessExtendsFailureWindow(t *testing.T) {
	g, _, c := newGuard(t, Config{CoolOff: 10 * time.Minute}) // window = 10m
	start := c.Now()
	try(t, g, "alice", ip1, false)
	try(t, g, "alice", ip1, false)
	c.Set(start, 9*time.Minute)
	try(t, g, "alice", ip1, true)
	c.Set(start, 18*time.Minute)
	try(t, g, "alice", ip1, true)
	c.Set(start, 19*time.Minute) // 19 minutes after the last failure
	if v := try(t, g, "alice", ip1, false); v != Invalid {
		t.Fatalf("one failure 19m after the last two (window 10m): %s, want invalid", v)
	}
}

// R3 (found in review, fixed): an attempt refused during the provisional lock of an in-flight
// reservation is counted as a failure; when the reservation then succeeds
// the bucket stays locked (here: until reset) although only limit-1
// failures ever happened. A double-click on "log in" locks the user out.
func TestRegressionRefusalDuringReservationLocksAfterSuccess(t *testing.T) {
	g, _, _ := newGuard(t, Config{MaxWait: -1}) // refuse the double click at once
	ctx := context.Background()
	try(t, g, "alice", ip1, false)
	try(t, g, "alice", ip1, false)
	id := Identity{IP: ip1, Username: "alice"}
	tk, err := g.Admit(ctx, id) // the right password, being checked
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Admit(ctx, id); err == nil { // the double click: refused, counted
		t.Fatal("second concurrent admission admitted")
	}
	if _, err := tk.Succeed(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := g.Status(ctx, id)
	if st.Verdict != Allowed {
		t.Fatalf("after 2 failures and a successful login: %s (%d failures, permanent=%v); want allowed", st.Verdict, st.Failures, st.Permanent())
	}
}

// R4 (found in review, fixed): deny-list entries given as IPv4-mapped prefixes through the Go API
// never match: the client address is unmapped, the prefix is not, and
// Validate accepts it.
func TestRegressionMappedDenyPrefixNeverMatches(t *testing.T) {
	g, _, _ := newGuard(t, Config{IPDenylist: []netip.Prefix{netip.MustParsePrefix("::ffff:1.1.1.1/128")}})
	if v := try(t, g, "alice", netip.MustParseAddr("::ffff:1.1.1.1"), true); v != Denied {
		t.Fatalf("client ::ffff:1.1.1.1 with deny ::ffff:1.1.1.1/128: %s, want denied", v)
	}
}

// R5 (found in review, fixed): a zoned IPv6 peer (fe80::1%eth0, as net/http reports it) never
// matches a prefix (netip.Prefix.Contains is false for zoned addresses),
// so the deny list does not apply to it.
func TestRegressionZonedPeerEscapesDenyList(t *testing.T) {
	g, _, _ := newGuard(t, Config{IPDenylist: []netip.Prefix{netip.MustParsePrefix("fe80::/10")}})
	if v := try(t, g, "alice", netip.MustParseAddr("fe80::1%eth0"), true); v != Denied {
		t.Fatalf("fe80::1%%eth0 with deny fe80::/10: %s, want denied", v)
	}
}

// R6 (found in review, fixed): the shared IP bucket's expiry is recomputed with the policy of
// whoever touches it last, so a refused attempt under a username with a
// short cool-off makes the store forget a 24h lock after 5m.
func TestRegressionLenientIdentityShortensSharedLock(t *testing.T) {
	g, _, c := newGuard(t, Config{CoolOffFunc: func(id Identity) time.Duration {
		if id.Username == "admin" {
			return 24 * time.Hour
		}
		return 5 * time.Minute
	}})
	start := c.Now()
	if got := verdicts(t, g, "admin", ip1, false, 3); got != "invalid,invalid,locked" {
		t.Fatal(got)
	}
	c.Set(start, time.Minute)
	try(t, g, "nobody", ip1, false) // refused, counted under the 5m policy
	c.Set(start, 7*time.Minute)
	if v := try(t, g, "admin", ip1, false); v != Locked {
		t.Fatalf("admin 7m into a 24h lock: %s, want locked", v)
	}
}
