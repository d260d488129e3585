package sqlstore

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes/storage"
)

// BenchmarkDo measures a successful login as the core runs it on a SQLite
// file in WAL mode: one Do that admits the attempt on its buckets (an IP
// bucket and a username bucket), then one Do that releases the tickets.
// "shared" puts every attempt on the same buckets; "distinct" gives each
// its own; "parallel" runs them from GOMAXPROCS goroutines.
func BenchmarkDo(b *testing.B) {
	p := policy(1<<30, time.Hour)
	var n atomic.Int64
	login := func(b *testing.B, s *Store, ip, user storage.Bucket) {
		as, err := s.Do(b.Context(), []storage.Op{op(ip, storage.Admit, us0, p), op(user, storage.Admit, us0, p)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Do(b.Context(), []storage.Op{
			held(ip, storage.Release, us0, p, as[0].Slot, ""), held(user, storage.Release, us0, p, as[1].Slot, ""),
		}); err != nil {
			b.Fatal(err)
		}
	}
	distinct := func() (storage.Bucket, storage.Bucket) {
		i := n.Add(1)
		return ipBucket(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)), userBucket(fmt.Sprint("user", i))
	}
	b.Run("shared", func(b *testing.B) {
		s, _, _ := newStore(b)
		for b.Loop() {
			login(b, s, ipBucket("192.0.2.1"), userBucket("alice"))
		}
	})
	b.Run("distinct", func(b *testing.B) {
		s, _, _ := newStore(b)
		for b.Loop() {
			ip, user := distinct()
			login(b, s, ip, user)
		}
	})
	b.Run("parallel-shared", func(b *testing.B) {
		s, _, _ := newStore(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				login(b, s, ipBucket("192.0.2.1"), userBucket("alice"))
			}
		})
	})
	b.Run("parallel-distinct", func(b *testing.B) {
		s, _, _ := newStore(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ip, user := distinct()
				login(b, s, ip, user)
			}
		})
	})
}

// BenchmarkDoPeek measures a status check, which only reads.
func BenchmarkDoPeek(b *testing.B) {
	s, _, _ := newStore(b)
	bk := ipBucket("192.0.2.1")
	p := policy(1<<30, time.Hour)
	do1(b, s, op(bk, storage.Fail, us0, p))
	ops := []storage.Op{op(bk, storage.Peek, us0, p), op(userBucket("alice"), storage.Peek, us0, p)}
	for b.Loop() {
		if _, err := s.Do(b.Context(), ops); err != nil {
			b.Fatal(err)
		}
	}
}
