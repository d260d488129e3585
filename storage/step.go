package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind names what a [Step] does. The table in docs/step.md gives every kind
// against every state.
type Kind uint8

// The step kinds.
const (
	// Peek reads the bucket as it stands at Now; the store writes nothing.
	Peek Kind = iota + 1
	// Admit decides whether an attempt may go on to the credential check.
	// A bucket locked by its failures refuses it (Answer.Locked) and counts
	// it as a failure unless FixedCoolOff. A bucket whose places under the
	// limit are all held by tickets in flight refuses it without counting
	// (Answer.Full). Otherwise the attempt reserves a place: it becomes a
	// ticket of cohort Answer.Slot.
	Admit
	// Fail settles a ticket (Held, Slot) as failed: its reservation
	// becomes a failure, unless it lapsed already (a lapse counted it).
	// Without Held it counts a failure that held no place (an attempt
	// refused by a lock on another bucket of the same identity).
	Fail
	// Release gives a ticket's reservation back (with Held; without, it
	// changes nothing).
	Release
	// Clear forgets the bucket's failures and shares, after giving back
	// the ticket's reservation when Held. The reservations of other
	// tickets stay: their checks are still running, and count when they
	// settle. It serves a successful login with reset on success (on the
	// buckets whose key has the username) and an operator's reset.
	Clear
	// Take takes User's share of the failures off the bucket, after giving
	// back the ticket's reservation when Held: reset on success and an
	// operator's reset of a user, on buckets whose key has no username.
	Take
)

