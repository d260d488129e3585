package httpaxes_test

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/axestest"
	"github.com/goaxes/axes/httpaxes"
)

func TestISO8601(t *testing.T) {
	// The table of django-axes' test_get_cool_off_iso8601.
	day := 24 * time.Hour
	tests := []struct {
		d    time.Duration
		want string
	}{
		{1*day + 25*time.Hour + 42*time.Minute + 8*time.Second, "P2DT1H42M8S"},
		{7*day + 342*time.Second, "P7DT5M42S"},
		{2*time.Hour + 42*time.Minute, "PT2H42M"},
		{20*time.Hour + 42*time.Second, "PT20H42S"},
		{300 * time.Second, "PT5M"},
		{9005 * time.Second, "PT2H30M5S"},
		{9005 * time.Minute, "P6DT6H5M"},
		{15 * day, "P15D"},
		// Beyond the django-axes table.
		{30 * time.Minute, "PT30M"},
		{1500 * time.Millisecond, "PT2S"},
		{0, "PT0S"},
		{-time.Minute, "PT0S"},
	}
	for _, tt := range tests {
		if got := httpaxes.ISO8601(tt.d); got != tt.want {
			t.Errorf("ISO8601(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// lockedResult returns a real lockout result: limit 3, cool-off 30m,
// locked at clock's time.
func lockedResult(t *testing.T, clock *axestest.Clock) (*axes.Guard, axes.Result) {
	t.Helper()
	g := newGuard(t, newMapStore(), axes.Config{CoolOff: 30 * time.Minute}, axes.WithClock(clock.Now))
	var res axes.Result
	for range 3 {
		var err error
		res, err = g.Authenticate(t.Context(), axes.Identity{IP: mustAddr(t, "203.0.113.7"), Username: "Alice"}, func(context.Context) (bool, error) { return false, nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	if res.Verdict != axes.Locked {
		t.Fatalf("verdict %v after 3 failures, want locked", res.Verdict)
	}
	return g, res
}

func TestWriteLockoutVariants(t *testing.T) {
	clock := newFakeClock()
	g, res := lockedResult(t, clock)
	clock.Advance(10 * time.Minute)

	dir := t.TempDir()
	tmplPath := filepath.Join(dir, "lockout.html")
	if err := os.WriteFile(tmplPath, []byte(`<p>{{.Username}} locked after {{.FailureCount}}/{{.FailureLimit}} for {{.CoolOffTime}}: {{.Message}}</p>`), 0o600); err != nil {
		t.Fatal(err)
	}
	withCfg := func(cfg httpaxes.Config, opts ...httpaxes.Option) *httpaxes.Middleware {
		g := newGuard(t, newMapStore(), axes.Config{CoolOff: 30 * time.Minute}, axes.WithClock(clock.Now))
		return newMiddleware(t, g, append([]httpaxes.Option{httpaxes.WithConfig(cfg)}, opts...)...)
	}
	req := func(hdr ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}

	t.Run("plain text", func(t *testing.T) {
		w := serveLockout(newMiddleware(t, g), req(), res)
		checkLockoutHeaders(t, w, 429, "1200")
		if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if got := strings.TrimSpace(w.Body.String()); got != httpaxes.DefaultCoolOffMessage {
			t.Errorf("body %q, want the cool-off message", got)
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Error("CORS header sent without AllowedCORSOrigins")
		}
	})
	t.Run("custom status and message", func(t *testing.T) {
		m := withCfg(httpaxes.Config{HTTPResponseCode: 403, CoolOffMessage: "slow down"})
		w := serveLockout(m, req(), res)
		checkLockoutHeaders(t, w, 403, "1200")
		if got := strings.TrimSpace(w.Body.String()); got != "slow down" {
			t.Errorf("body %q", got)
		}
	})
	for _, hdr := range [][]string{{"Accept", "text/html, application/json;q=0.9"}, {"X-Requested-With", "XMLHttpRequest"}} {
		t.Run("JSON "+hdr[0], func(t *testing.T) {
			w := serveLockout(newMiddleware(t, g), req(hdr...), res)
			checkLockoutHeaders(t, w, 429, "1200")
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"failure_limit": 3.0, "failure_count": 3.0, "username": "alice", "cooloff_time": "PT30M", "retry_after": 1200.0}
			if len(body) != len(want) {
				t.Errorf("body %v, want %v", body, want)
			}
			for k, v := range want {
				if body[k] != v {
					t.Errorf("%s = %v, want %v", k, body[k], v)
				}
			}
		})
	}
	t.Run("JSON with CORS", func(t *testing.T) {
		m := withCfg(httpaxes.Config{AllowedCORSOrigins: "https://app.example"})
		w := serveLockout(m, req("Accept", "application/json"), res)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example" {
			t.Errorf("Access-Control-Allow-Origin %q", got)
		}
		// Not on non-JSON responses.
		w = serveLockout(m, req(), res)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("CORS on a text response: %q", got)
		}
	})
	t.Run("template from config", func(t *testing.T) {
		m := withCfg(httpaxes.Config{LockoutTemplate: tmplPath, LockoutURL: "/locked"})
		w := serveLockout(m, req(), res)
		checkLockoutHeaders(t, w, 429, "1200")
		want := "<p>alice locked after 3/3 for PT30M: " + template.HTMLEscapeString(httpaxes.DefaultCoolOffMessage) + "</p>"
		if w.Body.String() != want {
			t.Errorf("body %q, want %q", w.Body.String(), want)
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("WithTemplate wins and JSON wins over it", func(t *testing.T) {
		tm := template.Must(template.New("x").Parse(`retry in {{.RetryAfter}}s`))
		m := withCfg(httpaxes.Config{LockoutTemplate: filepath.Join(dir, "missing.html")}, httpaxes.WithTemplate(tm))
		if w := serveLockout(m, req(), res); w.Body.String() != "retry in 1200s" {
			t.Errorf("body %q", w.Body.String())
		}
		if w := serveLockout(m, req("Accept", "application/json"), res); !strings.HasPrefix(w.Body.String(), "{") {
			t.Errorf("JSON not preferred: %q", w.Body.String())
		}
	})
	t.Run("redirect", func(t *testing.T) {
		m := withCfg(httpaxes.Config{LockoutURL: "/locked"})
		w := serveLockout(m, req(), res)
		checkLockoutHeaders(t, w, http.StatusFound, "1200")
		if loc := w.Header().Get("Location"); loc != "/locked?username=alice" {
			t.Errorf("Location %q", loc)
		}
		m = withCfg(httpaxes.Config{LockoutURL: "https://x.example/l?a=1"})
		res2 := res
		res2.Identity.Username = "a&b c"
		if loc := serveLockout(m, req(), res2).Header().Get("Location"); loc != "https://x.example/l?a=1&username=a%26b+c" {
			t.Errorf("Location %q", loc)
		}
	})
	t.Run("custom handler", func(t *testing.T) {
		var got axes.Result
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = httpaxes.ResultFrom(r)
			w.WriteHeader(http.StatusTeapot)
		})
		m := withCfg(httpaxes.Config{LockoutURL: "/x"}, httpaxes.WithLockoutHandler(h))
		w := serveLockout(m, req("Accept", "application/json"), res)
		checkLockoutHeaders(t, w, http.StatusTeapot, "1200")
		if got.Verdict != axes.Locked || got.Failures != 3 || got.Identity.Username != "alice" {
			t.Errorf("ResultFrom in the lockout handler = %+v", got)
		}
	})
	t.Run("permanent lock", func(t *testing.T) {
		perm := res
		perm.LockedUntil, perm.CoolOff = time.Time{}, 0
		m := newMiddleware(t, newGuard(t, newMapStore(), axes.Config{}))
		w := serveLockout(m, req(), perm)
		checkLockoutHeaders(t, w, 429, "")
		if got := strings.TrimSpace(w.Body.String()); got != httpaxes.DefaultPermalockMessage {
			t.Errorf("body %q, want the permalock message", got)
		}
		w = serveLockout(m, req("Accept", "application/json"), perm)
		if strings.Contains(w.Body.String(), "cooloff_time") || strings.Contains(w.Body.String(), "retry_after") {
			t.Errorf("permanent lock JSON has cool-off fields: %s", w.Body)
		}
	})
}

func serveLockout(m *httpaxes.Middleware, r *http.Request, res axes.Result) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	m.WriteLockout(w, r, res)
	return w
}

// checkLockoutHeaders checks the status, Cache-Control and Retry-After
// ("" for none).
func checkLockoutHeaders(t *testing.T, w *httptest.ResponseRecorder, status int, retry string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status %d, want %d", w.Code, status)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if got := w.Header().Get("Retry-After"); got != retry {
		t.Errorf("Retry-After %q, want %q", got, retry)
	}
}

func TestNewTemplateErrors(t *testing.T) {
	g := newGuard(t, newMapStore(), axes.Config{})
	missing := httpaxes.Config{LockoutTemplate: filepath.Join(t.TempDir(), "nope.html")}
	if _, err := httpaxes.New(g, httpaxes.SettleExplicitly(), httpaxes.WithConfig(missing)); err == nil {
		t.Error("New with a missing template file: no error")
	}
	bad := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(bad, []byte("{{.Oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := httpaxes.New(g, httpaxes.SettleExplicitly(), httpaxes.WithConfig(httpaxes.Config{LockoutTemplate: bad})); err == nil {
		t.Error("New with a broken template: no error")
	}
}

// TestRetryAfterFakeClock checks that Retry-After is the real time left,
// rounded up, through the middleware.
func TestRetryAfterFakeClock(t *testing.T) {
	clock := newFakeClock()
	g := newGuard(t, newMapStore(), axes.Config{CoolOff: 30 * time.Minute, FixedCoolOff: true}, axes.WithClock(clock.Now))
	h := newMiddleware(t, g).Protect(&wrongPassword{})
	for i, want := range []int{401, 401, 429} {
		w := serve(h, post("203.0.113.7", "alice"))
		if w.Code != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, w.Code, want)
		}
		if want == 429 && w.Header().Get("Retry-After") != "1800" {
			t.Errorf("Retry-After on the locking failure %q, want 1800", w.Header().Get("Retry-After"))
		}
	}
	clock.Advance(10*time.Minute + 500*time.Millisecond)
	w := serve(h, post("203.0.113.7", "alice"))
	if w.Code != 429 || w.Header().Get("Retry-After") != "1200" { // 1199.5s rounded up
		t.Errorf("after 10m0.5s: %d Retry-After %q, want 429 and 1200", w.Code, w.Header().Get("Retry-After"))
	}
	clock.Advance(20 * time.Minute)
	if w := serve(h, post("203.0.113.7", "alice")); w.Code != 401 {
		t.Errorf("after the cool-off: %d, want 401", w.Code)
	}
}

func TestDenyList(t *testing.T) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{IPDenylist: prefixes(t, "198.51.100.0/24")})
	check := &wrongPassword{}
	h := newMiddleware(t, g, httpaxes.WithConfig(httpaxes.Config{HTTPResponseCode: 403})).Protect(check)
	w := serve(h, post("198.51.100.9", "alice"))
	checkLockoutHeaders(t, w, 403, "")
	if strings.TrimSpace(w.Body.String()) != httpaxes.DefaultPermalockMessage {
		t.Errorf("body %q", w.Body.String())
	}
	r := post("198.51.100.9", "alice")
	r.Header.Set("Accept", "application/json")
	w = serve(h, r)
	if w.Code != 403 || !strings.Contains(w.Body.String(), `"failure_count":0`) {
		t.Errorf("JSON deny: %d %s", w.Code, w.Body)
	}
	if check.count() != 0 {
		t.Errorf("the handler ran %d times for a denied client", check.count())
	}
	if store.ops != 0 {
		t.Errorf("the store was used %d times for a denied client", store.ops)
	}
}
