package memstore

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/goaxes/axes"
)

// Defaults for the options of [New].
const (
	// DefaultMaxBuckets is the number of records a store holds by default.
	DefaultMaxBuckets = 100_000
	// DefaultMaxLogEntries is how many entries each audit log (access and
	// failure) keeps by default.
	DefaultMaxLogEntries = 10_000
)

// Option configures a [Store] created by [New].
type Option func(*options)

type options struct {
	maxBuckets    int
	maxLogEntries int
}

// MaxBuckets sets how many records (lockout and attribution) the store
// holds at most; see the package documentation for what it evicts when it
// is full. n <= 0 means [DefaultMaxBuckets].
func MaxBuckets(n int) Option {
	return func(o *options) { o.maxBuckets = n }
}

// MaxLogEntries sets how many entries the access log and the failure log
// each keep at most; the oldest entries are dropped first. n <= 0 means
// [DefaultMaxLogEntries].
func MaxLogEntries(n int) Option {
	return func(o *options) { o.maxLogEntries = n }
}

// Store is an in-memory [axes.Store]. It also implements [axes.Lister],
// [axes.Deleter], [axes.Purger], [axes.AuditLog], [axes.LogReader],
// [axes.LogPruner] and [axes.RuleStore]. Create it with [New]; the zero value is not usable.
// It is safe for concurrent use.
type Store struct {
	mu            sync.Mutex
	closed        bool
	maxBuckets    int
	maxLogEntries int
	recs          map[string]axes.Record
	access        ring[axes.AccessEntry]  // in insertion order
	failures      ring[axes.FailureEntry] // in insertion order
	failuresOf    map[string]int          // failure entries per username
	rules         map[ruleKey]axes.Rule
}

type ruleKey struct {
	prefix string
	action axes.Action
}

var (
	_ axes.Store     = (*Store)(nil)
	_ axes.Lister    = (*Store)(nil)
	_ axes.Deleter   = (*Store)(nil)
	_ axes.Purger    = (*Store)(nil)
	_ axes.AuditLog  = (*Store)(nil)
	_ axes.LogReader = (*Store)(nil)
	_ axes.LogPruner = (*Store)(nil)
	_ axes.RuleStore = (*Store)(nil)
)

// New returns an empty store configured by opts ([MaxBuckets],
// [MaxLogEntries]).
func New(opts ...Option) *Store {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxBuckets <= 0 {
		o.maxBuckets = DefaultMaxBuckets
	}
	if o.maxLogEntries <= 0 {
		o.maxLogEntries = DefaultMaxLogEntries
	}
	return &Store{
		maxBuckets:    o.maxBuckets,
		maxLogEntries: o.maxLogEntries,
		recs:          make(map[string]axes.Record),
		failuresOf:    make(map[string]int),
		access:        ring[axes.AccessEntry]{max: o.maxLogEntries},
		failures:      ring[axes.FailureEntry]{max: o.maxLogEntries},
		rules:         make(map[ruleKey]axes.Rule),
	}
}

// ProcessLocal reports true: the counters live in this process only, which
// `axes check` reports as axes.W001.
func (s *Store) ProcessLocal() bool { return true }

// PutRule adds or replaces an operator's allow or deny rule.
func (s *Store) PutRule(ctx context.Context, r axes.Rule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.rules[ruleKey{r.Prefix.String(), r.Action}] = r
	return nil
}

// DeleteRule removes a rule and reports whether it existed.
func (s *Store) DeleteRule(ctx context.Context, p netip.Prefix, a axes.Action) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return false, err
	}
	k := ruleKey{p.String(), a}
	_, ok := s.rules[k]
	delete(s.rules, k)
	return ok, nil
}

// Rules returns the rules in force at now, ordered by prefix and action.
func (s *Store) Rules(ctx context.Context, now time.Time) ([]axes.Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	out := make([]axes.Rule, 0, len(s.rules))
	for _, r := range s.rules {
		if r.ActiveAt(now) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b axes.Rule) int {
		return cmp.Or(cmp.Compare(a.Prefix.String(), b.Prefix.String()), cmp.Compare(a.Action, b.Action))
	})
	return out, nil
}

