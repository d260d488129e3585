package axes

import (
	"time"
)

// BucketKind tells a lockout bucket from an attribution bucket.
type BucketKind int

const (
	// KindLockout is a bucket that can lock clients out: one lockout
	// parameter group evaluated for one identity.
	KindLockout BucketKind = iota
	// KindAttribution counts the failures that one username caused in a
	// lockout bucket that does not include the username (an IP-only bucket,
	// say). It never locks anyone; reset on success uses it to take back only
	// that user's own failures (see [Config.ResetOnSuccess]).
	KindAttribution
)

// Bucket describes what a record counts. Key is the store key; the other
// fields are the values the key was made from, kept for listing and resets.
type Bucket struct {
	Key       string
	Kind      BucketKind
	Params    string // the group, e.g. "ip_address" or "username+ip_address"
	IP        string // canonical address or prefix; "" if not in the group
	Username  string // normalised; "" if not in the group
	UserAgent string // "" if not in the group
	Parent    string // for KindAttribution: the key of the lockout bucket
}

// Record is the stored state of one bucket.
type Record struct {
	Bucket
	// Failures counts the settled failures in the current window.
	Failures int
	// LastFailure is when the last failure was counted.
	LastFailure time.Time
	// Reserved counts attempts admitted and being verified right now: each
	// holds a place under the limit until it is settled (OpFail turns it
	// into a failure, OpRelease gives it back). A reservation older than
	// the policy's Lease is taken for a failure: its process died.
	Reserved int
	// ReservedAt is when the last reservation was made.
	ReservedAt time.Time
	// LapsedAt is the time of the last reservation that lapsed into a
	// failure: settling a ticket admitted at or before it changes nothing
	// here, since its reservation was counted already.
	LapsedAt time.Time
	// Locked and LockedUntil describe the lock as of the last write, for
	// listing and eviction; decisions never rely on them. LockedUntil is zero
	// for a lock that lasts until reset.
	Locked      bool
	LockedUntil time.Time
	// ExpiresAt is when the store may forget the record; zero means never.
	ExpiresAt time.Time
}

// Empty reports whether the record holds nothing: a store deletes it.
func (r Record) Empty() bool { return r.Failures <= 0 && r.Reserved <= 0 }

// LockedAt reports whether the stored lock is still in force at now.
func (r Record) LockedAt(now time.Time) bool {
	return r.Locked && (r.LockedUntil.IsZero() || now.Before(r.LockedUntil))
}

// Tier is one step of a progressive lockout: from Failures failures on, a
// locked bucket stays locked for CoolOff after its last failure. A zero
// CoolOff locks until reset.
type Tier struct {
	Failures int           `json:"failures"`
	CoolOff  time.Duration `json:"cooloff"`
}

// Policy is the lockout rule for one identity, as plain data, so that a store
// can evaluate it where the data lives. The guard resolves it from the
// [Config] (including its functions) for every attempt.
type Policy struct {
	// Limit is the number of failures at which a bucket locks (>= 1).
	Limit int
	// Tiers lists the cool-offs, sorted by Failures; Tiers[0].Failures equals
	// Limit. Without progressive lockout there is one tier.
	Tiers []Tier
	// Window is how long after its last failure a bucket's count is
	// forgotten (never sooner than its lock ends); zero means never.
	Window time.Duration
	// Lease is how long a reservation may stay unsettled before it is
	// counted as a failure; zero means reservations never lapse.
	Lease time.Duration
	// RecordOnly counts failures but never locks (AXES_LOCK_OUT_AT_FAILURE=False).
	RecordOnly bool
	// FixedCoolOff refuses attempts made while locked without counting them.
	FixedCoolOff bool
}

// CoolOff returns the cool-off that applies to a bucket with n failures.
// It is meaningful only for n >= Limit.
func (p *Policy) CoolOff(n int) time.Duration {
	var c time.Duration
	for _, t := range p.Tiers {
		if t.Failures > n {
			break
		}
		c = t.CoolOff
	}
	return c
}

// lock reports whether r is locked at now by its settled failures, and
// until when (zero: until reset).
func (p *Policy) lock(r *Record, now time.Time) (bool, time.Time) {
	if p.RecordOnly || r.Failures < p.Limit {
		return false, time.Time{}
	}
	c := p.CoolOff(r.Failures)
	if c <= 0 {
		return true, time.Time{}
	}
	until := r.LastFailure.Add(c)
	return now.Before(until), until
}

