package httpaxes_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/storage"
)

// TestConcurrentBurst is the reserve-before-verify guarantee over real
// HTTP: 200 simultaneous wrong passwords against limit 3 get two 401s and
// 198 lockouts, and the password is checked at most 3 times.
func TestConcurrentBurst(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 3})
	check := &wrongPassword{}
	srv := httptest.NewServer(newMiddleware(t, g).Protect(check))
	defer srv.Close()

	const n = 200
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		codes = map[int]int{}
	)
	client := srv.Client()
	for range n {
		wg.Go(func() {
			<-start
			resp, err := client.PostForm(srv.URL+"/login", map[string][]string{"username": {"alice"}, "password": {"wrong"}})
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if codes[401] != 2 || codes[429] != n-2 || len(codes) != 2 {
		t.Errorf("status counts %v, want 2×401 and %d×429", codes, n-2)
	}
	if c := check.count(); c > 3 {
		t.Errorf("the password was checked %d times, want at most 3", c)
	}
}

func TestSequence401401429(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{})
	check := &wrongPassword{}
	h := newMiddleware(t, g).Protect(check)
	for i, want := range []int{401, 401, 429, 429, 429} {
		w := serve(h, post("203.0.113.7", "alice"))
		if w.Code != want {
			t.Errorf("attempt %d: %d, want %d", i+1, w.Code, want)
		}
		if want == 429 && strings.Contains(w.Body.String(), "invalid credentials") {
			t.Errorf("attempt %d: the handler's body leaked into the lockout: %q", i+1, w.Body)
		}
	}
	if check.count() != 3 {
		t.Errorf("checks %d, want 3", check.count())
	}
	// Another client is not affected.
	if w := serve(h, post("203.0.113.8", "alice")); w.Code != 401 {
		t.Errorf("other IP: %d, want 401", w.Code)
	}
}

func TestLockoutReplacesHandlerHeaders(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 1})
	h := newMiddleware(t, g).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "half=baked")
		w.Header().Set("Content-Type", "application/x-secret")
		w.WriteHeader(http.StatusUnauthorized)
		if n, err := w.Write([]byte("from the handler")); n != 16 || err != nil {
			t.Errorf("swallowed Write = %d, %v", n, err)
		}
	}))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY") // set by an outer middleware
		h.ServeHTTP(w, r)
	})
	w := serve(outer, post("203.0.113.7", "alice"))
	if w.Code != 429 {
		t.Fatalf("status %d", w.Code)
	}
	if w.Header().Get("Set-Cookie") != "" || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("handler headers leaked: %v", w.Header())
	}
	if w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("outer middleware header lost: %v", w.Header())
	}
	if strings.Contains(w.Body.String(), "handler") {
		t.Errorf("body %q", w.Body)
	}
}

func TestGETPassesThrough(t *testing.T) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{FailureLimit: 1})
	m := newMiddleware(t, g)
	h := m.Protect(&wrongPassword{})
	if w := serve(h, post("203.0.113.7", "alice")); w.Code != 429 {
		t.Fatalf("locking POST: %d", w.Code)
	}
	ops := store.ops
	// Without credentials (showing the login page): not guarded.
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		r := httptest.NewRequest(method, "/login?next=/home", nil)
		r.RemoteAddr = "203.0.113.7:1"
		var admitted bool
		serve(m.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, admitted = httpaxes.TicketFrom(r)
			w.WriteHeader(http.StatusUnauthorized)
		})), r)
		if admitted {
			t.Errorf("%s was admitted", method)
		}
	}
	if w := serve(h, httptest.NewRequest(http.MethodGet, "/login", nil)); w.Code != 401 {
		t.Errorf("GET of a locked client: %d, want the handler's 401", w.Code)
	}
	if store.ops != ops {
		t.Errorf("GET, HEAD, OPTIONS touched the store")
	}

	// With the username in the query string GET and HEAD are guarded like
	// POST: the locked client is refused.
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r := httptest.NewRequest(method, "/login?username=alice&password=guess", nil)
		r.RemoteAddr = "203.0.113.7:1"
		if w := serve(h, r); w.Code != 429 {
			t.Errorf("%s with credentials from a locked client: %d, want 429", method, w.Code)
		}
	}
	// ... unless NeverLockoutGET.
	g2 := newGuard(t, store, axes.Config{FailureLimit: 1, NeverLockoutGET: true})
	r := httptest.NewRequest(http.MethodGet, "/login?username=alice&password=guess", nil)
	r.RemoteAddr = "203.0.113.7:1"
	if w := serve(newMiddleware(t, g2).Protect(&wrongPassword{}), r); w.Code != 401 {
		t.Errorf("GET with credentials under NeverLockoutGET: %d, want the handler's 401", w.Code)
	}

	// WithGuardedMethods narrows the guard.
	m2 := newMiddleware(t, g, httpaxes.WithGuardedMethods(http.MethodPut))
	if w := serve(m2.Protect(&wrongPassword{}), post("203.0.113.7", "alice")); w.Code != 401 {
		t.Errorf("POST not in WithGuardedMethods: %d, want 401", w.Code)
	}
	// A GET with credentials stays guarded.
	r = httptest.NewRequest(http.MethodGet, "/login?username=alice", nil)
	r.RemoteAddr = "203.0.113.7:1"
	if w := serve(m2.Protect(&wrongPassword{}), r); w.Code != 429 {
		t.Errorf("GET with credentials, WithGuardedMethods(PUT): %d, want 429", w.Code)
	}
}

