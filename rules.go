package axes

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goaxes/axes/internal/norm"
	"github.com/goaxes/axes/internal/setting"
	"github.com/goaxes/axes/storage"
)

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
	rules   []storage.Rule
	fetched time.Time
}

// ruleFor returns the action of the rules that match ip at now ("" for
// none); deny wins. Store errors keep the previous rules in force and are
// logged, so a flaky store does not drop deny rules.
func (g *Guard) ruleFor(ctx context.Context, ip netip.Addr, now time.Time) storage.Action {
	rs, ok := storage.Find[storage.RuleStore](g.store)
	if !ok || !ip.IsValid() {
		return ""
	}
	snap := g.rules.cur.Load()
	if snap == nil || g.rules.refresh == 0 || now.Sub(snap.fetched) >= g.rules.refresh || now.Before(snap.fetched) {
		snap = g.refreshRules(ctx, rs, now)
	}
	var act storage.Action
	for _, r := range snap.rules {
		if r.ActiveAt(now) && r.Prefix.Contains(ip) {
			if r.Action == storage.ActionDeny {
				return storage.ActionDeny
			}
			act = r.Action
		}
	}
	return act
}

func (g *Guard) refreshRules(ctx context.Context, rs storage.RuleStore, now time.Time) *ruleSnapshot {
	g.rules.mu.Lock()
	defer g.rules.mu.Unlock()
	if snap := g.rules.cur.Load(); snap != nil && g.rules.refresh > 0 && now.Sub(snap.fetched) < g.rules.refresh && !now.Before(snap.fetched) {
		return snap // another request refreshed it meanwhile
	}
	rctx, cancel := g.deadline(ctx)
	rules, err := rs.Rules(rctx, now)
	cancel()
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
func (g *Guard) AddRule(ctx context.Context, r storage.Rule) error {
	rs, ok := storage.Find[storage.RuleStore](g.store)
	if !ok {
		return fmt.Errorf("axes: the store cannot keep allow/deny rules: %w", errors.ErrUnsupported)
	}
	if r.Action != storage.ActionAllow && r.Action != storage.ActionDeny {
		return fmt.Errorf("axes: rule action %q: want allow or deny", r.Action)
	}
	if !r.Prefix.IsValid() {
		return fmt.Errorf("axes: rule: invalid prefix")
	}
	p, err := setting.ParsePrefix(r.Prefix.String())
	if err != nil {
		return err
	}
	r.Prefix = p
	if r.Created.IsZero() {
		r.Created = g.now()
	}
	r.Reason = norm.Truncate(r.Reason, norm.MaxFieldLength)
	if err := rs.PutRule(ctx, r); err != nil {
		return err
	}
	g.rules.cur.Store(nil)
	return nil
}

// RemoveRule deletes an operator's rule and reports whether it existed.
func (g *Guard) RemoveRule(ctx context.Context, p netip.Prefix, a storage.Action) (bool, error) {
	rs, ok := storage.Find[storage.RuleStore](g.store)
	if !ok {
		return false, fmt.Errorf("axes: the store cannot keep allow/deny rules: %w", errors.ErrUnsupported)
	}
	p, err := setting.ParsePrefix(p.String())
	if err != nil {
		return false, err
	}
	found, err := rs.DeleteRule(ctx, p, a)
	g.rules.cur.Store(nil)
	return found, err
}
