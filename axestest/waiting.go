package axestest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/storage"
)

// waitingTests run real guards that wait for places (Config.MaxWait) over
// the store, with the real clock (waiting is about real time), and the
// outage policy over the store wrapped in one that fails on demand.
var waitingTests = []subtest{
	{"RightPasswordsAllGetIn", testRightPasswordsAllGetIn},
	{"BurstKeepsTheLimit", testBurstKeepsTheLimit},
	{"MixedBurst", testMixedBurst},
	{"AcrossProcesses", testWaitAcrossProcesses},
	{"Outage", testOutage},
}

// waitingGuard returns a guard over the store that waits up to 10s for a
// place, on the real clock. Its store deadline is generous: these subtests
// are about waiting, and run hundreds of attempts at once, under -race on
// small machines too; the deadline has a subtest of its own (Outage).
func waitingGuard(t *testing.T, e *env, cfg axes.Config) *axes.Guard {
	t.Helper()
	cfg.MaxWait, cfg.MaxWaiters, cfg.StoreTimeout = 10*time.Second, 500, 30*time.Second
	g, err := axes.New(e.s, cfg)
	if err != nil {
		t.Fatalf("axes.New: %v", err)
	}
	return g
}

// checker is a credential check that counts how many run, and how many at
// once per key.
type checker struct {
	mu       sync.Mutex
	runs     map[string]int
	inFlight map[string]int
	most     map[string]int
}

func newChecker() *checker {
	return &checker{runs: map[string]int{}, inFlight: map[string]int{}, most: map[string]int{}}
}

func (c *checker) check(key string, ok bool) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) {
		c.mu.Lock()
		c.runs[key]++
		c.inFlight[key]++
		c.most[key] = max(c.most[key], c.inFlight[key])
		c.mu.Unlock()
		time.Sleep(2 * time.Millisecond) // a credential check takes a moment
		c.mu.Lock()
		c.inFlight[key]--
		c.mu.Unlock()
		return ok, nil
	}
}

// attempts runs n attempts at once; attempt i uses id(i) and check(i).
func attempts(t *testing.T, g *axes.Guard, n int, id func(int) axes.Identity, check func(int) func(context.Context) (bool, error)) []axes.Result {
	t.Helper()
	out := make([]axes.Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := g.Authenticate(context.Background(), id(i), check(i))
			if err != nil {
				t.Errorf("attempt %d: %v", i, err)
			}
			out[i] = res
		})
	}
	wg.Wait()
	return out
}

func verdictCounts(rs []axes.Result) map[axes.Verdict]int {
	m := map[axes.Verdict]int{}
	for _, r := range rs {
		m[r.Verdict]++
	}
	return m
}

// testRightPasswordsAllGetIn: 50 right passwords at once from one address
// (an office behind NAT), limit 3: every one gets in, and no more than 3
// checks run at once.
func testRightPasswordsAllGetIn(t *testing.T, e *env) {
	g := waitingGuard(t, e, axes.Config{})
	c := newChecker()
	rs := attempts(t, g, 50,
		func(i int) axes.Identity { return ident("198.51.100.20", []string{"alice", "bob"}[i%2]) },
		func(int) func(context.Context) (bool, error) { return c.check("ip", true) })
	if got := verdictCounts(rs); got[axes.Allowed] != 50 {
		t.Errorf("50 right passwords from one address: %v, want 50 allowed", got)
	}
	if c.most["ip"] > 3 {
		t.Errorf("%d checks ran at once for one address, limit 3", c.most["ip"])
	}
}

// testBurstKeepsTheLimit: 200 wrong guesses at once, limit 3: the check
// runs 3 times; 2 answers are invalid, the rest locked.
func testBurstKeepsTheLimit(t *testing.T, e *env) {
	g := waitingGuard(t, e, axes.Config{})
	c := newChecker()
	rs := attempts(t, g, 200,
		func(int) axes.Identity { return ident("198.51.100.21", "alice") },
		func(int) func(context.Context) (bool, error) { return c.check("ip", false) })
	got := verdictCounts(rs)
	if c.runs["ip"] != 3 || got[axes.Invalid] != 2 || got[axes.Locked] != 198 {
		t.Errorf("200 wrong guesses: %d checks, verdicts %v; want 3 checks, 2 invalid, 198 locked", c.runs["ip"], got)
	}
}