// A locked client may not guess by GET (django-axes counts GET logins
// unless AXES_NEVER_LOCKOUT_GET): a handler that reads r.FormValue answers
// GET /login?username=..&password=.. too.
func TestGETLoginIsGuarded(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 3})
	h := &wrongPassword{}
	p := newMiddleware(t, g).Protect(h)
	var codes []int
	for i := range 10 {
		r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/login?username=alice&password=guess%d", i), nil)
		r.RemoteAddr = "203.0.113.7:1"
		codes = append(codes, serve(p, r).Code)
	}
	if h.count() != 3 || codes[1] != 401 || codes[2] != 429 || codes[9] != 429 {
		t.Errorf("GET logins: statuses %v, %d password checks; want 401 401 429..., 3 checks", codes, h.count())
	}
}

// jsonLogin is the usual JSON login handler: json.NewDecoder(r.Body).Decode
// into a struct, wrong password for everyone.
type jsonLogin struct{ checks map[string]int }

func (h *jsonLogin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	h.checks[req.Username]++
	http.Error(w, "invalid credentials", http.StatusUnauthorized)
}

// With username lockout and limit 3, alice's password is not checked more
// than 3 times, whatever shape the JSON body has: the shapes that encoding/json
// reads differently from a simple sniffer are refused.
func TestJSONUsernameEvasion(t *testing.T) {
	cases := map[string]struct {
		ctype, body string
		checks      int // alice's password checks
	}{
		"plain":                {"application/json", `{"username":"alice","password":"x"}`, 3},
		"trailing data":        {"application/json", `{"username":"alice","password":"x"} trailing`, 0},
		"second value":         {"application/json", `{"username":"alice","password":"x"}{}`, 0},
		"duplicate key null":   {"application/json", `{"username":"alice","password":"x","username":null}`, 0},
		"padding over 64 KiB":  {"application/json", `{"username":"alice","password":"x"}` + strings.Repeat(" ", 64<<10), 0},
		"bad media parameter":  {"application/json; charset", `{"username":"alice","password":"x"}`, 3},
		"text/plain JSON body": {"text/plain", `{"username":"alice","password":"x"}`, 3},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 3, LockoutParameters: []axes.Group{{axes.ParamUsername}}})
			h := &jsonLogin{checks: map[string]int{}}
			p := newMiddleware(t, g).Protect(h)
			for range 10 {
				r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(c.body))
				r.Header.Set("Content-Type", c.ctype)
				serve(p, r)
			}
			if n := h.checks["alice"]; n != c.checks {
				t.Errorf("alice's password checked %d times, want %d (FailureLimit 3)", n, c.checks)
			}
		})
	}
}

// hijackRecorder is a writer that can be hijacked.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.hijacked = true
	c1, c2 := net.Pipe()
	_ = c2.Close()
	return c1, bufio.NewReadWriter(bufio.NewReader(c1), bufio.NewWriter(c1)), nil
}

