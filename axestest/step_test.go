package axestest_test

import (
	"testing"

	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/internal/refmodel"
	"github.com/goaxes/axes/storage"
)

func goApply(s storage.Step, st storage.State) (storage.State, storage.Answer) {
	return storage.Apply(&s, st)
}

// The Go step function and the independent reference model both pass the
// golden vectors, as a port (Lua, SQL) must.
func TestStepVectors(t *testing.T) {
	t.Run("storage.Apply", func(t *testing.T) { axestest.RunStepVectors(t, goApply) })
	t.Run("refmodel", func(t *testing.T) { axestest.RunStepVectors(t, refmodel.Apply) })
}

// The reference model, written from docs/step.md in another style, agrees
// with storage.Apply on random sequences: RunStepProperty is how a port is
// compared too.
func TestStepProperty(t *testing.T) { axestest.RunStepProperty(t, refmodel.Apply) }
