package axestest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/goaxes/axes/storage"
)

// BenchmarkStore measures login attempts on stores made by newStore, one
// store per sub-benchmark. Each attempt is counted in three buckets (the
// address, the username and both, as a guard with three lockout groups
// counts it): one Do admits on all three, a second settles all three.
//
//   - AdmitRelease: the attempt succeeds and its places are given back;
//   - AdmitFail: it fails, and its places become failures (the policy
//     records only, so nothing locks and the count grows);
//
// each on Distinct identities (a ring of 4096) and on one Shared identity,
// serially and with b.RunParallel. The benchmark closes each store when it
// ends.
func BenchmarkStore(b *testing.B, newStore func(b *testing.B) storage.Store) {
	const ring = 1 << 12
	p := policy(1<<30, hour, hour, minute)
	p.RecordOnly = true
	idents := make([][]storage.Bucket, ring)
	for i := range idents {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
		user := fmt.Sprintf("user%d", i)
		idents[i] = []storage.Bucket{
			{Key: "bench|ip=" + ip, Params: "ip_address", IP: ip},
			{Key: "bench|user=" + user, Params: "username", Username: user},
			{Key: "bench|user=" + user + "|ip=" + ip, Params: "username+ip_address", IP: ip, Username: user},
		}
	}
	attempt := func(b *testing.B, s storage.Store, bs []storage.Bucket, settle storage.Kind) {
		ctx := b.Context()
		ops := make([]storage.Op, len(bs))
		for i, bk := range bs {
			user := ""
			if bk.Username == "" {
				user = bs[1].Username
			}
			ops[i] = storage.Op{Bucket: bk, Step: stepOf(storage.Admit, t0, p, user)}
		}
		ans, err := s.Do(ctx, ops)
		if err != nil || len(ans) != len(ops) {
			b.Errorf("Do(admit) = %d answers, %v", len(ans), err)
			return
		}
		for i := range ops {
			ops[i].Step.Kind, ops[i].Step.Held, ops[i].Step.Slot = settle, true, ans[i].Slot
		}
		if _, err := s.Do(ctx, ops); err != nil {
			b.Errorf("Do(%s): %v", settle, err)
		}
	}
	open := func(b *testing.B) storage.Store {
		s := newStore(b)
		b.Cleanup(func() {
			if err := s.Close(); err != nil {
				b.Errorf("Close: %v", err)
			}
		})
		return s
	}
	for _, settle := range []storage.Kind{storage.Release, storage.Fail} {
		for _, shared := range []bool{false, true} {
			name := "Admit" + map[storage.Kind]string{storage.Release: "Release", storage.Fail: "Fail"}[settle]
			pick := func(i uint64) []storage.Bucket { return idents[i%ring] }
			if shared {
				name += "/Shared"
				pick = func(uint64) []storage.Bucket { return idents[0] }
			} else {
				name += "/Distinct"
			}
			b.Run(name, func(b *testing.B) {
				s := open(b)
				var i uint64
				for b.Loop() {
					attempt(b, s, pick(i), settle)
					i++
				}
			})
			b.Run(name+"Parallel", func(b *testing.B) {
				s := open(b)
				var next atomic.Uint64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						attempt(b, s, pick(next.Add(1)), settle)
					}
				})
			})
		}
	}
}