// A handler that hijacks the connection is not settled as a successful
// login: the attempt is released uncounted before the connection is handed
// over.
func TestHijackReleases(t *testing.T) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{FailureLimit: 3, ResetOnSuccess: true})
	m := newMiddleware(t, g)
	// Two failures first: a success would reset them.
	for range 2 {
		serve(m.Protect(&wrongPassword{}), post("203.0.113.7", "alice"))
	}
	var verdict axes.Verdict
	hj := &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
	m.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Hijacker); !ok {
			t.Error("the wrapper is not a Hijacker over a hijackable writer")
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Fatalf("Hijack: %v", err)
		}
		_ = conn.Close()
		res, _ := httpaxes.ResultFrom(r)
		verdict = res.Verdict
	})).ServeHTTP(hj, post("203.0.113.7", "alice"))
	if !hj.hijacked || verdict != axes.Undecided {
		t.Errorf("hijacked %v, verdict %v; want released (undecided)", hj.hijacked, verdict)
	}
	if n := store.failures(t, g, "203.0.113.7"); n != 2 {
		t.Errorf("failures after a hijack %d, want 2 (released, not a success)", n)
	}

	// Over a writer that cannot be hijacked none is offered, and
	// ResponseController reports it.
	m.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Hijacker); ok {
			t.Error("the wrapper offers Hijack over a writer without it")
		}
		if _, _, err := http.NewResponseController(w).Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack: %v, want ErrNotSupported", err)
		}
		w.WriteHeader(http.StatusUnauthorized)
	})).ServeHTTP(httptest.NewRecorder(), post("203.0.113.7", "alice"))
	if n := store.failures(t, g, "203.0.113.7"); n != 3 {
		t.Errorf("failures %d, want 3", n)
	}

	// After an explicit Fail that locked the client, the hijack is refused
	// and the lockout response written.
	g2 := newGuard(t, newMapStore(), axes.Config{FailureLimit: 1})
	hj = &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
	newMiddleware(t, g2).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = httpaxes.Fail(r)
		if _, _, err := http.NewResponseController(w).Hijack(); err == nil {
			t.Error("Hijack after a locking Fail succeeded")
		}
	})).ServeHTTP(hj, post("203.0.113.7", "alice"))
	if hj.hijacked || hj.Code != 429 {
		t.Errorf("hijacked %v, status %d; want the lockout", hj.hijacked, hj.Code)
	}
}

// Trailers the handler announces are not sent with the lockout response
// that replaced its own (a streamed lockout response is chunked, and
// net/http sends "Trailer:"-prefixed header keys as trailers).
func TestLockoutDropsTrailers(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 1})
	streamed := httpaxes.WithLockoutHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte("locked\n"))
		_ = http.NewResponseController(w).Flush()
	}))
	h := newMiddleware(t, g, streamed).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set(http.TrailerPrefix+"X-Early", "before")
		w.WriteHeader(http.StatusUnauthorized)
		hdr.Set(http.TrailerPrefix+"X-Session", "secret")
		_, _ = w.Write([]byte("from the handler"))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().PostForm(srv.URL, map[string][]string{"username": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 429 || len(resp.Trailer) != 0 {
		t.Errorf("status %d, trailers %v; want 429 without trailers", resp.StatusCode, resp.Trailer)
	}
}

// Fail, Succeed and SucceedSession settle the attempt in either mode; the
// status written afterwards does not matter.
func TestExplicitSettlement(t *testing.T) {
	for name, s := range map[string]httpaxes.Settlement{"explicit": httpaxes.SettleExplicitly(), "by status": httpaxes.SettleByStatus()} {
		t.Run(name, func(t *testing.T) { testExplicitSettlement(t, s) })
	}
}

func testExplicitSettlement(t *testing.T, s httpaxes.Settlement) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{})
	var (
		results []axes.Result
		errs    []error
	)
	mode := "fail"
	h := newMiddlewareWith(t, g, s).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res axes.Result
		var err error
		switch mode {
		case "fail":
			res, err = httpaxes.Fail(r)
		case "succeed":
			res, err = httpaxes.SucceedSession(r, "session-1")
		}
		results, errs = append(results, res), append(errs, err)
		if _, err := httpaxes.Succeed(r); !errors.Is(err, axes.ErrSettled) {
			t.Errorf("second settlement: %v, want ErrSettled", err)
		}
		if got, ok := httpaxes.ResultFrom(r); !ok || got.Verdict != res.Verdict {
			t.Errorf("ResultFrom = %v %v", got, ok)
		}
		w.WriteHeader(http.StatusOK) // the status does not matter any more
	}))
	// Fail with a 200 response: counted.
	if w := serve(h, post("203.0.113.7", "alice")); w.Code != 200 {
		t.Errorf("explicit Fail: %d, want the handler's 200", w.Code)
	}
	if n := store.failures(t, g, "203.0.113.7"); n != 1 {
		t.Errorf("failures %d, want 1", n)
	}
	// Succeed: the reservation is given back.
	mode = "succeed"
	serve(h, post("203.0.113.7", "alice"))
	if n := store.failures(t, g, "203.0.113.7"); n != 1 {
		t.Errorf("failures after success %d, want 1", n)
	}
	mode = "fail"
	serve(h, post("203.0.113.7", "alice"))
	w := serve(h, post("203.0.113.7", "alice"))
	if w.Code != 429 {
		t.Errorf("explicit Fail reaching the limit: %d, want 429 replacing the handler's 200", w.Code)
	}
	want := []axes.Verdict{axes.Invalid, axes.Allowed, axes.Invalid, axes.Locked}
	for i, v := range want {
		if results[i].Verdict != v || errs[i] != nil {
			t.Errorf("settlement %d: %v, %v; want %v", i+1, results[i].Verdict, errs[i], v)
		}
	}

	// Outside Protect.
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	if _, err := httpaxes.Fail(r); !errors.Is(err, httpaxes.ErrNotProtected) {
		t.Errorf("Fail outside Protect: %v", err)
	}
	if _, err := httpaxes.Succeed(r); !errors.Is(err, httpaxes.ErrNotProtected) {
		t.Errorf("Succeed outside Protect: %v", err)
	}
	if _, ok := httpaxes.TicketFrom(r); ok {
		t.Error("TicketFrom outside Protect")
	}
	if _, ok := httpaxes.ResultFrom(r); ok {
		t.Error("ResultFrom outside Protect")
	}
}

