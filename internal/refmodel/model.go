// Package refmodel is a second implementation of the axes step function,
// written from docs/step.md and not from storage/step.go, so that the two
// check each other. It holds the golden vectors of the step function and a
// generator of random step sequences as well; storage's tests and the
// axestest package share them.
//
// The model is slow on purpose: it keeps one entry per ticket in flight,
// lists the lapses that are due, sorts them and replays them one by one,
// and keeps the shares in a map. It is for tests only.
package refmodel

import (
	"math"
	"slices"
	"strings"

	"github.com/goaxes/axes/storage"
)

// never stands for "no time": a keep or an expiry that does not end. It is
// written as 0 in a State or an Answer.
const never = int64(math.MaxInt64)

// bucket is the model's picture of a bucket at one time.
type bucket struct {
	pol      *storage.Policy
	failures int
	last     int64          // the time of the last failure; 0 without failures
	shares   map[string]int // user -> failures credited to that user
	tickets  []int64        // one entry per ticket in flight: the ticket's cohort
	cohort   int64          // the cohort new tickets join while tickets are in flight
}

// Apply computes the step s on the stored state in, as docs/step.md says:
// the state to store and the answer.
func Apply(s storage.Step, in storage.State) (storage.State, storage.Answer) {
	now := s.Now

	// 1. A bucket read at or after its expiry is absent.
	if in.ExpiresAt != 0 && now >= in.ExpiresAt {
		in = storage.State{}
	}
	stored := in.ExpiresAt

	// 2. Repair, 3. bring the bucket to now.
	b := load(&s.Policy, in)
	b.catchUp(now)
	wasLive := b.holds()

	// 4. The kind.
	var a storage.Answer
	switch s.Kind {
	case storage.Admit:
		inFlight := len(b.tickets)
		if locked, _ := b.lockedAt(now); locked {
			if !b.pol.FixedCoolOff {
				b.addFailure(s.User, now)
				a.Counted = true
			}
		} else if !b.pol.RecordOnly && inFlight > 0 && b.failures+inFlight >= b.limit() {
			a.Full = true
			a.Until = b.lastLapse()
		} else {
			if inFlight == 0 {
				b.cohort = b.cohortAt(now)
			}
			b.tickets = append(b.tickets, b.cohort)
			a.Admitted, a.Slot = true, b.cohort
		}
	case storage.Fail:
		if s.Held {
			if b.settle(s.Slot) {
				b.addFailure(s.User, now)
				a.Counted = true
			}
		} else {
			b.addFailure(s.User, now)
			a.Counted = true
		}
	case storage.Release:
		if s.Held {
			b.settle(s.Slot)
		}
	case storage.Clear:
		if s.Held {
			b.settle(s.Slot)
		}
		a.Taken = b.failures
		b.dropFailures()
	case storage.Take:
		if s.Held {
			b.settle(s.Slot)
		}
		if n, ok := b.shares[s.User]; ok {
			n = min(n, b.failures)
			delete(b.shares, s.User)
			b.failures -= n
			a.Taken = n
			if b.failures <= 0 {
				b.dropFailures()
			}
			b.forgetBy(now)
		}
	}

	// 5. The state to store.
	var out storage.State
	if b.holds() {
		out = b.save()
		exp := b.expiry()
		if wasLive {
			exp = latest(exp, stored)
		}
		if exp != never {
			out.ExpiresAt = exp
		}
	}

	// 6. The answer.
	if locked, until := b.lockedAt(now); locked {
		a.Locked = true
		a.Until = until
	}
	if b.holds() {
		a.Failures, a.LastFailure = b.failures, b.last
		a.InFlight = len(b.tickets)
		if b.failures > 0 {
			if k := b.keep(b.failures); k != never {
				a.ForgetAt = b.last + k
			}
		}
	}
	return out, a
}

// latest returns the later of two expiries, where never is the latest and
// a stored 0 means never.
func latest(computed, stored int64) int64 {
	if stored == 0 || computed == never {
		return never
	}
	return max(computed, stored)
}

// load reads a stored state, repairing what a damaged store could give:
// negative counts read as 0; shares with no user or no failures are
// dropped; of two shares of one user, the first one listed is kept.
func load(p *storage.Policy, st storage.State) *bucket {
	b := &bucket{
		pol:      p,
		failures: max(st.Failures, 0),
		last:     st.LastFailure,
		shares:   map[string]int{},
		cohort:   st.Slot,
	}
	for _, sh := range st.Shares {
		if sh.User == "" || sh.Failures <= 0 {
			continue
		}
		if _, dup := b.shares[sh.User]; !dup {
			b.shares[sh.User] = sh.Failures
		}
	}
	for range max(st.Older, 0) {
		b.tickets = append(b.tickets, st.Slot-1)
	}
	for range max(st.Reserved, 0) {
		b.tickets = append(b.tickets, st.Slot)
	}
	return b
}

// save writes the bucket as a State (without its expiry).
func (b *bucket) save() storage.State {
	st := storage.State{Failures: b.failures, LastFailure: b.last}
	for _, c := range b.tickets {
		switch c {
		case b.cohort:
			st.Reserved++
		case b.cohort - 1:
			st.Older++
		default:
			panic("refmodel: a ticket in flight outside the two cohorts")
		}
	}
	if len(b.tickets) > 0 {
		st.Slot = b.cohort
	}
	users := make([]string, 0, len(b.shares))
	for u := range b.shares {
		users = append(users, u)
	}
	slices.Sort(users)
	for _, u := range users {
		st.Shares = append(st.Shares, storage.Share{User: u, Failures: b.shares[u]})
	}
	return st
}