// full reports whether the settled failures and the reservations together
// reach the limit: one more attempt could go over it.
func (p *Policy) full(r *Record) bool {
	return !p.RecordOnly && r.Failures+r.Reserved >= p.Limit
}

// keepFor is how long after its last failure a count of n must be kept.
func (p *Policy) keepFor(n int) time.Duration {
	if p.Window <= 0 {
		return 0
	}
	k := p.Window
	if n >= p.Limit {
		c := p.CoolOff(n)
		if c <= 0 {
			return 0
		}
		k = max(k, c)
	}
	return k
}

// ForgetAt returns when the failures of r are forgotten under p: its last
// failure plus the window (or the lock, if longer). It is zero when r has no
// failures or they are never forgotten. A store may keep the record longer
// (ExpiresAt), for reservations or a stricter policy.
func (p *Policy) ForgetAt(r Record) time.Time {
	if r.Failures <= 0 {
		return time.Time{}
	}
	if k := p.keepFor(r.Failures); k > 0 {
		return r.LastFailure.Add(k)
	}
	return time.Time{}
}

// live returns r as it stands at now: lapsed reservations become failures,
// and failures whose window has passed are forgotten.
//
// The window is this policy's: with a CoolOffFunc that gives identities
// sharing a bucket different cool-offs, an attempt by a lenient identity
// judges (and may forget) the bucket by its own window.
func (p *Policy) live(r Record, now time.Time) Record {
	if r.Reserved > 0 && p.Lease > 0 && !now.Before(r.ReservedAt.Add(p.Lease)) {
		r.Failures += r.Reserved
		if r.ReservedAt.After(r.LastFailure) {
			r.LastFailure = r.ReservedAt
		}
		if r.ReservedAt.After(r.LapsedAt) {
			r.LapsedAt = r.ReservedAt
		}
		r.Reserved, r.ReservedAt = 0, time.Time{}
	}
	if r.Reserved <= 0 {
		r.Reserved, r.ReservedAt = 0, time.Time{}
	}
	if r.Failures > 0 {
		if k := p.keepFor(r.Failures); k > 0 && !now.Before(r.LastFailure.Add(k)) {
			r.Failures, r.LastFailure = 0, time.Time{}
		}
	}
	if r.Failures <= 0 {
		r.Failures, r.LastFailure = 0, time.Time{}
		if r.Reserved == 0 {
			return Record{}
		}
	}
	return r
}

// OpKind names what an [Op] does.
type OpKind int

const (
	// OpAdmit decides whether an attempt may proceed to the credential
	// check. If a lockout bucket is locked by its failures, the attempt is
	// refused, and counted as a failure unless FixedCoolOff. If the failures
	// and the attempts being verified already reach the limit, it is refused
	// without being counted (Outcome.Pending). Otherwise it is admitted and
	// reserves a place on every bucket.
	OpAdmit OpKind = iota + 1
	// OpFail settles an admitted attempt as failed: its reservation becomes
	// a failure on every bucket.
	OpFail
	// OpRelease settles an admitted attempt without a failure: its
	// reservation is given back.
	OpRelease
	// OpResetUser settles an admitted attempt as a successful login with
	// reset on success: the reservation is given back, the buckets that
	// include the username are cleared, and the username's own failures (its
	// attribution records) are taken off the others.
	OpResetUser
	// OpPeek reads the lock state without changing anything.
	OpPeek
)

// Op is one atomic operation on the buckets of one identity. Buckets lists
// the lockout buckets and the attribution buckets; an attribution bucket
// names its lockout bucket in Parent.
type Op struct {
	Kind    OpKind
	Now     time.Time
	Buckets []Bucket
	Policy  Policy
	// Admitted is, for the ops that settle a ticket (OpFail, OpRelease,
	// OpResetUser), when the ticket was admitted: a bucket whose
	// reservations lapsed after that is left alone (see Record.LapsedAt).
	Admitted time.Time
}

// Keys returns the keys of the records the op reads and writes, in the order
// [Op.Apply] expects them.
func (op *Op) Keys() []string {
	keys := make([]string, len(op.Buckets))
	for i, b := range op.Buckets {
		keys[i] = b.Key
	}
	return keys
}

