package axestest

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// testRuleStore checks axes.RuleStore directly and through a guard: deny
// refuses at once without counting, allow never counts, deny wins, expired
// rules lapse.
func testRuleStore(t *testing.T, e *env) {
	rs, ok := e.s.(axes.RuleStore)
	if !ok {
		t.Skip("the store does not implement axes.RuleStore")
	}
	ctx := t.Context()
	net10 := netip.MustParsePrefix("10.0.0.0/8")
	one := netip.MustParsePrefix("10.1.2.3/32")
	v6 := netip.MustParsePrefix("2001:db8::/48")
	rules := []axes.Rule{
		{Prefix: net10, Action: axes.ActionAllow, Reason: "office", Created: base},
		{Prefix: one, Action: axes.ActionDeny, Reason: "abuse report #12", Created: base, Expires: base.Add(time.Hour)},
		{Prefix: v6, Action: axes.ActionDeny, Created: base},
	}
	for _, r := range rules {
		if err := rs.PutRule(ctx, r); err != nil {
			t.Fatalf("PutRule(%v): %v", r, err)
		}
	}
	// Replacing keeps one rule per prefix and action.
	rules[0].Reason = "office (renamed)"
	if err := rs.PutRule(ctx, rules[0]); err != nil {
		t.Fatalf("PutRule replace: %v", err)
	}
	got, err := rs.Rules(ctx, base)
	if err != nil {
		t.Fatalf("Rules: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("Rules = %d rules, want 3: %+v", len(got), got)
	}
	for _, want := range rules {
		i := slices.IndexFunc(got, func(r axes.Rule) bool { return r.Prefix == want.Prefix && r.Action == want.Action })
		if i < 0 {
			t.Errorf("rule %v %v missing", want.Action, want.Prefix)
			continue
		}
		g := got[i]
		if g.Reason != want.Reason || !g.Created.Equal(want.Created) || !g.Expires.Equal(want.Expires) {
			t.Errorf("rule round trip: got %+v, want %+v", g, want)
		}
	}
	if got, _ := rs.Rules(ctx, base.Add(time.Hour)); len(got) != 2 {
		t.Errorf("Rules an hour later = %d, want 2 (the expiring deny lapsed exactly at Expires)", len(got))
	}

	// Through a guard: deny wins over allow, and neither counts.
	now := base
	g, err := axes.New(e.s, axes.Config{}, axes.WithClock(func() time.Time { return now }), axes.WithRuleRefresh(0))
	if err != nil {
		t.Fatal(err)
	}
	check := func(ip string, want axes.Verdict, n int) {
		t.Helper()
		for i := range n {
			res, err := g.Authenticate(ctx, axes.Identity{IP: netip.MustParseAddr(ip), Username: "alice"}, wrongPassword)
			if err != nil {
				t.Fatalf("Authenticate(%s): %v", ip, err)
			}
			if res.Verdict != want {
				t.Fatalf("attempt %d from %s = %v, want %v", i+1, ip, res.Verdict, want)
			}
		}
	}
	check("10.1.2.3", axes.Denied, 2)    // deny (/32) wins over allow (/8)
	check("10.9.9.9", axes.Invalid, 5)   // allowed: never locked
	check("2001:db8::7", axes.Denied, 1) // v6 deny
	now = base.Add(time.Hour)
	check("10.1.2.3", axes.Invalid, 5) // the deny lapsed; the allow remains
	if found, err := g.RemoveRule(ctx, net10, axes.ActionAllow); err != nil || !found {
		t.Fatalf("RemoveRule = %v, %v; want true, nil", found, err)
	}
	if found, err := g.RemoveRule(ctx, net10, axes.ActionAllow); err != nil || found {
		t.Errorf("RemoveRule twice = %v, %v; want false, nil", found, err)
	}
	check("10.9.9.9", axes.Invalid, 2)
	check("10.9.9.9", axes.Locked, 1) // counted now that the allow is gone
	if err := g.AddRule(ctx, axes.Rule{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Action: "maybe"}); err == nil {
		t.Errorf("AddRule with an unknown action succeeded")
	}
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	e.closed = true
	if err := rs.PutRule(ctx, rules[0]); !errors.Is(err, axes.ErrClosed) {
		t.Errorf("PutRule after Close = %v, want ErrClosed", err)
	}
}

// wrongPassword is a credential check that always fails.
func wrongPassword(context.Context) (bool, error) { return false, nil }
