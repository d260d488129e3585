package axestest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
)

// refStore is the smallest correct store: a map behind a mutex, with no
// optional capability. With a bug set it breaks the contract in one way,
// to show that the suite notices.
type refStore struct {
	mu     sync.Mutex
	recs   map[string]axes.Record
	closed bool
	bug    string
}

// The bugs refStore can have, and the subtest of RunStoreTests that must
// catch each.
var bugs = []struct{ bug, subtest string }{
	{"racy", "Concurrency"},          // reads and writes in two critical sections
	{"keytrunc", "OddKeys"},          // keeps only the first 40 bytes of a key
	{"millis", "Property"},           // keeps times to the millisecond
	{"ignorectx", "CanceledContext"}, // never looks at the context
	{"noclose", "Closed"},            // Close does nothing
	{"noexpiry", "Expiry"},           // ignores ExpiresAt and feeds Apply a record a newer op's policy would keep
	{"lostupdate", "ResetUser"},      // writes back only the first record of an op
	{"failuresonly", "Reservations"}, // deletes records without failures, as before reservations
	{"noreserved", "AdmitFailLock"},  // never stores Reserved
	{"noreservedat", "Lease"},        // never stores ReservedAt
	{"ttl", "Expiry"},                // recomputes ExpiresAt from the op's policy: a lenient op shortens it
}

func newRefStore(bug string) *refStore {
	return &refStore{recs: map[string]axes.Record{}, bug: bug}
}

func (s *refStore) key(k string) string {
	if s.bug == "keytrunc" && len(k) > 40 {
		return k[:40]
	}
	return k
}

func (s *refStore) Do(ctx context.Context, op *axes.Op) (axes.Outcome, error) {
	if err := ctx.Err(); err != nil && s.bug != "ignorectx" {
		return axes.Outcome{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && s.bug != "noclose" {
		return axes.Outcome{}, axes.ErrClosed
	}
	keys := op.Keys()
	recs := make([]axes.Record, len(keys))
	for i, k := range keys {
		r, ok := s.recs[s.key(k)]
		if ok && (s.bug == "noexpiry" || r.ExpiresAt.IsZero() || op.Now.Before(r.ExpiresAt)) {
			recs[i] = r
		}
	}
	if s.bug == "racy" {
		s.mu.Unlock()
		time.Sleep(time.Microsecond)
		s.mu.Lock()
	}
	if s.bug == "noexpiry" {
		// Pretend the window is longer than the one the records were
		// written with: Apply then keeps what the store should forget.
		op.Policy.Window *= 2
		defer func() { op.Policy.Window /= 2 }()
	}
	out, o := op.Apply(recs)
	for i, r := range out {
		if s.bug == "lostupdate" && i > 0 {
			break
		}
		switch s.bug {
		case "millis":
			r.LastFailure = r.LastFailure.Truncate(time.Millisecond)
			r.ReservedAt = r.ReservedAt.Truncate(time.Millisecond)
			r.LockedUntil = r.LockedUntil.Truncate(time.Millisecond)
			r.ExpiresAt = r.ExpiresAt.Truncate(time.Millisecond)
		case "noreserved":
			r.Reserved = 0
		case "noreservedat":
			r.ReservedAt = time.Time{}
		case "ttl":
			if r.Failures > 0 && op.Policy.Window > 0 {
				r.ExpiresAt = r.LastFailure.Add(op.Policy.Window)
			}
		}
		if r.Empty() || (s.bug == "failuresonly" && r.Failures <= 0) {
			delete(s.recs, s.key(keys[i]))
		} else {
			s.recs[s.key(keys[i])] = r
		}
	}
	return o, nil
}

func (s *refStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bug != "noclose" {
		s.closed = true
	}
	return nil
}

// TestReferenceStore: the suite passes a minimal correct store, and skips
// the optional capabilities it lacks.
func TestReferenceStore(t *testing.T) {
	axestest.RunStoreTests(t, func(*testing.T) axes.Store { return newRefStore("") })
}

// TestBrokenStore runs the suite on a broken refStore; it runs only in the
// child processes of TestSuiteCatchesBrokenStores.
func TestBrokenStore(t *testing.T) {
	bug := os.Getenv("AXESTEST_BUG")
	if bug == "" {
		t.Skip("run by TestSuiteCatchesBrokenStores")
	}
	axestest.RunStoreTests(t, func(*testing.T) axes.Store { return newRefStore(bug) })
}

// TestSuiteCatchesBrokenStores runs the suite on stores with one bug each,
// in a child process, and requires the subtest meant to catch the bug to
// fail (and not with a panic).
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if os.Getenv("AXESTEST_BUG") != "" {
		t.Skip("in a child process")
	}
	for _, c := range bugs {
		t.Run(c.bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0],
				"-test.run=^TestBrokenStore$/^"+c.subtest+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "AXESTEST_BUG="+c.bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with bug %q:\n%s", c.bug, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenStore/"+c.subtest+" ") {
				t.Errorf("bug %q: subtest %s did not fail:\n%s", c.bug, c.subtest, out)
			}
			if strings.Contains(string(out), "panic:") {
				t.Errorf("bug %q: the suite panicked:\n%s", c.bug, out)
			}
		})
	}
}
