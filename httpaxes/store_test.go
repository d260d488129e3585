package httpaxes_test

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/storage"
)

// mapStore is a minimal store for these tests: a map under a mutex, with
// every decision made by storage.Apply.
type mapStore struct {
	mu     sync.Mutex
	states map[string]storage.State
	ops    int
}

func newMapStore() *mapStore { return &mapStore{states: map[string]storage.State{}} }

func (s *mapStore) Do(_ context.Context, ops []storage.Op) ([]storage.Answer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops++
	ans := make([]storage.Answer, len(ops))
	for i, op := range ops {
		st, a := storage.Apply(&op.Step, s.states[op.Bucket.Key])
		ans[i] = a
		switch {
		case op.Step.Kind == storage.Peek:
		case st.Empty():
			delete(s.states, op.Bucket.Key)
		default:
			s.states[op.Bucket.Key] = st
		}
	}
	return ans, nil
}

func (s *mapStore) Close() error { return nil }

// failures returns the count of the lockout bucket of ip.
func (s *mapStore) failures(t *testing.T, g *axes.Guard, ip string) int {
	t.Helper()
	res, err := g.Status(context.Background(), axes.Identity{IP: mustAddr(t, ip)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Failures
}

// brokenStore fails every operation.
type brokenStore struct{}

var errBroken = errors.New("store is down")

func (brokenStore) Do(context.Context, []storage.Op) ([]storage.Answer, error) {
	return nil, errBroken
}
func (brokenStore) Close() error { return nil }

// newFakeClock returns the tests' clock, at a fixed start.
func newFakeClock() *axestest.Clock {
	return axestest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

func newGuard(t testing.TB, store storage.Store, cfg axes.Config, opts ...axes.Option) *axes.Guard {
	t.Helper()
	g, err := axes.New(store, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// newMiddleware returns a middleware that settles by status: most of these
// tests' handlers answer a wrong password with 401, as an API does.
func newMiddleware(t testing.TB, g *axes.Guard, opts ...httpaxes.Option) *httpaxes.Middleware {
	t.Helper()
	return newMiddlewareWith(t, g, httpaxes.SettleByStatus(), opts...)
}

// newExplicit returns a middleware whose handlers settle explicitly.
func newExplicit(t testing.TB, g *axes.Guard, opts ...httpaxes.Option) *httpaxes.Middleware {
	t.Helper()
	return newMiddlewareWith(t, g, httpaxes.SettleExplicitly(), opts...)
}

func newMiddlewareWith(t testing.TB, g *axes.Guard, s httpaxes.Settlement, opts ...httpaxes.Option) *httpaxes.Middleware {
	t.Helper()
	m, err := httpaxes.New(g, s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// wrongPassword is a login handler that rejects everyone, counting checks.
type wrongPassword struct {
	mu     sync.Mutex
	checks int
}

func (h *wrongPassword) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.checks++
	h.mu.Unlock()
	http.Error(w, "invalid credentials", http.StatusUnauthorized)
}

func (h *wrongPassword) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checks
}

// post builds a form login request from ip.
func post(ip, username string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("username="+username+"&password=secret"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = ip + ":4321"
	return r
}

// serve runs h on r and returns the recorded response.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func discardSlog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
