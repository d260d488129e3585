package memstore

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/goaxes/axes/storage"
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

// Store is an in-memory [storage.Store]. It also implements
// [storage.Lister], [storage.Purger], [storage.AuditLog],
// [storage.LogReader], [storage.LogPruner], [storage.RuleStore] and
// [storage.ProcessLocal]. Create it with [New]; the zero value is not
// usable. It is safe for concurrent use.
type Store struct {
	mu            sync.Mutex
	closed        bool
	maxBuckets    int
	maxLogEntries int
	buckets       map[string]*entry
	access        ring[storage.AccessEntry]  // in insertion order
	failures      ring[storage.FailureEntry] // in insertion order
	failuresOf    map[string]int             // failure entries per username
	rules         map[ruleKey]storage.Rule
}

// entry is a stored bucket, with what eviction needs to know about it.
type entry struct {
	bucket  storage.Bucket
	state   storage.State
	touched int64 // the time of the last step that wrote it (µs)
	locked  bool  // locked as of that step
	lockEnd int64 // with locked: when the lock ends (0: until reset)
}

type ruleKey struct {
	prefix string
	action storage.Action
}

var (
	_ storage.Store        = (*Store)(nil)
	_ storage.Lister       = (*Store)(nil)
	_ storage.Purger       = (*Store)(nil)
	_ storage.AuditLog     = (*Store)(nil)
	_ storage.LogReader    = (*Store)(nil)
	_ storage.LogPruner    = (*Store)(nil)
	_ storage.RuleStore    = (*Store)(nil)
	_ storage.ProcessLocal = (*Store)(nil)
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
		buckets:       make(map[string]*entry),
		failuresOf:    make(map[string]int),
		access:        ring[storage.AccessEntry]{max: o.maxLogEntries},
		failures:      ring[storage.FailureEntry]{max: o.maxLogEntries},
		rules:         make(map[ruleKey]storage.Rule),
	}
}

// ProcessLocal reports true: the counters live in this process only, which
// `axes check` reports as axes.W001.
func (s *Store) ProcessLocal() bool { return true }

// PutRule adds or replaces an operator's allow or deny rule.
func (s *Store) PutRule(ctx context.Context, r storage.Rule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.rules[ruleKey{r.Prefix.String(), r.Action}] = r
	return nil
}

// DeleteRule removes a rule and reports whether it existed.
func (s *Store) DeleteRule(ctx context.Context, p netip.Prefix, a storage.Action) (bool, error) {
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
func (s *Store) Rules(ctx context.Context, now time.Time) ([]storage.Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	out := make([]storage.Rule, 0, len(s.rules))
	for _, r := range s.rules {
		if r.ActiveAt(now) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b storage.Rule) int {
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
		return storage.ErrClosed
	}
	return nil
}

// expired reports whether st may be forgotten at now (µs).
func expired(st *storage.State, now int64) bool {
	return st.ExpiresAt != 0 && now >= st.ExpiresAt
}

// Do applies each op to its bucket under the store's mutex: it reads the
// bucket's state, calls [storage.Apply] and stores the state it returns,
// deleting an empty one; a Peek writes nothing. It returns the context's
// error (wrapped) when ctx is done and [storage.ErrClosed] after Close.
func (s *Store) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	ans := make([]storage.Answer, len(ops))
	for i := range ops {
		op := &ops[i]
		key := op.Bucket.Key
		e := s.buckets[key]
		var cur storage.State
		if e != nil {
			cur = e.state
		}
		st, a := storage.Apply(&op.Step, cur)
		ans[i] = a
		switch {
		case op.Step.Kind == storage.Peek:
			continue
		case st.Empty():
			delete(s.buckets, key)
			continue
		case e == nil:
			if len(s.buckets) >= s.maxBuckets {
				s.evict(len(s.buckets)-s.maxBuckets+1, op.Step.Now, ops)
			}
			e = &entry{bucket: op.Bucket}
			s.buckets[key] = e
		}
		// The shares are never changed in place by Apply, and the store
		// hands out copies only: the entry may keep the slice.
		e.state, e.touched, e.locked, e.lockEnd = st, op.Step.Now, a.Locked, a.Until
	}
	return ans, nil
}

