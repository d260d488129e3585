package memstore

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
)

// R7 (found in review, fixed): Delete(Username) takes an *expired* attribution share off a live,
// restarted parent: resetting alice erases bob's later failures on the
// shared IP bucket.
func TestRegressionResetUserUsesStaleShare(t *testing.T) {
	reviewStaleShare(t, New())
}

func reviewStaleShare(t *testing.T, s axes.Store) {
	ctx := context.Background()
	clk := axestest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	g, err := axes.New(s, axes.Config{FailureLimit: 5, CoolOff: 10 * time.Minute}, axes.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	fail := func(user string, n int) {
		for range n {
			if _, err := g.Authenticate(ctx, axes.Identity{IP: ip, Username: user}, func(context.Context) (bool, error) { return false, nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	fail("alice", 3)
	clk.Advance(11 * time.Minute) // alice's failures (and her share) expire
	fail("bob", 3)
	if _, err := g.Reset(ctx, axes.Filter{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	st, err := g.Status(ctx, axes.Identity{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	if st.Failures != 3 {
		t.Fatalf("IP bucket after resetting alice = %d failures, want bob's 3", st.Failures)
	}
}
