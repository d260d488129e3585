package memstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/storage"
)

func TestConformance(t *testing.T) {
	axestest.RunStoreTests(t, func(*testing.T) storage.Store { return New() })
}

func BenchmarkStore(b *testing.B) {
	axestest.BenchmarkStore(b, func(*testing.B) storage.Store { return New() })
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func lockout(key string) storage.Bucket {
	return storage.Bucket{Key: key, Params: "ip_address", IP: key}
}

// onePolicy returns a one-tier policy with a one-minute lease.
func onePolicy(limit int, cool, window time.Duration) storage.Policy {
	return storage.Policy{Limit: limit, Tiers: []storage.Tier{{Failures: limit, CoolOff: storage.Duration(cool)}},
		Window: storage.Duration(window), Lease: storage.Duration(time.Minute)}
}

// mustDo runs one step of kind on each of bs and returns the answers.
func mustDo(t testing.TB, s *Store, kind storage.Kind, now time.Time, p storage.Policy, bs ...storage.Bucket) []storage.Answer {
	t.Helper()
	ops := make([]storage.Op, len(bs))
	for i, b := range bs {
		ops[i] = storage.Op{Bucket: b, Step: storage.Step{Kind: kind, Now: storage.Micros(now), Policy: p}}
	}
	ans, err := s.Do(context.Background(), ops)
	if err != nil || len(ans) != len(ops) {
		t.Fatalf("Do(%s) = %d answers, %v", kind, len(ans), err)
	}
	return ans
}

// mustFail makes one failed attempt on bs (an Admit, then a Fail of the
// ticket) and returns the answers of the Fail.
func mustFail(t testing.TB, s *Store, now time.Time, p storage.Policy, bs ...storage.Bucket) []storage.Answer {
	t.Helper()
	ans := mustDo(t, s, storage.Admit, now, p, bs...)
	ops := make([]storage.Op, len(bs))
	for i, b := range bs {
		if !ans[i].Admitted {
			t.Fatalf("admit %s refused: %+v", b.Key, ans[i])
		}
		ops[i] = storage.Op{Bucket: b, Step: storage.Step{Kind: storage.Fail, Now: storage.Micros(now), Policy: p, Held: true, Slot: ans[i].Slot}}
	}
	out, err := s.Do(context.Background(), ops)
	if err != nil {
		t.Fatalf("Do(fail): %v", err)
	}
	return out
}

func (s *Store) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.buckets[key]
	return ok
}

func TestOptions(t *testing.T) {
	s := New()
	if s.maxBuckets != DefaultMaxBuckets || s.maxLogEntries != DefaultMaxLogEntries {
		t.Errorf("defaults: %d, %d; want %d, %d", s.maxBuckets, s.maxLogEntries, DefaultMaxBuckets, DefaultMaxLogEntries)
	}
	s = New(MaxBuckets(7), MaxLogEntries(9))
	if s.maxBuckets != 7 || s.maxLogEntries != 9 {
		t.Errorf("MaxBuckets(7), MaxLogEntries(9): got %d, %d", s.maxBuckets, s.maxLogEntries)
	}
	s = New(MaxBuckets(-1), MaxLogEntries(0))
	if s.maxBuckets != DefaultMaxBuckets || s.maxLogEntries != DefaultMaxLogEntries {
		t.Errorf("non-positive options: %d, %d; want the defaults", s.maxBuckets, s.maxLogEntries)
	}
}

