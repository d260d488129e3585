package sqlstore

import (
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
)

// R8 (found in review, fixed): a time at the Unix epoch was stored as 0,
// which read back as the zero time, so a lock that started then was lost.
// States now hold integer microseconds, stored as they are: a lock whose
// failures came 1µs after the epoch stays in force.
func TestRegressionEpochTimeLosesLock(t *testing.T) {
	s, _, _ := newStore(t)
	b := ipBucket("192.0.2.1")
	p := policy(3, time.Hour)
	for range 3 {
		do1(t, s, op(b, storage.Fail, 1, p))
	}
	if a := do1(t, s, op(b, storage.Peek, second, p)); !a.Locked || a.Until != 1+hour {
		t.Fatalf("1s into a 1h lock that began at the epoch: %+v, want locked until 1h", a)
	}
	if es := list(t, s, storage.Filter{}); len(es) != 1 || es[0].State.LastFailure != 1 {
		t.Fatalf("stored = %+v, want last failure 1", es)
	}
}
