package httpaxes_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
)

// logBuffer is a logger whose output the test reads back.
type logBuffer struct{ bytes.Buffer }

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(&b.Buffer, nil)) }

// count returns how many logged lines contain all of parts.
func (b *logBuffer) count(parts ...string) int {
	n := 0
	for line := range strings.Lines(b.String()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

const (
	msgUnsettled = "returned without settling the attempt"
	msgHTML      = "2xx HTML page answered a login attempt"
	msgRedirect  = "a redirect answered a login attempt"
)

// The choice of settlement is required: there is no default to fall into.
func TestNewRequiresSettlement(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{})
	_, err := httpaxes.New(g, httpaxes.Settlement{})
	if err == nil || !strings.Contains(err.Error(), "SettleExplicitly") || !strings.Contains(err.Error(), "SettleByStatus") {
		t.Errorf("New with the zero Settlement: %v; want an error naming both choices", err)
	}
	for _, codes := range [][]int{{200}, {302}, {401, 399}, {600}} {
		if _, err := httpaxes.New(g, httpaxes.SettleByStatus(codes...)); err == nil {
			t.Errorf("SettleByStatus(%v): no error", codes)
		}
	}
	for name, s := range map[string]httpaxes.Settlement{
		"SettleExplicitly()":       httpaxes.SettleExplicitly(),
		"SettleByStatus()":         httpaxes.SettleByStatus(),
		"SettleByStatus(401, 422)": httpaxes.SettleByStatus(401, 422),
	} {
		if _, err := httpaxes.New(g, s); err != nil {
			t.Errorf("New with %s: %v", name, err)
		}
	}
}

// The footgun of issue 6: a handler that shows the login form again with
// 200 after a wrong password (Django's LoginView). Under SettleExplicitly
// it is locked out after the limit even when it forgets to call Fail (and
// the forgotten call is logged each time); under SettleByStatus it is locked
// out only if it calls Fail, and otherwise a warning says so once.
func TestFormShownAgainWith200(t *testing.T) {
	tests := []struct {
		name       string
		settlement httpaxes.Settlement
		callsFail  bool
		codes      string
		checks     int
		unsettled  int // warnings about an unsettled attempt
		html       int // warnings about a 2xx HTML success
	}{
		{"explicit, Fail", httpaxes.SettleExplicitly(), true, "[200 200 429 429 429 429]", 3, 0, 0},
		// The third failure is counted after the handler returned, too late
		// to replace its 200; the fourth attempt is refused.
		{"explicit, Fail forgotten", httpaxes.SettleExplicitly(), false, "[200 200 200 429 429 429]", 3, 3, 0},
		{"by status, Fail", httpaxes.SettleByStatus(), true, "[200 200 429 429 429 429]", 3, 0, 0},
		// Documented: every attempt is a successful login, never locked.
		{"by status, Fail forgotten", httpaxes.SettleByStatus(), false, "[200 200 200 200 200 200]", 6, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 3})
			checks := 0
			form := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				checks++ // every password is wrong
				if tt.callsFail {
					if _, err := httpaxes.Fail(r); err != nil {
						t.Errorf("Fail: %v", err)
					}
				}
				fmt.Fprint(w, "<!doctype html><title>Log in</title><p>Invalid username or password.</p>")
			})
			h := newMiddlewareWith(t, g, tt.settlement, httpaxes.WithLogger(logs.logger())).Protect(form)
			var codes []int
			for range 6 {
				codes = append(codes, serve(h, post("203.0.113.7", "alice")).Code)
			}
			if fmt.Sprint(codes) != tt.codes || checks != tt.checks {
				t.Errorf("statuses %v, %d password checks; want %s, %d", codes, checks, tt.codes, tt.checks)
			}
			if n := logs.count(msgUnsettled, "level=WARN", "path=/login"); n != tt.unsettled {
				t.Errorf("%d warnings about unsettled attempts naming path=/login, want %d; log:\n%s", n, tt.unsettled, logs.String())
			}
			if n := logs.count(msgHTML, "level=WARN"); n != tt.html {
				t.Errorf("%d warnings about a 2xx HTML success, want %d; log:\n%s", n, tt.html, logs.String())
			}
		})
	}
}

// Under SettleExplicitly whatever the handler leaves unsettled is one
// failure and one warning, whatever it answered; what it settles is
// counted as it said, without a warning.
func TestExplicitUnsettledIsAFailure(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		failures int
		warned   bool
	}{
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, 1, true},
		{"200", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "welcome") }, 1, true},
		{"303", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/home", http.StatusSeeOther) }, 1, true},
		{"401", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, 1, true},
		{"400", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) }, 1, true},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, 1, true},
		{"Fail", func(w http.ResponseWriter, r *http.Request) { _, _ = httpaxes.Fail(r) }, 1, false},
		{"Succeed", func(w http.ResponseWriter, r *http.Request) { _, _ = httpaxes.Succeed(r) }, 0, false},
		{"Succeed after writing 200", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "welcome")
			if _, err := httpaxes.Succeed(r); err != nil {
				t.Errorf("Succeed after the response: %v", err)
			}
		}, 0, false},
		{"Release", func(w http.ResponseWriter, r *http.Request) {
			if err := httpaxes.Release(r); err != nil {
				t.Errorf("Release: %v", err)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}, 0, false},
		{"ticket released directly", func(w http.ResponseWriter, r *http.Request) {
			tk, _ := httpaxes.TicketFrom(r)
			_ = tk.Release(r.Context())
		}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			store := newMapStore()
			g := newGuard(t, store, axes.Config{})
			h := newExplicit(t, g, httpaxes.WithLogger(logs.logger())).Protect(tt.handler)
			r := post("203.0.113.7", "alice")
			r.URL.Path = "/account/login"
			serve(h, r)
			if n := store.failures(t, g, "203.0.113.7"); n != tt.failures {
				t.Errorf("failures %d, want %d", n, tt.failures)
			}
			want := 0
			if tt.warned {
				want = 1
			}
			if n := logs.count(msgUnsettled, "level=WARN", "method=POST", "path=/account/login"); n != want {
				t.Errorf("%d warnings naming the path, want %d; log:\n%s", n, want, logs.String())
			}
		})
	}
}

