package axes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
)

// bucketOf returns the key of id's bucket for the group named params.
func bucketOf(t *testing.T, g *Guard, id Identity, params string) string {
	t.Helper()
	bs, err := g.Buckets(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Params == params {
			return b.Key
		}
	}
	t.Fatalf("no %s bucket for %v", params, id)
	return ""
}

var twoGroups = []Group{{ParamUsername}, {ParamIPAddress}}

// A lock on one bucket refuses the attempt and counts there (extending the
// lock); the place it took on its other bucket is given back, not counted:
// a refusal never creates or grows a bucket that did not refuse it.
func TestRefusalCountsOnlyInTheLockingBucket(t *testing.T) {
	g, s, _ := newGuard(t, Config{LockoutParameters: twoGroups, FailureLimit: 2, CoolOff: time.Hour})
	verdicts(t, g, "alice", ip1, false, 2) // alice's bucket locks (and ip1's)
	if v := try(t, g, "alice", ip2, true); v != Locked {
		t.Fatalf("alice from another address = %s, want locked", v)
	}
	if st := s.get(bucketOf(t, g, Identity{IP: ip2, Username: "alice"}, "ip_address")); !st.Empty() {
		t.Errorf("ip2's bucket after the refusal = %+v, want nothing", st)
	}
	if st := s.get(bucketOf(t, g, Identity{IP: ip1, Username: "alice"}, "username")); st.Failures != 3 {
		t.Errorf("alice's bucket = %d failures, want 3 (the refusal extends its lock)", st.Failures)
	}
}

// Issue 8, finding 2: from a locked address, refused attempts for other
// usernames used to count in those usernames' buckets, so three requests
// locked any account everywhere without a password check, and each fresh
// username made a record. Now they create nothing.
func TestRegressionRefusalsDoNotLockOtherAccounts(t *testing.T) {
	g, s, _ := newGuard(t, Config{LockoutParameters: twoGroups, FailureLimit: 3, CoolOff: time.Hour})
	verdicts(t, g, "mallory", ip1, false, 3) // ip1 is locked
	before := len(s.states)
	for range 5 {
		if v := try(t, g, "victim", ip1, false); v != Locked {
			t.Fatalf("from the locked address: %s, want locked", v)
		}
	}
	for i := range 100 {
		try(t, g, fmt.Sprintf("fresh-%d", i), ip1, false)
	}
	if v := try(t, g, "victim", ip2, true); v != Allowed {
		t.Errorf("the victim from its own address = %s, want allowed (its account was never checked)", v)
	}
	if got := len(s.states); got != before {
		t.Errorf("buckets after 105 refusals from a locked address: %d, want %d (no bucket created)", got, before)
	}
}

// With FixedCoolOff the refused attempt counts nowhere: the place it took
// on the unlocked bucket is given back.
func TestLockedBucketGivesPlacesBackWithFixedCoolOff(t *testing.T) {
	g, s, _ := newGuard(t, Config{LockoutParameters: twoGroups, FailureLimit: 2, CoolOff: time.Hour, FixedCoolOff: true})
	verdicts(t, g, "alice", ip1, false, 2)
	if v := try(t, g, "alice", ip2, true); v != Locked {
		t.Fatalf("alice from another address = %s, want locked", v)
	}
	if st := s.get(bucketOf(t, g, Identity{IP: ip2, Username: "alice"}, "ip_address")); !st.Empty() {
		t.Errorf("ip2's bucket = %+v, want nothing (no count, no place held)", st)
	}
}

