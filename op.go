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
	// Failures counts failures in the current window, including attempts
	// being verified right now (reserved, not yet settled).
	Failures int
	// LastFailure is when the last failure (or reservation) was counted.
	LastFailure time.Time
	// Locked and LockedUntil describe the lock as of the last write, for
	// listing and eviction; decisions never rely on them. LockedUntil is zero
	// for a lock that lasts until reset.
	Locked      bool
	LockedUntil time.Time
	// ExpiresAt is when the store may forget the record; zero means never.
	ExpiresAt time.Time
}

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

// lock reports whether r is locked at now, and until when (zero: until reset).
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

// keepFor is how long after its last failure a record must be kept.
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

// live returns r as it stands at now: a record whose window has passed counts
// nothing.
func (p *Policy) live(r Record, now time.Time) Record {
	if r.Failures <= 0 {
		return Record{}
	}
	if k := p.keepFor(r.Failures); k > 0 && !now.Before(r.LastFailure.Add(k)) {
		return Record{}
	}
	return r
}

// OpKind names what an [Op] does.
type OpKind int

const (
	// OpAdmit decides whether an attempt may proceed to the credential
	// check. If no lockout bucket is locked it reserves one failure on every
	// bucket (the reservation is given back by OpRelease on success). If one
	// is locked the attempt is refused, and counted unless FixedCoolOff.
	OpAdmit OpKind = iota + 1
	// OpRelease gives back one reserved failure on every bucket.
	OpRelease
	// OpResetUser clears the buckets that include the username, and takes
	// the username's own failures (its attribution records) off the others.
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
	// attempt was refused).
	Locked bool
	// Counted is true when the op added a failure (a reservation, or an
	// attempt counted while locked).
	Counted bool
	// Failures is the highest count among the lockout buckets after the op.
	Failures int
	// Bucket is the bucket that locks, or else the one with most failures.
	Bucket Bucket
	// LockedUntil is when the lock ends; zero with Locked means until reset.
	LockedUntil time.Time
	// LocksOnFailure is set by OpAdmit when the reservation itself brings a
	// bucket to the limit: if the credential check then fails, the client is
	// locked until FailLockedUntil (zero: until reset) by FailBucket.
	LocksOnFailure  bool
	FailLockedUntil time.Time
	FailBucket      Bucket
	// Records holds the live records of an OpPeek, in the op's bucket
	// order (stores return what Apply computed); nil for other kinds.
	Records []Record
}

// Apply computes the effect of op. recs[i] holds the stored record for
// op.Keys()[i], or a zero Record when there is none. Apply returns the records
// to write back in the same order (Failures <= 0 means delete) and the
// outcome. It is a pure function of op and recs: stores may call it again
// when an optimistic transaction retries.
func (op *Op) Apply(recs []Record) ([]Record, Outcome) {
	p := &op.Policy
	now := op.Now
	out := make([]Record, len(op.Buckets))
	for i, b := range op.Buckets {
		var r Record
		if i < len(recs) {
			r = p.live(recs[i], now)
		}
		r.Bucket = b
		out[i] = r
	}
	parents := parentIndex(op.Buckets)
	for i, j := range parents {
		// An attribution record never outlives its lockout record: a stale
		// share would take other users' failures off a restarted bucket.
		if j >= 0 && out[j].Failures <= 0 {
			out[i] = Record{Bucket: op.Buckets[i]}
		}
	}
	var o Outcome
	switch op.Kind {
	case OpPeek:
		p.stamp(out, now)
		o = p.summarise(op.Buckets, out, now)
		o.Records = append([]Record(nil), out...)
		return out, o
	case OpAdmit:
		before := p.summarise(op.Buckets, out, now)
		if before.Locked {
			if !p.FixedCoolOff {
				for i := range out {
					out[i].Failures++
					out[i].LastFailure = now
				}
			}
			p.stamp(out, now)
			o = p.summarise(op.Buckets, out, now)
			o.Counted = !p.FixedCoolOff
			if !o.Locked { // cannot happen: counting never unlocks
				o = before
			}
			return out, o
		}
		for i := range out {
			out[i].Failures++
			out[i].LastFailure = now
		}
		p.stamp(out, now)
		o = p.summarise(op.Buckets, out, now)
		o.Admitted, o.Counted = true, true
		if o.Locked {
			o.LocksOnFailure = true
			o.FailLockedUntil = o.LockedUntil
			o.FailBucket = o.Bucket
		}
		// The attempt itself is let through: it is verified while its
		// reservation holds the bucket at the limit.
		o.Locked, o.LockedUntil = false, time.Time{}
		return out, o
	case OpRelease:
		for i := range out {
			if out[i].Failures > 0 {
				out[i].Failures--
			}
		}
	case OpResetUser:
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
	p.stamp(out, now)
	return out, p.summarise(op.Buckets, out, now)
}

// parentIndex returns, for each bucket, the index of its parent lockout
// bucket in the same op, or -1.
func parentIndex(buckets []Bucket) []int {
	index := make(map[string]int, len(buckets))
	for i, b := range buckets {
		if b.Kind == KindLockout {
			index[b.Key] = i
		}
	}
	out := make([]int, len(buckets))
	for i, b := range buckets {
		out[i] = -1
		if j, ok := index[b.Parent]; ok && b.Kind == KindAttribution {
			out[i] = j
		}
	}
	return out
}

// stamp fills the informational lock fields and the expiry of every record;
// an attribution record expires with its parent (and never outlives it).
func (p *Policy) stamp(out []Record, now time.Time) {
	for i := range out {
		r := &out[i]
		if r.Failures <= 0 {
			*r = Record{Bucket: r.Bucket}
			continue
		}
		r.Locked, r.LockedUntil = p.lock(r, now)
		r.ExpiresAt = time.Time{}
		if k := p.keepFor(r.Failures); k > 0 {
			r.ExpiresAt = r.LastFailure.Add(k)
		}
	}
	for i, b := range out {
		if b.Kind != KindAttribution || b.Failures <= 0 {
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
