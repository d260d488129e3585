package httpaxes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
)

// A username with NUL or invalid UTF-8 is refused with 400 at the edge,
// wherever it comes from: nothing is counted and the handler is not called.
func TestNULAndInvalidUTF8UsernamesAre400(t *testing.T) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{LockoutParameters: []axes.Group{{axes.ParamUsername}}})
	called := false
	h := newMiddleware(t, g).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		w.WriteHeader(http.StatusUnauthorized)
	}))
	multipartBody := func(u string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("username", u)
		_ = mw.WriteField("password", "x")
		_ = mw.Close()
		return mw.FormDataContentType(), b.String()
	}
	mpNUL, mpNULBody := multipartBody("alice\x00")
	mpBad, mpBadBody := multipartBody("al\xffice")
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, target, ctype, body string
	}{
		{"form NUL", "/login", form, "username=alice%00&password=x"},
		{"form NUL alone", "/login", form, "username=%00&password=x"},
		{"form invalid UTF-8", "/login", form, "username=al%FFice&password=x"},
		{"form truncated UTF-8", "/login", form, "username=alice%C3&password=x"},
		{"multipart NUL", "/login", mpNUL, mpNULBody},
		{"multipart invalid UTF-8", "/login", mpBad, mpBadBody},
		{"JSON NUL escape", "/login", "application/json", `{"username":"alice\u0000","password":"x"}`},
		{"JSON invalid UTF-8", "/login", "application/json", "{\"username\":\"al\xffice\",\"password\":\"x\"}"},
		{"JSON overlong encoding", "/login", "application/json", "{\"username\":\"\xc0\xafalice\"}"},
		{"text/plain JSON invalid UTF-8", "/login", "text/plain", "{\"username\":\"\xed\xa0\x80\"}"},
		{"query NUL", "/login?username=alice%00", form, "password=x"},
		{"query invalid UTF-8", "/login?username=al%FFice", form, "password=x"},
		{"query NUL with JSON body", "/login?username=%00", "application/json", `{"password":"x"}`},
	}
	for _, tt := range tests {
		for _, accept := range []string{"", "application/json"} {
			t.Run(tt.name+" accept="+accept, func(t *testing.T) {
				called = false
				ops := store.ops
				r := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
				r.Header.Set("Content-Type", tt.ctype)
				if accept != "" {
					r.Header.Set("Accept", accept)
				}
				w := serve(h, r)
				if w.Code != http.StatusBadRequest || called {
					t.Fatalf("status %d, handler called %v; want 400 without the handler", w.Code, called)
				}
				if store.ops != ops {
					t.Error("a refused request touched the store")
				}
				if accept == "" {
					if !strings.HasPrefix(w.Body.String(), "Bad Request: ") {
						t.Errorf("text body %q", w.Body)
					}
					return
				}
				var body struct{ Error string }
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" || w.Header().Get("Content-Type") != "application/json" {
					t.Errorf("JSON refusal: %q %q (%v)", w.Header().Get("Content-Type"), w.Body, err)
				}
			})
		}
	}

	// Valid names pass, however unusual: U+FFFD itself, a JSON escape, and
	// names other rules than NUL and UTF-8 do not refuse.
	for _, body := range []string{`{"username":"al\ufffdice"}`, `{"username":"\u00e9mile"}`, "{\"username\":\"al\u200bice\"}"} {
		called = false
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if w := serve(h, r); w.Code != http.StatusUnauthorized || !called {
			t.Errorf("%s: status %d, handler called %v; want the handler's 401", body, w.Code, called)
		}
	}
}

// The same rule holds for a username from WithUsernameFunc and for
// Middleware.Authenticate, where the check does not run.
func TestNULUsernameFromFuncAndAuthenticate(t *testing.T) {
	store := newMapStore()
	g := newGuard(t, store, axes.Config{LockoutParameters: []axes.Group{{axes.ParamUsername}}})
	called := false
	h := newMiddleware(t, g, httpaxes.WithUsernameFunc(func(r *http.Request) (string, error) {
		return r.Header.Get("X-User"), nil
	})).Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	for _, u := range []string{"alice\x00", "al\xffice"} {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.Header["X-User"] = []string{u}
		if w := serve(h, r); w.Code != http.StatusBadRequest || called {
			t.Errorf("WithUsernameFunc %q: status %d, handler called %v; want 400", u, w.Code, called)
		}
	}

	m := newMiddleware(t, g)
	for _, u := range []string{"alice\x00", "al\xffice"} {
		checked := false
		ops := store.ops
		r := httptest.NewRequest(http.MethodPost, "/api/login", nil)
		r.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		_, ok := m.Authenticate(w, r, u, func(context.Context) (bool, error) { checked = true; return false, nil })
		if ok || checked || w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("Authenticate %q: ok %v, checked %v, %d %q; want a JSON 400 without the check", u, ok, checked, w.Code, w.Body)
		}
		if store.ops != ops {
			t.Errorf("Authenticate %q touched the store", u)
		}
	}
}