// When checks in flight fill one bucket, the attempt is refused without a
// count, and the place it took on its other bucket is given back.
func TestFullBucketGivesPlacesBack(t *testing.T) {
	ctx := context.Background()
	g, s, _ := newGuard(t, Config{LockoutParameters: twoGroups, FailureLimit: 2, MaxWait: -1})
	var held []*Ticket
	for _, u := range []string{"bob", "carol"} {
		tk, err := g.Admit(ctx, Identity{IP: ip1, Username: u})
		if err != nil {
			t.Fatalf("admit %s: %v", u, err)
		}
		held = append(held, tk)
	}
	_, err := g.Admit(ctx, Identity{IP: ip1, Username: "dave"})
	var le *LockoutError
	if !errors.As(err, &le) || le.Result.Verdict != Locked || le.Result.Failures != 0 || le.Result.Bucket.Params != "ip_address" {
		t.Fatalf("dave while two checks are in flight on ip1: %v; want a refusal by ip_address with 0 failures", err)
	}
	if st := s.get(bucketOf(t, g, Identity{IP: ip1, Username: "dave"}, "username")); !st.Empty() {
		t.Errorf("dave's bucket after the refusal = %+v, want nothing held", st)
	}
	for _, tk := range held {
		if _, err := tk.Succeed(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if v := try(t, g, "dave", ip1, true); v != Allowed {
		t.Errorf("dave once the checks settled = %s, want allowed", v)
	}
}

// Reset on success clears the user's own bucket and takes only the user's
// share off the address's bucket.
func TestSuccessTakesOnlyTheUsersShare(t *testing.T) {
	g, s, _ := newGuard(t, Config{LockoutParameters: twoGroups, FailureLimit: 5, ResetOnSuccess: true})
	verdicts(t, g, "alice", ip1, false, 2)
	verdicts(t, g, "bob", ip1, false, 1)
	if v := try(t, g, "alice", ip1, true); v != Allowed {
		t.Fatalf("alice's success = %s", v)
	}
	ipKey := bucketOf(t, g, Identity{IP: ip1}, "ip_address")
	if st := s.get(ipKey); st.Failures != 1 || st.Share("bob") != 1 || st.Share("alice") != 0 {
		t.Errorf("ip1 after alice's success: %+v; want bob's one failure", st)
	}
	if st := s.get(bucketOf(t, g, Identity{IP: ip1, Username: "alice"}, "username")); !st.Empty() {
		t.Errorf("alice's bucket after her success = %+v, want cleared", st)
	}
}

// Issue 8, finding 1: with ResetOnSuccess, a success of a variant spelling
// of a username (an account of the attacker's own in a case-sensitive user
// store, or "alıce" with a dotless i) reset alice's failures, so the
// attacker guessed alice's password without end. A variant's success now
// resets nothing; alice's own success still does.
func TestRegressionVariantSuccessDoesNotResetAnotherAccount(t *testing.T) {
	for _, groups := range [][]Group{{{ParamUsername}}, {{ParamIPAddress}}} {
		g, _, _ := newGuard(t, Config{LockoutParameters: groups, ResetOnSuccess: true})
		checks := 0
		for range 5 {
			for range 2 {
				if v := try(t, g, "alice", ip1, false); v == Invalid {
					checks++
				}
			}
			for _, variant := range []string{"ALICE", "al\u0131ce", " alice"} {
				try(t, g, variant, ip1, true)
			}
		}
		if checks > 2 {
			t.Errorf("groups %v: alice's password was checked %d times against a limit of 3 (variants reset her count)", groups, checks)
		}
	}
	g, _, _ := newGuard(t, Config{LockoutParameters: []Group{{ParamUsername}}, ResetOnSuccess: true})
	verdicts(t, g, "alice", ip1, false, 2)
	try(t, g, "alice", ip1, true)
	if res, _ := g.Status(context.Background(), Identity{IP: ip1, Username: "alice"}); res.Failures != 0 {
		t.Errorf("alice's own success left %d failures, want 0", res.Failures)
	}
}

// A client that goes away after its admission does not leave its place
// to lapse into a failure: the settlement runs to the end anyway.
func TestSettlementOutlivesTheRequest(t *testing.T) {
	g, s, _ := newGuard(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	tk, err := g.Admit(ctx, Identity{IP: ip1, Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the user closed the tab while the password was checked
	if _, err := tk.Succeed(ctx); err != nil {
		t.Fatalf("Succeed after the request ended: %v", err)
	}
	if st := s.get(bucketOf(t, g, Identity{IP: ip1}, "ip_address")); !st.Empty() {
		t.Errorf("the bucket after a settled success = %+v, want nothing held", st)
	}
}

// keyLog records the keys of every step a store is asked for.
type keyLog struct {
	*mapStore
	mu   sync.Mutex
	keys []string
}

func (k *keyLog) Do(ctx context.Context, ops []storage.Op) ([]storage.Answer, error) {
	k.mu.Lock()
	for _, op := range ops {
		k.keys = append(k.keys, op.Bucket.Key)
	}
	k.mu.Unlock()
	return k.mapStore.Do(ctx, ops)
}

// A locked client's attempts ask only the bucket that locks it: they never
// take a place, even for a moment, in the bucket of the username they try
// (which could make its owner wait), and cost one step each.
func TestLockedClientTouchesOnlyTheLockingBucket(t *testing.T) {
	s := &keyLog{mapStore: newMapStore()}
	c := newClock()
	g, err := New(s, Config{LockoutParameters: twoGroups, FailureLimit: 3, CoolOff: time.Hour}, WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	verdicts(t, g, "mallory", ip1, false, 3) // ip1 locks
	ipKey := bucketOf(t, g, Identity{IP: ip1}, "ip_address")
	s.keys = nil
	for range 5 {
		if v := try(t, g, "victim", ip1, true); v != Locked {
			t.Fatalf("from the locked address: %s, want locked", v)
		}
	}
	for _, k := range s.keys {
		if k != ipKey {
			t.Fatalf("a refused attempt stepped on %q; want only the locking bucket %q", k, ipKey)
		}
	}
	if len(s.keys) != 5 {
		t.Errorf("5 refusals took %d steps, want 5", len(s.keys))
	}
	// Once the lock ends the address is asked with the rest again.
	c.Add(2 * time.Hour)
	if v := try(t, g, "victim", ip1, true); v != Allowed {
		t.Errorf("after the lock ended: %s, want allowed", v)
	}
}
