package axestest_test

import (
	"testing"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/memstore"
)

// A store's test file runs the whole suite with one call; the factory
// returns a new, empty store for every subtest. A benchmark runs
// BenchmarkStore the same way.
func ExampleRunStoreTests() {
	// In memstore_test.go:
	testStore := func(t *testing.T) {
		axestest.RunStoreTests(t, func(*testing.T) axes.Store {
			return memstore.New()
		})
	}
	benchmarkStore := func(b *testing.B) {
		axestest.BenchmarkStore(b, func(*testing.B) axes.Store {
			return memstore.New()
		})
	}
	_, _ = testStore, benchmarkStore
}
