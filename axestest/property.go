package axestest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// Sizes of the property test.
const (
	propSequences = 300
	propOps       = 40
)

// model is the reference store: a map that applies ops as the [axes.Store]
// contract says: read (a record whose ExpiresAt has come reads as absent),
// Apply, write back, delete what is Empty.
type model map[string]axes.Record

func (m model) do(op *axes.Op) axes.Outcome {
	keys := op.Keys()
	recs := make([]axes.Record, len(keys))
	for i, k := range keys {
		if r, ok := m[k]; ok && (r.ExpiresAt.IsZero() || op.Now.Before(r.ExpiresAt)) {
			recs[i] = r
		}
	}
	out, o := op.Apply(recs)
	for i, r := range out {
		if r.Empty() {
			delete(m, keys[i])
		} else {
			m[keys[i]] = r
		}
	}
	return o
}

// propIdentities are the clients of every sequence: two addresses, three
// usernames (one empty), so that buckets are shared in many ways.
var propIdentities = func() []axes.Identity {
	var ids []axes.Identity
	for _, ip := range []string{"192.0.2.1", "2001:db8::1"} {
		for _, u := range []string{"alice", "bob", ""} {
			ids = append(ids, ident(ip, u))
		}
	}
	return ids
}()

var propGroups = [][]axes.Group{
	{{axes.ParamIPAddress}},
	{{axes.ParamIPAddress}, {axes.ParamUsername}},
	{{axes.ParamUsername, axes.ParamIPAddress}},
	{{axes.ParamIPAddress}, {axes.ParamUsername}, {axes.ParamUsername, axes.ParamIPAddress}},
	{{axes.ParamIPAddress, axes.ParamUserAgent}, {axes.ParamUsername}},
}

// randPolicy returns a random policy: one tier or three, permanent locks,
// windows shorter and longer than the cool-off, leases shorter and longer
// than both (or none), RecordOnly, FixedCoolOff.
func randPolicy(r *rand.Rand) axes.Policy {
	limit := 1 + r.IntN(4)
	cools := []time.Duration{0, time.Minute, 10 * time.Minute}
	var p axes.Policy
	p.Limit = limit
	if r.IntN(3) == 0 {
		last := []time.Duration{0, time.Hour}[r.IntN(2)]
		p.Tiers = []axes.Tier{{Failures: limit, CoolOff: time.Minute}, {Failures: limit + 2, CoolOff: 10 * time.Minute}, {Failures: limit + 4, CoolOff: last}}
	} else {
		p.Tiers = []axes.Tier{{Failures: limit, CoolOff: cools[r.IntN(len(cools))]}}
	}
	switch r.IntN(4) {
	case 0: // never forget
	case 1: // as the guard defaults it: the longest cool-off, never with a permanent tier
		for _, t := range p.Tiers {
			if t.CoolOff <= 0 {
				p.Window = 0
				break
			}
			p.Window = max(p.Window, t.CoolOff)
		}
	case 2:
		p.Window = 2 * time.Minute
	case 3:
		p.Window = 30 * time.Minute
	}
	p.Lease = []time.Duration{0, 30 * time.Second, time.Minute, time.Minute, 5 * time.Minute, 20 * time.Minute}[r.IntN(6)]
	p.RecordOnly = r.IntN(8) == 0
	p.FixedCoolOff = r.IntN(2) == 0
	return p
}

// propKinds are the ops of the property test, weighted: admissions and
// their settlements dominate.
var propKinds = []axes.OpKind{
	axes.OpAdmit, axes.OpAdmit, axes.OpAdmit, axes.OpAdmit, axes.OpAdmit, axes.OpAdmit, axes.OpAdmit,
	axes.OpFail, axes.OpFail, axes.OpFail, axes.OpFail, axes.OpFail,
	axes.OpRelease, axes.OpRelease, axes.OpRelease,
	axes.OpResetUser, axes.OpResetUser,
	axes.OpPeek, axes.OpPeek, axes.OpPeek,
}