// holds reports whether the bucket holds anything: failures or tickets.
func (b *bucket) holds() bool { return b.failures > 0 || len(b.tickets) > 0 }

func (b *bucket) limit() int { return max(b.pol.Limit, 1) }

// cohortAt is the cohort of a ticket admitted at t into an idle bucket.
func (b *bucket) cohortAt(t int64) int64 {
	if b.pol.Lease <= 0 || t <= 0 {
		return 0
	}
	return t / b.pol.Lease
}

// lapseTime is when a ticket of cohort c lapses into a failure; never
// without a lease.
func (b *bucket) lapseTime(c int64) int64 {
	if b.pol.Lease <= 0 {
		return never
	}
	return (c + 2) * b.pol.Lease
}

// lastLapse is when the last ticket in flight lapses: 0 if never, or if
// none is in flight.
func (b *bucket) lastLapse() int64 {
	var end int64
	for _, c := range b.tickets {
		t := b.lapseTime(c)
		if t == never {
			return 0
		}
		end = max(end, t)
	}
	return end
}

// catchUp applies what fell due up to now: every lapse of a ticket and the
// forgetting of the failures, in the order of their times.
func (b *bucket) catchUp(now int64) {
	var due []int64 // lapse times, one per lapsed ticket
	var left []int64
	for _, c := range b.tickets {
		if t := b.lapseTime(c); t != never && t <= now {
			due = append(due, t)
		} else {
			left = append(left, c)
		}
	}
	slices.Sort(due)
	for _, t := range due {
		b.forgetBy(t)
		b.failures++
		b.last = max(b.last, t)
	}
	b.forgetBy(now)
	b.tickets = left
	if len(b.tickets) == 0 {
		b.cohort = 0
	} else if b.pol.Lease > 0 {
		// The cohort follows the clock, and never goes back with it.
		b.cohort = max(b.cohort, now/b.pol.Lease)
	}
}

// forgetBy forgets the failures if their keep ended at or before t.
func (b *bucket) forgetBy(t int64) {
	if b.failures > 0 {
		if k := b.keep(b.failures); k != never && t >= b.last+k {
			b.failures = 0
		}
	}
	if b.failures == 0 {
		b.dropFailures()
	}
}

func (b *bucket) dropFailures() {
	b.failures, b.last = 0, 0
	clear(b.shares)
}

// coolOff is the cool-off of the last tier at or below n failures; 0 (until
// reset) if none is.
func (b *bucket) coolOff(n int) int64 {
	for i := len(b.pol.Tiers) - 1; i >= 0; i-- {
		if b.pol.Tiers[i].Failures <= n {
			return b.pol.Tiers[i].CoolOff
		}
	}
	return 0
}

// keep is how long after the last failure a count of n is remembered.
func (b *bucket) keep(n int) int64 {
	w := b.pol.Window
	if w <= 0 {
		return never
	}
	if n < b.limit() {
		return w
	}
	c := b.coolOff(n)
	if c <= 0 {
		return never
	}
	return max(w, c)
}

// keepUpTo is the longest keep of the counts 1 to n.
func (b *bucket) keepUpTo(n int) int64 {
	// Past the last tier every count keeps as long; no need to go further.
	top := b.limit()
	for _, t := range b.pol.Tiers {
		top = max(top, t.Failures)
	}
	var k int64
	for m := 1; m <= min(n, top); m++ {
		k = max(k, b.keep(m))
	}
	return k
}

// lockedAt reports whether the failures lock the bucket at now, and the end
// of the lock (0: until reset).
func (b *bucket) lockedAt(now int64) (bool, int64) {
	if b.pol.RecordOnly || b.failures < b.limit() {
		return false, 0
	}
	c := b.coolOff(b.failures)
	if c <= 0 {
		return true, 0
	}
	end := b.last + c
	return now < end, end
}

// addFailure counts a failure at t, credited to user.
func (b *bucket) addFailure(user string, t int64) {
	b.failures++
	b.last = max(b.last, t)
	if user == "" {
		return
	}
	if _, ok := b.shares[user]; !ok && len(b.shares) >= storage.MaxShares {
		// Make room: the smallest share goes, the first by user on a tie.
		victim := ""
		for u, n := range b.shares {
			if victim == "" || n < b.shares[victim] || (n == b.shares[victim] && strings.Compare(u, victim) < 0) {
				victim = u
			}
		}
		delete(b.shares, victim)
	}
	b.shares[user]++
}

// settle takes a ticket of the cohort off the tickets in flight, and
// reports whether there was one (false: it lapsed already).
func (b *bucket) settle(cohort int64) bool {
	i := slices.Index(b.tickets, cohort)
	if i < 0 {
		return false
	}
	b.tickets = slices.Delete(b.tickets, i, i+1)
	if len(b.tickets) == 0 {
		b.cohort = 0
	}
	return true
}

// expiry is when the store may forget the bucket: never, or when its
// failures are forgotten and its tickets have lapsed and been forgotten,
// whichever is later.
func (b *bucket) expiry() int64 {
	var e int64 = math.MinInt64
	if b.failures > 0 {
		k := b.keep(b.failures)
		if k == never {
			return never
		}
		e = b.last + k
	}
	if n := len(b.tickets); n > 0 {
		end := b.lastLapse()
		k := b.keepUpTo(b.failures + n)
		if end <= 0 || k == never {
			return never
		}
		e = max(e, max(end, b.last)+k)
	}
	return e
}
