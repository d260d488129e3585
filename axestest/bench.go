package axestest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// BenchmarkStore measures one login attempt that succeeds (OpAdmit then
// OpRelease) on stores made by newStore, one per sub-benchmark:
//
//   - Distinct: every attempt on its own bucket (a ring of 65536 keys);
//   - Shared: every attempt on the same bucket;
//
// each serially and with b.RunParallel. The policy never locks. The
// benchmark closes each store when it ends.
func BenchmarkStore(b *testing.B, newStore func(b *testing.B) axes.Store) {
	const ring = 1 << 16
	p := policy(1<<30, time.Hour, time.Hour)
	keys := make([]axes.Bucket, ring)
	for i := range keys {
		keys[i] = ipBucket(fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff))
	}
	attempt := func(b *testing.B, s axes.Store, bk axes.Bucket) {
		ctx := b.Context()
		op := &axes.Op{Kind: axes.OpAdmit, Now: base, Buckets: []axes.Bucket{bk}, Policy: p}
		if _, err := s.Do(ctx, op); err != nil {
			b.Errorf("Do(admit): %v", err)
			return
		}
		op.Kind = axes.OpRelease
		if _, err := s.Do(ctx, op); err != nil {
			b.Errorf("Do(release): %v", err)
		}
	}
	open := func(b *testing.B) axes.Store {
		s := newStore(b)
		b.Cleanup(func() {
			if err := s.Close(); err != nil {
				b.Errorf("Close: %v", err)
			}
		})
		return s
	}
	for _, shared := range []bool{false, true} {
		name := "Distinct"
		pick := func(i uint64) axes.Bucket { return keys[i%ring] }
		if shared {
			name = "Shared"
			pick = func(uint64) axes.Bucket { return keys[0] }
		}
		b.Run(name, func(b *testing.B) {
			s := open(b)
			var i uint64
			for b.Loop() {
				attempt(b, s, pick(i))
				i++
			}
		})
		b.Run(name+"Parallel", func(b *testing.B) {
			s := open(b)
			var next atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					attempt(b, s, pick(next.Add(1)))
				}
			})
		})
	}
}