func TestExplicitFailLockWithoutWriting(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 1})
	h := newMiddleware(t, g).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = httpaxes.Fail(r)
	}))
	if w := serve(h, post("203.0.113.7", "alice")); w.Code != 429 {
		t.Errorf("status %d, want 429", w.Code)
	}
}

func TestStatusSettlement(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		failures int
	}{
		{"401 fails", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, 1},
		{"403 fails", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }, 1},
		{"200 succeeds", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }, 0},
		{"204 succeeds", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, 0},
		{"303 without Succeed fails", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/login?error=1", http.StatusSeeOther)
		}, 1},
		{"302 after Succeed succeeds", func(w http.ResponseWriter, r *http.Request) {
			_, _ = httpaxes.Succeed(r)
			http.Redirect(w, r, "/home", http.StatusFound)
		}, 0},
		{"no write is 200", func(w http.ResponseWriter, r *http.Request) {}, 0},
		{"Write without status is 200", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hi")) }, 0},
		{"500 releases", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, 0},
		{"400 releases", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) }, 0},
		{"1xx then 401", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(103); w.WriteHeader(401) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMapStore()
			g := newGuard(t, store, axes.Config{})
			serve(newMiddleware(t, g).Protect(tt.handler), post("203.0.113.7", "alice"))
			if n := store.failures(t, g, "203.0.113.7"); n != tt.failures {
				t.Errorf("failures %d, want %d", n, tt.failures)
			}
		})
	}
	// SettleByStatus' statuses replace the default set.
	store := newMapStore()
	g := newGuard(t, store, axes.Config{})
	status := 0
	h := newMiddlewareWith(t, g, httpaxes.SettleByStatus(422)).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	status = 401
	serve(h, post("203.0.113.7", "alice"))
	if n := store.failures(t, g, "203.0.113.7"); n != 0 {
		t.Errorf("401 with SettleByStatus(422): failures %d, want 0", n)
	}
	status = 422
	serve(h, post("203.0.113.7", "alice"))
	if n := store.failures(t, g, "203.0.113.7"); n != 1 {
		t.Errorf("422 with SettleByStatus(422): failures %d, want 1", n)
	}
}

func TestPanicKeepsTheCount(t *testing.T) {
	store := newMapStore()
	clock := newFakeClock()
	g := newGuard(t, store, axes.Config{MaxWait: -1}, axes.WithClock(clock.Now)) // a fourth attempt is refused at once
	h := newMiddleware(t, g).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("user database exploded")
	}))
	func() {
		defer func() {
			if v := recover(); v != "user database exploded" {
				t.Errorf("recovered %v, want the handler's panic", v)
			}
		}()
		serve(h, post("203.0.113.7", "alice"))
	}()

	// Over a real server (which recovers the panic) the same holds.
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = discardLogger()
	srv.Start()
	defer srv.Close()
	for range 3 {
		resp, err := srv.Client().PostForm(srv.URL, map[string][]string{"username": {"alice"}})
		if err == nil {
			_ = resp.Body.Close()
		}
	}
	// The unsettled attempts hold their places under the limit: with 3 of
	// them from 127.0.0.1 (limit 3) the next is refused...
	if n := store.failures(t, g, "203.0.113.7"); n != 0 {
		t.Errorf("failures right after a panic %d, want 0 (a reservation, not yet a failure)", n)
	}
	resp, err := srv.Client().PostForm(srv.URL, map[string][]string{"username": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a fourth attempt while 3 panicked ones hold their places: status %d, want 429", resp.StatusCode)
	}
	// ...and once they lapse (within two leases of their admission) they
	// count as failures.
	clock.Advance(2 * axes.DefaultReservationLease)
	if n := store.failures(t, g, "203.0.113.7"); n != 1 {
		t.Errorf("failures two leases after a panic %d, want 1", n)
	}
	if n := store.failures(t, g, "127.0.0.1"); n != 3 {
		t.Errorf("failures over HTTP two leases after 3 panics %d, want 3", n)
	}
}