// usable reports why the store cannot serve a call now, if it cannot. The
// caller holds s.mu.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if s.closed {
		return axes.ErrClosed
	}
	return nil
}

// expired reports whether r may be forgotten at now.
func expired(r *axes.Record, now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// Do applies op atomically: it reads the records of op.Keys() (a record
// that expired at op.Now reads as absent), calls op.Apply and stores what
// it returns, deleting empty records (Record.Empty). It returns the context's
// error (wrapped) when ctx is done and [axes.ErrClosed] after Close.
func (s *Store) Do(ctx context.Context, op *axes.Op) (axes.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return axes.Outcome{}, err
	}
	keys := op.Keys()
	recs := make([]axes.Record, len(keys))
	for i, k := range keys {
		if r, ok := s.recs[k]; ok && !expired(&r, op.Now) {
			recs[i] = r
		}
	}
	out, o := op.Apply(recs)
	out = out[:min(len(out), len(keys))]
	s.makeRoom(keys, out, op.Now)
	for i, r := range out {
		if r.Empty() {
			delete(s.recs, keys[i])
			continue
		}
		r.Key = keys[i]
		s.recs[keys[i]] = r
	}
	return o, nil
}

// makeRoom evicts records so that the records of out that are not stored
// yet fit within maxBuckets. The keys of the op are never evicted.
func (s *Store) makeRoom(keys []string, out []axes.Record, now time.Time) {
	var added int
	for i, r := range out {
		if r.Empty() {
			continue
		}
		if _, ok := s.recs[keys[i]]; ok || slices.Contains(keys[:i], keys[i]) {
			continue
		}
		added++
	}
	if need := len(s.recs) + added - s.maxBuckets; need > 0 {
		s.evict(need, now, keys)
	}
}

// victim is an eviction candidate.
type victim struct {
	key  string
	last time.Time // last activity: failure or reservation
	end  time.Time // end of the lock; zero: until reset
}

// lastActivity returns when r last changed: its last failure or its last
// reservation, whichever is later. A record that holds only reservations
// (attempts being verified) has no failure time, and must not pass for
// the oldest.
func lastActivity(r *axes.Record) time.Time {
	if r.Reserved > 0 && r.ReservedAt.After(r.LastFailure) {
		return r.ReservedAt
	}
	return r.LastFailure
}

// evict frees at least need slots (if it can) and at least a batch of
// maxBuckets/16: it drops expired records, then attribution records, then
// unlocked lockout records (least recently failed or reserved first), then
// locked ones (the lock that ends soonest first). It never evicts the keys in keep.
func (s *Store) evict(need int, now time.Time, keep []string) {
	want := max(need, s.maxBuckets/16, 1)
	var attr, open, locked []victim
	for k, r := range s.recs {
		if slices.Contains(keep, k) {
			continue
		}
		switch {
		case expired(&r, now):
			delete(s.recs, k)
			want--
		case r.Kind == axes.KindAttribution:
			attr = append(attr, victim{key: k, last: lastActivity(&r)})
		case !r.LockedAt(now):
			open = append(open, victim{key: k, last: lastActivity(&r)})
		default:
			locked = append(locked, victim{key: k, last: lastActivity(&r), end: r.LockedUntil})
		}
	}
	byAge := func(a, b victim) int {
		return cmp.Or(a.last.Compare(b.last), cmp.Compare(a.key, b.key))
	}
	byLockEnd := func(a, b victim) int {
		switch {
		case a.end.IsZero() && !b.end.IsZero():
			return 1
		case !a.end.IsZero() && b.end.IsZero():
			return -1
		}
		return cmp.Or(a.end.Compare(b.end), byAge(a, b))
	}
	for _, class := range []struct {
		vs  []victim
		cmp func(a, b victim) int
	}{{attr, byAge}, {open, byAge}, {locked, byLockEnd}} {
		if want <= 0 {
			return
		}
		vs := class.vs
		if len(vs) > want {
			slices.SortFunc(vs, class.cmp)
			vs = vs[:want]
		}
		for _, v := range vs {
			delete(s.recs, v.key)
		}
		want -= len(vs)
	}
}

