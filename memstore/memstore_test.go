package memstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
)

func TestConformance(t *testing.T) {
	axestest.RunStoreTests(t, func(*testing.T) axes.Store { return New() })
}

func BenchmarkStore(b *testing.B) {
	axestest.BenchmarkStore(b, func(*testing.B) axes.Store { return New() })
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func lockout(key string) axes.Bucket {
	return axes.Bucket{Key: key, Kind: axes.KindLockout, Params: "ip_address", IP: key}
}

func onePolicy(limit int, cool, window time.Duration) axes.Policy {
	return axes.Policy{Limit: limit, Tiers: []axes.Tier{{Failures: limit, CoolOff: cool}}, Window: window, Lease: time.Minute}
}

// mustFail makes one failed attempt (OpAdmit, then OpFail) and returns the
// outcome of the OpFail.
func mustFail(t testing.TB, s *Store, now time.Time, p axes.Policy, bs ...axes.Bucket) axes.Outcome {
	t.Helper()
	if o := mustDo(t, s, axes.OpAdmit, now, p, bs...); !o.Admitted {
		t.Fatalf("admit refused: %+v", o)
	}
	return mustDo(t, s, axes.OpFail, now, p, bs...)
}

func mustDo(t testing.TB, s *Store, kind axes.OpKind, now time.Time, p axes.Policy, bs ...axes.Bucket) axes.Outcome {
	t.Helper()
	o, err := s.Do(context.Background(), &axes.Op{Kind: kind, Now: now, Buckets: bs, Policy: p})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	return o
}

func (s *Store) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.recs[key]
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
		if o := mustFail(t, s, t0, lockP, lockout(k)); !o.Locked {
			t.Fatalf("setup: %s does not lock", k)
		}
		locked = append(locked, k)
	}
	for i := range 500 {
		now := t0.Add(time.Duration(i) * time.Second)
		k := fmt.Sprintf("open-%d", i)
		mustDo(t, s, axes.OpAdmit, now, openP, lockout(k))
		if n := s.Len(); n > capacity {
			t.Fatalf("after %d inserts the store holds %d records, more than MaxBuckets %d", i+1, n, capacity)
		}
		if !s.has(k) {
			t.Fatalf("the record just written, %s, is missing", k)
		}
		for _, lk := range locked {
			if !s.has(lk) {
				t.Fatalf("after %d inserts the locked record %s was evicted while unlocked ones remain", i+1, lk)
			}
		}
	}
	// The unlocked records left are the newest.
	if !s.has("open-499") || s.has("open-0") || s.has("open-400") {
		t.Error("eviction did not take the oldest unlocked records first")
	}
	for _, lk := range locked {
		check := mustDo(t, s, axes.OpPeek, t0.Add(10*time.Minute), lockP, lockout(lk))
		if !check.Locked {
			t.Errorf("%s is no longer locked", lk)
		}
	}
}

// TestEvictionOnlyLocked: when every record is locked, the locks that end
// soonest go first and permanent locks last.
func TestEvictionOnlyLocked(t *testing.T) {
	const capacity = 16
	s := New(MaxBuckets(capacity))
	perm := onePolicy(1, 0, 0)
	mustFail(t, s, t0, perm, lockout("permanent"))
	for i := range 100 {
		// Later inserts lock for longer: their locks end later.
		p := onePolicy(1, time.Duration(i+1)*time.Hour, time.Duration(i+1)*time.Hour)
		mustFail(t, s, t0, p, lockout(fmt.Sprintf("lock-%02d", i)))
		if n := s.Len(); n > capacity {
			t.Fatalf("the store holds %d records, more than %d", n, capacity)
		}
	}
	if !s.has("permanent") {
		t.Error("a permanent lock was evicted before locks that end")
	}
	if !s.has("lock-99") || s.has("lock-00") {
		t.Error("eviction did not take the locks that end soonest first")
	}
}

