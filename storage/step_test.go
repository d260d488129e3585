package storage_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goaxes/axes/storage"
)

func TestKindText(t *testing.T) {
	names := map[storage.Kind]string{
		storage.Peek: "peek", storage.Admit: "admit", storage.Fail: "fail",
		storage.Release: "release", storage.Clear: "clear", storage.Take: "take",
	}
	for k, name := range names {
		if got := k.String(); got != name {
			t.Errorf("%d.String() = %q, want %q", k, got, name)
		}
		p, err := storage.ParseKind(name)
		if err != nil || p != k {
			t.Errorf("ParseKind(%q) = %v, %v", name, p, err)
		}
		b, err := json.Marshal(k)
		if err != nil || string(b) != `"`+name+`"` {
			t.Errorf("json.Marshal(%v) = %s, %v", k, b, err)
		}
		var u storage.Kind
		if err := json.Unmarshal(b, &u); err != nil || u != k {
			t.Errorf("json.Unmarshal(%s) = %v, %v", b, u, err)
		}
	}
	if got := storage.Kind(0).String(); got != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", got)
	}
	if got := storage.Kind(7).String(); got != "Kind(7)" {
		t.Errorf("Kind(7).String() = %q", got)
	}
	for _, bad := range []string{"", "Peek", "reset", "Kind(1)"} {
		if k, err := storage.ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) = %v, want an error", bad, k)
		}
	}
	for _, k := range []storage.Kind{0, storage.Take + 1} {
		if b, err := k.MarshalText(); err == nil {
			t.Errorf("Kind(%d).MarshalText() = %s, want an error", k, b)
		}
	}
	var k storage.Kind
	if err := json.Unmarshal([]byte(`"lapse"`), &k); err == nil {
		t.Error(`json.Unmarshal("lapse") succeeded`)
	}
}

func TestPolicyValidate(t *testing.T) {
	tier := func(n int, c int64) storage.Tier { return storage.Tier{Failures: n, CoolOff: c} }
	cases := []struct {
		name string
		p    storage.Policy
		bad  string // part of the error; "" if valid
	}{
		{"usual", pol(), ""},
		{"tiers", pol(tiers(3, mins, 5, hr, 8, 0)), ""},
		{"limit-one", pol(tiers(1, mins)), ""},
		{"window-and-lease-zero", pol(window(0), leaseOf(0)), ""},
		{"limit-zero", storage.Policy{Limit: 0, Tiers: []storage.Tier{tier(0, mins)}}, "limit 0 is below 1"},
		{"no-tier", storage.Policy{Limit: 3}, "no tier"},
		{"first-tier-off-limit", storage.Policy{Limit: 3, Tiers: []storage.Tier{tier(4, mins)}}, "first tier is at 4"},
		{"first-tier-below-limit", storage.Policy{Limit: 3, Tiers: []storage.Tier{tier(2, mins)}}, "first tier is at 2"},
		{"negative-cooloff", storage.Policy{Limit: 3, Tiers: []storage.Tier{tier(3, -1)}}, "tier 0 has a negative cool-off"},
		{"tiers-out-of-order", storage.Policy{Limit: 3, Tiers: []storage.Tier{tier(3, mins), tier(3, hr)}}, "tier 1 is not after tier 0"},
		{"tiers-decreasing", storage.Policy{Limit: 3, Tiers: []storage.Tier{tier(3, mins), tier(5, hr), tier(4, hr)}}, "tier 2 is not after tier 1"},
		{"negative-window", pol(window(-1)), "negative window or lease"},
		{"negative-lease", pol(leaseOf(-1)), "negative window or lease"},
	}
	for _, c := range cases {
		err := c.p.Validate()
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.bad)
		case err != nil && !strings.HasPrefix(err.Error(), "storage: invalid policy: "):
			t.Errorf("%s: error %q without its prefix", c.name, err)
		}
	}
}

func TestPolicyCoolOff(t *testing.T) {
	p := pol(tiers(3, mins, 5, 10*mins, 8, 0))
	for n, want := range map[int]int64{2: 0, 3: mins, 4: mins, 5: 10 * mins, 7: 10 * mins, 8: 0, 100: 0} {
		if got := p.CoolOff(n); got != want {
			t.Errorf("CoolOff(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestStateEmptyAndShare(t *testing.T) {
	for _, c := range []struct {
		st    storage.State
		empty bool
	}{
		{storage.State{}, true},
		{storage.State{LastFailure: t0, Slot: s0, ExpiresAt: t0, Shares: sh("alice", 1)}, true},
		{storage.State{Failures: -1, Reserved: -1, Older: -1}, true},
		{storage.State{Failures: 1}, false},
		{storage.State{Reserved: 1}, false},
		{storage.State{Older: 1}, false},
	} {
		if got := c.st.Empty(); got != c.empty {
			t.Errorf("%+v.Empty() = %v", c.st, got)
		}
	}
	st := storage.State{Failures: 5, Shares: sh("alice", 2, "bob", 3)}
	for user, want := range map[string]int{"alice": 2, "bob": 3, "carol": 0, "": 0, "a": 0, "zed": 0} {
		if got := st.Share(user); got != want {
			t.Errorf("Share(%q) = %d, want %d", user, got, want)
		}
	}
}

// TestApplyLeavesInputAlone checks that Apply never changes the shares it
// was given, so that a store may apply a step again when a transaction
// retries.
func TestApplyLeavesInputAlone(t *testing.T) {
	for _, c := range goldenCases() {
		before, _ := json.Marshal(c.state)
		s := storage.Step(c.step)
		storage.Apply(&s, c.state)
		if after, _ := json.Marshal(c.state); string(after) != string(before) {
			t.Errorf("%s: Apply changed its input: %s, was %s", c.name, after, before)
		}
	}
}
