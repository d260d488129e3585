package sqlstore

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
)

// R8 (found in review, fixed): a time at the Unix epoch is stored as 0, which reads back as the
// zero time: a lock that started then is lost (memstore keeps it).
func TestRegressionEpochTimeLosesLock(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	clk := axestest.NewClock(time.Unix(0, 0).UTC())
	g, err := axes.New(s, axes.Config{CoolOff: time.Hour}, axes.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	id := axes.Identity{IP: netip.MustParseAddr("192.0.2.1")}
	for range 3 {
		g.Authenticate(ctx, id, func(context.Context) (bool, error) { return false, nil })
	}
	clk.Advance(time.Second)
	st, err := g.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Verdict != axes.Locked {
		t.Fatalf("1s into a 1h lock that began at the epoch: %s, want locked", st.Verdict)
	}
}