// victim is an eviction candidate.
type victim struct {
	key      string
	failures int
	inFlight bool  // tickets in flight hold places here
	last     int64 // last activity
	end      int64 // end of the lock; 0: until reset
}

// evict frees at least need slots (if it can) and at least a batch of
// maxBuckets/16: it drops expired buckets, then unlocked buckets (fewest
// failures first, then least recently active; those with checks in flight
// last), then locked ones (the lock that ends soonest first). It never
// evicts the buckets of ops.
func (s *Store) evict(need int, now int64, ops []storage.Op) {
	want := max(need, s.maxBuckets/16, 1)
	var open, locked []victim
	for k, e := range s.buckets {
		if slices.ContainsFunc(ops, func(op storage.Op) bool { return op.Bucket.Key == k }) {
			continue
		}
		v := victim{key: k, failures: e.state.Failures, inFlight: e.state.Reserved+e.state.Older > 0,
			last: max(e.touched, e.state.LastFailure), end: e.lockEnd}
		switch {
		case expired(&e.state, now):
			delete(s.buckets, k)
			want--
		case !e.locked || (e.lockEnd != 0 && now >= e.lockEnd):
			open = append(open, v)
		default:
			locked = append(locked, v)
		}
	}
	byAge := func(a, b victim) int {
		return cmp.Or(cmp.Compare(a.last, b.last), cmp.Compare(a.key, b.key))
	}
	// Unlocked buckets go fewest failures first, so that a flood of fresh
	// identities with one failure each pushes out its own records before a
	// partial count that is close to locking; a bucket whose places are
	// held by checks in flight goes last of them.
	byCount := func(a, b victim) int {
		if a.inFlight != b.inFlight {
			if a.inFlight {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.failures, b.failures), byAge(a, b))
	}
	byLockEnd := func(a, b victim) int {
		switch {
		case a.end == 0 && b.end != 0:
			return 1
		case a.end != 0 && b.end == 0:
			return -1
		}
		return cmp.Or(cmp.Compare(a.end, b.end), byAge(a, b))
	}
	for _, class := range []struct {
		vs  []victim
		cmp func(a, b victim) int
	}{{open, byCount}, {locked, byLockEnd}} {
		if want <= 0 {
			return
		}
		vs := class.vs
		if len(vs) > want {
			slices.SortFunc(vs, class.cmp)
			vs = vs[:want]
		}
		for _, v := range vs {
			delete(s.buckets, v.key)
		}
		want -= len(vs)
	}
}

// Len returns the number of buckets the store holds, expired ones
// included until they are dropped.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buckets)
}

// Close empties the store. Afterwards every method returns
// [storage.ErrClosed]. Closing twice is safe and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.buckets, s.failuresOf = nil, nil
	s.access.reset()
	s.failures.reset()
	return nil
}

// List returns the buckets that f matches, as stored.
func (s *Store) List(ctx context.Context, f storage.Filter) ([]storage.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var list []storage.Entry
	for _, e := range s.buckets {
		b := &e.bucket
		if (f.IP != "" && b.IP != f.IP) || (f.Username != "" && b.Username != f.Username) ||
			(f.ShareOf != "" && e.state.Share(f.ShareOf) == 0) {
			continue
		}
		st := e.state
		st.Shares = slices.Clone(st.Shares)
		list = append(list, storage.Entry{Bucket: e.bucket, State: st})
	}
	return list, nil
}

// Purge removes every bucket that expired at or before now and returns how
// many it removed. Buckets that do not expire (ExpiresAt 0) are kept.
func (s *Store) Purge(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	us := storage.Micros(now)
	for k, e := range s.buckets {
		if expired(&e.state, us) {
			delete(s.buckets, k)
			n++
		}
	}
	return n, nil
}
