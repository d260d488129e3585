package httpaxes_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
)

// A form login that shows the form again (status 200) after a wrong
// password, as Django's LoginView does, settles explicitly: it calls Fail
// and Succeed itself. With the default limit of 3 the third failure is
// answered with the lockout response, and later attempts are refused
// without checking the password.
func ExampleMiddleware_Protect() {
	guard, err := axes.New(newMapStore(), axes.Config{}) // use memstore or sqlstore in real code
	if err != nil {
		panic(err)
	}
	mw, err := httpaxes.New(guard, httpaxes.SettleExplicitly())
	if err != nil {
		panic(err)
	}
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		username, _ := httpaxes.Username(r)
		if username != "alice" || r.PostFormValue("password") != "correct-horse" {
			if _, err := httpaxes.Fail(r); err != nil {
				log.Print(err)
			}
			fmt.Fprintln(w, "<!doctype html><p>Invalid username or password.</p><form>...</form>")
			return
		}
		if _, err := httpaxes.Succeed(r); err != nil {
			log.Print(err)
		}
		http.Redirect(w, r, "/home", http.StatusSeeOther)
	})
	srv := httptest.NewServer(mw.Protect(login))
	defer srv.Close()

	for range 4 {
		resp, err := http.PostForm(srv.URL, url.Values{"username": {"alice"}, "password": {"guess"}})
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// 200
	// 429
	// 429
}

// An API that answers a wrong password with 401 can let the status settle
// each attempt: 401 is a failure, 2xx a success.
func ExampleSettleByStatus() {
	guard, err := axes.New(newMapStore(), axes.Config{})
	if err != nil {
		panic(err)
	}
	mw, err := httpaxes.New(guard, httpaxes.SettleByStatus(http.StatusUnauthorized))
	if err != nil {
		panic(err)
	}
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("password") != "correct-horse" {
			http.Error(w, "invalid credentials", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, `{"token":"..."}`)
	})
	h := mw.Protect(login)
	for _, pw := range []string{"guess", "correct-horse", "guess", "guess", "guess"} {
		r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(url.Values{"username": {"alice"}, "password": {pw}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// 401
	// 200
	// 401
	// 429
	// 429
}

// A JSON login API that decodes its own request uses Authenticate. With
// limit 1 the first wrong password locks the client; the right password is
// then not even checked (the attempt made while locked is counted too).
func ExampleMiddleware_Authenticate() {
	guard, _ := axes.New(newMapStore(), axes.Config{FailureLimit: 1})
	mw, _ := httpaxes.New(guard, httpaxes.SettleExplicitly()) // Authenticate settles from check
	login := func(w http.ResponseWriter, r *http.Request, username, password string) {
		res, ok := mw.Authenticate(w, r, username, func(ctx context.Context) (bool, error) {
			return password == "correct-horse", nil
		})
		if !ok {
			return // the lockout (or error) response is written
		}
		if res.Verdict != axes.Allowed {
			http.Error(w, "invalid credentials", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, "welcome")
	}
	for _, pw := range []string{"guess", "correct-horse"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/api/login", nil)
		r.Header.Set("Accept", "application/json")
		login(w, r, "alice", pw)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	// Output:
	// 429 {"failure_limit":1,"failure_count":1,"username":"alice"}
	// 429 {"failure_limit":1,"failure_count":2,"username":"alice"}
}

// Behind one reverse proxy at 10.0.0.1 the client is read from
// X-Forwarded-For; a header sent by anyone else is ignored.
func ExampleClientIP() {
	cfg := httpaxes.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}

	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.RemoteAddr = "10.0.0.1:5123"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
	ip, _ := httpaxes.ClientIP(r, cfg)
	fmt.Println(ip)

	r.RemoteAddr = "203.0.113.9:5123" // not the proxy
	ip, _ = httpaxes.ClientIP(r, cfg)
	fmt.Println(ip)
	// Output:
	// 198.51.100.7
	// 203.0.113.9
}

// The HTTP settings are the middleware's: here the username comes from
// the "email" field, and a lockout is answered 403 with a message of the
// application's.
func ExampleWithConfig() {
	guard, err := axes.New(newMapStore(), axes.Config{FailureLimit: 1})
	if err != nil {
		panic(err)
	}
	mw, err := httpaxes.New(guard, httpaxes.SettleByStatus(), httpaxes.WithConfig(httpaxes.Config{
		UsernameFormField: "email",
		HTTPResponseCode:  http.StatusForbidden,
		PermalockMessage:  "Too many attempts; ask the help desk.",
	}))
	if err != nil {
		panic(err)
	}
	h := mw.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		username, _ := httpaxes.Username(r)
		http.Error(w, "wrong password for "+username, http.StatusUnauthorized)
	}))
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("email=ann@example.com&password=guess"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 403 Too many attempts; ask the help desk.
}

// One configuration file holds the settings of the guard and of the
// middleware; ParseJSON (and LoadFile, for a path) puts each key in its
// own configuration, and rejects a key that neither has.
func ExampleParseJSON() {
	var core axes.Config
	var cfg httpaxes.Config
	err := httpaxes.ParseJSON([]byte(`{
		"failure_limit": 5,
		"cooloff_time": "15m",
		"ipware_proxy_trusted_ips": ["10.0.0.0/8"],
		"lockout_url": "/locked"
	}`), &core, &cfg)
	fmt.Println(err)
	fmt.Println(core.FailureLimit, core.CoolOff, cfg.TrustedProxies, cfg.LockoutURL)

	err = httpaxes.ParseJSON([]byte(`{"lockout_ur": "/locked"}`), &core, &cfg)
	fmt.Println(err)
	// Output:
	// <nil>
	// 5 15m0s [10.0.0.0/8] /locked
	// unknown key "lockout_ur"
}
