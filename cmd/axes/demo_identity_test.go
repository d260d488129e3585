package main

// The middleware must count an attempt under the username the demo handler
// then checks. Request shapes where a handler could read another username
// than the middleware are refused before anything is counted or checked;
// the others are counted and checked under one username.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/memstore"
)

func identityDemo(t *testing.T, cfg axes.Config) (*demo, http.Handler) {
	t.Helper()
	users, err := testUsers()
	if err != nil {
		t.Fatal(err)
	}
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	g, err := axes.New(s, cfg, axes.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	d, h, err := newDemo(g, httpaxes.Config{}, users, discard)
	if err != nil {
		t.Fatal(err)
	}
	return d, h
}

func demoSend(h http.Handler, target, ctype, accept, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", target, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var byUsername = axes.Config{FailureLimit: 3, LockoutParameters: []axes.Group{{axes.ParamUsername}}}

// Shapes the middleware and a handler could read differently: refused with
// 400 (413 for a body over the limit), no password check at all.
func TestDemoRefusesAmbiguousUsernames(t *testing.T) {
	pad := strings.Repeat(" ", 1<<20+1)
	cases := []struct {
		name, target, ctype, body string
		status                    int
	}{
		{"query decoy with invalid media parameter", "/login?username=decoy%d", "application/json; charset", `{"username":"alice","password":"wrong"}`, 400},
		{"duplicate key null", "/login", "application/json", `{"username":"alice","password":"wrong","username":null}`, 400},
		{"trailing data", "/login", "application/json", `{"username":"alice","password":"wrong"}garbage`, 400},
		{"second object", "/login", "application/json", `{"username":"alice","password":"wrong"}{"username":"bob"}`, 400},
		{"form and query differ", "/login?username=bob", "application/x-www-form-urlencoded", "username=alice&password=wrong", 400},
		{"whitespace padding over the limit", "/login", "application/json", `{"username":"alice","password":"wrong"}` + pad, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, h := identityDemo(t, byUsername)
			for i := range 6 {
				target := c.target
				if strings.Contains(target, "%d") {
					target = fmt.Sprintf(target, i)
				}
				if rec := demoSend(h, target, c.ctype, "", c.body); rec.Code != c.status {
					t.Errorf("request %d: %d, want %d", i+1, rec.Code, c.status)
				}
			}
			if n := d.checks.Load(); n != 0 {
				t.Errorf("%d password checks for refused requests", n)
			}
		})
	}
}

// Shapes that are unambiguous are counted and checked under one username:
// alice is locked after 3 failures and her password is not checked again.
func TestDemoChecksTheCountedUsername(t *testing.T) {
	cases := []struct{ name, target, ctype, body string }{
		{"form", "/login", "application/x-www-form-urlencoded", "username=alice&password=wrong"},
		{"JSON", "/login", "application/json", `{"username":"alice","password":"wrong"}`},
		{"invalid media parameter", "/login", "application/json; charset", `{"username":"alice","password":"wrong"}`},
		{"text/plain JSON", "/login", "text/plain", `{"username":"alice","password":"wrong"}`},
		{"key in another case", "/login", "application/json", `{"USERNAME":"alice","password":"wrong"}`},
		{"username in the query, password in JSON", "/login?username=alice", "application/json", `{"password":"wrong"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, h := identityDemo(t, byUsername)
			var codes []int
			for range 6 {
				codes = append(codes, demoSend(h, c.target, c.ctype, "", c.body).Code)
			}
			if fmt.Sprint(codes) != "[401 401 429 429 429 429]" || d.checks.Load() != 3 {
				t.Errorf("statuses %v, %d password checks; want 401 401 429 429 429 429 and 3", codes, d.checks.Load())
			}
		})
	}
}

// bob's right password, sent with alice in the query string, neither logs
// bob in under alice's name nor resets alice's counters.
func TestDemoSuccessUnderOtherName(t *testing.T) {
	d, h := identityDemo(t, axes.Config{FailureLimit: 3, ResetOnSuccess: true, LockoutParameters: []axes.Group{{axes.ParamUsername}}})
	form := "application/x-www-form-urlencoded"
	var codes []int
	for range 3 {
		codes = append(codes, demoSend(h, "/login", form, "", "username=alice&password=wrong").Code)
		codes = append(codes, demoSend(h, "/login", form, "", "username=alice&password=wrong").Code)
		codes = append(codes, demoSend(h, "/login?username=alice", "application/json; x", "", `{"username":"bob","password":"battery-staple"}`).Code)
	}
	if fmt.Sprint(codes) != "[401 401 400 429 429 400 429 429 400]" || d.checks.Load() != 3 {
		t.Errorf("statuses %v, %d password checks; want 401 401 400 429 429 400 429 429 400 and 3", codes, d.checks.Load())
	}
	// bob's own login succeeds, under bob, and alice stays locked.
	if rec := demoSend(h, "/login", "application/json", "", `{"username":"bob","password":"battery-staple"}`); rec.Code != 200 || !strings.Contains(rec.Body.String(), "Welcome, bob.") {
		t.Errorf("bob's login: %d %q", rec.Code, rec.Body)
	}
	if rec := demoSend(h, "/login", form, "", "username=alice&password=correct-horse"); rec.Code != 429 {
		t.Errorf("alice after bob's login: %d, want 429", rec.Code)
	}
}

// The demo answers in JSON by the middleware's rule, so a browser-style
// Accept list gets JSON for the 401 as for the 429.
func TestDemoReplyFormat(t *testing.T) {
	_, h := identityDemo(t, axes.Config{FailureLimit: 2})
	for i, want := range []int{401, 429} {
		rec := demoSend(h, "/login", "application/json", "application/json, text/plain, */*", `{"username":"alice","password":"wrong"}`)
		var body map[string]any
		if rec.Code != want || rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			t.Errorf("attempt %d: %d %s %q, want %d in JSON", i+1, rec.Code, rec.Header().Get("Content-Type"), rec.Body, want)
		}
	}
	if rec := demoSend(h, "/login", "application/x-www-form-urlencoded", "text/html", "username=bob&password=wrong"); rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("text client: %s", rec.Header().Get("Content-Type"))
	}
}