// TestEvictionAttributionFirst: attribution records go before lockout
// records, even older ones.
func TestEvictionAttributionFirst(t *testing.T) {
	s := New(MaxBuckets(16))
	p := onePolicy(1000, time.Hour, time.Hour)
	for i := range 8 {
		l := lockout(fmt.Sprintf("ip-%d", i))
		a := axes.Bucket{Key: "attr-" + l.Key, Kind: axes.KindAttribution, Params: l.Params, IP: l.IP, Username: "u", Parent: l.Key}
		mustDo(t, s, axes.OpAdmit, t0.Add(time.Duration(i)*time.Second), p, l, a)
	}
	mustDo(t, s, axes.OpAdmit, t0.Add(time.Minute), p, lockout("new"))
	if s.Len() != 16 {
		t.Errorf("Len = %d, want 16 (one batch of 16/16 evicted)", s.Len())
	}
	if s.has("attr-ip-0") {
		t.Error("the oldest attribution record was kept")
	}
	for i := range 8 {
		if !s.has(fmt.Sprintf("ip-%d", i)) {
			t.Errorf("lockout record ip-%d was evicted before the attribution records", i)
		}
	}
}

// TestEvictionDropsExpiredFirst: expired records make room before any live
// record is evicted.
func TestEvictionDropsExpiredFirst(t *testing.T) {
	s := New(MaxBuckets(64))
	short := onePolicy(1000, time.Minute, time.Minute)
	long := onePolicy(1000, time.Hour, time.Hour)
	for i := range 60 {
		mustDo(t, s, axes.OpAdmit, t0, short, lockout(fmt.Sprintf("short-%d", i)))
	}
	for i := range 4 {
		mustDo(t, s, axes.OpAdmit, t0, long, lockout(fmt.Sprintf("long-%d", i)))
	}
	// The short records expire at t0 + lease + window.
	mustDo(t, s, axes.OpAdmit, t0.Add(2*time.Minute), long, lockout("new"))
	if got := s.Len(); got != 5 {
		t.Errorf("Len = %d, want 5 (the 60 expired records dropped)", got)
	}
	for i := range 4 {
		if !s.has(fmt.Sprintf("long-%d", i)) {
			t.Errorf("live record long-%d was evicted while expired ones could go", i)
		}
	}
}

// TestEvictionRandom runs random ops on a small store and checks, around
// every op, the bound and the eviction order: a locked record is evicted
// only with every unlocked one, and an unlocked one only with every older
// unlocked one.
func TestEvictionRandom(t *testing.T) {
	const capacity = 48
	r := rand.New(rand.NewPCG(1, 2))
	s := New(MaxBuckets(capacity))
	policies := []axes.Policy{onePolicy(1, time.Hour, time.Hour), onePolicy(2, 10*time.Minute, 30*time.Minute), onePolicy(5, 0, 0), onePolicy(3, time.Minute, 0)}
	now := t0
	for i := range 20_000 {
		now = now.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
		p := policies[r.IntN(len(policies))]
		l := lockout(fmt.Sprintf("ip-%d", r.IntN(400)))
		bs := []axes.Bucket{l}
		if r.IntN(2) == 0 {
			bs = append(bs, axes.Bucket{Key: "attr-" + l.Key, Kind: axes.KindAttribution, Params: l.Params, IP: l.IP, Username: "u", Parent: l.Key})
		}
		kind := []axes.OpKind{axes.OpAdmit, axes.OpAdmit, axes.OpFail, axes.OpRelease}[r.IntN(4)]
		before := s.snapshot()
		mustDo(t, s, kind, now, p, bs...)
		after := s.snapshot()
		if len(after) > capacity {
			t.Fatalf("op %d: the store holds %d records, more than %d", i, len(after), capacity)
		}
		var evicted, stayed []axes.Record
		for k, rec := range before {
			if slices.ContainsFunc(bs, func(b axes.Bucket) bool { return b.Key == k }) || expired(&rec, now) || rec.Kind != axes.KindLockout {
				continue
			}
			if _, ok := after[k]; ok {
				stayed = append(stayed, rec)
			} else {
				evicted = append(evicted, rec)
			}
		}
		for _, ev := range evicted {
			for _, st := range stayed {
				if ev.LockedAt(now) && !st.LockedAt(now) {
					t.Fatalf("op %d: locked %s was evicted while unlocked %s stayed", i, ev.Key, st.Key)
				}
				if !ev.LockedAt(now) && !st.LockedAt(now) && active(st).Before(active(ev)) {
					t.Fatalf("op %d: unlocked %s (last active %v) was evicted while the older %s (%v) stayed",
						i, ev.Key, active(ev), st.Key, active(st))
				}
			}
		}
	}
}

