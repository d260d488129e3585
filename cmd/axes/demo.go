package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/storage"
	"golang.org/x/crypto/bcrypt"
)

// demoUsers are the demo site's accounts.
var demoUsers = map[string]string{"alice": "correct-horse", "bob": "battery-staple"}

const sessionCookie = "axes_demo_session"

// demo is the demo site: a login form protected by the same guard and
// middleware an application embeds.
type demo struct {
	guard *axes.Guard
	mw    *httpaxes.Middleware
	field string            // the username field of the form (AXES_USERNAME_FORM_FIELD)
	users map[string][]byte // bcrypt hashes
	dummy []byte            // compared for unknown users, so timing does not tell
	log   *slog.Logger
	// checks counts password checks, so tests can prove that locked-out
	// clients never reach one.
	checks atomic.Int64
}

// hashUsers hashes passwords with bcrypt at the given cost.
func hashUsers(plain map[string]string, cost int) (map[string][]byte, error) {
	out := make(map[string][]byte, len(plain))
	for u, p := range plain {
		h, err := bcrypt.GenerateFromPassword([]byte(p), cost)
		if err != nil {
			return nil, err
		}
		out[u] = h
	}
	return out, nil
}

// newDemo builds the demo handler over guard, with the middleware's HTTP
// settings web.
func newDemo(g *axes.Guard, web httpaxes.Config, users map[string][]byte, logger *slog.Logger) (*demo, http.Handler, error) {
	var cost int
	for _, h := range users {
		cost, _ = bcrypt.Cost(h)
		break
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no such user"), max(cost, bcrypt.MinCost))
	if err != nil {
		return nil, nil, err
	}
	// The login handler settles every attempt itself (Fail, SucceedSession),
	// so that an answer it forgets to settle is counted as a failure.
	mw, err := httpaxes.New(g, httpaxes.SettleExplicitly(), httpaxes.WithConfig(web), httpaxes.WithLogger(logger))
	if err != nil {
		return nil, nil, err
	}
	d := &demo{guard: g, mw: mw, field: web.Effective().UsernameFormField, users: users, dummy: dummy, log: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.page)
	mux.HandleFunc("GET /login", d.page)
	mux.Handle("POST /login", mw.Protect(http.HandlerFunc(d.login)))
	mux.HandleFunc("POST /logout", d.logout)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return d, securityHeaders(limitBodies(mux)), nil
}

// demoMaxBody is the largest request body the demo reads, on every route:
// the middleware's limit for logins, and the same for the logout, which is
// not behind the middleware.
const demoMaxBody = httpaxes.DefaultMaxBodyBytes

// limitBodies caps every request body at demoMaxBody, so that no handler
// (nor net/http's form parser, which spools multipart files to disk) reads
// more than that, whatever it does with the body.
func limitBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, demoMaxBody)
		}
		h.ServeHTTP(w, r)
	})
}

// Timeouts of the demo server. Without ReadTimeout a client that sends
// half a body holds its connection (and a goroutine) forever, and without
// IdleTimeout so does an idle keep-alive connection. WriteTimeout covers
// the handler too: the wait for a place under the limit (MaxWait, 3 s by
// default), the store and a bcrypt check.
const (
	demoReadHeaderTimeout = 5 * time.Second
	demoReadTimeout       = 10 * time.Second
	demoWriteTimeout      = 30 * time.Second
	demoIdleTimeout       = 60 * time.Second
)

// newDemoServer returns the demo's server over h, with every timeout set;
// requests get ctx as their base context.
func newDemoServer(ctx context.Context, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: demoReadHeaderTimeout,
		ReadTimeout:       demoReadTimeout,
		WriteTimeout:      demoWriteTimeout,
		IdleTimeout:       demoIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
		h.ServeHTTP(w, r)
	})
}

// loginPassword reads the password of a login request behind the
// middleware: from the JSON object the middleware read the username from,
// or from the form.
func loginPassword(r *http.Request) string {
	if httpaxes.JSONBody(r) {
		var body struct {
			Password string `json:"password"`
		}
		// The middleware has read the whole body (at most its limit) and
		// checked that it is one JSON object.
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return ""
		}
		return body.Password
	}
	return r.PostFormValue("password")
}

// logoutUsername reads the username from a form or a JSON body, for the
// logout, which is not behind the middleware. The body is capped at
// demoMaxBody (by limitBodies, and here again for a handler used without
// it); a longer one is an *http.MaxBytesError.
func (d *demo) logoutUsername(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, demoMaxBody)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return "", err
		}
		u, _ := body[d.field].(string)
		return u, nil
	case "multipart/form-data":
		// The memory limit is never reached: the body is capped first.
		if err := r.ParseMultipartForm(demoMaxBody); err != nil {
			return "", err
		}
	default:
		if err := r.ParseForm(); err != nil {
			return "", err
		}
	}
	return r.PostFormValue(d.field), nil
}

