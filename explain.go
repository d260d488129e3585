package axes

import (
	"context"
	"fmt"
	"time"

	"github.com/goaxes/axes/storage"
)

// BucketState is the state of one bucket at a time, judged by the guard's
// policy: an entry of [Guard.List] and of an [Explanation].
type BucketState struct {
	Bucket      storage.Bucket
	Failures    int
	LastFailure time.Time // zero when the bucket has no failures
	InFlight    int       // credential checks running now (tickets not settled)
	Locked      bool
	LockedUntil time.Time // zero with Locked: until reset
	CoolOff     time.Duration
	ForgetAt    time.Time // when the failures are forgotten; zero: never (or none)
}

func bucketState(b storage.Bucket, p *storage.Policy, a storage.Answer) BucketState {
	st := BucketState{Bucket: b, Failures: a.Failures, LastFailure: storage.Time(a.LastFailure),
		InFlight: a.InFlight, Locked: a.Locked, ForgetAt: storage.Time(a.ForgetAt)}
	if a.Locked {
		st.LockedUntil = storage.Time(a.Until)
	}
	if a.Failures >= p.Limit {
		st.CoolOff = time.Duration(p.CoolOff(a.Failures)) * time.Microsecond
	}
	return st
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
	Policy  storage.Policy
	Buckets []BucketState
}

// Explain reports the state of every bucket id is counted in, without
// counting anything. It is what `axes explain` prints.
func (g *Guard) Explain(ctx context.Context, id Identity) (Explanation, error) {
	now := g.now()
	id = g.normalize(id)
	p := g.policy(id)
	ex := Explanation{Identity: id, Now: now, Verdict: Allowed, Limit: p.Limit, Policy: p}
	if g.cfg.Disabled {
		ex.Reason = "axes is disabled (AXES_ENABLED=false): every attempt is admitted and nothing is counted"
		return ex, nil
	}
	if v, why := g.screen(ctx, id, now); v != Undecided {
		ex.Verdict, ex.Reason = v, why
		return ex, nil
	}
	a, err := g.attempt(id)
	if err != nil {
		return ex, err
	}
	if len(a.buckets) == 0 {
		ex.Reason = "no lockout parameter group applies to this client (a username group needs a username)"
		return ex, nil
	}
	ans, err := g.do(ctx, a.ops(storage.Peek, storage.Micros(now), nil))
	if err != nil {
		return ex, fmt.Errorf("axes: explain: %w", err)
	}
	for i, b := range a.buckets {
		ex.Buckets = append(ex.Buckets, bucketState(b, &p, ans[i]))
	}
	s := summarise(a.buckets, ans)
	if s.locked {
		ex.Verdict = Locked
		until := "until an operator resets it"
		if s.until != 0 {
			until = "until " + storage.Time(s.until).Format(time.RFC3339)
		}
		ex.Reason = fmt.Sprintf("locked by the %s bucket (%d failures, limit %d) %s", s.bucket.Params, s.failures, p.Limit, until)
	} else {
		ex.Reason = fmt.Sprintf("not locked: at most %d of %d failures in any bucket", s.failures, p.Limit)
	}
	return ex, nil
}
