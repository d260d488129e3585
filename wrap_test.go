package axes

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goaxes/axes/memstore"
	"github.com/goaxes/axes/storage"
)

// countingStore is a decorator such as a metrics wrapper: it forwards Do
// and Close only, and says what it wraps.
type countingStore struct {
	storage.Store
	calls int
}

func (c *countingStore) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	c.calls++
	return c.Store.Do(ctx, ops)
}

func (c *countingStore) Unwrap() storage.Store { return c.Store }

// A decorator that forwards only Do must not switch off the operators'
// deny rules, the audit log or resets of the store underneath.
func TestWrappedStoreKeepsCapabilities(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	s := &countingStore{Store: inner}
	c := newClock()
	g, err := New(s, Config{EnableAccessFailureLog: true}, WithClock(c.Now), WithRuleRefresh(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddRule(ctx, storage.Rule{Prefix: netip.MustParsePrefix("1.1.1.0/24"), Action: storage.ActionDeny}); err != nil {
		t.Fatalf("AddRule through a wrapper: %v", err)
	}
	if v := try(t, g, "alice", ip1, true); v != Denied {
		t.Errorf("deny rule behind a wrapper: %s, want denied", v)
	}
	if v := try(t, g, "alice", ip2, false); v != Invalid {
		t.Fatalf("another address: %s, want invalid", v)
	}
	if s.calls == 0 {
		t.Error("the wrapper saw no step: the guard went around it")
	}
	fails, err := inner.FailureLog(ctx, "", 0)
	if err != nil || len(fails) != 1 {
		t.Errorf("failure log behind a wrapper: %d entries, %v; want 1", len(fails), err)
	}
	if n, err := g.Reset(ctx, Filter{Username: "alice"}); err != nil || n != 1 {
		t.Errorf("Reset behind a wrapper = %d, %v; want 1, nil", n, err)
	}
}

// A guard keeps its own copy of the configuration's slices.
func TestConfigSlicesAreCopied(t *testing.T) {
	groups := []Group{{ParamIPAddress}}
	deny := []netip.Prefix{netip.MustParsePrefix("9.9.9.9/32")}
	g, _, _ := newGuard(t, Config{LockoutParameters: groups, IPDenylist: deny})
	groups[0][0] = ParamUsername
	deny[0] = netip.MustParsePrefix("1.1.1.1/32")
	if got := verdicts(t, g, "", ip1, false, 3); got != "invalid,invalid,locked" {
		t.Errorf("after the caller changed its slices: %s; want invalid,invalid,locked (the guard's own deny list and groups)", got)
	}
	cfg := g.Config()
	cfg.LockoutParameters[0][0] = ParamUserAgent
	if got := g.Config().LockoutParameters; !slices.Equal(got[0], Group{ParamIPAddress}) {
		t.Errorf("Config() shares its slices: %v", got)
	}
}

// opaqueStore wraps a store without saying so: the capabilities underneath
// are out of reach, and Guard.Check says so loudly.
type opaqueStore struct{ storage.Store }

func TestWrapperWithoutUnwrapIsReported(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		store storage.Store
		want  []string
	}{
		{"unwraps", &countingStore{Store: memstore.New()}, nil},
		{"hides", opaqueStore{memstore.New()}, []string{"axes.W106", "axes.W107"}},
	} {
		g, err := New(tc.store, Config{SilencedChecks: []string{"axes.W001", "axes.W002", "axes.W003"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := codes(g.Check(ctx)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Check() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A lock this guard remembers but another process has reset: the bucket
// is asked first, admits, and the attempt goes on to its other buckets;
// every place is given back when it settles.
func TestRememberedLockResetElsewhere(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	c := newClock()
	cfg := Config{LockoutParameters: twoGroups, FailureLimit: 3, CoolOff: time.Hour}
	a, _ := New(s, cfg, WithClock(c.Now))
	b, _ := New(s, cfg, WithClock(c.Now))
	verdicts(t, a, "mallory", ip1, false, 3) // a remembers ip1 as locked
	if n, err := b.Reset(ctx, Filter{IP: ip1.String()}); err != nil || n != 1 {
		t.Fatalf("reset on the other guard = %d, %v", n, err)
	}
	if v := try(t, a, "victim", ip1, true); v != Allowed {
		t.Fatalf("after a reset elsewhere: %s, want allowed", v)
	}
	bs, err := a.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range bs {
		if st.InFlight != 0 {
			t.Errorf("bucket %s holds %d places after the attempt settled", st.Bucket.Key, st.InFlight)
		}
	}
}