type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

// deadliner is a writer without Flush that supports SetWriteDeadline.
type deadliner struct {
	http.ResponseWriter
	deadline time.Time
}

func (d *deadliner) SetWriteDeadline(t time.Time) error { d.deadline = t; return nil }

func TestUnwrapAndFlush(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{})
	m := newMiddleware(t, g)

	// Flush is offered when the underlying writer flushes.
	fr := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	var isFlusher bool
	m.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isFlusher = w.(http.Flusher)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	})).ServeHTTP(fr, post("203.0.113.7", "alice"))
	if !isFlusher || fr.flushes != 1 || fr.Code != 200 {
		t.Errorf("flusher %v, flushes %d, code %d", isFlusher, fr.flushes, fr.Code)
	}

	// Without Flush underneath, none is offered; Unwrap reaches the
	// writer's other abilities.
	d := &deadliner{ResponseWriter: httptest.NewRecorder()}
	when := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); ok {
			t.Error("wrapper offers Flush over a writer without it")
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok || u.Unwrap() != http.ResponseWriter(d) {
			t.Error("Unwrap does not return the underlying writer")
		}
		if err := http.NewResponseController(w).SetWriteDeadline(when); err != nil {
			t.Errorf("SetWriteDeadline through Unwrap: %v", err)
		}
	})).ServeHTTP(d, post("203.0.113.7", "alice"))
	if !d.deadline.Equal(when) {
		t.Errorf("deadline %v", d.deadline)
	}
}

