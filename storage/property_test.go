package storage_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/goaxes/axes/internal/refmodel"
	"github.com/goaxes/axes/storage"
)

var seed = flag.Uint64("seed", 1, "first seed of the property tests")

// walks is how many random sequences a property test runs.
func walks() int {
	if testing.Short() {
		return 500
	}
	return 4000
}

// apply calls storage.Apply with a step value.
func apply(s storage.Step, st storage.State) (storage.State, storage.Answer) {
	return storage.Apply(&s, st)
}

// walkOf gives the shapes of walk the property tests mix: forward and
// backward clocks, damaged first states, a second policy on the bucket.
func walkOf(i int) refmodel.Walk {
	return refmodel.Walk{Steps: 40, Backward: i%2 == 1, Damaged: i%3 == 2, Shared: i%5 == 4}
}

// describe writes a step and a state as JSON, for a failure message.
func describe(s storage.Step, st storage.State) string {
	b, _ := json.Marshal(struct {
		Step  storage.Step  `json:"step"`
		State storage.State `json:"state"`
	}{s, st})
	return string(b)
}

// errStop ends a walk early.
type errStop struct{}

// runWalk runs one walk and stops it at the first failure, which it
// reports with the seed and the step.
func runWalk(t *testing.T, seed uint64, w refmodel.Walk, check func(s storage.Step, st storage.State, got storage.State, a storage.Answer) []string) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	i := 0
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(errStop); !ok {
				panic(v)
			}
		}
	}()
	w.Run(r, func(s storage.Step, st storage.State) (storage.State, storage.Answer) {
		i++
		got, a := apply(s, st)
		if msgs := check(s, st, got, a); len(msgs) > 0 {
			t.Errorf("seed %d (%+v), step %d: %s\n\t%s", seed, w, i, describe(s, st), strings.Join(msgs, "\n\t"))
			panic(errStop{})
		}
		return got, a
	})
}

// TestPropertyModel compares storage.Apply with the reference model, field
// by field, on random step sequences.
func TestPropertyModel(t *testing.T) {
	steps := 0
	for i := range walks() {
		runWalk(t, *seed+uint64(i), walkOf(i), func(s storage.Step, st storage.State, got storage.State, a storage.Answer) []string {
			steps++
			ms, ma := refmodel.Apply(s, st)
			return refmodel.Diff(ms, ma, got, a)
		})
		if t.Failed() {
			return
		}
	}
	t.Logf("%d steps in %d walks", steps, walks())
}

// TestPropertyInvariants checks what every result must satisfy, on walks
// from a sound first state.
func TestPropertyInvariants(t *testing.T) {
	for i := range walks() {
		w := walkOf(i)
		w.Damaged = false
		runWalk(t, *seed+uint64(i), w, func(s storage.Step, st storage.State, got storage.State, a storage.Answer) []string {
			return invariants(s, st, got, a)
		})
		if t.Failed() {
			return
		}
	}
}

