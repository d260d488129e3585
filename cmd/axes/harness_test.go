package main

// Test harness for the black-box scenarios: the demo site served over real
// HTTP (httptest.Server on 127.0.0.1), clients bound to distinct loopback
// source addresses so that the TCP peer the demo sees is the client IP, a
// fake clock, and one store (memstore or SQLite sqlstore) per harness.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/memstore"
	"github.com/goaxes/axes/storage"
	"golang.org/x/crypto/bcrypt"
)

// Client addresses. The research scenarios use public addresses (IP1 =
// 1.1.1.1 ...); the demo resolves the client IP from the TCP peer, and a
// test can only be a loopback peer, so each is mapped into 127.0.0.0/8
// (Linux accepts any 127/8 source address without configuration).
const (
	IP1 = "127.1.1.1" // 1.1.1.1
	IP2 = "127.2.2.2" // 2.2.2.2
	IP3 = "127.3.3.3" // 3.3.3.3
	IP4 = "127.4.4.4" // 4.4.4.4
	IP9 = "127.9.9.9" // 9.9.9.9
)

var ipLabel = map[string]string{IP1: "IP1", IP2: "IP2", IP3: "IP3", IP4: "IP4", IP9: "IP9"}

// t0 is the fake clock's start: "t=0" of the scenarios.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testPasswords are the scenario users; mallory does not exist.
var testPasswords = map[string]string{
	"alice": "correct-horse",
	"bob":   "battery-staple",
	"carol": "carol-secret",
	"admin": "admin-secret",
	"root":  "root-secret",
}

const wrongPassword = "wrong-password"

// testUsers hashes the users once, at the lowest bcrypt cost.
var testUsers = sync.OnceValues(func() (map[string][]byte, error) {
	return hashUsers(testPasswords, bcrypt.MinCost)
})

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// storeKind opens a fresh, empty store for one harness.
type storeKind struct {
	name string
	open func(t *testing.T) storage.Store
}

var storeKinds = []storeKind{
	{"memstore", func(t *testing.T) storage.Store {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"sqlite", func(t *testing.T) storage.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "axes.db"))
	}},
}

// openSQLite opens the SQLite file at path with the CLI's own store opener,
// migrated, and closes it when the test ends.
func openSQLite(t *testing.T, path string) storage.Store {
	t.Helper()
	s, err := openStore(context.Background(), "sqlite:"+path, true)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close sqlite store: %v", err)
		}
	})
	return s
}

// outcome is the expected answer to an attempt: a status, or LOCKED, which
// stands for the configured lockout status.
type outcome int

const (
	OK     outcome = http.StatusOK           // authenticated
	FAIL   outcome = http.StatusUnauthorized // rejected normally
	LOCKED outcome = -1                      // lockout response (429 or the configured code)
)

func (o outcome) String() string {
	switch o {
	case OK:
		return "OK"
	case FAIL:
		return "FAIL"
	case LOCKED:
		return "LOCKED"
	}
	return fmt.Sprintf("HTTP%d", int(o))
}

// attempt is one login attempt: POST /login with a form.
type attempt struct {
	user  string
	good  bool // the user's correct password; otherwise a wrong one
	ip    string
	ua    string // "" means UA1
	at    time.Duration
	atSet bool // move the clock to t0+at first
	hdr   map[string]string
	want  outcome
	check func(t *testing.T, r response) // replaces the default body check
}

func bad(user, ip string, want outcome) attempt { return attempt{user: user, ip: ip, want: want} }
func good(user, ip string, want outcome) attempt {
	return attempt{user: user, good: true, ip: ip, want: want}
}

func (a attempt) UA(ua string) attempt { a.ua = ua; return a }
func (a attempt) At(d time.Duration) attempt {
	a.at, a.atSet = d, true
	return a
}
func (a attempt) Header(k, v string) attempt {
	m := map[string]string{}
	for k2, v2 := range a.hdr {
		m[k2] = v2
	}
	m[k] = v
	a.hdr = m
	return a
}
func (a attempt) XFF(v string) attempt { return a.Header("X-Forwarded-For", v) }
func (a attempt) Check(f func(t *testing.T, r response)) attempt {
	a.check = f
	return a
}

// rep returns n copies of a, answered by wants in order (the last want
// repeats).
func rep(n int, a attempt, wants ...outcome) []attempt {
	out := make([]attempt, n)
	for i := range out {
		out[i] = a
		out[i].want = wants[min(i, len(wants)-1)]
	}
	return out
}

// seq concatenates attempts and lists of attempts.
func seq(parts ...any) []attempt {
	var out []attempt
	for _, p := range parts {
		switch v := p.(type) {
		case attempt:
			out = append(out, v)
		case []attempt:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("seq: %T", p))
		}
	}
	return out
}