// testProperty runs random sequences of ops against the store and the
// model and requires equal outcomes (for OpPeek, equal live records, times
// compared with Equal). Each sequence has its own policy (sometimes two,
// as identities with different limits that share a bucket) and key prefix;
// time only moves forward, often to the exact instant a lock, a count or
// a lease ends, or 1µs before it.
func testProperty(t *testing.T, e *env) {
	s := e.s
	r := rand.New(rand.NewPCG(0x61786573, 0x74657374))
	m := model{}
	now := base
	// seen counts what the sequences exercised, so that the test cannot
	// quietly become trivial.
	seen := map[string]int{}
	for seq := range propSequences {
		p := randPolicy(r)
		policies := []axes.Policy{p}
		if r.IntN(4) == 0 {
			policies = append(policies, randPolicy(r))
		}
		clk := newClock()
		g := newGuard(t, s, axes.Config{LockoutParameters: propGroups[r.IntN(len(propGroups))]}, clk)
		prefix := fmt.Sprintf("seq%d/", seq)
		var sets [][]axes.Bucket // the identities that have buckets
		for _, id := range propIdentities {
			id.UserAgent = "agent"
			var set []axes.Bucket
			for _, b := range buckets(t, g, id) {
				b.Key = prefix + b.Key
				if b.Parent != "" {
					b.Parent = prefix + b.Parent
				}
				set = append(set, b)
			}
			if len(set) > 0 {
				sets = append(sets, set)
			}
		}
		var history []string
		for step := range propOps {
			p := policies[r.IntN(len(policies))]
			now = propStep(r, now, m, sets, &p)
			set := sets[r.IntN(len(sets))]
			kind := propKinds[r.IntN(len(propKinds))]
			lapsed := false
			for _, b := range set {
				if rec, ok := m[b.Key]; ok && rec.Reserved > 0 && p.Lease > 0 && !now.Before(rec.ReservedAt.Add(p.Lease)) &&
					(rec.ExpiresAt.IsZero() || now.Before(rec.ExpiresAt)) {
					lapsed = true
				}
			}
			op := &axes.Op{Kind: kind, Now: now, Buckets: set, Policy: p}
			history = append(history, fmt.Sprintf("%2d: %s at +%s on %v (policy %d)", step, kindName(kind), now.Sub(base), sortedKeys(set...), policyIndex(policies, p)))
			want := m.do(&axes.Op{Kind: kind, Now: now, Buckets: set, Policy: p})
			got, err := s.Do(t.Context(), op)
			if err != nil {
				t.Fatalf("sequence %d, op %d (%s): Do: %v", seq, step, kindName(kind), err)
			}
			if d := diffOutcome(got, want); d != "" {
				t.Fatalf("sequence %d, op %d: the store and the model differ: %s\npolicies: %+v\nops:\n%s",
					seq, step, d, policies, strings.Join(history, "\n"))
			}
			if lapsed {
				seen["reservation lapsed"]++
			}
			switch {
			case kind == axes.OpAdmit && want.Admitted:
				seen["admitted"]++
			case kind == axes.OpAdmit && want.Pending:
				seen["refused, pending"]++
			case kind == axes.OpAdmit && want.Counted:
				seen["refused, counted"]++
			case kind == axes.OpAdmit:
				seen["refused, not counted"]++
			case kind == axes.OpFail && want.Locked:
				seen["fail, locked"]++
			case kind == axes.OpFail:
				seen["fail, not locked"]++
			case want.Locked && want.LockedUntil.IsZero():
				seen["locked until reset"]++
			case want.Locked:
				seen["locked"]++
			case want.Failures == 0:
				seen["no failures"]++
			}
		}
	}
	for _, what := range []string{"admitted", "refused, pending", "refused, counted", "refused, not counted",
		"fail, locked", "fail, not locked", "reservation lapsed", "locked until reset", "locked", "no failures"} {
		if seen[what] < 10 {
			t.Errorf("the random sequences produced %q only %d times; the generator is too weak", what, seen[what])
		}
	}
	t.Logf("outcomes: %v", seen)
}

// policyIndex returns the index of the policy p in ps, compared by
// Limit, Window and Lease (enough to tell the two of a sequence apart in
// a report).
func policyIndex(ps []axes.Policy, p axes.Policy) int {
	for i, q := range ps {
		if q.Limit == p.Limit && q.Window == p.Window && q.Lease == p.Lease && q.FixedCoolOff == p.FixedCoolOff && q.RecordOnly == p.RecordOnly {
			return i
		}
	}
	return -1
}

// propStep returns the time of the next op: the same instant, 1µs later,
// seconds or minutes later, or exactly at (or 1µs before) a boundary of a
// record of sets: its lock's end, the end of a tier's cool-off, the end of
// its window, the lapse of its reservations, its expiry.
func propStep(r *rand.Rand, now time.Time, m model, sets [][]axes.Bucket, p *axes.Policy) time.Time {
	switch r.IntN(10) {
	case 0, 1:
		return now
	case 2:
		return now.Add(time.Microsecond)
	case 3:
		return now.Add(time.Duration(1+r.IntN(120)) * time.Second)
	case 4:
		return now.Add(time.Duration(1+r.IntN(40)) * time.Minute)
	case 5:
		return now.Add(time.Duration(1+r.IntN(3)) * time.Hour)
	}
	set := sets[r.IntN(len(sets))]
	rec, ok := m[set[r.IntN(len(set))].Key]
	if !ok {
		return now
	}
	var marks []time.Time
	if rec.Failures > 0 {
		for _, tier := range p.Tiers {
			marks = append(marks, rec.LastFailure.Add(tier.CoolOff))
		}
		if p.Window > 0 {
			marks = append(marks, rec.LastFailure.Add(p.Window))
		}
	}
	if rec.Reserved > 0 && p.Lease > 0 {
		// Favoured: the lapse is the newest boundary.
		at := rec.ReservedAt.Add(p.Lease)
		marks = append(marks, at, at)
	}
	for _, t := range []time.Time{rec.LockedUntil, rec.ExpiresAt} {
		if !t.IsZero() {
			marks = append(marks, t)
		}
	}
	if len(marks) == 0 {
		return now
	}
	at := marks[r.IntN(len(marks))]
	if r.IntN(3) == 0 {
		at = at.Add(-time.Microsecond)
	}
	if at.After(now) {
		return at
	}
	return now
}
