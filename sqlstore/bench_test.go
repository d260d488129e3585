package sqlstore

import (
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
)

// BenchmarkDo runs the suite's benchmark (a successful login: OpAdmit then
// OpRelease, on distinct buckets and on one shared bucket, serial and
// parallel) on a SQLite file in WAL mode.
func BenchmarkDo(b *testing.B) {
	axestest.BenchmarkStore(b, func(b *testing.B) axes.Store {
		s, _, _ := newStore(b)
		return s
	})
}

// BenchmarkDoPeek measures a status check, which only reads.
func BenchmarkDoPeek(b *testing.B) {
	s, _, _ := newStore(b)
	bk := ipBucket("192.0.2.1")
	p := policy(1<<30, time.Hour)
	do(b, s, axes.OpAdmit, t0, p, bk)
	op := &axes.Op{Kind: axes.OpPeek, Now: t0, Buckets: []axes.Bucket{bk}, Policy: p}
	for b.Loop() {
		if _, err := s.Do(b.Context(), op); err != nil {
			b.Fatal(err)
		}
	}
}