// Outcome is what an [Op] decided.
type Outcome struct {
	// Admitted is true when the attempt may proceed to the credential check.
	Admitted bool
	// Locked is true when a lockout bucket is locked (for OpAdmit: the
	// attempt was refused; for OpFail: this failure locked the client).
	Locked bool
	// Pending is true when OpAdmit refused the attempt because attempts
	// being verified would reach the limit; nothing was counted, and the
	// refusal lasts at most until LockedUntil (when the reservations lapse).
	Pending bool
	// Counted is true when the op added a failure (OpFail, or an attempt
	// counted while locked).
	Counted bool
	// Failures is the highest count of settled failures among the lockout
	// buckets after the op.
	Failures int
	// Bucket is the bucket that locks, or else the one with most failures.
	Bucket Bucket
	// LockedUntil is when the lock ends; zero with Locked means until reset.
	LockedUntil time.Time
	// Records holds the live records of an OpPeek, in the op's bucket
	// order (stores return what Apply computed); nil for other kinds.
	Records []Record
}

// Apply computes the effect of op. recs[i] holds the stored record for
// op.Keys()[i], or a zero Record when there is none. Apply returns the records
// to write back in the same order (an [Record.Empty] record means delete)
// and the outcome. It is a pure function of op and recs: stores may call it
// again when an optimistic transaction retries.
func (op *Op) Apply(recs []Record) ([]Record, Outcome) {
	p := &op.Policy
	now := op.Now
	out := make([]Record, len(op.Buckets))
	prevExpiry := make([]time.Time, len(op.Buckets))
	had := make([]bool, len(op.Buckets))
	for i, b := range op.Buckets {
		var r Record
		if i < len(recs) {
			r = p.live(recs[i], now)
		}
		if !r.Empty() {
			prevExpiry[i], had[i] = r.ExpiresAt, true
		}
		r.Bucket = b
		out[i] = r
	}
	parents := parentIndex(op.Buckets)
	for i, j := range parents {
		// An attribution record never outlives its lockout record: a stale
		// share would take other users' failures off a restarted bucket.
		if j >= 0 && out[j].Empty() {
			out[i] = Record{Bucket: op.Buckets[i]}
		}
	}
	var o Outcome
	switch op.Kind {
	case OpPeek:
		// A peek changes nothing: the records go back as they were read,
		// and only the outcome shows them as they stand at now.
		p.stamp(out, prevExpiry, had, now)
		o = p.summarise(op.Buckets, out, now)
		o.Records = out
		unchanged := make([]Record, len(op.Buckets))
		for i := range unchanged {
			if i < len(recs) && !recs[i].Empty() {
				unchanged[i] = recs[i]
			}
			unchanged[i].Bucket = op.Buckets[i]
		}
		return unchanged, o
	case OpAdmit:
		before := p.summarise(op.Buckets, out, now)
		if before.Locked {
			if !p.FixedCoolOff {
				for i := range out {
					out[i].Failures++
					out[i].LastFailure = now
				}
			}
			p.stamp(out, prevExpiry, had, now)
			o = p.summarise(op.Buckets, out, now)
			o.Counted = !p.FixedCoolOff
			return out, o
		}
		if pending, until, b := p.pending(op.Buckets, out); pending {
			p.stamp(out, prevExpiry, had, now)
			o = before
			o.Locked, o.Pending, o.LockedUntil, o.Bucket = true, true, until, b
			return out, o
		}
		for i := range out {
			out[i].Reserved++
			out[i].ReservedAt = now
		}
		p.stamp(out, prevExpiry, had, now)
		o = p.summarise(op.Buckets, out, now)
		o.Admitted = true
		return out, o
	case OpFail:
		for i := range out {
			// A reservation that lapsed was counted already.
			if out[i].Reserved > 0 && !op.lapsed(&out[i]) {
				out[i].Reserved--
				out[i].Failures++
				out[i].LastFailure = now
			}
		}
		p.stamp(out, prevExpiry, had, now)
		o = p.summarise(op.Buckets, out, now)
		o.Counted = true
		return out, o
	case OpRelease:
		op.release(out)
	case OpResetUser:
		op.release(out)
		for i, b := range op.Buckets {
			switch {
			case b.Kind == KindLockout && b.Username != "":
				out[i].Failures = 0
			case b.Kind == KindAttribution:
				if j := parents[i]; j >= 0 {
					out[j].Failures = max(0, out[j].Failures-out[i].Failures)
				}
				out[i].Failures = 0
			}
		}
	}
	p.stamp(out, prevExpiry, had, now)
	return out, p.summarise(op.Buckets, out, now)
}

// release gives back the ticket's reservation on every record where it
// has not lapsed.
func (op *Op) release(out []Record) {
	for i := range out {
		if out[i].Reserved > 0 && !op.lapsed(&out[i]) {
			out[i].Reserved--
		}
	}
}