// check verifies a password in constant time whether or not the user exists.
func (d *demo) check(username, password string) bool {
	d.checks.Add(1)
	// Accounts are keyed as the guard keys usernames (trimmed, case-folded),
	// so "Alice" is alice both for the password and for the counters.
	hash, known := d.users[axes.FoldUsername(username)]
	if !known {
		hash = d.dummy
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	return known && ok
}

// login runs behind the middleware: it is called only for admitted
// attempts. It settles each one itself, with httpaxes.Fail before its 401
// and httpaxes.SucceedSession before its 200; the middleware turns the
// response to the failure that reaches the limit into the lockout response.
//
// It checks the password of exactly the username the middleware counted
// (httpaxes.Username), never one it reads from the request itself.
func (d *demo) login(w http.ResponseWriter, r *http.Request) {
	username, ok := httpaxes.Username(r)
	if !ok {
		// Not behind the middleware: refuse rather than check unguarded.
		reply(w, r, http.StatusInternalServerError, "Login protection is not configured.")
		return
	}
	if !d.check(username, loginPassword(r)) {
		if _, err := httpaxes.Fail(r); err != nil {
			d.log.Error("axes demo: recording the failure failed", "err", err)
		}
		reply(w, r, http.StatusUnauthorized, "Invalid username or password.")
		return
	}
	sid := newSessionID()
	if _, err := httpaxes.SucceedSession(r, sid); err != nil {
		d.log.Error("axes demo: recording the login failed", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	reply(w, r, http.StatusOK, fmt.Sprintf("Welcome, %s.", username))
}

func (d *demo) logout(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(sessionCookie)
	username, uerr := d.logoutUsername(w, r)
	if mbe := (*http.MaxBytesError)(nil); errors.As(uerr, &mbe) {
		// net/http closes the connection after this answer, unread.
		reply(w, r, http.StatusRequestEntityTooLarge, "The request body is too large.")
		return
	}
	if err == nil && username != "" {
		id, ierr := d.mw.Identity(r, username)
		if ierr == nil {
			if err := d.guard.Logout(r.Context(), id, c.Value); err != nil {
				d.log.Error("axes demo: recording the logout failed", "err", err)
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	reply(w, r, http.StatusOK, "Logged out.")
}

func newSessionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// reply answers in JSON when the client asks for it (by the middleware's
// rule, so that a client gets the same format for a 401 and a 429), and in
// text otherwise.
func reply(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if httpaxes.WantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"status": status, "message": msg})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>axes demo</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.6rem 0}input{font:inherit;padding:.3rem;width:100%}
button{font:inherit;padding:.4rem 1rem;margin-top:.6rem}code{background:#eee;padding:0 .2rem}</style></head>
<body><h1>axes demo</h1>
<p>Users: <code>alice</code> / <code>correct-horse</code>, <code>bob</code> / <code>battery-staple</code>.
After {{.Limit}} wrong attempts the client is locked out ({{.Lock}}).</p>
<form method="post" action="/login">
<label>Username <input name="{{.Field}}" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button>Log in</button></form></body></html>
`))

func (d *demo) page(w http.ResponseWriter, r *http.Request) {
	cfg := d.guard.Config().Effective()
	lock := "until an operator resets it"
	if cfg.CoolOff > 0 {
		lock = "for " + cfg.CoolOff.String()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pageTmpl.Execute(w, struct {
		Limit int
		Lock  string
		Field string
	}{cfg.FailureLimit, lock, d.field})
}

// demoOptions are what runDemo builds the server from; tests construct them
// directly.
type demoOptions struct {
	addr     string
	store    storage.Store
	cfg      axes.Config     // the guard's
	web      httpaxes.Config // the middleware's
	cost     int
	clock    func() time.Time
	logger   *slog.Logger
	listener net.Listener
}

// runDemo parses the demo's flags and serves until ctx ends.
func runDemo(ctx context.Context, args []string, lookup env, stdout, stderr io.Writer) error {
	cmd := newCommand("demo", "[--addr 127.0.0.1:8080] [--store DSN] [--config FILE] [--SETTING VALUE ...]",
		"Serve the demo site: a login form (users alice/correct-horse and bob/battery-staple)\nprotected by a guard over the store. The store is migrated at start.")
	var c commonFlags
	c.register(cmd.fs, lookup)
	addr := cmd.fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	sf := cmd.withSettings()
	if _, err := cmd.parse(args, 0, 0, stdout, stderr); err != nil {
		return err
	}
	cfg, err := loadConfig(cmd.fs, c, sf, lookup)
	if err != nil {
		return err
	}
	s, err := openStore(ctx, c.store, true)
	if err != nil {
		return err
	}
	defer s.Close()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	return serveDemo(ctx, demoOptions{addr: *addr, store: s, cfg: cfg.core, web: cfg.http, cost: bcrypt.DefaultCost, logger: logger}, stdout)
}

// serveDemo runs the demo server until ctx ends.
func serveDemo(ctx context.Context, o demoOptions, stdout io.Writer) error {
	opts := []axes.Option{axes.WithLogger(o.logger)}
	if o.clock != nil {
		opts = append(opts, axes.WithClock(o.clock))
	}
	g, err := axes.New(o.store, o.cfg, opts...)
	if err != nil {
		return err
	}
	users, err := hashUsers(demoUsers, o.cost)
	if err != nil {
		return err
	}
	_, h, err := newDemo(g, o.web, users, o.logger)
	if err != nil {
		return err
	}
	ln := o.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", o.addr); err != nil {
			return fmt.Errorf("axes demo: %w", err)
		}
	}
	srv := newDemoServer(ctx, h)
	eff := o.cfg.Effective()
	fmt.Fprintf(stdout, "axes demo listening on http://%s (failure limit %d, lockout parameters %v)\n", ln.Addr(), eff.FailureLimit, eff.LockoutParameters)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			return err
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
