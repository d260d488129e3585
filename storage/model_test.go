package storage_test

import (
	"testing"

	"github.com/goaxes/axes/internal/refmodel"
	"github.com/goaxes/axes/storage"
)

// TestModelVectors runs the golden vectors through the reference model,
// which is written from docs/step.md and shares no code with Apply.
func TestModelVectors(t *testing.T) {
	vs, err := refmodel.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		st, a := refmodel.Apply(v.Step, v.State)
		for _, d := range refmodel.Diff(v.WantState, v.WantAnswer, st, a) {
			t.Errorf("%s: %s", v.Name, d)
		}
	}
}

// TestModelExpectations checks the hand-written expectations of the golden
// cases against the model too.
func TestModelExpectations(t *testing.T) {
	for _, c := range goldenCases() {
		st, a := refmodel.Apply(storage.Step(c.step), c.state)
		for _, msg := range checkKV(c.want, st, a) {
			t.Errorf("%s: %s", c.name, msg)
		}
	}
}
