package refmodel

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/goaxes/axes/storage"
)

// Vector is one golden case of the step function: a step on a stored state,
// and the state and answer that [storage.Apply] gives for it.
type Vector struct {
	Name       string         `json:"name"`
	Step       storage.Step   `json:"step"`
	State      storage.State  `json:"state"`
	WantState  storage.State  `json:"want_state"`
	WantAnswer storage.Answer `json:"want_answer"`
}

// StepsJSON is testdata/steps.json: a copy of storage/testdata/steps.json,
// written by the same `go test ./storage -run TestGoldenVectors -update`,
// which fails when the two differ.
//
//go:embed testdata/steps.json
var StepsJSON []byte

// Vectors decodes [StepsJSON].
func Vectors() ([]Vector, error) {
	var vs []Vector
	if err := json.Unmarshal(StepsJSON, &vs); err != nil {
		return nil, fmt.Errorf("refmodel: testdata/steps.json: %w", err)
	}
	return vs, nil
}

// Diff compares a result with the expected one, field by field, and
// returns one line per difference, named as in the JSON ("state.reserved:
// got 1, want 2"). Empty and absent shares are equal.
func Diff(wantState storage.State, wantAnswer storage.Answer, gotState storage.State, gotAnswer storage.Answer) []string {
	var out []string
	out = diffStruct(out, "state", reflect.ValueOf(wantState), reflect.ValueOf(gotState))
	out = diffStruct(out, "answer", reflect.ValueOf(wantAnswer), reflect.ValueOf(gotAnswer))
	return out
}

func diffStruct(out []string, prefix string, want, got reflect.Value) []string {
	t := want.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		w, g := want.Field(i), got.Field(i)
		if w.Kind() == reflect.Slice {
			if w.Len() == 0 && g.Len() == 0 {
				continue
			}
		}
		if !reflect.DeepEqual(w.Interface(), g.Interface()) {
			out = append(out, fmt.Sprintf("%s.%s: got %s, want %s", prefix, name, show(g), show(w)))
		}
	}
	return out
}

func show(v reflect.Value) string {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}
