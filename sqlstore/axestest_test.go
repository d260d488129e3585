//go:build conformance

// The conformance suite of the axestest package, which is being rewritten
// for the storage contract (issue 6): until it builds again, run it with
// go test -tags conformance.

package sqlstore

import (
	"testing"

	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/storage"
)

func TestConformance(t *testing.T) {
	axestest.RunStoreTests(t, func(t *testing.T) storage.Store {
		s, _, _ := newStore(t)
		return s
	})
}