func invariants(s storage.Step, _ storage.State, st storage.State, a storage.Answer) []string {
	var bad []string
	want := func(ok bool, format string, args ...any) {
		if !ok {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	inFlight := st.Reserved + st.Older
	want(st.Failures >= 0 && st.Reserved >= 0 && st.Older >= 0, "negative counts")
	want(!st.Empty() || st.ExpiresAt == 0 && st.Slot == 0 && len(st.Shares) == 0 && st.LastFailure == 0, "an empty state keeps fields")
	want(inFlight > 0 || st.Slot == 0, "slot %d with nothing in flight", st.Slot)
	want(st.Failures > 0 || st.LastFailure == 0 && len(st.Shares) == 0, "last failure or shares without failures")
	want(len(st.Shares) <= storage.MaxShares, "%d shares", len(st.Shares))
	want(slices.IsSortedFunc(st.Shares, func(x, y storage.Share) int { return strings.Compare(x.User, y.User) }), "shares not sorted")
	sum := 0
	for i, sh := range st.Shares {
		want(sh.User != "" && sh.Failures >= 1 && sh.Failures <= st.Failures, "share %+v of %d failures", sh, st.Failures)
		want(i == 0 || st.Shares[i-1].User != sh.User, "share of %s repeated", sh.User)
		sum += sh.Failures
	}
	want(sum <= st.Failures, "shares add up to %d of %d failures", sum, st.Failures)
	want(st.Empty() || st.ExpiresAt == 0 || st.ExpiresAt > s.Now, "expires at %d, now %d", st.ExpiresAt, s.Now)
	if st.Failures > 0 {
		want(a.ForgetAt == 0 || a.ForgetAt > s.Now, "forget at %d, now %d", a.ForgetAt, s.Now)
		want(st.ExpiresAt == 0 || a.ForgetAt != 0 && st.ExpiresAt >= a.ForgetAt, "expires at %d, before the failures are forgotten at %d", st.ExpiresAt, a.ForgetAt)
	} else {
		want(a.ForgetAt == 0, "forget at without failures")
	}
	want(a.Failures == st.Failures && a.LastFailure == st.LastFailure && a.InFlight == inFlight, "the answer disagrees with the state")
	want(!a.Locked || a.Until == 0 || a.Until > s.Now, "locked until %d, now %d", a.Until, s.Now)
	want(!a.Locked || !s.Policy.RecordOnly, "locked in record-only")
	want(!(a.Admitted && a.Full) && !(a.Admitted && a.Counted) && !(a.Full && a.Counted) && !(a.Full && a.Locked), "admitted %v, full %v, counted %v, locked %v", a.Admitted, a.Full, a.Counted, a.Locked)
	want(s.Kind == storage.Admit || !a.Admitted && !a.Full, "%s admitted or full", s.Kind)
	want(!a.Admitted || a.Slot == st.Slot && st.Reserved > 0, "admitted into cohort %d, state %+v", a.Slot, st)
	want(!a.Admitted || s.Policy.RecordOnly || inFlight == 1 || st.Failures+inFlight <= s.Policy.Limit, "admitted beyond the limit: %d failures, %d in flight", st.Failures, inFlight)
	want(!a.Counted || st.Failures >= 1, "counted, and no failure")
	want(s.Kind == storage.Clear || s.Kind == storage.Take || a.Taken == 0, "%s took %d", s.Kind, a.Taken)
	if s.Kind == storage.Clear {
		want(st.Failures == 0, "failures left after a clear")
	}
	return bad
}

// TestPropertyExpiryIsSafe checks that a state is never forgotten while it
// still holds something: at its expiry, the state (read as if it had not
// expired) holds no failures and no ticket. The clock runs forward here;
// TestFoundBugs runs it with a clock that steps back.
func TestPropertyExpiryIsSafe(t *testing.T) {
	for i := range walks() {
		w := walkOf(i)
		w.Backward, w.Shared, w.Damaged = false, false, false
		runWalk(t, *seed+uint64(i), w, expirySafe)
		if t.Failed() {
			return
		}
	}
}

func expirySafe(s storage.Step, _ storage.State, st storage.State, _ storage.Answer) []string {
	if st.Empty() || st.ExpiresAt == 0 {
		return nil
	}
	at := st.ExpiresAt
	st.ExpiresAt = 0
	_, a := apply(storage.Step{Kind: storage.Peek, Now: at, Policy: s.Policy}, st)
	if a.Failures != 0 || a.InFlight != 0 {
		return []string{fmt.Sprintf("expires at %d, when it still holds %d failures (locked %v until %d) and %d tickets", at, a.Failures, a.Locked, a.Until, a.InFlight)}
	}
	return nil
}

// TestPropertyPeekChangesNothing checks that looking at a bucket changes
// nothing: a step gives the same result on the stored state as on the
// state that a Peek at an earlier time (after the last step) computes.
// The clock runs forward and one policy applies.
func TestPropertyPeekChangesNothing(t *testing.T) {
	for i := range walks() {
		w := walkOf(i)
		w.Backward, w.Shared, w.Damaged = false, false, false
		r := rand.New(rand.NewPCG(*seed+uint64(i), 7))
		last := int64(0)
		runWalk(t, *seed+uint64(i), w, func(s storage.Step, st storage.State, got storage.State, a storage.Answer) []string {
			defer func() { last = s.Now }()
			return peekChangesNothing(r, last, s, st, got, a)
		})
		if t.Failed() {
			return
		}
	}
}

func peekChangesNothing(r *rand.Rand, last int64, s storage.Step, st storage.State, got storage.State, a storage.Answer) []string {
	if last <= 0 || s.Now < last {
		return nil
	}
	between := last + r.Int64N(s.Now-last+1)
	peeked, _ := apply(storage.Step{Kind: storage.Peek, Now: between, Policy: s.Policy}, st)
	got2, a2 := apply(s, peeked)
	if d := refmodel.Diff(got, a, got2, a2); len(d) > 0 {
		return append([]string{fmt.Sprintf("after a peek at %d:", between)}, d...)
	}
	return nil
}

// TestFoundBugs pins two bugs the reference model found in step.go, fixed
// since: an expiry that ended a lock early after a clock stepped back, and
// a Take that left failures past their keep.
func TestFoundBugs(t *testing.T) {
	t.Run("expiry-before-a-lapse-completes-a-lock", func(t *testing.T) {
		// The clock stepped back: the bucket's last failure (t0+20m) is
		// after the lapse (t0+60s) of the ticket admitted now. When the
		// ticket lapses, the third failure locks the bucket from its last
		// failure, until t0+20m+1h; the expiry is t0+61m, so at t0+62m the
		// lock reads as absent.
		p := pol(window(mins), tiers(3, hr))
		st, a := storage.Apply(&storage.Step{Kind: storage.Admit, Now: t0, Policy: p}, storage.State{Failures: 2, LastFailure: t0 + 20*mins, ExpiresAt: t0 + 21*mins})
		if !a.Admitted {
			t.Fatalf("not admitted: %+v", a)
		}
		probe := storage.State(st)
		probe.ExpiresAt = 0
		_, live := storage.Apply(&storage.Step{Kind: storage.Peek, Now: t0 + 62*mins, Policy: p}, probe)
		_, stored := storage.Apply(&storage.Step{Kind: storage.Peek, Now: t0 + 62*mins, Policy: p}, st)
		if live.Locked != stored.Locked {
			t.Errorf("at t0+62m: locked %v (until %d) if the state is kept, %v as stored (expires at t0%+dµs)", live.Locked, live.Until-t0, stored.Locked, st.ExpiresAt-t0)
		}
	})
	t.Run("take-leaves-failures-past-their-keep", func(t *testing.T) {
		// Three failures an hour ago, the third one reaching a permanent
		// tier: kept forever. Taking bob's two leaves one failure whose
		// 5-minute window ended long ago; Apply stores it (and reports it)
		// instead of forgetting it, and its expiry stays "never".
		p := pol(window(5*mins), tiers(1, 5*mins, 2, 0))
		st, a := storage.Apply(&storage.Step{Kind: storage.Take, Now: t0 + hr, Policy: p, User: "bob"},
			storage.State{Failures: 3, LastFailure: t0, Shares: sh("alice", 1, "bob", 2)})
		if a.Failures != 0 || !st.Empty() {
			t.Errorf("after the take: %d failures (forget at t0%+dµs, now t0+1h), state %+v", a.Failures, a.ForgetAt-t0, st)
		}
	})
	t.Run("random-take", func(t *testing.T) {
		for i := range walks() {
			w := walkOf(i)
			w.Damaged = false
			runWalk(t, *seed+uint64(i), w, invariants)
			if t.Failed() {
				return
			}
		}
	})
	t.Run("random-backward-clock", func(t *testing.T) {
		for i := range walks() {
			w := walkOf(i)
			w.Backward, w.Shared = true, false
			runWalk(t, *seed+uint64(i), w, expirySafe)
			if t.Failed() {
				return
			}
		}
	})
}
