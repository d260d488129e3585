package sqlstore

import (
	"testing"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
)

func TestConformance(t *testing.T) {
	axestest.RunStoreTests(t, func(t *testing.T) axes.Store {
		s, _, _ := newStore(t)
		return s
	})
}