func TestJSONUsernameAndBodyRestored(t *testing.T) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{LockoutParameters: []axes.Group{{axes.ParamUsername}}})
	var seenBody []byte
	var seenUser, counted string
	var sawJSON, called bool
	h := newMiddleware(t, g, httpaxes.WithMaxBodyBytes(256)).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		seenBody, _ = io.ReadAll(r.Body)
		if tk, ok := httpaxes.TicketFrom(r); ok {
			seenUser = tk.Identity().Username
		}
		counted, _ = httpaxes.Username(r)
		sawJSON = httpaxes.JSONBody(r)
		w.WriteHeader(401)
	}))
	tests := []struct {
		name, target, ctype, body, user string
	}{
		{"object", "/login", "application/json", `{"username":"Alice","password":"pw"}`, "alice"},
		{"charset and +json", "/login", "application/vnd.api+json; charset=utf-8", `{"username":"bob"}`, "bob"},
		{"malformed media parameter is still JSON", "/login", "application/json; charset", `{"username":"carol"}`, "carol"},
		{"text/plain body that is a JSON object", "/login", "text/plain", ` {"username":"dave"}`, "dave"},
		{"no content type", "/login", "", `{"username":"erin"}`, "erin"},
		{"escaped key", "/login", "application/json", `{"user\u006eame":"frank"}`, "frank"},
		{"key folded like encoding/json (long s)", "/login", "application/json", `{"uſername":"grace","password":"x"}`, "grace"},
		{"trailing white space", "/login", "application/json", "{\"username\":\"heidi\"}\r\n\t ", "heidi"},
		{"field absent", "/login", "application/json", `{"password":"x"}`, ""},
		{"field absent, query has it", "/login?username=ivan", "application/json", `{"password":"x"}`, "ivan"},
		{"same in body and query", "/login?username=judy", "application/json", `{"username":"judy"}`, "judy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seenBody, seenUser, counted, sawJSON = nil, "unset", "unset", false
			r := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			w := serve(h, r)
			if w.Code != 401 {
				t.Fatalf("status %d (%s), want the handler's 401", w.Code, w.Body)
			}
			if !bytes.Equal(seenBody, []byte(tt.body)) {
				t.Errorf("handler read %q, want the whole body %q", seenBody, tt.body)
			}
			if seenUser != tt.user || !strings.EqualFold(counted, tt.user) {
				t.Errorf("guarded username %q, Username(r) %q; want %q", seenUser, counted, tt.user)
			}
			if !sawJSON {
				t.Error("JSONBody(r) is false for a JSON body")
			}
		})
	}
	// The username bucket of "alice" counted one failure.
	res, err := g.Status(t.Context(), axes.Identity{Username: "alice"})
	if err != nil || res.Failures != 1 {
		t.Errorf("alice: %d failures, %v", res.Failures, err)
	}

	// Bodies the handler could read another username from are refused
	// before anything is counted.
	refused := []struct {
		name, target, ctype, body string
		status                    int
	}{
		{"duplicate key, case-insensitive", "/login", "application/json", `{"username":"victim","USERNAME":"carol"}`, 400},
		{"duplicate key null", "/login", "application/json", `{"username":"alice","password":"x","username":null}`, 400},
		{"duplicate key, folded (long s)", "/login", "application/json", `{"username":"alice","uſername":"x"}`, 400},
		{"null", "/login", "application/json", `{"username":null}`, 400},
		{"number", "/login", "application/json", `{"username":42}`, 400},
		{"object value", "/login", "application/json", `{"username":{"x":1}}`, 400},
		{"array", "/login", "application/json", `["username"]`, 400},
		{"malformed", "/login", "application/json", `{"username":"dave"`, 400},
		{"empty", "/login", "application/json", ``, 400},
		{"trailing data", "/login", "application/json", `{"username":"alice"} trailing`, 400},
		{"second value", "/login", "application/json", `{"username":"alice"}{}`, 400},
		{"second value in text/plain", "/login", "text/plain", `{"username":"alice"}{"username":"bob"}`, 400},
		{"query differs from body", "/login?username=decoy", "application/json", `{"username":"alice"}`, 400},
		{"too long", "/login", "application/json", `{"username":"erin","pad":"` + strings.Repeat("x", 300) + `"}`, 413},
		{"too long, padded with spaces", "/login", "application/json", `{"username":"erin"}` + strings.Repeat(" ", 300), 413},
		{"too long text/plain", "/login", "text/plain", strings.Repeat("x", 300), 413},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			called = false
			ops := store.ops
			r := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.ctype)
			w := serve(h, r)
			if w.Code != tt.status || called {
				t.Errorf("status %d, handler called %v; want %d without the handler", w.Code, called, tt.status)
			}
			if w.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(w.Body.String(), http.StatusText(tt.status)) {
				t.Errorf("response %v %q", w.Header(), w.Body)
			}
			if store.ops != ops {
				t.Error("a refused request touched the store")
			}
		})
	}
	// A JSON client gets the refusal in JSON.
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(`{"username":1}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/plain, */*")
	w := serve(h, r)
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 400 || !strings.Contains(body.Error, "string") {
		t.Errorf("JSON refusal: %d %q (%v)", w.Code, w.Body, err)
	}
}

func TestFormUsername(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{})
	var got []string
	h := newMiddleware(t, g, httpaxes.WithConfig(httpaxes.Config{UsernameFormField: "email"})).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tk, _ := httpaxes.TicketFrom(r)
		u, _ := httpaxes.Username(r)
		got = append(got, tk.Identity().Username, u, r.PostFormValue("password"), fmt.Sprint(httpaxes.JSONBody(r)))
	}))
	send := func(target, body string) int {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(h, r).Code
	}
	send("/login", "email=Ann%40x.example&password=pw")
	send("/login?email=q@x", "password=pw")
	send("/login?email=b@x", "email=b@x&password=pw")
	want := []string{"ann@x.example", "Ann@x.example", "pw", "false", "q@x", "q@x", "pw", "false", "b@x", "b@x", "pw", "false"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %q, want %q", got, want)
	}
	// Two different usernames: the handler could check either.
	got = nil
	for _, c := range []struct{ target, body string }{
		{"/login?email=query", "email=Ann%40x.example&password=pw"},
		{"/login", "email=a@x&email=b@x&password=pw"},
		{"/login?email=a@x&email=b@x", "password=pw"},
	} {
		if code := send(c.target, c.body); code != 400 {
			t.Errorf("%s %s: %d, want 400", c.target, c.body, code)
		}
	}
	if got != nil {
		t.Errorf("the handler ran for ambiguous usernames: %q", got)
	}
}

// Form bodies are capped before they are parsed: a client, locked or not,
// cannot make the middleware parse megabytes.
func TestFormBodyLimit(t *testing.T) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{FailureLimit: 1})
	check := &wrongPassword{}
	m := newMiddleware(t, g)
	big := "username=alice&password=x&pad=" + strings.Repeat("x", httpaxes.DefaultMaxBodyBytes)
	for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz"} {
		body := big
		if strings.HasPrefix(ct, "multipart") {
			body = "--xyz\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--xyz\r\n" +
				"Content-Disposition: form-data; name=\"pad\"\r\n\r\n" + strings.Repeat("x", httpaxes.DefaultMaxBodyBytes) + "\r\n--xyz--\r\n"
		}
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if w := serve(m.Protect(check), r); w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s over the limit: %d, want 413", ct, w.Code)
		}
	}
	// The limit is configurable.
	small := newMiddleware(t, g, httpaxes.WithMaxBodyBytes(16))
	if w := serve(small.Protect(check), post("203.0.113.7", "alice")); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("form over WithMaxBodyBytes(16): %d, want 413", w.Code)
	}
	if check.count() != 0 || store.ops != 0 {
		t.Errorf("checks %d, store ops %d; want none for bodies over the limit", check.count(), store.ops)
	}
	// A multipart form under the limit is read.
	body := "--xyz\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nmallory\r\n--xyz--\r\n"
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
	var u string
	serve(m.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { u, _ = httpaxes.Username(r) })), r)
	if u != "mallory" {
		t.Errorf("multipart username %q", u)
	}
	if _, ok := httpaxes.Username(httptest.NewRequest(http.MethodPost, "/", nil)); ok {
		t.Error("Username outside Protect: ok")
	}
}

func TestUsernameFuncAndClientIPOptions(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{})
	var id axes.Identity
	h := newMiddleware(t, g,
		httpaxes.WithUsernameFunc(func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil }),
		httpaxes.WithClientIP(func(r *http.Request) (netip.Addr, error) { return netip.MustParseAddr("192.0.2.99"), nil }),
	).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tk, _ := httpaxes.TicketFrom(r)
		id = tk.Identity()
	}))
	r := post("203.0.113.7", "ignored")
	r.Header.Set("X-User", "Frank")
	r.Header.Set("User-Agent", "test-agent")
	serve(h, r)
	if id.Username != "frank" || id.IP.String() != "192.0.2.99" || id.UserAgent != "test-agent" || id.Path != "/login" || id.Method != "POST" {
		t.Errorf("identity %+v", id)
	}
}

func TestErrorsFailClosed(t *testing.T) {
	check := &wrongPassword{}
	tests := []struct {
		name  string
		store storage.Store
		opts  []httpaxes.Option
		ip    string
	}{
		{"store down", brokenStore{}, nil, "203.0.113.7:1"},
		{"username func error", newMapStore(), []httpaxes.Option{httpaxes.WithUsernameFunc(func(*http.Request) (string, error) {
			return "", errors.New("no")
		})}, "203.0.113.7:1"},
		{"no client IP", newMapStore(), nil, "@"},
		{"client IP func error", newMapStore(), []httpaxes.Option{httpaxes.WithClientIP(func(*http.Request) (netip.Addr, error) {
			return netip.Addr{}, errors.New("no")
		})}, "203.0.113.7:1"},
		{"no IP for an IP group", newMapStore(), []httpaxes.Option{httpaxes.WithClientIP(func(*http.Request) (netip.Addr, error) {
			return netip.Addr{}, nil
		})}, "203.0.113.7:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuard(t, tt.store, axes.Config{})
			opts := append([]httpaxes.Option{httpaxes.WithLogger(discardSlog())}, tt.opts...)
			r := post("0", "alice")
			r.RemoteAddr = tt.ip
			w := serve(newMiddleware(t, g, opts...).Protect(check), r)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("status %d, headers %v; want 503 no-store", w.Code, w.Header())
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Error("the password leaked into the error response")
			}
		})
	}
	if check.count() != 0 {
		t.Errorf("the handler ran %d times unguarded", check.count())
	}

	// A custom error handler gets the error.
	var got error
	g := newGuard(t, brokenStore{}, axes.Config{})
	m := newMiddleware(t, g, httpaxes.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	if w := serve(m.Protect(check), post("203.0.113.7", "alice")); w.Code != http.StatusTeapot || !errors.Is(got, errBroken) {
		t.Errorf("custom error handler: %d, %v", w.Code, got)
	}
}

func TestDisabledGuardPassesEverything(t *testing.T) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{Disabled: true, FailureLimit: 1})
	check := &wrongPassword{}
	h := newMiddleware(t, g).Protect(check)
	for i := range 5 {
		r := post("203.0.113.7", "alice")
		if i == 4 {
			r.RemoteAddr = "@" // not even an address is needed
		}
		if w := serve(h, r); w.Code != 401 {
			t.Errorf("attempt %d: %d, want 401", i+1, w.Code)
		}
	}
	if check.count() != 5 || store.ops != 0 {
		t.Errorf("checks %d, store ops %d; want 5 and 0", check.count(), store.ops)
	}
	// Explicit settlement works and reports no lock.
	h = newMiddleware(t, g).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if res, err := httpaxes.Fail(r); err != nil || res.Verdict != axes.Invalid {
			t.Errorf("Fail under a disabled guard: %v, %v", res.Verdict, err)
		}
	}))
	serve(h, post("203.0.113.7", "alice"))
}

func TestAuthenticate(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{})
	m := newMiddleware(t, g, httpaxes.WithLogger(discardSlog()))
	var checks atomic.Int32
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Username, Password string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		res, ok := m.Authenticate(w, r, req.Username, func(ctx context.Context) (bool, error) {
			checks.Add(1)
			if req.Password == "boom" {
				return false, errors.New("user db down")
			}
			return req.Password == "right", nil
		})
		if !ok {
			return
		}
		if res.Verdict != axes.Allowed {
			http.Error(w, "invalid", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("welcome"))
	})
	call := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(body))
		r.Header.Set("Accept", "application/json")
		return serve(login, r)
	}
	if w := call(`{"username":"alice","password":"right"}`); w.Code != 200 || w.Body.String() != "welcome" {
		t.Errorf("right password: %d %q", w.Code, w.Body)
	}
	if w := call(`{"username":"alice","password":"boom"}`); w.Code != 503 {
		t.Errorf("check error: %d, want 503", w.Code)
	}
	for i, want := range []int{401, 401, 429, 429} {
		w := call(`{"username":"alice","password":"wrong"}`)
		if w.Code != want {
			t.Errorf("wrong password %d: %d, want %d", i+1, w.Code, want)
		}
		if want == 429 && !strings.Contains(w.Body.String(), `"failure_limit":3`) {
			t.Errorf("lockout body %s", w.Body)
		}
	}
	if checks.Load() != 5 {
		t.Errorf("checks %d, want 5 (none while locked)", checks.Load())
	}
	id, err := m.Identity(httptest.NewRequest(http.MethodPost, "/api/login", nil), "zoe")
	if err != nil || id.IP.String() != "192.0.2.1" || id.Username != "zoe" {
		t.Errorf("Identity = %+v, %v", id, err)
	}

	// Under Protect it refuses instead of counting twice.
	var ok bool
	h := m.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok = m.Authenticate(w, r, "alice", func(context.Context) (bool, error) { return true, nil })
	}))
	if w := serve(h, post("203.0.113.9", "alice")); ok || w.Code != 503 {
		t.Errorf("Authenticate under Protect: ok %v, %d", ok, w.Code)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{})
	bad := []httpaxes.Option{
		httpaxes.WithUsernameFunc(nil),
		httpaxes.WithClientIP(nil),
		httpaxes.WithLockoutHandler(nil),
		httpaxes.WithTemplate(nil),
		httpaxes.WithGuardedMethods(),
		httpaxes.WithErrorHandler(nil),
		httpaxes.WithMaxBodyBytes(0),
		httpaxes.WithLogger(nil),
	}
	for i, o := range bad {
		if _, err := httpaxes.New(g, httpaxes.SettleExplicitly(), o); err == nil {
			t.Errorf("option %d: no error", i)
		}
	}
	if _, err := httpaxes.New(nil, httpaxes.SettleExplicitly()); err == nil {
		t.Error("New(nil): no error")
	}
}

// A store outage under load is logged once per interval, with the count of
// the logins refused meanwhile, not once per request.
func TestStoreOutageIsLoggedOnce(t *testing.T) {
	var logs logBuffer
	g := newGuard(t, brokenStore{}, axes.Config{})
	mw := newMiddleware(t, g, httpaxes.WithLogger(logs.logger()))
	h := mw.Protect(&wrongPassword{})
	for range 20 {
		if w := serve(h, post("0", "alice")); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d with the store down, want 503", w.Code)
		}
	}
	if n := strings.Count(logs.String(), "cannot guard the login"); n != 1 {
		t.Errorf("20 refusals logged %d times, want once:\n%s", n, logs.String())
	}
}
