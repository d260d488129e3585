package refmodel

import (
	"fmt"
	"math/rand/v2"

	"github.com/goaxes/axes/storage"
)

// Times of the generator, in microseconds.
const (
	second = int64(1_000_000)
	minute = 60 * second
	hour   = 60 * minute
	// epoch is 2026-01-01T00:00:00Z, a multiple of every lease used here.
	epoch = int64(1_767_225_600) * second
)

// Walk describes one random sequence of steps on one bucket.
type Walk struct {
	// Steps is the number of steps.
	Steps int
	// Backward lets the clock step back now and then.
	Backward bool
	// Damaged starts from a stored state that a damaged store could hand
	// back (negative counts, unsorted or repeated shares, ...).
	Damaged bool
	// Shared lets a second policy apply some of the steps, as when two
	// identities with different policies share a bucket.
	Shared bool
}

// Run generates the walk from r. It calls apply with every step and the
// stored state, and carries the state apply returns to the next step as a
// store would (a Peek writes nothing). It settles the tickets that apply
// admits, some of them late, after they lapsed.
func (w Walk) Run(r *rand.Rand, apply func(storage.Step, storage.State) (storage.State, storage.Answer)) {
	pol := RandomPolicy(r)
	other := RandomPolicy(r)
	users := []string{"", "alice", "bob", "carol"}
	if r.IntN(6) == 0 {
		// A crowd, to fill the shares past MaxShares.
		users = make([]string, storage.MaxShares+8)
		for i := range users {
			users[i] = fmt.Sprintf("user%02d", r.IntN(storage.MaxShares+8))
		}
		pol.Limit = 200
		pol.Tiers = []storage.Tier{{Failures: 200, CoolOff: 10 * minute}}
	}
	now := epoch + r.Int64N(hour)
	var st storage.State
	if w.Damaged {
		st = RandomState(r, &pol, now)
	}
	var tickets []int64
	var last storage.Answer
	for range w.Steps {
		now = w.tick(r, &pol, now, st, last)
		s := storage.Step{Now: now, Policy: pol, User: users[r.IntN(len(users))]}
		if w.Shared && r.IntN(5) == 0 {
			s.Policy = other
		}
		switch k := r.IntN(100); {
		case k < 30:
			s.Kind = storage.Admit
		case k < 55:
			s.Kind = storage.Fail
		case k < 67:
			s.Kind = storage.Release
		case k < 82:
			s.Kind = storage.Peek
		case k < 90:
			s.Kind = storage.Take
		default:
			s.Kind = storage.Clear
		}
		if s.Kind != storage.Admit && s.Kind != storage.Peek {
			switch {
			case len(tickets) > 0 && r.IntN(8) != 0:
				i := r.IntN(len(tickets))
				s.Held, s.Slot = true, tickets[i]
				tickets = append(tickets[:i], tickets[i+1:]...)
			case r.IntN(10) == 0:
				// A ticket this bucket never gave out.
				s.Held, s.Slot = true, st.Slot+r.Int64N(5)-2
			}
		}
		next, a := apply(s, st)
		if s.Kind != storage.Peek {
			st = next
		}
		if a.Admitted {
			tickets = append(tickets, a.Slot)
		}
		last = a
	}
}

// tick moves the clock: mostly forward, often onto a boundary the bucket
// has (a cohort's lapse, the end of a lock, forgetting, the expiry) or
// one microsecond either side of it.
func (w Walk) tick(r *rand.Rand, p *storage.Policy, now int64, st storage.State, last storage.Answer) int64 {
	if w.Backward && r.IntN(12) == 0 {
		back := 1 + r.Int64N(max(2*p.Lease, 3*minute))
		return max(now-back, 1)
	}
	var marks []int64
	if p.Lease > 0 && st.Reserved+st.Older > 0 {
		marks = append(marks, (st.Slot+1)*p.Lease, (st.Slot+2)*p.Lease, (st.Slot+3)*p.Lease)
	}
	marks = append(marks, last.Until, last.ForgetAt, st.ExpiresAt)
	if p.Lease > 0 {
		marks = append(marks, (now/p.Lease+1)*p.Lease)
	}
	switch r.IntN(10) {
	case 0, 1, 2:
		if m := marks[r.IntN(len(marks))]; m > now && m-now < 4*hour {
			return m + r.Int64N(3) - 1
		}
		return now + 1
	case 3:
		return now
	case 4, 5:
		return now + 1 + r.Int64N(10*second)
	case 6:
		return now + 1 + r.Int64N(max(p.Lease, second))
	case 7:
		return now + r.Int64N(5*minute)
	case 8:
		return now + r.Int64N(40*minute)
	default:
		return now + r.Int64N(3*hour)
	}
}

// RandomPolicy returns a valid policy: one to three tiers (the last one
// sometimes permanent), a window that may be shorter than the cool-off or
// 0, a lease (sometimes 0), and now and then RecordOnly or FixedCoolOff.
func RandomPolicy(r *rand.Rand) storage.Policy {
	durations := []int64{10 * second, minute, 5 * minute, 10 * minute, hour}
	p := storage.Policy{Limit: 1 + r.IntN(5)}
	n := p.Limit
	for i := range 1 + r.IntN(3) {
		c := durations[r.IntN(len(durations))]
		if i > 0 && r.IntN(4) == 0 {
			c = 0
		}
		p.Tiers = append(p.Tiers, storage.Tier{Failures: n, CoolOff: c})
		if c == 0 {
			break
		}
		n += 1 + r.IntN(3)
	}
	if r.IntN(12) == 0 {
		p.Tiers[0].CoolOff = 0
		p.Tiers = p.Tiers[:1]
	}
	switch r.IntN(6) {
	case 0:
		p.Window = 0
	case 1:
		p.Window = 30 * second
	default:
		p.Window = durations[r.IntN(len(durations))]
	}
	switch r.IntN(6) {
	case 0:
		p.Lease = 0
	case 1:
		p.Lease = second
	case 2, 3:
		p.Lease = 30 * second
	default:
		p.Lease = minute
	}
	p.RecordOnly = r.IntN(10) == 0
	p.FixedCoolOff = r.IntN(4) == 0
	return p
}

// RandomState returns a stored state near now, often damaged: negative
// counts, shares unsorted, repeated, empty, larger than the failures or
// without failures, a slot without tickets, an expiry in the past.
func RandomState(r *rand.Rand, p *storage.Policy, now int64) storage.State {
	st := storage.State{
		Failures: r.IntN(8) - 2,
		Reserved: r.IntN(5) - 1,
		Older:    r.IntN(4) - 1,
	}
	if st.Failures != 0 || r.IntN(3) == 0 {
		st.LastFailure = now - r.Int64N(2*hour) + r.Int64N(10*minute)
	}
	if p.Lease > 0 {
		st.Slot = now/p.Lease + r.Int64N(6) - 3
	} else if r.IntN(3) == 0 {
		st.Slot = r.Int64N(4)
	}
	users := []string{"alice", "bob", "carol", "", "dave"}
	for range r.IntN(5) {
		st.Shares = append(st.Shares, storage.Share{User: users[r.IntN(len(users))], Failures: r.IntN(8) - 1})
	}
	switch r.IntN(4) {
	case 0:
		st.ExpiresAt = now - r.Int64N(hour)
	case 1:
		st.ExpiresAt = now + r.Int64N(3*hour)
	}
	return st
}