// lapsed reports whether the settling ticket's reservation on r lapsed
// into a failure already.
func (op *Op) lapsed(r *Record) bool {
	return !op.Admitted.IsZero() && !r.LapsedAt.IsZero() && !op.Admitted.After(r.LapsedAt)
}

// pending reports whether a lockout bucket is full with reservations,
// when the last of them lapses, and the (first) full bucket.
func (p *Policy) pending(buckets []Bucket, recs []Record) (bool, time.Time, Bucket) {
	var (
		until time.Time
		found bool
		full  Bucket
	)
	for i, b := range buckets {
		if b.Kind == KindLockout && recs[i].Reserved > 0 && p.full(&recs[i]) {
			if !found {
				full = b
			}
			found = true
			if p.Lease > 0 {
				if t := recs[i].ReservedAt.Add(p.Lease); t.After(until) {
					until = t
				}
			}
		}
	}
	return found, until, full
}

// parentIndex returns, for each bucket, the index of its parent lockout
// bucket in the same op, or -1.
func parentIndex(buckets []Bucket) []int {
	out := make([]int, len(buckets))
	for i, b := range buckets {
		out[i] = -1
		if b.Kind != KindAttribution {
			continue
		}
		// An op holds a handful of buckets: a scan beats a map.
		for j, c := range buckets {
			if c.Kind == KindLockout && c.Key == b.Parent {
				out[i] = j
				break
			}
		}
	}
	return out
}

// stamp fills the informational lock fields and the expiry of every record.
// An expiry never moves earlier than the one stored (prev; zero, never, is
// the latest of all), so that a store does not forget a record that a
// stricter policy still needs before that policy's own attempts judge it.
// With a zero Lease a reservation makes its record never expire, for good:
// the guard always sets a lease. An attribution record expires with its
// parent.
func (p *Policy) stamp(out []Record, prev []time.Time, had []bool, now time.Time) {
	for i := range out {
		r := &out[i]
		if r.Reserved <= 0 {
			r.Reserved, r.ReservedAt = 0, time.Time{}
		}
		if r.Failures <= 0 {
			r.Failures, r.LastFailure = 0, time.Time{}
		}
		if r.Empty() {
			*r = Record{Bucket: r.Bucket}
			continue
		}
		r.Locked, r.LockedUntil = p.lock(r, now)
		r.ExpiresAt = p.expiry(r)
		if had[i] && !r.ExpiresAt.IsZero() && (prev[i].IsZero() || prev[i].After(r.ExpiresAt)) {
			r.ExpiresAt = prev[i]
		}
	}
	for i, b := range out {
		if b.Kind != KindAttribution || b.Empty() {
			continue
		}
		out[i].Locked, out[i].LockedUntil = false, time.Time{}
		for j := range out {
			if out[j].Kind == KindLockout && out[j].Key == b.Parent {
				out[i].ExpiresAt = out[j].ExpiresAt
			}
		}
	}
}

// expiry returns when r may be forgotten: when its failures' window ends
// and its reservations lapse, whichever is later; zero for never.
func (p *Policy) expiry(r *Record) time.Time {
	var e time.Time
	if r.Failures > 0 {
		k := p.keepFor(r.Failures)
		if k <= 0 {
			return time.Time{}
		}
		e = r.LastFailure.Add(k)
	}
	if r.Reserved > 0 {
		if p.Lease <= 0 {
			return time.Time{}
		}
		// A lapsed reservation becomes a failure, which is then kept for
		// its own window.
		k := p.keepFor(r.Failures + r.Reserved)
		if k <= 0 {
			return time.Time{}
		}
		if t := r.ReservedAt.Add(p.Lease + k); t.After(e) {
			e = t
		}
	}
	return e
}

// summarise reports the strongest lock among the lockout buckets, or the
// bucket with most failures when none is locked.
func (p *Policy) summarise(buckets []Bucket, recs []Record, now time.Time) Outcome {
	var o Outcome
	for i, b := range buckets {
		if b.Kind != KindLockout {
			continue
		}
		r := &recs[i]
		locked, until := p.lock(r, now)
		switch {
		case locked && (!o.Locked || later(until, o.LockedUntil)):
			o.Locked, o.LockedUntil, o.Bucket = true, until, b
		case !o.Locked && (o.Bucket.Key == "" || r.Failures > o.Failures):
			o.Bucket = b
		}
		o.Failures = max(o.Failures, r.Failures)
	}
	return o
}

// later reports whether lock end a is later than b, where zero means never.
func later(a, b time.Time) bool {
	if b.IsZero() {
		return false
	}
	return a.IsZero() || a.After(b)
}
