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