// TestEvictionKeepsLocked fills a small store with locked buckets, then
// floods it with unlocked ones: the locked ones all stay.
func TestEvictionKeepsLocked(t *testing.T) {
	const capacity = 32
	s := New(MaxBuckets(capacity))
	lockP := onePolicy(1, time.Hour, time.Hour)
	openP := onePolicy(1000, time.Hour, time.Hour)
	var locked []string
	for i := range 16 {
		k := fmt.Sprintf("locked-%d", i)
		if a := mustFail(t, s, t0, lockP, lockout(k)); !a[0].Locked {
			t.Fatalf("setup: %s does not lock", k)
		}
		locked = append(locked, k)
	}
	for i := range 500 {
		now := t0.Add(time.Duration(i) * time.Second)
		k := fmt.Sprintf("open-%d", i)
		mustDo(t, s, storage.Admit, now, openP, lockout(k))
		if n := s.Len(); n > capacity {
			t.Fatalf("after %d inserts the store holds %d buckets, more than MaxBuckets %d", i+1, n, capacity)
		}
		if !s.has(k) {
			t.Fatalf("the bucket just written, %s, is missing", k)
		}
		for _, lk := range locked {
			if !s.has(lk) {
				t.Fatalf("after %d inserts the locked bucket %s was evicted while unlocked ones remain", i+1, lk)
			}
		}
	}
	// The unlocked buckets left are the newest.
	if !s.has("open-499") || s.has("open-0") || s.has("open-400") {
		t.Error("eviction did not take the oldest unlocked buckets first")
	}
	for _, lk := range locked {
		if a := mustDo(t, s, storage.Peek, t0.Add(10*time.Minute), lockP, lockout(lk)); !a[0].Locked {
			t.Errorf("%s is no longer locked", lk)
		}
	}
}

// TestEvictionOnlyLocked: when every bucket is locked, the locks that end
// soonest go first and permanent locks last.
func TestEvictionOnlyLocked(t *testing.T) {
	const capacity = 16
	s := New(MaxBuckets(capacity))
	mustFail(t, s, t0, onePolicy(1, 0, 0), lockout("permanent"))
	for i := range 100 {
		// Later inserts lock for longer: their locks end later.
		p := onePolicy(1, time.Duration(i+1)*time.Hour, time.Duration(i+1)*time.Hour)
		mustFail(t, s, t0, p, lockout(fmt.Sprintf("lock-%02d", i)))
		if n := s.Len(); n > capacity {
			t.Fatalf("the store holds %d buckets, more than %d", n, capacity)
		}
	}
	if !s.has("permanent") {
		t.Error("a permanent lock was evicted before locks that end")
	}
	if !s.has("lock-99") || s.has("lock-00") {
		t.Error("eviction did not take the locks that end soonest first")
	}
}

// TestEvictionDropsExpiredFirst: expired buckets make room before any live
// bucket is evicted.
func TestEvictionDropsExpiredFirst(t *testing.T) {
	s := New(MaxBuckets(64))
	short := onePolicy(1000, time.Minute, time.Minute)
	long := onePolicy(1000, time.Hour, time.Hour)
	for i := range 60 {
		mustDo(t, s, storage.Admit, t0, short, lockout(fmt.Sprintf("short-%d", i)))
	}
	for i := range 4 {
		mustDo(t, s, storage.Admit, t0, long, lockout(fmt.Sprintf("long-%d", i)))
	}
	// The short buckets expire a window after their tickets lapse: 175 s
	// after t0, which is 5 s past a whole minute.
	mustDo(t, s, storage.Admit, t0.Add(3*time.Minute), long, lockout("new"))
	if got := s.Len(); got != 5 {
		t.Errorf("Len = %d, want 5 (the 60 expired buckets dropped)", got)
	}
	for i := range 4 {
		if !s.has(fmt.Sprintf("long-%d", i)) {
			t.Errorf("live bucket long-%d was evicted while expired ones could go", i)
		}
	}
}

// snap is what eviction knows of a bucket.
type snap struct {
	state  storage.State
	active int64
	locked bool
}

func (s *Store) snapshot(now int64) map[string]snap {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]snap, len(s.buckets))
	for k, e := range s.buckets {
		m[k] = snap{state: e.state, active: max(e.touched, e.state.LastFailure),
			locked: e.locked && (e.lockEnd == 0 || now < e.lockEnd)}
	}
	return m
}