// String returns the kind's name in lower case.
func (k Kind) String() string {
	switch k {
	case Peek:
		return "peek"
	case Admit:
		return "admit"
	case Fail:
		return "fail"
	case Release:
		return "release"
	case Clear:
		return "clear"
	case Take:
		return "take"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind returns the kind named s (as [Kind.String] writes it).
func ParseKind(s string) (Kind, error) {
	for k := Peek; k <= Take; k++ {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("storage: unknown step kind %q", s)
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) {
	if k < Peek || k > Take {
		return nil, fmt.Errorf("storage: unknown step kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// Tier is one step of a progressive lockout: from Failures failures on, a
// locked bucket stays locked for CoolOff microseconds after its last
// failure; 0 locks until reset.
type Tier struct {
	Failures int   `json:"failures"`
	CoolOff  int64 `json:"cooloff_us"`
}

// Policy is the lockout rule a step applies, as plain data in integer
// microseconds. The guard resolves it from its configuration for every
// attempt.
type Policy struct {
	// Limit is the number of failures at which a bucket locks (>= 1).
	Limit int `json:"limit"`
	// Tiers lists the cool-offs, sorted by Failures, the first at Limit.
	// Without progressive lockout there is one tier.
	Tiers []Tier `json:"tiers"`
	// Window is how long after its last failure a bucket's count is
	// forgotten (never sooner than its lock ends); 0 means never.
	Window int64 `json:"window_us"`
	// Lease is how long a ticket may stay unsettled: a ticket admitted at
	// t lapses into a failure at a time in (t+Lease, t+2·Lease]. 0 means
	// tickets never lapse.
	Lease int64 `json:"lease_us"`
	// RecordOnly counts failures but never locks.
	RecordOnly bool `json:"record_only,omitempty"`
	// FixedCoolOff refuses attempts made while locked without counting them.
	FixedCoolOff bool `json:"fixed_cooloff,omitempty"`
}

// Validate reports what makes p unusable.
func (p *Policy) Validate() error {
	var errs []error
	if p.Limit < 1 {
		errs = append(errs, fmt.Errorf("limit %d is below 1", p.Limit))
	}
	if len(p.Tiers) == 0 {
		errs = append(errs, errors.New("no tier"))
	} else if p.Tiers[0].Failures != p.Limit {
		errs = append(errs, fmt.Errorf("the first tier is at %d failures, not at the limit %d", p.Tiers[0].Failures, p.Limit))
	}
	for i, t := range p.Tiers {
		if t.CoolOff < 0 {
			errs = append(errs, fmt.Errorf("tier %d has a negative cool-off", i))
		}
		if i > 0 && t.Failures <= p.Tiers[i-1].Failures {
			errs = append(errs, fmt.Errorf("tier %d is not after tier %d", i, i-1))
		}
	}
	if p.Window < 0 || p.Lease < 0 {
		errs = append(errs, errors.New("negative window or lease"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage: invalid policy: %w", err)
	}
	return nil
}

// CoolOff returns the cool-off (µs; 0: until reset) of a bucket with n
// failures. It is meaningful only for n >= Limit.
func (p *Policy) CoolOff(n int) int64 {
	var c int64
	for _, t := range p.Tiers {
		if t.Failures > n {
			break
		}
		c = t.CoolOff
	}
	return c
}

// keep is how long after its last failure a count of n is kept: the
// window, or the lock if that is longer; 0 means forever.
func (p *Policy) keep(n int) int64 {
	if p.Window <= 0 {
		return 0
	}
	if n >= p.Limit {
		c := p.CoolOff(n)
		if c <= 0 {
			return 0
		}
		return max(p.Window, c)
	}
	return p.Window
}

// keepUpTo is the longest keep of any count from 1 to n (0: forever):
// how long a bucket may be kept after its last tickets lapse, whatever
// happens to its count before then.
func (p *Policy) keepUpTo(n int) int64 {
	if p.Window <= 0 {
		return 0
	}
	k := p.Window
	for _, t := range p.Tiers {
		if t.Failures > n {
			break
		}
		if t.CoolOff <= 0 {
			return 0
		}
		k = max(k, t.CoolOff)
	}
	return k
}

// Step is what a store applies to one bucket: a kind, the time, the policy
// and, for the kinds that settle a ticket, which ticket.
type Step struct {
	Kind Kind `json:"kind"`
	// Now is the time of the step, in Unix microseconds (> 0).
	Now    int64  `json:"now_us"`
	Policy Policy `json:"policy"`
	// Held says that the step settles a ticket of this bucket, admitted in
	// cohort Slot (the Answer.Slot of its Admit).
	Held bool  `json:"held,omitempty"`
	Slot int64 `json:"slot,omitempty"`
	// User is the username a failure counted here is credited to, and
	// whose share Take removes: set on buckets whose key has no username,
	// when the identity has one; "" otherwise.
	User string `json:"user,omitempty"`
}

// MaxShares is how many users' shares a bucket keeps. When a new user's
// failure would make one more, the smallest share (the first by user on a
// tie) is dropped: its failures stay counted, and only that user's reset
// can no longer take them back, which errs on the safe side.
const MaxShares = 32

// Share is the part of a bucket's failures that one username caused: what
// reset on success takes back from a bucket whose key has no username, so
// that one user's success never wipes another's failures.
type Share struct {
	User     string `json:"user"`
	Failures int    `json:"failures"`
}

// State is what a store keeps for a bucket. It is small and all integers
// (Unix microseconds), besides the shares.
//
// Tickets in flight are counted in two cohorts: Reserved holds the tickets
// admitted in cohort Slot (Slot = Now / Lease at admission) and Older those
// of cohort Slot-1. Cohort k lapses into failures at (k+2)·Lease, so every
// ticket is counted within two leases of its admission, whatever the traffic.
type State struct {
	// Failures counts the settled failures (and lapsed tickets) of the
	// current count.
	Failures int `json:"failures,omitempty"`
	// LastFailure is when the last of them was counted; 0 without failures.
	LastFailure int64 `json:"last_failure_us,omitempty"`
	// Reserved and Older count the tickets in flight of cohorts Slot and
	// Slot-1.
	Reserved int   `json:"reserved,omitempty"`
	Older    int   `json:"older,omitempty"`
	Slot     int64 `json:"slot,omitempty"`
	// Shares lists the users' shares of Failures, sorted by user, each
	// between 1 and Failures, at most MaxShares.
	Shares []Share `json:"shares,omitempty"`
	// ExpiresAt is when the store may forget the bucket (0: never). A
	// bucket read at or after it is absent to every step. Stores use it
	// for garbage collection only (PEXPIREAT, Purge).
	ExpiresAt int64 `json:"expires_at_us,omitempty"`
}

// Empty reports whether the state holds nothing: the store deletes it.
func (s *State) Empty() bool { return s.Failures <= 0 && s.Reserved <= 0 && s.Older <= 0 }

// Share returns user's share of the failures.
func (s *State) Share(user string) int {
	if i, ok := shareIndex(s.Shares, user); ok {
		return s.Shares[i].Failures
	}
	return 0
}

// Answer is what a step decided, and the bucket as it stands after it.
type Answer struct {
	// Admitted: the Admit reserved a place; the ticket's cohort is Slot.
	Admitted bool  `json:"admitted,omitempty"`
	Slot     int64 `json:"slot,omitempty"`
	// Locked: the bucket is locked by its failures at Now, after the step.
	Locked bool `json:"locked,omitempty"`
	// Full: the Admit was refused, uncounted, because tickets in flight
	// hold every place left under the limit.
	Full bool `json:"full,omitempty"`
	// Counted: the step added a failure.
	Counted bool `json:"counted,omitempty"`
	// Until is, with Locked, when the lock ends (0: until reset); with
	// Full, when the last ticket in flight lapses (0: never).
	Until int64 `json:"until_us,omitempty"`
	// Failures and LastFailure are the bucket's after the step.
	Failures    int   `json:"failures,omitempty"`
	LastFailure int64 `json:"last_failure_us,omitempty"`
	// ForgetAt is when the failures are forgotten (0: never, or none).
	ForgetAt int64 `json:"forget_at_us,omitempty"`
	// InFlight counts the tickets in flight after the step.
	InFlight int `json:"in_flight,omitempty"`
	// Taken counts the failures that a Clear or a Take removed.
	Taken int `json:"taken,omitempty"`
}

// Apply is the step function: the whole decision of axes, for one bucket.
// It returns the state to store (delete it when it is [State.Empty]; for a
// Peek, store nothing) and the answer. It is pure and deterministic, and
// never changes st's shares in place, so a store may call it again when an
// optimistic transaction retries. docs/step.md is its specification.
func Apply(s *Step, st State) (State, Answer) {
	p := &s.Policy
	now := s.Now
	// An expired bucket is absent.
	if st.ExpiresAt != 0 && now >= st.ExpiresAt {
		st = State{}
	}
	prevExpiry := st.ExpiresAt
	st = live(p, sanitize(st), now)
	had := !st.Empty()

	var a Answer
	switch s.Kind {
	case Admit:
		switch locked, _ := lock(p, &st, now); {
		case locked:
			if !p.FixedCoolOff {
				count(&st, s.User, now)
				a.Counted = true
			}
		case !p.RecordOnly && st.Reserved+st.Older > 0 && st.Failures+st.Reserved+st.Older >= max(p.Limit, 1):
			a.Full, a.Until = true, lapseEnd(p, &st)
		default:
			if st.Reserved+st.Older == 0 {
				st.Slot = slotOf(p, now)
			}
			st.Reserved++
			a.Admitted, a.Slot = true, st.Slot
		}
	case Fail:
		if !s.Held || give(&st, s.Slot) {
			count(&st, s.User, now)
			a.Counted = true
		}
	case Release:
		if s.Held {
			give(&st, s.Slot)
		}
	case Clear:
		if s.Held {
			give(&st, s.Slot)
		}
		a.Taken = st.Failures
		st.Failures, st.LastFailure, st.Shares = 0, 0, nil
	case Take:
		if s.Held {
			give(&st, s.Slot)
		}
		if i, ok := shareIndex(st.Shares, s.User); ok {
			n := min(st.Shares[i].Failures, st.Failures)
			st.Failures -= n
			a.Taken = n
			st.Shares = slices.Delete(slices.Clone(st.Shares), i, i+1)
			// A smaller count may be kept for less time (a shorter tier):
			// what is past its keep now goes.
			forget(p, &st, now)
		}
	}

	if st.Empty() {
		st = State{}
	} else {
		st.ExpiresAt = expiry(p, &st)
		if had && st.ExpiresAt != 0 && (prevExpiry == 0 || prevExpiry > st.ExpiresAt) {
			// An expiry never moves earlier: a stricter policy sharing the
			// bucket may still need it.
			st.ExpiresAt = prevExpiry
		}
	}
	locked, until := lock(p, &st, now)
	if locked {
		a.Locked, a.Until = true, until
	}
	a.Failures, a.LastFailure = st.Failures, st.LastFailure
	a.InFlight = st.Reserved + st.Older
	if st.Failures > 0 {
		if k := p.keep(st.Failures); k > 0 {
			a.ForgetAt = st.LastFailure + k
		}
	}
	return st, a
}

// sanitize repairs what a damaged store could hand back: negative counts,
// shares that are empty, unsorted or repeated.
func sanitize(st State) State {
	st.Failures, st.Reserved, st.Older = max(st.Failures, 0), max(st.Reserved, 0), max(st.Older, 0)
	ok := slices.IsSortedFunc(st.Shares, func(a, b Share) int { return strings.Compare(a.User, b.User) })
	for i, sh := range st.Shares {
		ok = ok && sh.Failures > 0 && sh.User != "" && (i == 0 || sh.User != st.Shares[i-1].User)
	}
	if ok {
		return st
	}
	shares := slices.DeleteFunc(slices.Clone(st.Shares), func(sh Share) bool { return sh.Failures <= 0 || sh.User == "" })
	slices.SortStableFunc(shares, func(a, b Share) int { return strings.Compare(a.User, b.User) })
	st.Shares = slices.CompactFunc(shares, func(a, b Share) bool { return a.User == b.User })
	return st
}

// slotOf returns the cohort of a ticket admitted at now.
func slotOf(p *Policy, now int64) int64 {
	if p.Lease <= 0 || now <= 0 {
		return 0
	}
	return now / p.Lease
}

// live brings st to now: the due lapses of cohorts and the due forgetting
// of failures, in the order of their times, so that the result does not
// depend on when the bucket was last looked at. Afterwards Slot is the
// current cohort (never earlier than the stored one, should a clock step
// back) when tickets are in flight, and 0 when none are.
func live(p *Policy, st State, now int64) State {
	if st.Reserved+st.Older > 0 && p.Lease > 0 {
		cur := max(slotOf(p, now), st.Slot)
		if d := cur - st.Slot; d >= 1 {
			if st.Older > 0 {
				lapse(p, &st, st.Older, (st.Slot+1)*p.Lease)
			}
			st.Older = 0
			if d >= 2 {
				if st.Reserved > 0 {
					lapse(p, &st, st.Reserved, (st.Slot+2)*p.Lease)
				}
				st.Reserved = 0
			} else {
				st.Older, st.Reserved = st.Reserved, 0
			}
			st.Slot = cur
		}
	}
	forget(p, &st, now)
	if st.Reserved+st.Older == 0 {
		st.Slot = 0
	}
	return st
}

// lapse counts n tickets that lapsed at at as failures, after forgetting
// what was due before then.
func lapse(p *Policy, st *State, n int, at int64) {
	forget(p, st, at)
	st.Failures += n
	st.LastFailure = max(st.LastFailure, at)
}

// forget drops the failures (and their shares) once their keep has passed
// at now.
func forget(p *Policy, st *State, now int64) {
	if st.Failures > 0 {
		if k := p.keep(st.Failures); k > 0 && now >= st.LastFailure+k {
			st.Failures = 0
		}
	}
	if st.Failures <= 0 {
		st.Failures, st.LastFailure, st.Shares = 0, 0, nil
	}
}

// count adds one failure at now, credited to user's share.
func count(st *State, user string, now int64) {
	st.Failures++
	st.LastFailure = max(st.LastFailure, now)
	if user == "" {
		return
	}
	i, ok := shareIndex(st.Shares, user)
	shares := slices.Clone(st.Shares)
	if ok {
		shares[i].Failures++
		st.Shares = shares
		return
	}
	if len(shares) >= MaxShares {
		j := 0
		for k, sh := range shares {
			if sh.Failures < shares[j].Failures {
				j = k
			}
		}
		shares = slices.Delete(shares, j, j+1)
		i, _ = shareIndex(shares, user)
	}
	st.Shares = slices.Insert(shares, i, Share{User: user, Failures: 1})
}

// give hands back the reservation of a ticket of cohort slot, and reports
// whether it was still held (false: it lapsed into a failure already).
func give(st *State, slot int64) bool {
	switch {
	case st.Reserved > 0 && slot == st.Slot:
		st.Reserved--
	case st.Older > 0 && slot == st.Slot-1:
		st.Older--
	default:
		return false
	}
	if st.Reserved+st.Older == 0 {
		st.Slot = 0
	}
	return true
}

// lapseEnd is when the last ticket in flight lapses (0: never).
func lapseEnd(p *Policy, st *State) int64 {
	switch {
	case p.Lease <= 0:
		return 0
	case st.Reserved > 0:
		return (st.Slot + 2) * p.Lease
	case st.Older > 0:
		return (st.Slot + 1) * p.Lease
	}
	return 0
}

// lock reports whether st is locked at now by its failures, and until when
// (0: until reset).
func lock(p *Policy, st *State, now int64) (bool, int64) {
	if p.RecordOnly || st.Failures < max(p.Limit, 1) {
		return false, 0
	}
	c := p.CoolOff(st.Failures)
	if c <= 0 {
		return true, 0
	}
	until := st.LastFailure + c
	return now < until, until
}

// expiry is when st may be forgotten (0: never): when its failures are
// forgotten, or, with tickets in flight, a keep after the last of them
// lapses, whichever is later.
func expiry(p *Policy, st *State) int64 {
	var e int64
	if st.Failures > 0 {
		k := p.keep(st.Failures)
		if k <= 0 {
			return 0
		}
		e = st.LastFailure + k
	}
	if n := st.Reserved + st.Older; n > 0 {
		end := lapseEnd(p, st)
		k := p.keepUpTo(st.Failures + n)
		if end <= 0 || k <= 0 {
			return 0
		}
		// The lapsed tickets keep the later of their lapse and the last
		// failure (a clock may have stepped back).
		e = max(e, max(end, st.LastFailure)+k)
	}
	return e
}

// shareIndex finds user in shares (sorted by user): its index, or where it
// would be inserted.
func shareIndex(shares []Share, user string) (int, bool) {
	return slices.BinarySearchFunc(shares, user, func(sh Share, u string) int { return strings.Compare(sh.User, u) })
}