func (a attempt) String() string {
	user := a.user
	if user == "" {
		user = "<empty>"
	}
	pw := "✗"
	if a.good {
		pw = "✓"
	}
	ip := ipLabel[a.ip]
	if ip == "" {
		ip = a.ip
	}
	if x := a.hdr["X-Forwarded-For"]; x != "" {
		ip += "(XFF " + x + ")"
	}
	s := user + pw + ip
	if a.ua != "" {
		s += "/" + a.ua
	}
	if a.atSet {
		s += " at t+" + a.at.String()
	}
	return s
}

// name is a test-name-friendly form of a probe.
func (a attempt) name() string {
	r := strings.NewReplacer("✓", "_good_", "✗", "_bad_", " ", "_", "/", "_", "+", "", ":", "", "<", "", ">", "", "(", "_", ")", "")
	return r.Replace(a.String()) + "_" + a.want.String()
}

type response struct {
	status int
	body   string
	header http.Header
}

// site talks to one demo server from many client addresses.
type site struct {
	base     string
	lockCode int
	lockMsg  string // the plain-text lockout body, without the newline
	clock    *axestest.Clock

	mu      sync.Mutex
	clients map[string]*http.Client
}

// newSite talks to the demo at base, served with the guard's cfg and the
// middleware's web, which give the lockout status and message.
func newSite(base string, cfg axes.Config, web httpaxes.Config, clock *axestest.Clock) *site {
	eff := web.Effective()
	msg := eff.PermalockMessage
	if cfg.CoolOff > 0 || cfg.CoolOffFunc != nil || len(cfg.Tiers) > 0 {
		msg = eff.CoolOffMessage
	}
	return &site{base: base, lockCode: eff.HTTPResponseCode, lockMsg: msg, clock: clock, clients: map[string]*http.Client{}}
}

// client returns the client whose connections come from ip. Each address has
// its own transport, so a kept-alive connection is never reused for
// another address. Redirects are not followed.
func (s *site) client(ip string) *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[ip]; ok {
		return c
	}
	addr := net.ParseIP(ip)
	if addr == nil {
		panic("bad client ip " + ip)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: addr}, Timeout: 10 * time.Second}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 256,
		DisableCompression:  true,
	}
	c := &http.Client{
		Transport:     tr,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.clients[ip] = c
	return c
}

func (s *site) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
}

// send makes one request from ip.
func (s *site) send(t *testing.T, ip, method, path string, form url.Values, hdr http.Header) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.base+path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("User-Agent", "UA1")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := s.client(ip).Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, path, ip, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// post sends the login attempt a without checking the answer.
func (s *site) post(t *testing.T, a attempt) response {
	t.Helper()
	if a.atSet {
		if s.clock == nil {
			t.Fatalf("%v: this site has no fake clock", a)
		}
		s.clock.Set(t0.Add(a.at))
	}
	pw := wrongPassword
	if a.good {
		pw = testPasswords[a.user] // alice and bob: the CLI demo's passwords too
	}
	hdr := http.Header{}
	if a.ua != "" {
		hdr.Set("User-Agent", a.ua)
	}
	for k, v := range a.hdr {
		hdr.Set(k, v)
	}
	return s.send(t, a.ip, http.MethodPost, "/login", url.Values{"username": {a.user}, "password": {pw}}, hdr)
}

// try sends a and checks the answer.
func (s *site) try(t *testing.T, label string, a attempt) response {
	t.Helper()
	r := s.post(t, a)
	s.expect(t, label, a, r)
	return r
}

func (s *site) play(t *testing.T, steps []attempt) {
	t.Helper()
	for i, a := range steps {
		s.try(t, fmt.Sprintf("step %d", i+1), a)
	}
}

// expect checks the status and, unless a has its own check, the body.
func (s *site) expect(t *testing.T, label string, a attempt, r response) {
	t.Helper()
	want := int(a.want)
	if a.want == LOCKED {
		want = s.lockCode
	}
	if r.status != want {
		t.Errorf("%s: %v: got %d %q, want %v (%d)", label, a, r.status, strings.TrimSpace(r.body), a.want, want)
		return
	}
	if a.check != nil {
		a.check(t, r)
		return
	}
	var body string
	switch a.want {
	case OK:
		body = fmt.Sprintf("Welcome, %s.\n", a.user)
	case FAIL:
		body = "Invalid username or password.\n"
	case LOCKED:
		body = s.lockMsg + "\n"
	default:
		return
	}
	if r.body != body {
		t.Errorf("%s: %v: body %q, want %q", label, a, r.body, body)
	}
}

// harness is a demo server with its own store, guard and fake clock.
type harness struct {
	*site
	cfg   axes.Config
	store storage.Store
	guard *axes.Guard
	demo  *demo

	lockedOut   atomic.Int64 // Hooks.LockedOut calls (axes' user_locked_out)
	loginFailed atomic.Int64 // Hooks.LoginFailed calls
}

