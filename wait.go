package axes

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goaxes/axes/storage"
)

// waitroom holds the attempts of this process that wait for a place in a
// bucket, by bucket key, in the order they came. A settlement by this
// guard that frees a place wakes the first waiter of the bucket (one
// place, one waiter: not a herd that would queue up on the store), and a
// settlement that locks the bucket wakes them all, to be refused. A
// settlement by another process (or a lapse) is found by polling, with a
// growing, jittered interval. A waiter holds no store connection and no
// lock.
type waitroom struct {
	mu    sync.Mutex
	rooms map[string][]chan struct{}
}

// join adds a waiter to the room of key and returns the channel that wakes
// it, or false when max attempts wait there already.
func (w *waitroom) join(key string, max int) (chan struct{}, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rooms == nil {
		w.rooms = make(map[string][]chan struct{})
	}
	if len(w.rooms[key]) >= max {
		return nil, false
	}
	ch := make(chan struct{}, 1)
	w.rooms[key] = append(w.rooms[key], ch)
	return ch, true
}

// leave removes the waiter ch from the room of key. A wake-up it got and
// did not use goes to the next waiter, so that no freed place is missed.
func (w *waitroom) leave(key string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := slices.DeleteFunc(w.rooms[key], func(c chan struct{}) bool { return c == ch })
	if len(r) == 0 {
		delete(w.rooms, key)
		return
	}
	w.rooms[key] = r
	select {
	case <-ch:
		for _, c := range r {
			select {
			case c <- struct{}{}:
				return
			default:
			}
		}
	default:
	}
}

// wake wakes the first waiter of key that is not awake yet, or every
// waiter with all.
func (w *waitroom) wake(key string, all bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.rooms[key] {
		select {
		case ch <- struct{}{}:
			if !all {
				return
			}
		default: // awake already
		}
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

// lockMemo remembers, in this process, the buckets that answered locked
// and until when, so that the next attempt asks those buckets first and,
// when one is still locked, never touches the attempt's other buckets: a
// locked client's flood neither holds a place in a victim's username
// bucket for a moment nor costs more than one step per request. It is a
// hint only (a reset elsewhere is found by asking), and bounded: past
// memoSize buckets it starts afresh.
type lockMemo struct {
	mu    sync.Mutex
	until map[string]int64 // lock end, µs; math.MaxInt64: until reset
}

const memoSize = 10_000

// note records the locked answers of buckets.
func (m *lockMemo) note(buckets []storage.Bucket, ans []storage.Answer) {
	for i, a := range ans {
		if !a.Locked {
			continue
		}
		end := a.Until
		if end == 0 {
			end = math.MaxInt64
		}
		m.mu.Lock()
		if m.until == nil || len(m.until) >= memoSize {
			m.until = make(map[string]int64)
		}
		m.until[buckets[i].Key] = end
		m.mu.Unlock()
	}
}

// locked returns the indexes of the buckets remembered as locked at now.
func (m *lockMemo) locked(buckets []storage.Bucket, now int64) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var idx []int
	for i, b := range buckets {
		if end, ok := m.until[b.Key]; ok {
			if now < end {
				idx = append(idx, i)
			} else {
				delete(m.until, b.Key)
			}
		}
	}
	return idx
}

// forget drops what is remembered of buckets.
func (m *lockMemo) forget(buckets []storage.Bucket, idx []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, i := range idx {
		delete(m.until, buckets[i].Key)
	}
}
