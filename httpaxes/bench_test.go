package httpaxes_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
)

// BenchmarkLogin measures one successful form login through Protect against
// the same handler unprotected (the baseline), in one run, so that the
// ratio between the two is what to quote: the cost the middleware adds to a
// login, with the in-memory test store.
func BenchmarkLogin(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("password") != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			body := "username=user" + strconv.Itoa(i%1000) + "&password=pw"
			r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = "192.0.2." + strconv.Itoa(i%250) + ":1234"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	}
	b.Run("baseline", func(b *testing.B) { run(b, handler) })
	b.Run("protected", func(b *testing.B) {
		g, err := axes.New(newMapStore(), axes.Config{LockoutParameters: []axes.Group{{axes.ParamUsername, axes.ParamIPAddress}, {axes.ParamIPAddress}}})
		if err != nil {
			b.Fatal(err)
		}
		m, err := httpaxes.New(g, httpaxes.SettleByStatus())
		if err != nil {
			b.Fatal(err)
		}
		run(b, m.Protect(handler))
	})
}
