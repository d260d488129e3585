package axes

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// waitroom holds the attempts of this process that wait for a place in a
// bucket, by bucket key. A settlement by this guard wakes the waiters of
// its buckets at once; a settlement by another process (or a lapse) is
// found by polling, with a growing, jittered interval. A waiter holds no
// store connection and no lock.
type waitroom struct {
	mu    sync.Mutex
	rooms map[string]*room
}

type room struct {
	wake    chan struct{} // closed when a place may have been freed
	waiters int
}

// join adds a waiter to the room of key and returns the channel that wakes
// it, or false when max attempts wait there already.
func (w *waitroom) join(key string, max int) (<-chan struct{}, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rooms == nil {
		w.rooms = make(map[string]*room)
	}
	r := w.rooms[key]
	if r == nil {
		r = &room{wake: make(chan struct{})}
		w.rooms[key] = r
	}
	if r.waiters >= max {
		return nil, false
	}
	r.waiters++
	return r.wake, true
}

// leave removes a waiter from the room of key.
func (w *waitroom) leave(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r := w.rooms[key]; r != nil {
		if r.waiters--; r.waiters <= 0 {
			delete(w.rooms, key)
		}
	}
}

// wake wakes every waiter of key: a place there may be free.
func (w *waitroom) wake(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r := w.rooms[key]; r != nil {
		close(r.wake)
		r.wake = make(chan struct{})
	}
}

// pollInterval is the pause before the n-th look at the store (from 0)
// while waiting: 5ms doubling up to 200ms, with ±50% jitter, so that the
// waiters of several processes do not look in step.
func pollInterval(n int) time.Duration {
	d := 5 * time.Millisecond << min(n, 6)
	d = min(d, 200*time.Millisecond)
	return d/2 + rand.N(d)
}

// sleep waits for d, for wake, or for ctx, and reports ctx's error.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake:
	case <-t.C:
	}
	return nil
}

// checkTimer keeps a moving average of how long credential checks take
// (admission to settlement), to tell a refused client when to come back.
type checkTimer struct{ avg atomic.Int64 } // nanoseconds

func (c *checkTimer) observe(d time.Duration) {
	if d <= 0 {
		return
	}
	for {
		old := c.avg.Load()
		next := int64(d)
		if old > 0 {
			next = old + (int64(d)-old)/8
		}
		if c.avg.CompareAndSwap(old, next) {
			return
		}
	}
}

// retryAfter is the expected time until a check in flight settles: at
// least a second, so that a client never hammers.
func (c *checkTimer) retryAfter() time.Duration {
	return max(time.Duration(c.avg.Load()), time.Second)
}

// quietLog says a thing at most once per interval for each key: a flood of
// refusals or store errors makes one line, not one per request. It keeps
// at most a few thousand keys; past that it starts afresh.
type quietLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const quietInterval = time.Minute

// ok reports whether key may be logged at now, and then notes it.
func (q *quietLog) ok(key string, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil || len(q.last) > 4096 {
		q.last = make(map[string]time.Time)
	}
	if t, seen := q.last[key]; seen && now.Sub(t) < quietInterval && !now.Before(t) {
		return false
	}
	q.last[key] = now
	return true
}
