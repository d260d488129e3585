package axes

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Action is what an operator's [Rule] does to matching clients.
type Action string

// The rule actions.
const (
	// ActionAllow: never locked, never counted (like IPAllowlist with
	// NeverLockoutAllowlist).
	ActionAllow Action = "allow"
	// ActionDeny: refused at once, nothing counted (like IPDenylist).
	ActionDeny Action = "deny"
)

// Rule is an allow or deny entry that operators add at run time (`axes
// allow add`, `axes deny add`). Rules live in the store, so every instance
// sharing it sees them. Deny wins over allow, as with the configured lists.
type Rule struct {
	Prefix  netip.Prefix `json:"prefix"`
	Action  Action       `json:"action"`
	Reason  string       `json:"reason,omitempty"`
	Created time.Time    `json:"created"`
	Expires time.Time    `json:"expires,omitzero"` // zero: until removed
}

// ActiveAt reports whether the rule is in force at now.
func (r Rule) ActiveAt(now time.Time) bool { return r.Expires.IsZero() || now.Before(r.Expires) }

// RuleStore is implemented by stores that keep operators' rules.
type RuleStore interface {
	// PutRule adds the rule, replacing one with the same prefix and action.
	PutRule(ctx context.Context, r Rule) error
	// DeleteRule removes the rule with this prefix and action, and reports
	// whether there was one.
	DeleteRule(ctx context.Context, p netip.Prefix, a Action) (bool, error)
	// Rules returns the rules in force at now, in no particular order.
	Rules(ctx context.Context, now time.Time) ([]Rule, error)
}

// DefaultRuleRefresh is how long a guard reuses the rules it read from the
// store before it reads them again; see [WithRuleRefresh].
const DefaultRuleRefresh = 5 * time.Second

// WithRuleRefresh sets how long the guard caches the store's rules. A rule
// added on one instance takes effect on the others within this time. Zero
// reads them on every attempt (one more store round trip).
func WithRuleRefresh(d time.Duration) Option {
	return func(g *Guard) error {
		if d < 0 {
			return fmt.Errorf("axes: WithRuleRefresh: negative duration %s", d)
		}
		g.rules.refresh = d
		return nil
	}
}

// ruleCache holds the last rules read from the store.
type ruleCache struct {
	refresh time.Duration
	mu      sync.Mutex // one refresh at a time
	cur     atomic.Pointer[ruleSnapshot]
}

type ruleSnapshot struct {
	rules   []Rule
	fetched time.Time
}

// ruleFor returns the action of the rules that match ip at now ("" for
// none); deny wins. Store errors keep the previous rules in force and are
// logged, so a flaky store does not drop deny rules.
func (g *Guard) ruleFor(ctx context.Context, ip netip.Addr, now time.Time) Action {
	rs, ok := g.store.(RuleStore)
	if !ok || !ip.IsValid() {
		return ""
	}
	snap := g.rules.cur.Load()
	if snap == nil || g.rules.refresh == 0 || now.Sub(snap.fetched) >= g.rules.refresh || now.Before(snap.fetched) {
		snap = g.refreshRules(ctx, rs, now)
	}
	var act Action
	for _, r := range snap.rules {
		if r.ActiveAt(now) && r.Prefix.Contains(ip) {
			if r.Action == ActionDeny {
				return ActionDeny
			}
			act = r.Action
		}
	}
	return act
}

func (g *Guard) refreshRules(ctx context.Context, rs RuleStore, now time.Time) *ruleSnapshot {
	g.rules.mu.Lock()
	defer g.rules.mu.Unlock()
	if snap := g.rules.cur.Load(); snap != nil && g.rules.refresh > 0 && now.Sub(snap.fetched) < g.rules.refresh && !now.Before(snap.fetched) {
		return snap // another request refreshed it meanwhile
	}
	rules, err := rs.Rules(ctx, now)
	if err != nil {
		g.log.ErrorContext(ctx, "axes: could not read allow/deny rules; keeping the previous ones", "err", err)
		if snap := g.rules.cur.Load(); snap != nil {
			return snap
		}
		return &ruleSnapshot{}
	}
	snap := &ruleSnapshot{rules: rules, fetched: now}
	g.rules.cur.Store(snap)
	return snap
}

// AddRule stores an operator's rule and makes this guard use it at once.
// The prefix is masked to its network; IPv4-mapped prefixes are folded.
func (g *Guard) AddRule(ctx context.Context, r Rule) error {
	rs, ok := g.store.(RuleStore)
	if !ok {
		return fmt.Errorf("axes: the store cannot keep allow/deny rules: %w", ErrUnsupported)
	}
	if r.Action != ActionAllow && r.Action != ActionDeny {
		return fmt.Errorf("axes: rule action %q: want allow or deny", r.Action)
	}
	if !r.Prefix.IsValid() {
		return fmt.Errorf("axes: rule: invalid prefix")
	}
	p, err := ParsePrefix(r.Prefix.String())
	if err != nil {
		return err
	}
	r.Prefix = p
	if r.Created.IsZero() {
		r.Created = g.now()
	}
	r.Reason = Truncate(r.Reason, MaxFieldLength)
	if err := rs.PutRule(ctx, r); err != nil {
		return err
	}
	g.rules.cur.Store(nil)
	return nil
}

// RemoveRule deletes an operator's rule and reports whether it existed.
func (g *Guard) RemoveRule(ctx context.Context, p netip.Prefix, a Action) (bool, error) {
	rs, ok := g.store.(RuleStore)
	if !ok {
		return false, fmt.Errorf("axes: the store cannot keep allow/deny rules: %w", ErrUnsupported)
	}
	p, err := ParsePrefix(p.String())
	if err != nil {
		return false, err
	}
	found, err := rs.DeleteRule(ctx, p, a)
	g.rules.cur.Store(nil)
	return found, err
}
