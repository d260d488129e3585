package axestest_test

import (
	"testing"

	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/storage"
)

// A store's test file runs the whole suite with one call; the Factory
// returns a new, empty store for every subtest (a store backed by a server
// gives each one a namespace of its own). BenchmarkStore runs the same way.
func ExampleRunStoreTests() {
	// In mystore_test.go:
	testStore := func(t *testing.T) {
		axestest.RunStoreTests(t, func(t *testing.T) storage.Store {
			return newRefStore("") // mystore.New(...)
		})
	}
	benchmarkStore := func(b *testing.B) {
		axestest.BenchmarkStore(b, func(*testing.B) storage.Store {
			return newRefStore("")
		})
	}
	_, _ = testStore, benchmarkStore
}