// active is when r last failed or was reserved, whichever is later.
func active(r axes.Record) time.Time {
	if r.Reserved > 0 && r.ReservedAt.After(r.LastFailure) {
		return r.ReservedAt
	}
	return r.LastFailure
}

func (s *Store) snapshot() map[string]axes.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]axes.Record, len(s.recs))
	for k, r := range s.recs {
		m[k] = r
	}
	return m
}

// TestBoundExceededOnlyByOneOp: an op with more new records than
// MaxBuckets is stored whole.
func TestBoundExceededOnlyByOneOp(t *testing.T) {
	s := New(MaxBuckets(2))
	p := onePolicy(10, time.Hour, time.Hour)
	mustDo(t, s, axes.OpAdmit, t0, p, lockout("a"), lockout("b"), lockout("c"))
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	mustDo(t, s, axes.OpAdmit, t0, p, lockout("a"), lockout("b"), lockout("c"))
	o := mustDo(t, s, axes.OpPeek, t0, p, lockout("a"), lockout("b"), lockout("c"))
	for _, r := range o.Records {
		if r.Reserved != 2 {
			t.Errorf("%s: %d reserved, want 2: the op's own records were evicted", r.Key, r.Reserved)
		}
	}
	mustDo(t, s, axes.OpAdmit, t0, p, lockout("d"))
	if s.Len() != 2 {
		t.Errorf("Len = %d, want 2 after the next insert", s.Len())
	}
}

// TestNoAliasing: changing what List returns does not change the store.
func TestNoAliasing(t *testing.T) {
	s := New()
	ctx := context.Background()
	p := onePolicy(3, time.Hour, time.Hour)
	bs := []axes.Bucket{lockout("1.2.3.4")}
	mustDo(t, s, axes.OpAdmit, t0, p, bs...)
	bs[0].IP = "changed"
	recs, err := s.List(ctx, axes.Filter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("List = %v, %v", recs, err)
	}
	recs[0].Reserved, recs[0].IP = 99, "changed too"
	recs, _ = s.List(ctx, axes.Filter{})
	if recs[0].Reserved != 1 || recs[0].IP != "1.2.3.4" {
		t.Errorf("the stored record changed: %+v", recs[0])
	}
}

// TestListHidesExpired: with Filter.Now set, expired records are not
// listed, and Delete does not count them.
func TestListHidesExpired(t *testing.T) {
	s := New()
	ctx := context.Background()
	p := onePolicy(3, time.Minute, time.Minute)
	mustFail(t, s, t0, p, lockout("old")) // expires at t0 + lease + window
	mustFail(t, s, t0.Add(2*time.Minute), p, lockout("new"))
	recs, err := s.List(ctx, axes.Filter{Now: t0.Add(2 * time.Minute)})
	if err != nil || len(recs) != 1 || recs[0].Key != "new" {
		t.Errorf("List(now) = %v, %v; want only new", recs, err)
	}
	if recs, _ := s.List(ctx, axes.Filter{}); len(recs) != 2 {
		t.Errorf("List() returned %d records, want 2", len(recs))
	}
	if n, err := s.Delete(ctx, axes.Filter{Now: t0.Add(2 * time.Minute)}); err != nil || n != 1 || s.Len() != 0 {
		t.Errorf("Delete(now) = %d, %v, Len %d; want 1, nil, 0", n, err, s.Len())
	}
}

