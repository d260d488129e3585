package axes

import (
	"context"
	"fmt"
	"time"
)

// BucketState is one bucket of an [Explanation].
type BucketState struct {
	Bucket      Bucket
	Failures    int
	LastFailure time.Time // zero when the bucket has no failures
	Locked      bool
	LockedUntil time.Time // zero with Locked: until reset
	CoolOff     time.Duration
	ExpiresAt   time.Time // when the failures are forgotten; zero: never (or none)
}

// Explanation says why a client is or is not locked out: what the lists
// and rules say about its address, and the state of every bucket it is
// counted in.
type Explanation struct {
	Identity Identity // normalised
	Now      time.Time
	Verdict  Verdict // Allowed, Locked or Denied
	// Reason is a sentence for people: which list, rule or bucket decides.
	Reason  string
	Limit   int
	Policy  Policy
	Buckets []BucketState // lockout buckets only
}

// Explain reports the state of every bucket id is counted in, without
// counting anything. It is what `axes explain` prints.
func (g *Guard) Explain(ctx context.Context, id Identity) (Explanation, error) {
	now := g.now()
	id = g.normalize(id)
	p := g.Policy(id)
	ex := Explanation{Identity: id, Now: now, Verdict: Allowed, Limit: p.Limit, Policy: p}
	if g.cfg.Disabled {
		ex.Reason = "axes is disabled (AXES_ENABLED=false): every attempt is admitted and nothing is counted"
		return ex, nil
	}
	if v, why := g.screen(ctx, id, now); v != Undecided {
		ex.Verdict, ex.Reason = v, why
		return ex, nil
	}
	buckets, err := g.buckets(id)
	if err != nil {
		return ex, err
	}
	if len(buckets) == 0 {
		ex.Reason = "no lockout parameter group applies to this client (a username group needs a username)"
		return ex, nil
	}
	o, err := g.store.Do(ctx, &Op{Kind: OpPeek, Now: now, Buckets: buckets, Policy: p})
	if err != nil {
		return ex, fmt.Errorf("axes: explain: %w", err)
	}
	for i, b := range buckets {
		if b.Kind != KindLockout {
			continue
		}
		st := BucketState{Bucket: b}
		if i < len(o.Records) {
			r := o.Records[i]
			st.Failures, st.LastFailure, st.ExpiresAt = r.Failures, r.LastFailure, p.ForgetAt(r)
			st.Locked, st.LockedUntil = p.lock(&r, now)
			if r.Failures >= p.Limit {
				st.CoolOff = p.CoolOff(r.Failures)
			}
		}
		ex.Buckets = append(ex.Buckets, st)
	}
	if o.Locked {
		ex.Verdict = Locked
		until := "until an operator resets it"
		if !o.LockedUntil.IsZero() {
			until = "until " + o.LockedUntil.UTC().Format(time.RFC3339)
		}
		ex.Reason = fmt.Sprintf("locked by the %s bucket (%d failures, limit %d) %s", o.Bucket.Params, o.Failures, p.Limit, until)
	} else {
		ex.Reason = fmt.Sprintf("not locked: at most %d of %d failures in any bucket", o.Failures, p.Limit)
	}
	return ex, nil
}