// testMixedBurst: by username, 100 wrong guesses for alice and 20 right
// passwords for bob from one address at once: bob always gets in, alice's
// password is checked at most 3 times.
func testMixedBurst(t *testing.T, e *env) {
	g := waitingGuard(t, e, axes.Config{LockoutParameters: []axes.Group{{axes.ParamUsername}}})
	c := newChecker()
	rs := attempts(t, g, 120,
		func(i int) axes.Identity {
			if i < 20 {
				return ident("198.51.100.22", "bob")
			}
			return ident("198.51.100.22", "alice")
		},
		func(i int) func(context.Context) (bool, error) {
			if i < 20 {
				return c.check("bob", true)
			}
			return c.check("alice", false)
		})
	if got := verdictCounts(rs[:20]); got[axes.Allowed] != 20 {
		t.Errorf("bob's 20 right passwords: %v, want 20 allowed", got)
	}
	if c.runs["alice"] > 3 {
		t.Errorf("alice's password was checked %d times, limit 3", c.runs["alice"])
	}
}

// testWaitAcrossProcesses: two guards over the store stand for two
// processes; a place freed by one is found by the other's waiter, which
// has no way to be woken but looking at the store again.
func testWaitAcrossProcesses(t *testing.T, e *env) {
	a := waitingGuard(t, e, axes.Config{})
	b := waitingGuard(t, e, axes.Config{})
	id := ident("198.51.100.23", "alice")
	var held []*axes.Ticket
	for range 3 {
		tk, err := a.Admit(t.Context(), id)
		if err != nil {
			t.Fatalf("admit on the first guard: %v", err)
		}
		held = append(held, tk)
	}
	done := make(chan error, 1)
	go func() {
		tk, err := b.Admit(context.Background(), id)
		if err == nil {
			_, err = tk.Succeed(context.Background())
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the second guard start waiting (the result holds either way)
	if _, err := held[0].Succeed(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var le *axes.LockoutError
		if errors.As(err, &le) {
			t.Fatalf("the other process's waiter was refused (%v) after a place came free", err)
		} else if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the other process's waiter never got the place freed by the first")
	}
	for _, tk := range held[1:] {
		if _, err := tk.Succeed(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// outage wraps the store under test and fails every step while down.
type outage struct {
	storage.Store
	down atomic.Bool
}

var errDown = errors.New("axestest: the store is down")

func (o *outage) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	if o.down.Load() {
		return nil, errDown
	}
	return o.Store.Do(ctx, ops)
}

func (o *outage) Unwrap() storage.Store { return o.Store }

// testOutage: while the store fails, fail closed refuses logins (the
// credential check does not run) and fail open lets them through; once it
// answers again, a failure settled meanwhile is counted (fail open) and
// logins work without a restart.
func testOutage(t *testing.T, e *env) {
	for _, open := range []bool{false, true} {
		o := &outage{Store: e.s}
		g, err := axes.New(o, axes.Config{FailOpen: open})
		if err != nil {
			t.Fatal(err)
		}
		id := ident("198.51.100.24", "alice")
		if open {
			id = ident("198.51.100.25", "alice")
		}
		o.down.Store(true)
		checked := false
		res, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { checked = true; return false, nil })
		switch {
		case !open && (err == nil || !errors.Is(err, errDown) || checked):
			t.Errorf("fail closed, store down: %v, %v, checked %v; want the store's error and no check", res.Verdict, err, checked)
		case open && (res.Verdict != axes.Invalid || !checked):
			// The failure cannot be recorded while the store is down: the
			// settlement's error comes back with the verdict.
			t.Errorf("fail open, store down: %v, %v, checked %v; want the check to run and invalid", res.Verdict, err, checked)
		}
		if open {
			// A ticket admitted while down, settled once the store is back.
			tk, err := g.Admit(t.Context(), id)
			if err != nil {
				t.Fatalf("fail open, store down: Admit = %v", err)
			}
			o.down.Store(false)
			if _, err := tk.Fail(t.Context()); err != nil {
				t.Fatal(err)
			}
			if st, err := g.Status(t.Context(), id); err != nil || st.Failures != 1 {
				t.Errorf("fail open: failures once the store is back = %d, %v; want 1", st.Failures, err)
			}
		}
		o.down.Store(false)
		if res, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { return true, nil }); err != nil || res.Verdict != axes.Allowed {
			t.Errorf("open=%v, store back: %v, %v; want allowed", open, res.Verdict, err)
		}
	}
}
