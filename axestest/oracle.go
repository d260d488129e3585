package axestest

import (
	"github.com/goaxes/axes/internal/refmodel"
	"github.com/goaxes/axes/storage"
)

// oracle is the step function of the reference store that the property
// test compares the store under test with: the second implementation of
// the step function in internal/refmodel, written from docs/step.md apart
// from storage.Apply. A store that merely calls storage.Apply is thus
// checked against an independent model too.
var oracle = func(s *storage.Step, st storage.State) (storage.State, storage.Answer) {
	return refmodel.Apply(*s, st)
}