// Len returns the number of records the store holds, expired ones
// included until they are dropped.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// Close empties the store. Afterwards every method returns
// [axes.ErrClosed]. Closing twice is safe and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.recs, s.failuresOf = nil, nil
	s.access.reset()
	s.failures.reset()
	return nil
}

// matchIdentity reports whether r matches the IP and username of f.
func matchIdentity(r *axes.Record, f *axes.Filter) bool {
	return (f.IP == "" || r.IP == f.IP) && (f.Username == "" || r.Username == f.Username)
}

// List returns the lockout records matching f, newest last failure first
// (ties by key). Attribution records are never listed. When f.Now is set,
// records that expired at f.Now are left out.
func (s *Store) List(ctx context.Context, f axes.Filter) ([]axes.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var list []axes.Record
	for _, r := range s.recs {
		if r.Kind != axes.KindLockout || !matchIdentity(&r, &f) {
			continue
		}
		if !f.Now.IsZero() && expired(&r, f.Now) {
			continue
		}
		if f.LockedOnly && !r.LockedAt(f.Now) {
			continue
		}
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b axes.Record) int {
		return cmp.Or(b.LastFailure.Compare(a.LastFailure), cmp.Compare(a.Key, b.Key))
	})
	return list, nil
}

// Delete removes the lockout records matching f and the attribution
// records that belong to them (their Parent was removed). Without
// f.LockedOnly it also takes the failures of the attribution records whose
// IP and username match f off their lockout records (so an empty filter
// removes everything); such a share keeps its reservations, if any, until
// the attempts settle. A share that has expired, or that its lockout record
// has outlived, is dropped without being taken off. It returns how many
// lockout records it removed or reduced; when f.Now is set, records that
// had expired at f.Now are removed without being counted.
func (s *Store) Delete(ctx context.Context, f axes.Filter) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	gone := make(map[string]bool)
	for k, r := range s.recs {
		if r.Kind != axes.KindLockout || !matchIdentity(&r, &f) {
			continue
		}
		if f.LockedOnly && !r.LockedAt(f.Now) {
			continue
		}
		delete(s.recs, k)
		gone[k] = true
		if f.Now.IsZero() || !expired(&r, f.Now) {
			n++
		}
	}
	for k, r := range s.recs {
		if r.Kind != axes.KindAttribution {
			continue
		}
		switch {
		case gone[r.Parent]:
			delete(s.recs, k)
		case !f.LockedOnly && matchIdentity(&r, &f):
			// The username's share of a bucket without the username:
			// take it off that bucket, so that resetting a user forgets
			// the failures the user caused from an address.
			share := r.Failures
			r.Failures, r.LastFailure = 0, time.Time{}
			if r.Empty() || (!f.Now.IsZero() && expired(&r, f.Now)) {
				delete(s.recs, k)
			} else {
				s.recs[k] = r
			}
			p, ok := s.recs[r.Parent]
			if !ok || share <= 0 || p.Failures <= 0 || staleShare(&r, &p, f.Now) {
				continue
			}
			p.Failures = max(0, p.Failures-share)
			if p.Failures == 0 {
				p.LastFailure, p.Locked, p.LockedUntil = time.Time{}, false, time.Time{}
			}
			if p.Empty() {
				delete(s.recs, r.Parent)
			} else {
				s.recs[r.Parent] = p
			}
			n++
		}
	}
	return n, nil
}

// staleShare reports whether the attribution record a no longer counts in
// its lockout record p: either has expired at now (when now is set), or p
// changed at or after a's expiry, which proves that a expired before p's
// current failures were counted (Apply then read a as absent).
func staleShare(a, p *axes.Record, now time.Time) bool {
	if !now.IsZero() && (expired(a, now) || expired(p, now)) {
		return true
	}
	return !a.ExpiresAt.IsZero() && !lastActivity(p).Before(a.ExpiresAt)
}

// Purge removes every record (lockout and attribution) that expired at or
// before now and returns how many it removed. Records that do not expire
// (ExpiresAt zero) are kept.
func (s *Store) Purge(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	for k, r := range s.recs {
		if expired(&r, now) {
			delete(s.recs, k)
			n++
		}
	}
	return n, nil
}