// TestEvictionRandom runs random steps on a small store and checks, around
// every call, the bound and the eviction order: a locked bucket is evicted
// only with every unlocked one, and an unlocked one only with every
// unlocked one that comes before it (no checks in flight before some,
// fewer failures before more, older before newer).
func TestEvictionRandom(t *testing.T) {
	const capacity = 48
	r := rand.New(rand.NewPCG(1, 2))
	s := New(MaxBuckets(capacity))
	policies := []storage.Policy{onePolicy(1, time.Hour, time.Hour), onePolicy(2, 10*time.Minute, 30*time.Minute), onePolicy(5, 0, 0), onePolicy(3, time.Minute, 0)}
	now := t0
	for i := range 20_000 {
		now = now.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
		p := policies[r.IntN(len(policies))]
		bs := []storage.Bucket{lockout(fmt.Sprintf("ip-%d", r.IntN(400)))}
		if r.IntN(2) == 0 {
			bs = append(bs, lockout(fmt.Sprintf("user-%d", r.IntN(400))))
		}
		kind := []storage.Kind{storage.Admit, storage.Admit, storage.Fail, storage.Release}[r.IntN(4)]
		us := storage.Micros(now)
		before := s.snapshot(us)
		mustDo(t, s, kind, now, p, bs...)
		after := s.snapshot(us)
		if len(after) > capacity {
			t.Fatalf("call %d: the store holds %d buckets, more than %d", i, len(after), capacity)
		}
		var evicted, stayed []string
		for k, b := range before {
			if slices.ContainsFunc(bs, func(x storage.Bucket) bool { return x.Key == k }) || expired(&b.state, us) {
				continue
			}
			if _, ok := after[k]; ok {
				stayed = append(stayed, k)
			} else {
				evicted = append(evicted, k)
			}
		}
		for _, ev := range evicted {
			e := before[ev]
			for _, st := range stayed {
				o := before[st]
				if e.locked && !o.locked {
					t.Fatalf("call %d: locked %s was evicted while unlocked %s stayed", i, ev, st)
				}
				if !e.locked && !o.locked && evictsFirst(o, e) {
					t.Fatalf("call %d: unlocked %s (%+v) was evicted while %s (%+v), which goes first, stayed", i, ev, e, st, o)
				}
			}
		}
	}
}

// evictsFirst reports whether unlocked a goes before unlocked b.
func evictsFirst(a, b snap) bool {
	af, bf := a.state.Reserved+a.state.Older > 0, b.state.Reserved+b.state.Older > 0
	if af != bf {
		return !af
	}
	if a.state.Failures != b.state.Failures {
		return a.state.Failures < b.state.Failures
	}
	return a.active < b.active
}

// TestEvictionPrefersSingleFailures (issue 8, finding 2): a flood of fresh
// identities that fail once each pushes out its own records, not a
// victim's partial count close to the limit, which would give the
// attacker fresh guesses at the victim's password.
func TestEvictionPrefersSingleFailures(t *testing.T) {
	s := New(MaxBuckets(32))
	p := onePolicy(3, time.Hour, time.Hour)
	victim := lockout("victim")
	mustDo(t, s, storage.Fail, t0, p, victim) // a Fail without a ticket counts a failure
	mustDo(t, s, storage.Fail, t0, p, victim)
	for i := range 1000 {
		mustDo(t, s, storage.Fail, t0.Add(time.Duration(i+1)*time.Second), p, lockout(fmt.Sprintf("flood-%d", i)))
	}
	if got := mustDo(t, s, storage.Peek, t0.Add(time.Hour/2), p, victim)[0].Failures; got != 2 {
		t.Errorf("the victim's count after a flood of 1000 single failures = %d, want 2", got)
	}
}