func TestPurgeCount(t *testing.T) {
	s := New()
	p := onePolicy(3, time.Minute, time.Minute)
	l := lockout("x")
	a := axes.Bucket{Key: "attr", Kind: axes.KindAttribution, Username: "u", Parent: "x"}
	mustDo(t, s, axes.OpAdmit, t0, p, l, a)
	mustFail(t, s, t0, onePolicy(1, 0, 0), lockout("forever"))
	n, err := s.Purge(context.Background(), t0.Add(2*time.Minute)) // lease + window
	if err != nil || n != 2 || s.Len() != 1 {
		t.Errorf("Purge = %d, %v, Len %d; want 2, nil, 1", n, err, s.Len())
	}
}

func TestLogCaps(t *testing.T) {
	s := New(MaxLogEntries(4))
	ctx := context.Background()
	for i := range 7 {
		if err := s.LogLogin(ctx, axes.AccessEntry{Time: t0.Add(time.Duration(i) * time.Minute), Username: "alice"}); err != nil {
			t.Fatal(err)
		}
		if err := s.LogFailure(ctx, axes.FailureEntry{Time: t0.Add(time.Duration(i) * time.Minute), Username: "alice"}, 0); err != nil {
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
	if err := s.LogFailure(ctx, axes.FailureEntry{Time: t0.Add(time.Hour), Username: "alice"}, 2); err != nil {
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
			_, err := s.Do(ctx, &axes.Op{Kind: axes.OpPeek, Now: t0})
			return err
		},
		"List":            func(ctx context.Context) error { _, err := s.List(ctx, axes.Filter{}); return err },
		"Delete":          func(ctx context.Context) error { _, err := s.Delete(ctx, axes.Filter{}); return err },
		"Purge":           func(ctx context.Context) error { _, err := s.Purge(ctx, t0); return err },
		"LogLogin":        func(ctx context.Context) error { return s.LogLogin(ctx, axes.AccessEntry{}) },
		"LogLogout":       func(ctx context.Context) error { _, err := s.LogLogout(ctx, "u", "", t0); return err },
		"LogFailure":      func(ctx context.Context) error { return s.LogFailure(ctx, axes.FailureEntry{}, 1) },
		"AccessLog":       func(ctx context.Context) error { _, err := s.AccessLog(ctx, "", 0); return err },
		"FailureLog":      func(ctx context.Context) error { _, err := s.FailureLog(ctx, "", 0); return err },
		"PruneAccessLog":  func(ctx context.Context) error { _, err := s.PruneAccessLog(ctx, t0); return err },
		"PruneFailureLog": func(ctx context.Context) error { _, err := s.PruneFailureLog(ctx, t0); return err },
	}
	for name, call := range calls {
		if err := call(context.Background()); err != nil {
			t.Errorf("%s on an open store: %v", name, err)
		}
		if err := call(done); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, call := range calls {
		if err := call(context.Background()); !errors.Is(err, axes.ErrClosed) {
			t.Errorf("%s after Close: %v, want axes.ErrClosed", name, err)
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
			keys := make([]axes.Bucket, 4*capacity)
			for i := range keys {
				keys[i] = lockout(fmt.Sprintf("k%d", i))
			}
			i := 0
			for b.Loop() {
				mustDo(b, s, axes.OpAdmit, t0.Add(time.Duration(i)*time.Microsecond), p, keys[i%len(keys)])
				i++
			}
			if s.Len() > capacity {
				b.Fatalf("Len %d > %d", s.Len(), capacity)
			}
		})
	}
}

// TestEvictionReservedIsRecent: a record that holds only reservations
// (attempts being verified) is as recent as its last reservation, not the
// oldest of all for want of a failure time.
func TestEvictionReservedIsRecent(t *testing.T) {
	s := New(MaxBuckets(16))
	p := onePolicy(1000, time.Hour, time.Hour)
	for i := range 15 {
		mustFail(t, s, t0.Add(time.Duration(i)*time.Second), p, lockout(fmt.Sprintf("ip-%02d", i)))
	}
	mustDo(t, s, axes.OpAdmit, t0.Add(20*time.Second), p, lockout("busy"))
	mustDo(t, s, axes.OpAdmit, t0.Add(30*time.Second), p, lockout("new"))
	if !s.has("busy") {
		t.Error("the record with a reservation was evicted before older failures")
	}
	if s.has("ip-00") {
		t.Error("the oldest record was kept")
	}
}

// TestDeleteShareKeepsReservation: deleting a user takes the user's
// failures off the shared bucket, but an attempt of the user being
// verified keeps its reservation, and its failure still counts once.
func TestDeleteShareKeepsReservation(t *testing.T) {
	s := New()
	p := onePolicy(10, time.Hour, time.Hour)
	l := lockout("ip")
	a := axes.Bucket{Key: "attr", Kind: axes.KindAttribution, Params: l.Params, IP: l.IP, Username: "u", Parent: l.Key}
	mustFail(t, s, t0, p, l, a)
	mustDo(t, s, axes.OpAdmit, t0.Add(time.Second), p, l, a)
	n, err := s.Delete(context.Background(), axes.Filter{Username: "u", Now: t0.Add(time.Second)})
	if err != nil || n != 1 {
		t.Fatalf("Delete(u) = %d, %v; want 1, nil", n, err)
	}
	o := mustDo(t, s, axes.OpPeek, t0.Add(time.Second), p, l, a)
	for _, r := range o.Records {
		if r.Failures != 0 || r.Reserved != 1 || !r.LastFailure.IsZero() || r.Locked {
			t.Errorf("%s after Delete: %d failures (last %v, locked %v), %d reserved; want 0, 1", r.Key, r.Failures, r.LastFailure, r.Locked, r.Reserved)
		}
	}
	mustDo(t, s, axes.OpFail, t0.Add(2*time.Second), p, l, a)
	o = mustDo(t, s, axes.OpPeek, t0.Add(2*time.Second), p, l, a)
	for _, r := range o.Records {
		if r.Failures != 1 || r.Reserved != 0 {
			t.Errorf("%s after the fail: %d failures, %d reserved; want 1, 0", r.Key, r.Failures, r.Reserved)
		}
	}
}

// TestDeleteSkipsExpiredShare: with Filter.Now set, a share that expired
// at Now is not taken off its bucket, even when the bucket itself lives on
// (kept by failures of others).
func TestDeleteSkipsExpiredShare(t *testing.T) {
	s := New()
	p := onePolicy(10, time.Minute, time.Minute)
	l := lockout("ip")
	a := axes.Bucket{Key: "attr", Kind: axes.KindAttribution, Params: l.Params, IP: l.IP, Username: "u", Parent: l.Key}
	mustFail(t, s, t0, p, l, a) // the share expires at t0 + lease + window
	long := onePolicy(10, time.Hour, time.Hour)
	mustFail(t, s, t0.Add(time.Second), long, l) // someone else, kept an hour
	now := t0.Add(2 * time.Minute)
	n, err := s.Delete(context.Background(), axes.Filter{Username: "u", Now: now})
	if err != nil || n != 0 {
		t.Fatalf("Delete(u) = %d, %v; want 0, nil", n, err)
	}
	if o := mustDo(t, s, axes.OpPeek, now, long, l); o.Failures != 2 {
		t.Errorf("bucket after deleting the expired share: %d failures, want 2", o.Failures)
	}
}