// newHarness serves the demo over a fresh store of kind k with cfg and
// the middleware's defaults. The clock starts at t0.
func newHarness(t *testing.T, k storeKind, cfg axes.Config) *harness {
	t.Helper()
	return newHarnessWeb(t, k, cfg, httpaxes.Config{})
}

// newHarnessWeb is newHarness with the middleware's HTTP settings web.
func newHarnessWeb(t *testing.T, k storeKind, cfg axes.Config, web httpaxes.Config) *harness {
	t.Helper()
	users, err := testUsers()
	if err != nil {
		t.Fatal(err)
	}
	clock := axestest.NewClock(t0)
	h := &harness{cfg: cfg, store: k.open(t)}
	g, err := axes.New(h.store, cfg,
		axes.WithClock(clock.Now),
		axes.WithLogger(discard),
		axes.WithHooks(axes.Hooks{
			LockedOut:   func(context.Context, axes.Event) { h.lockedOut.Add(1) },
			LoginFailed: func(context.Context, axes.Event) { h.loginFailed.Add(1) },
		}))
	if err != nil {
		t.Fatalf("axes.New: %v", err)
	}
	d, handler, err := newDemo(g, web, users, discard)
	if err != nil {
		t.Fatalf("newDemo: %v", err)
	}
	srv := httptest.NewServer(handler)
	h.guard, h.demo = g, d
	h.site = newSite(srv.URL, cfg, web, clock)
	t.Cleanup(func() {
		h.site.close()
		srv.Close()
	})
	return h
}

// records lists the buckets matching f, as the guard judges them now.
func (h *harness) records(t *testing.T, f axes.Filter) []axes.BucketState {
	t.Helper()
	recs, err := h.guard.List(context.Background(), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return recs
}

// wantNoRecords checks that nothing at all was counted.
func (h *harness) wantNoRecords(t *testing.T) {
	t.Helper()
	if recs := h.records(t, axes.Filter{}); len(recs) != 0 {
		t.Errorf("stored records: %s, want none", fmtRecords(recs))
	}
}

// wantRecord checks that exactly one lockout record matches f and has
// the given failure count.
func (h *harness) wantRecord(t *testing.T, f axes.Filter, failures int) axes.BucketState {
	t.Helper()
	recs := h.records(t, f)
	if len(recs) != 1 {
		t.Fatalf("records matching %+v: %s, want exactly 1", f, fmtRecords(recs))
	}
	if recs[0].Failures != failures {
		t.Errorf("record %s: failures %d, want %d", recs[0].Bucket.Key, recs[0].Failures, failures)
	}
	return recs[0]
}

// wantBurstRecord checks the one record after a burst of wrong attempts:
// the limit's failures at least, and at most one per attempt. Attempts
// refused while the admitted ones were still being checked are not counted
// (they could not know the check would fail), those refused after the lock
// are; how many fall on each side depends on timing. Nothing stays reserved.
func (h *harness) wantBurstRecord(t *testing.T, f axes.Filter, limit, attempts int) {
	t.Helper()
	recs := h.records(t, f)
	if len(recs) != 1 {
		t.Fatalf("records matching %+v: %s, want exactly 1", f, fmtRecords(recs))
	}
	if r := recs[0]; r.Failures < limit || r.Failures > attempts || r.InFlight != 0 || !r.Locked {
		t.Errorf("record %s: %d failures, %d in flight, locked %v; want %d to %d failures, none in flight, locked",
			r.Bucket.Key, r.Failures, r.InFlight, r.Locked, limit, attempts)
	}
}

func fmtRecords(recs []axes.BucketState) string {
	if len(recs) == 0 {
		return "[]"
	}
	parts := make([]string, len(recs))
	for i, r := range recs {
		parts[i] = fmt.Sprintf("{%s failures=%d last=%s locked=%v}", r.Bucket.Key, r.Failures, r.LastFailure.Sub(t0), r.Locked)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// burst sends n copies of a at once and returns how many got each status.
func (s *site) burst(t *testing.T, n int, a attempt) map[int]int {
	t.Helper()
	pw := wrongPassword
	if a.good {
		pw = testPasswords[a.user]
	}
	form := url.Values{"username": {a.user}, "password": {pw}}.Encode()
	c := s.client(a.ip)
	start := make(chan struct{})
	statuses := make(chan int, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, err := http.NewRequest(http.MethodPost, s.base+"/login", strings.NewReader(form))
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("User-Agent", "UA1")
			resp, err := c.Do(req)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(statuses)
	close(errs)
	for err := range errs {
		t.Errorf("burst request: %v", err)
	}
	got := map[int]int{}
	for st := range statuses {
		got[st]++
	}
	return got
}
