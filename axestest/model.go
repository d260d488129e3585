package axestest

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goaxes/axes/internal/refmodel"
	"github.com/goaxes/axes/storage"
)

// RunStepProperty compares apply with [storage.Apply] on random step
// sequences (1000 of 40 steps; 100 with -short): random policies with
// tiers, windows shorter than the cool-off, leases (0 too), RecordOnly and
// FixedCoolOff; all kinds; a clock that mostly moves forward, often onto a
// boundary, and sometimes steps back; tickets settled late, after they
// lapsed; stored states that a damaged store could hand back; two policies
// on one bucket. Each step runs on the state that Apply wrote after the
// previous one, so a difference is reported at the first step that shows
// it, with the step and the state as JSON; the walk stops there.
//
// apply is called as for [RunStepVectors]; for a Peek only the answer is
// compared.
func RunStepProperty(t *testing.T, apply func(storage.Step, storage.State) (storage.State, storage.Answer)) {
	t.Helper()
	n := 1000
	if testing.Short() {
		n = 100
	}
	for i := range n {
		w := refmodel.Walk{Steps: 40, Backward: i%2 == 1, Damaged: i%3 == 2, Shared: i%5 == 4}
		if !propertyWalk(t, uint64(i), w, apply) {
			return
		}
	}
}

func propertyWalk(t *testing.T, seed uint64, w refmodel.Walk, apply func(storage.Step, storage.State) (storage.State, storage.Answer)) (ok bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0xa5e5))
	step := 0
	stop := &struct{}{}
	defer func() {
		if v := recover(); v != nil && v != stop {
			panic(v)
		}
	}()
	w.Run(r, func(s storage.Step, st storage.State) (storage.State, storage.Answer) {
		step++
		want, wa := storage.Apply(&s, st)
		got, ga := apply(s, st)
		if s.Kind == storage.Peek {
			got = want
		}
		if d := refmodel.Diff(want, wa, got, ga); len(d) > 0 {
			in, _ := json.Marshal(struct {
				Step  storage.Step  `json:"step"`
				State storage.State `json:"state"`
			}{s, st})
			t.Errorf("walk %d, step %d: %s\n\t%s", seed, step, in, strings.Join(d, "\n\t"))
			panic(stop)
		}
		return want, wa
	})
	return true
}
