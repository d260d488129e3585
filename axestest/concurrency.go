package axestest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/storage"
)

var concurrencyTests = []subtest{
	{"Admit", testConcurrentAdmit},
	{"Guard", testConcurrentGuard},
}

// parallel runs fn(i) for i in [0, n) in n goroutines released at once,
// and waits for them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// testConcurrentAdmit: 200 admissions at once on a bucket with a limit of
// 3 admit exactly 3; settlements and counted refusals at once lose none.
func testConcurrentAdmit(t *testing.T, e *env) {
	s := e.s
	p := policy(3, hour, hour, minute)
	b := ipBucket("192.0.2.30")
	const n = 200
	ctx := t.Context()
	var admitted, full, errs atomic.Int64
	var mu sync.Mutex
	var slots []int64
	parallel(n, func(i int) {
		ans, err := s.Do(ctx, []storage.Op{{Bucket: b, Step: stepOf(storage.Admit, t0, p, fmt.Sprintf("user%d", i))}})
		switch {
		case err != nil || len(ans) != 1:
			errs.Add(1)
		case ans[0].Admitted:
			admitted.Add(1)
			mu.Lock()
			slots = append(slots, ans[0].Slot)
			mu.Unlock()
		case ans[0].Full && !ans[0].Counted && !ans[0].Locked:
			full.Add(1)
		}
	})
	if errs.Load() > 0 {
		t.Fatalf("%d of %d concurrent admissions failed", errs.Load(), n)
	}
	if admitted.Load() != 3 || full.Load() != n-3 {
		t.Fatalf("%d concurrent admissions with a limit of 3: %d admitted, %d refused as full; want 3 and %d",
			n, admitted.Load(), full.Load(), n-3)
	}
	checkAnswer(t, "after the admissions", peek(t, s, b, t0, p), storage.Answer{InFlight: 3})

	// Two tickets fail and one is released while 100 refusals elsewhere
	// are counted here (unheld fails), all at once.
	const refusals = 100
	parallel(3+refusals, func(i int) {
		var st storage.Step
		switch {
		case i < 2:
			st = held(storage.Fail, t0+second, p, "", slots[i])
		case i == 2:
			st = held(storage.Release, t0+second, p, "", slots[i])
		default:
			st = stepOf(storage.Fail, t0+second, p, fmt.Sprintf("user%d", i%7))
		}
		if _, err := s.Do(ctx, []storage.Op{{Bucket: b, Step: st}}); err != nil {
			errs.Add(1)
		}
	})
	if errs.Load() > 0 {
		t.Fatalf("%d concurrent settlements failed", errs.Load())
	}
	last := t0 + second
	checkAnswer(t, "after the settlements", peek(t, s, b, last, p), storage.Answer{Locked: true, Until: last + hour,
		Failures: 2 + refusals, LastFailure: last, ForgetAt: last + hour})

	// Locked: every admission at once is refused and counted.
	var counted atomic.Int64
	parallel(n, func(int) {
		ans, err := s.Do(ctx, []storage.Op{{Bucket: b, Step: stepOf(storage.Admit, last, p, "")}})
		switch {
		case err != nil || len(ans) != 1:
			errs.Add(1)
		case ans[0].Locked && ans[0].Counted && !ans[0].Admitted:
			counted.Add(1)
		}
	})
	if errs.Load() > 0 || counted.Load() != n {
		t.Fatalf("%d concurrent admissions on a locked bucket: %d refused and counted, %d errors; want %d, 0", n, counted.Load(), errs.Load(), n)
	}
	if a := peek(t, s, b, last, p); a.Failures != 2+refusals+n || a.InFlight != 0 {
		t.Errorf("after the refusals: %d failures, %d in flight; want %d, 0", a.Failures, a.InFlight, 2+refusals+n)
	}
}

// testConcurrentGuard: identities whose buckets overlap (alice and bob on
// one address, alice on another) log in at once through a guard. No more
// credential checks than the limit ever run at once for a bucket, and every
// failed check is counted in each of its buckets.
func testConcurrentGuard(t *testing.T, e *env) {
	const limit = 4
	clk := NewClock(base)
	g := newGuard(t, e.s, axes.Config{
		FailureLimit: limit, CoolOff: time.Hour, FixedCoolOff: true,
		LockoutParameters: []axes.Group{{axes.ParamIPAddress}, {axes.ParamUsername}},
	}, clk)
	ids := []axes.Identity{ident("192.0.2.31", "alice"), ident("192.0.2.31", "bob"), ident("192.0.2.32", "alice")}
	keys := make([][]string, len(ids))
	inFlight := map[string]*atomic.Int64{}
	for i, id := range ids {
		bs, err := g.Buckets(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			keys[i] = append(keys[i], b.Key)
			if inFlight[b.Key] == nil {
				inFlight[b.Key] = new(atomic.Int64)
			}
		}
	}
	if len(inFlight) != 4 {
		t.Fatalf("the identities have %d buckets, want 4", len(inFlight))
	}
	var mu sync.Mutex
	failed := map[string]int{} // failed checks per bucket
	most := map[string]int64{} // the most checks seen at once per bucket
	var errs atomic.Int64
	const workers, attempts = 8, 30
	ctx := t.Context()
	parallel(len(ids)*workers, func(w int) {
		who := w % len(ids)
		for a := range attempts {
			bad := (w*attempts+a)%8 == 0
			check := func(context.Context) (bool, error) {
				for _, k := range keys[who] {
					n := inFlight[k].Add(1)
					mu.Lock()
					most[k] = max(most[k], n)
					mu.Unlock()
				}
				time.Sleep(20 * time.Microsecond)
				mu.Lock()
				for _, k := range keys[who] {
					if bad {
						failed[k]++
					}
					inFlight[k].Add(-1)
				}
				mu.Unlock()
				return !bad, nil
			}
			if _, err := g.Authenticate(ctx, ids[who], check); err != nil {
				errs.Add(1)
			}
		}
	})
	if errs.Load() > 0 {
		t.Fatalf("%d attempts failed with an error", errs.Load())
	}
	for k, n := range most {
		if n > limit {
			t.Errorf("bucket %q: %d credential checks ran at once, more than the limit %d", k, n, limit)
		}
	}
	for i, id := range ids {
		ex, err := g.Explain(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range ex.Buckets {
			if b.Failures != failed[b.Bucket.Key] || b.InFlight != 0 {
				t.Errorf("identity %d, %s bucket: %d failures, %d in flight; want %d (the failed checks), 0",
					i, b.Bucket.Params, b.Failures, b.InFlight, failed[b.Bucket.Key])
			}
		}
	}
	t.Logf("most checks at once per bucket: %v; failed checks: %v", most, failed)
}
