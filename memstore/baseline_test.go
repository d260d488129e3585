package memstore

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes"
)

// BenchmarkGuardVsHandRolled compares a failed-then-successful login through
// the guard on memstore with the map-and-mutex counter applications write
// by hand (check the count, verify, increment; racy by design), measured in
// the same run so that the ratio is what to quote.
func BenchmarkGuardVsHandRolled(b *testing.B) {
	ips := make([]netip.Addr, 1024)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	b.Run("hand-rolled", func(b *testing.B) {
		var mu sync.Mutex
		counts := map[string]int{}
		i := 0
		for b.Loop() {
			i++
			key := ips[i%len(ips)].String() + "|user" + strconv.Itoa(i%100)
			mu.Lock()
			locked := counts[key] >= 3
			mu.Unlock()
			if locked {
				continue
			}
			mu.Lock()
			delete(counts, key) // a successful login resets
			mu.Unlock()
		}
	})
	b.Run("guard", func(b *testing.B) {
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		g, err := axes.New(New(), axes.Config{CoolOff: time.Hour, LockoutParameters: []axes.Group{{axes.ParamUsername, axes.ParamIPAddress}, {axes.ParamIPAddress}}},
			axes.WithClock(func() time.Time { return now }))
		if err != nil {
			b.Fatal(err)
		}
		ok := func(context.Context) (bool, error) { return true, nil }
		ctx := context.Background()
		i := 0
		for b.Loop() {
			i++
			id := axes.Identity{IP: ips[i%len(ips)], Username: "user" + strconv.Itoa(i%100)}
			if _, err := g.Authenticate(ctx, id, ok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
