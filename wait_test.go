package axes

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
)

// hold admits n attempts from ip1 and leaves them unsettled.
func hold(t *testing.T, g *Guard, n int) []*Ticket {
	t.Helper()
	var ts []*Ticket
	for i := range n {
		tk, err := g.Admit(context.Background(), Identity{IP: ip1})
		if err != nil {
			t.Fatalf("admission %d: %v", i+1, err)
		}
		ts = append(ts, tk)
	}
	return ts
}

// waiting returns once n attempts wait for a place in key.
func waiting(t *testing.T, g *Guard, key string, n int) {
	t.Helper()
	for range 10_000 {
		g.waits.mu.Lock()
		got := len(g.waits.rooms[key])
		g.waits.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d attempts never waited in %s", n, key)
}

type admitted struct {
	t   *Ticket
	err error
}

func admitAsync(ctx context.Context, g *Guard, id Identity) <-chan admitted {
	ch := make(chan admitted, 1)
	go func() {
		t, err := g.Admit(ctx, id)
		ch <- admitted{t, err}
	}()
	return ch
}

// When checks in flight hold every place, a right password waits for one
// of them instead of being refused: an office behind one address.
func TestWaitAdmitsWhenAPlaceFrees(t *testing.T) {
	g, _, _ := newGuard(t, Config{MaxWait: time.Minute})
	held := hold(t, g, 3)
	res := admitAsync(context.Background(), g, Identity{IP: ip1, Username: "bob"})
	waiting(t, g, bucketOf(t, g, Identity{IP: ip1}, "ip_address"), 1)
	if _, err := held[0].Succeed(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("the waiting attempt after a place came free: %v, want admitted", r.err)
	}
}

// A waiter is decided on the settled state: when the checks in flight
// fail and lock the bucket, it is refused as locked, and, having never held
// a place, counts nothing.
func TestWaitRefusedWhenTheBucketLocks(t *testing.T) {
	g, s, _ := newGuard(t, Config{MaxWait: time.Minute})
	verdicts(t, g, "", ip1, false, 2)
	held := hold(t, g, 1)
	res := admitAsync(context.Background(), g, Identity{IP: ip1})
	key := bucketOf(t, g, Identity{IP: ip1}, "ip_address")
	waiting(t, g, key, 1)
	if r, err := held[0].Fail(context.Background()); err != nil || r.Verdict != Locked {
		t.Fatalf("third failure: %v, %v; want locked", r.Verdict, err)
	}
	r := <-res
	var le *LockoutError
	if !errors.As(r.err, &le) || le.Result.Verdict != Locked || !le.Result.Permanent() {
		t.Fatalf("the waiter after the lock: %v; want a refusal by the lock", r.err)
	}
	if st := s.get(key); st.Failures != 3 {
		t.Errorf("failures = %d, want 3 (a waiter held no place: its refusal counts nothing)", st.Failures)
	}
}

// A wait is bounded: past MaxWait the attempt is refused without being
// counted, with a Retry-After of at least a second, not the lease.
func TestWaitTimesOut(t *testing.T) {
	g, s, c := newGuard(t, Config{MaxWait: 20 * time.Millisecond})
	hold(t, g, 3)
	start := time.Now()
	_, err := g.Admit(context.Background(), Identity{IP: ip1})
	var le *LockoutError
	if !errors.As(err, &le) || le.Result.Verdict != Locked {
		t.Fatalf("after the wait: %v, want a refusal", err)
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("refused after %s, before MaxWait", waited)
	}
	if ra := le.Result.RetryAfter(c.Now()); ra < time.Second || ra >= DefaultReservationLease {
		t.Errorf("Retry-After %s, want at least 1s and less than the lease", ra)
	}
	if st := s.get(bucketOf(t, g, Identity{IP: ip1}, "ip_address")); st.Failures != 0 || st.Reserved != 3 {
		t.Errorf("state after the refusal %+v, want the 3 places and no failure", st)
	}
}

// At most MaxWaiters attempts wait in a bucket; the next is refused at
// once. Cancelling a waiter's context ends its wait at once.
func TestWaitersAreBoundedAndCancellable(t *testing.T) {
	g, _, _ := newGuard(t, Config{MaxWait: time.Minute, MaxWaiters: 1})
	hold(t, g, 3)
	ctx, cancel := context.WithCancel(context.Background())
	res := admitAsync(ctx, g, Identity{IP: ip1})
	waiting(t, g, bucketOf(t, g, Identity{IP: ip1}, "ip_address"), 1)
	start := time.Now()
	_, err := g.Admit(context.Background(), Identity{IP: ip1})
	var le *LockoutError
	if !errors.As(err, &le) {
		t.Fatalf("a second waiter with MaxWaiters 1: %v, want a refusal", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the second waiter was refused after %s, want at once", d)
	}
	cancel()
	if r := <-res; !errors.Is(r.err, context.Canceled) {
		t.Errorf("a cancelled waiter: %v, want context.Canceled", r.err)
	}
}

// The burst guarantee holds with waiting: 100 wrong guesses at once, limit
// 3, run the credential check 3 times; the rest wait, and are refused.
func TestWaitKeepsTheLimit(t *testing.T) {
	g, _, _ := newGuard(t, Config{MaxWait: 5 * time.Second, MaxWaiters: 200})
	var mu sync.Mutex
	checks, inFlight, most := 0, 0, 0
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			_, err := g.Authenticate(context.Background(), Identity{IP: ip1}, func(context.Context) (bool, error) {
				mu.Lock()
				checks++
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				inFlight--
				mu.Unlock()
				return false, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if checks != 3 || most > 3 {
		t.Errorf("%d credential checks, %d at once; want 3, at most 3", checks, most)
	}
}

// 30 right passwords at once from one address all get in, however the
// checks interleave: none is refused for the others' checks in flight.
func TestWaitLetsEveryRightPasswordIn(t *testing.T) {
	g, _, _ := newGuard(t, Config{MaxWait: 10 * time.Second})
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[Verdict]int{}
	for i := range 30 {
		wg.Go(func() {
			user := []string{"alice", "bob"}[i%2]
			res, err := g.Authenticate(context.Background(), Identity{IP: ip1, Username: user}, func(context.Context) (bool, error) {
				time.Sleep(time.Millisecond)
				return true, nil
			})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got[res.Verdict]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if got[Allowed] != 30 {
		t.Errorf("verdicts %v, want 30 allowed", got)
	}
}

// stuckStore never answers: a store that hangs on a lock.
type stuckStore struct {
	*mapStore
	stuck bool
}

func (s *stuckStore) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	if s.stuck {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.mapStore.Do(ctx, ops)
}

// No login hangs on the store: the call gives up after StoreTimeout, and
// the outage policy decides. Fail closed refuses; fail open admits, and
// counts the failure once the store answers again.
func TestStoreTimeoutAndOutagePolicy(t *testing.T) {
	for _, open := range []bool{false, true} {
		s := &stuckStore{mapStore: newMapStore(), stuck: true}
		c := newClock()
		var logs strings.Builder
		g, err := New(s, Config{StoreTimeout: 20 * time.Millisecond, FailOpen: open}, WithClock(c.Now),
			WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		tk, err := g.Admit(context.Background(), Identity{IP: ip1})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("open=%v: Admit took %s with a 20ms store timeout", open, d)
		}
		_, _ = g.Admit(context.Background(), Identity{IP: ip2}) // the outage goes on
		if n := strings.Count(logs.String(), "the store is failing"); n != 1 {
			t.Errorf("open=%v: the outage was logged %d times, want once:\n%s", open, n, logs.String())
		}
		if !open {
			if err == nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("fail closed: Admit = %v, want the deadline error", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("fail open: Admit = %v, want a ticket", err)
		}
		s.stuck = false // the store answers again before the check settles
		if _, err := tk.Fail(context.Background()); err != nil {
			t.Fatal(err)
		}
		if res, _ := g.Status(context.Background(), Identity{IP: ip1}); res.Failures != 1 {
			t.Errorf("fail open: failures after the store came back = %d, want 1", res.Failures)
		}
	}
}