// TestBoundExceededOnlyByOneOp: a call with more new buckets than
// MaxBuckets is stored whole.
func TestBoundExceededOnlyByOneOp(t *testing.T) {
	s := New(MaxBuckets(2))
	p := onePolicy(10, time.Hour, time.Hour)
	mustDo(t, s, storage.Admit, t0, p, lockout("a"), lockout("b"), lockout("c"))
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	mustDo(t, s, storage.Admit, t0, p, lockout("a"), lockout("b"), lockout("c"))
	for i, a := range mustDo(t, s, storage.Peek, t0, p, lockout("a"), lockout("b"), lockout("c")) {
		if a.InFlight != 2 {
			t.Errorf("bucket %d: %d in flight, want 2: the call's own buckets were evicted", i, a.InFlight)
		}
	}
	mustDo(t, s, storage.Admit, t0, p, lockout("d"))
	if s.Len() != 2 {
		t.Errorf("Len = %d, want 2 after the next insert", s.Len())
	}
}

// TestNoAliasing: changing what List returns, or the ops passed to Do,
// does not change the store.
func TestNoAliasing(t *testing.T) {
	s := New()
	ctx := context.Background()
	ops := []storage.Op{{Bucket: lockout("1.2.3.4"), Step: storage.Step{Kind: storage.Fail, Now: storage.Micros(t0), Policy: onePolicy(3, time.Hour, time.Hour), User: "alice"}}}
	if _, err := s.Do(ctx, ops); err != nil {
		t.Fatal(err)
	}
	ops[0].Bucket.IP = "changed"
	es, err := s.List(ctx, storage.Filter{})
	if err != nil || len(es) != 1 {
		t.Fatalf("List = %v, %v", es, err)
	}
	es[0].State.Shares[0].Failures, es[0].Bucket.IP = 99, "changed too"
	es, _ = s.List(ctx, storage.Filter{})
	if es[0].State.Share("alice") != 1 || es[0].Bucket.IP != "1.2.3.4" {
		t.Errorf("the stored bucket changed: %+v", es[0])
	}
}

func TestPurgeCount(t *testing.T) {
	s := New()
	mustDo(t, s, storage.Admit, t0, onePolicy(3, time.Minute, time.Minute), lockout("x"), lockout("y"))
	mustFail(t, s, t0, onePolicy(1, 0, 0), lockout("forever"))
	// The tickets lapse 115 s after t0, and are kept a window after that.
	n, err := s.Purge(context.Background(), t0.Add(175*time.Second))
	if err != nil || n != 2 || s.Len() != 1 {
		t.Errorf("Purge = %d, %v, Len %d; want 2, nil, 1", n, err, s.Len())
	}
}