// An unsettled attempt that reaches the limit before anything was written
// is answered with the lockout response.
func TestExplicitUnsettledLocksBeforeWriting(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 1})
	h := newExplicit(t, g, httpaxes.WithLogger(discardSlog())).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=half-made")
	}))
	w := serve(h, post("203.0.113.7", "alice"))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Set-Cookie") != "" {
		t.Errorf("status %d, headers %v; want the lockout without the handler's cookie", w.Code, w.Header())
	}
}

// A hijacked connection is not seen: under SettleExplicitly the handler
// still settles the attempt (here it does not, so it is a failure), where
// SettleByStatus releases it (TestHijackReleases).
func TestExplicitHijackUnsettledIsAFailure(t *testing.T) {
	for _, settle := range []bool{false, true} {
		store := newMapStore()
		g := newGuard(t, store, axes.Config{})
		hj := &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
		newExplicit(t, g, httpaxes.WithLogger(discardSlog())).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Fatalf("Hijack: %v", err)
			}
			_ = conn.Close()
			if settle {
				if _, err := httpaxes.Succeed(r); err != nil {
					t.Errorf("Succeed after a hijack: %v", err)
				}
			}
		})).ServeHTTP(hj, post("203.0.113.7", "alice"))
		want := 1
		if settle {
			want = 0
		}
		if n := store.failures(t, g, "203.0.113.7"); !hj.hijacked || n != want {
			t.Errorf("settled %v: hijacked %v, failures %d; want %d", settle, hj.hijacked, n, want)
		}
	}
}

func TestReleaseErrors(t *testing.T) {
	if err := httpaxes.Release(httptest.NewRequest(http.MethodPost, "/", nil)); !errors.Is(err, httpaxes.ErrNotProtected) {
		t.Errorf("Release outside Protect: %v, want ErrNotProtected", err)
	}
	g := newGuard(t, newMapStore(), axes.Config{})
	serve(newExplicit(t, g).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = httpaxes.Fail(r)
		if err := httpaxes.Release(r); !errors.Is(err, axes.ErrSettled) {
			t.Errorf("Release after Fail: %v, want ErrSettled", err)
		}
	})), post("203.0.113.7", "alice"))
}

// Under SettleByStatus a 2xx HTML page settled as a success is warned
// about once per middleware (it looks like the login form shown again); a
// JSON answer, a settled attempt or a lockout is not.
func TestStatusHTMLSuccessWarning(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		warns   int
	}{
		{"JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintln(w, `{"token":"t"}`)
		}, 0},
		{"plain text", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "welcome") }, 0},
		{"no body", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, 0},
		{"HTML by Content-Type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(200)
			fmt.Fprintln(w, "welcome")
		}, 1},
		{"HTML sniffed", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			fmt.Fprint(w, "<html><body>welcome</body></html>")
		}, 1},
		{"HTML after Succeed", func(w http.ResponseWriter, r *http.Request) {
			_, _ = httpaxes.Succeed(r)
			fmt.Fprint(w, "<!doctype html><p>welcome</p>")
		}, 0},
		{"HTML 401", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(401)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			g := newGuard(t, newMapStore(), axes.Config{})
			h := newMiddleware(t, g, httpaxes.WithLogger(logs.logger())).Protect(tt.handler)
			for range 3 {
				serve(h, post("203.0.113.7", "alice"))
			}
			if n := logs.count(msgHTML, "level=WARN", "path=/login"); n != tt.warns {
				t.Errorf("%d warnings, want %d; log:\n%s", n, tt.warns, logs.String())
			}
		})
	}
}

// Under SettleByStatus an unsettled redirect is counted as a failure, and
// each one is logged.
func TestStatusRedirectWarning(t *testing.T) {
	var logs logBuffer
	store := newMapStore()
	g := newGuard(t, store, axes.Config{FailureLimit: 3})
	h := newMiddleware(t, g, httpaxes.WithLogger(logs.logger())).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login?error=1", http.StatusFound)
	}))
	var codes []int
	for range 4 {
		codes = append(codes, serve(h, post("203.0.113.7", "alice")).Code)
	}
	if fmt.Sprint(codes) != "[302 302 429 429]" {
		t.Errorf("statuses %v, want [302 302 429 429]", codes)
	}
	if n := logs.count(msgRedirect, "level=WARN", "status=302", "path=/login"); n != 3 {
		t.Errorf("%d redirect warnings, want 3; log:\n%s", n, logs.String())
	}
}
