package axestest

import (
	"testing"

	"github.com/goaxes/axes/internal/refmodel"
	"github.com/goaxes/axes/storage"
)

// RunStepVectors runs every golden vector of the step function through
// apply, one subtest per vector, and reports each field of the state or the
// answer that differs from the vector's. The vectors are
// storage/testdata/steps.json (embedded): a step, a stored state, and what
// [storage.Apply] returns for them, covering every kind against every state
// worth telling apart (docs/step.md lists the rules).
//
// A store that reproduces Apply outside Go (a Lua script, SQL) passes its
// port as apply: it puts the state in the store as the store keeps it, runs
// the step there, and reads back the state written and the answer. For a
// Redis store with a Lua script:
//
//	func TestStepVectors(t *testing.T) {
//		rdb := newTestRedis(t)
//		axestest.RunStepVectors(t, func(s storage.Step, st storage.State) (storage.State, storage.Answer) {
//			const key = "axes:vectors"
//			putState(t, rdb, key, st)       // HSET the fields; DEL when st.Empty()
//			a := runStep(t, rdb, key, s)    // EVALSHA step.lua with the step's fields
//			return getState(t, rdb, key), a // HGETALL; a missing key is State{}
//		})
//	}
//
// A SQL port does the same in a transaction, with the state in a row. A
// Peek writes nothing, so for a Peek only the answer is compared. Fields
// the JSON omits are zero; empty and absent shares are equal; a deleted
// bucket reads as State{}.
func RunStepVectors(t *testing.T, apply func(storage.Step, storage.State) (storage.State, storage.Answer)) {
	t.Helper()
	vs, err := refmodel.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			st, a := apply(v.Step, v.State)
			if v.Step.Kind == storage.Peek {
				st = v.WantState
			}
			for _, d := range refmodel.Diff(v.WantState, v.WantAnswer, st, a) {
				t.Error(d)
			}
		})
	}
}