func TestLogCaps(t *testing.T) {
	s := New(MaxLogEntries(4))
	ctx := context.Background()
	for i := range 7 {
		if err := s.LogLogin(ctx, storage.AccessEntry{Time: t0.Add(time.Duration(i) * time.Minute), Username: "alice"}); err != nil {
			t.Fatal(err)
		}
		if err := s.LogFailure(ctx, storage.FailureEntry{Time: t0.Add(time.Duration(i) * time.Minute), Username: "alice"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	acc, _ := s.AccessLog(ctx, "", 0)
	if len(acc) != 4 || !acc[0].Time.Equal(t0.Add(6*time.Minute)) || !acc[3].Time.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("access log = %+v, want the 4 newest", acc)
	}
	if s.failuresOf["alice"] != 4 {
		t.Errorf("failure count of alice = %d, want 4", s.failuresOf["alice"])
	}
	if err := s.LogFailure(ctx, storage.FailureEntry{Time: t0.Add(time.Hour), Username: "alice"}, 2); err != nil {
		t.Fatal(err)
	}
	fl, _ := s.FailureLog(ctx, "alice", 0)
	if len(fl) != 2 || !fl[0].Time.Equal(t0.Add(time.Hour)) || !fl[1].Time.Equal(t0.Add(6*time.Minute)) || s.failuresOf["alice"] != 2 {
		t.Errorf("failure log = %+v (count %d), want the 2 newest", fl, s.failuresOf["alice"])
	}
	if n, _ := s.PruneFailureLog(ctx, time.Time{}); n != 2 || len(s.failuresOf) != 0 {
		t.Errorf("PruneFailureLog(all) = %d, counts %v; want 2, none", n, s.failuresOf)
	}
}

// TestClosedEverywhere: every method fails with ErrClosed after Close, and
// with the context's error before that.
func TestClosedEverywhere(t *testing.T) {
	s := New()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func(context.Context) error{
		"Do": func(ctx context.Context) error {
			_, err := s.Do(ctx, []storage.Op{{Bucket: lockout("x"), Step: storage.Step{Kind: storage.Peek, Now: storage.Micros(t0)}}})
			return err
		},
		"List":            func(ctx context.Context) error { _, err := s.List(ctx, storage.Filter{}); return err },
		"Purge":           func(ctx context.Context) error { _, err := s.Purge(ctx, t0); return err },
		"LogLogin":        func(ctx context.Context) error { return s.LogLogin(ctx, storage.AccessEntry{}) },
		"LogLogout":       func(ctx context.Context) error { _, err := s.LogLogout(ctx, "u", "", t0); return err },
		"LogFailure":      func(ctx context.Context) error { return s.LogFailure(ctx, storage.FailureEntry{}, 1) },
		"AccessLog":       func(ctx context.Context) error { _, err := s.AccessLog(ctx, "", 0); return err },
		"FailureLog":      func(ctx context.Context) error { _, err := s.FailureLog(ctx, "", 0); return err },
		"PruneAccessLog":  func(ctx context.Context) error { _, err := s.PruneAccessLog(ctx, t0); return err },
		"PruneFailureLog": func(ctx context.Context) error { _, err := s.PruneFailureLog(ctx, t0); return err },
		"Rules":           func(ctx context.Context) error { _, err := s.Rules(ctx, t0); return err },
		"PutRule":         func(ctx context.Context) error { return s.PutRule(ctx, storage.Rule{}) },
		"DeleteRule":      func(ctx context.Context) error { _, err := s.DeleteRule(ctx, storage.Rule{}.Prefix, ""); return err },
	}
	for name, call := range calls {
		if err := call(context.Background()); err != nil {
			t.Errorf("%s on an open store: %v", name, err)
		}
		if err := call(done); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, call := range calls {
		if err := call(context.Background()); !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: %v, want storage.ErrClosed", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// BenchmarkEviction inserts fresh buckets into a full store: the cost of
// eviction, amortised over its batches.
func BenchmarkEviction(b *testing.B) {
	for _, capacity := range []int{1 << 10, 1 << 16} {
		b.Run(fmt.Sprint(capacity), func(b *testing.B) {
			s := New(MaxBuckets(capacity))
			p := onePolicy(1000, time.Hour, time.Hour)
			keys := make([]storage.Bucket, 4*capacity)
			for i := range keys {
				keys[i] = lockout(fmt.Sprintf("k%d", i))
			}
			i := 0
			for b.Loop() {
				mustDo(b, s, storage.Admit, t0.Add(time.Duration(i)*time.Microsecond), p, keys[i%len(keys)])
				i++
			}
			if s.Len() > capacity {
				b.Fatalf("Len %d > %d", s.Len(), capacity)
			}
		})
	}
}

// TestEvictionReservedIsRecent: a bucket that holds only tickets in flight
// is as recent as its last step, not the oldest of all for want of a
// failure time.
func TestEvictionReservedIsRecent(t *testing.T) {
	s := New(MaxBuckets(16))
	p := onePolicy(1000, time.Hour, time.Hour)
	for i := range 15 {
		mustFail(t, s, t0.Add(time.Duration(i)*time.Second), p, lockout(fmt.Sprintf("ip-%02d", i)))
	}
	mustDo(t, s, storage.Admit, t0.Add(20*time.Second), p, lockout("busy"))
	mustDo(t, s, storage.Admit, t0.Add(30*time.Second), p, lockout("new"))
	if !s.has("busy") {
		t.Error("the bucket with a ticket in flight was evicted before older failures")
	}
	if s.has("ip-00") {
		t.Error("the oldest bucket was kept")
	}
}
