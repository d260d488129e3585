package httpaxes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/internal/wire"
)

// DefaultMaxBodyBytes is the largest body (form or JSON) of a guarded
// request, unless [WithMaxBodyBytes] says otherwise: 64 KiB.
const DefaultMaxBodyBytes = 64 << 10

// ErrNotProtected is returned by [Fail], [Succeed], [SucceedSession] and
// [Release] for
// a request that did not pass through [Middleware.Protect] (or whose method
// is not guarded).
var ErrNotProtected = errors.New("httpaxes: the request is not guarded by Middleware.Protect")

// errDoubleGuard is passed to the error handler when Authenticate runs on a
// request that Protect already admitted.
var errDoubleGuard = errors.New("httpaxes: Middleware.Authenticate called on a request already guarded by Middleware.Protect; use one or the other")

// Middleware protects login handlers with an [axes.Guard]. Create one with
// [New]; it is safe for concurrent use.
type Middleware struct {
	guard          *axes.Guard
	policy         axes.Config // the guard's, effective
	given          Config      // as given to WithConfig
	cfg            Config      // effective
	clientIP       func(*http.Request) (netip.Addr, error)
	usernameFunc   func(*http.Request) (string, error)
	lockoutHandler http.Handler
	tmpl           *template.Template
	settlement     Settlement
	htmlWarned     atomic.Bool     // the 2xx HTML success warning was logged
	errLogged      atomic.Int64    // when defaultError last logged (Unix ns)
	errQuiet       atomic.Int64    // errors not logged since then
	methods        map[string]bool // nil: every method but GET, HEAD, OPTIONS
	onError        func(http.ResponseWriter, *http.Request, error)
	maxBody        int64
	log            *slog.Logger
	sniffer        jsonSniffer
}

// Option configures a [Middleware]: its plain settings with [WithConfig],
// and behaviour that is not data with the other options.
type Option func(*Middleware) error

// WithConfig sets the middleware's plain settings: the username field,
// the proxies, and the lockout response (see [Config]). Without it every
// setting has its default. [New] validates cfg and copies it; later
// changes to cfg have no effect. Given twice, the last one counts.
func WithConfig(cfg Config) Option {
	return func(m *Middleware) error {
		m.given = cfg
		return nil
	}
}

// WithUsernameFunc sets how the username is read from a request. By default
// it is the field [Config.UsernameFormField] of the form body or of the
// top-level JSON object, and of the URL query; see [Middleware.Protect] for
// the rules. An error from f is passed to the error handler and the request
// is not served. With f, the body is neither read nor limited by the
// middleware, and the handler must check the username f returned (see
// [Username]).
func WithUsernameFunc(f func(*http.Request) (string, error)) Option {
	return func(m *Middleware) error {
		if f == nil {
			return errors.New("httpaxes: WithUsernameFunc: nil function")
		}
		m.usernameFunc = f
		return nil
	}
}

// WithClientIP sets how the client address is found. By default it is
// [ClientIPResolver] over the proxy settings of [WithConfig]. f may return
// the zero netip.Addr with a nil error for "no address": the guard then
// refuses with [axes.ErrNoIP] if a lockout group needs one. An error from
// f is passed to the error handler and the request is not served.
func WithClientIP(f func(*http.Request) (netip.Addr, error)) Option {
	return func(m *Middleware) error {
		if f == nil {
			return errors.New("httpaxes: WithClientIP: nil function")
		}
		m.clientIP = f
		return nil
	}
}

// WithLockoutHandler sets the handler that answers locked-out and denied
// clients instead of the built-in responses (see [Middleware.WriteLockout]).
// It finds the result with [ResultFrom].
func WithLockoutHandler(h http.Handler) Option {
	return func(m *Middleware) error {
		if h == nil {
			return errors.New("httpaxes: WithLockoutHandler: nil handler")
		}
		m.lockoutHandler = h
		return nil
	}
}

// WithTemplate sets the lockout page template, executed with a
// [LockoutData]. It replaces [Config.LockoutTemplate], which is then not
// read.
func WithTemplate(t *template.Template) Option {
	return func(m *Middleware) error {
		if t == nil {
			return errors.New("httpaxes: WithTemplate: nil template")
		}
		m.tmpl = t
		return nil
	}
}

// WithGuardedMethods sets the request methods that are guarded; requests
// with other methods pass straight through, uncounted. Default: every method
// except GET, HEAD and OPTIONS, so showing the login page is never blocked.
// Whatever the methods, a GET or HEAD that carries credentials (the
// username field in the URL query, or a body) is guarded unless the
// guard's [axes.Config.NeverLockoutGET] is set: a handler that reads
// r.FormValue answers GET /login?username=..&password=.. too.
func WithGuardedMethods(methods ...string) Option {
	return func(m *Middleware) error {
		if len(methods) == 0 {
			return errors.New("httpaxes: WithGuardedMethods: no method")
		}
		set := make(map[string]bool, len(methods))
		for _, s := range methods {
			if s == "" {
				return errors.New("httpaxes: WithGuardedMethods: empty method")
			}
			set[s] = true
		}
		m.methods = set
		return nil
	}
}

// WithErrorHandler sets what answers a request that cannot be guarded: the
// store failed, the client address or the username could not be read. The
// default logs the error and answers 503 Service Unavailable; the login
// handler is never called (fail closed). The handler must write a response.
func WithErrorHandler(f func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(m *Middleware) error {
		if f == nil {
			return errors.New("httpaxes: WithErrorHandler: nil function")
		}
		m.onError = f
		return nil
	}
}

// WithMaxBodyBytes sets the largest body of a guarded request, form or
// JSON. The middleware reads at most n bytes to find the username (form
// bodies are capped with [http.MaxBytesReader] before they are parsed);
// a longer body is answered 413 Request Entity Too Large, uncounted, and is
// not passed to the handler. Default [DefaultMaxBodyBytes] (64 KiB).
func WithMaxBodyBytes(n int64) Option {
	return func(m *Middleware) error {
		if n <= 0 {
			return fmt.Errorf("httpaxes: WithMaxBodyBytes: must be positive, got %d", n)
		}
		m.maxBody = n
		return nil
	}
}

// WithLogger sets the logger for store errors and failed settlements.
// Default [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return func(m *Middleware) error {
		if l == nil {
			return errors.New("httpaxes: WithLogger: nil logger")
		}
		m.log = l
		return nil
	}
}

// New returns a middleware for g whose [Middleware.Protect] recognises the
// outcome of a login attempt as s says: [SettleExplicitly] (the handler
// calls [Fail] or [Succeed]; what it leaves unsettled is a failure) or
// [SettleByStatus] (the response status decides). The choice is a required
// argument because the wrong one fails silently: a handler that answers a
// wrong password with 200 is never locked out under status settlement.
// The zero Settlement is an error.
//
// The plain settings (username field, proxies, lockout status, URL,
// template, messages, CORS) are the [Config] of [WithConfig], validated
// here; the lockout template file, if configured, is parsed here, and a
// missing or broken file is an error. The guard's policy (g.Config())
// decides which requests are guarded ([axes.Config.NeverLockoutGET]) and
// whether anything is counted.
func New(g *axes.Guard, s Settlement, opts ...Option) (*Middleware, error) {
	if g == nil {
		return nil, errors.New("httpaxes: New: nil guard")
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	m := &Middleware{
		guard:      g,
		policy:     g.Config().Effective(),
		settlement: s,
		maxBody:    DefaultMaxBodyBytes,
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	if err := m.given.Validate(); err != nil {
		return nil, err
	}
	m.given.TrustedProxies = slices.Clone(m.given.TrustedProxies)
	cfg := m.given.Effective()
	m.cfg = cfg
	if m.clientIP == nil {
		m.clientIP = NewClientIPResolver(cfg).ClientIP
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.onError == nil {
		m.onError = m.defaultError
	}
	if m.tmpl == nil && cfg.LockoutTemplate != "" {
		t, err := template.ParseFiles(cfg.LockoutTemplate)
		if err != nil {
			return nil, fmt.Errorf("httpaxes: lockout template: %w", err)
		}
		m.tmpl = t
	}
	m.sniffer = newJSONSniffer(cfg.UsernameFormField)
	// The middleware renders lockouts and admits attempts before the check:
	// guard.Check need not warn about either (axes.W002, axes.W003).
	wire.Mark(g, wire.Response)
	wire.Mark(g, wire.Check)
	return m, nil
}

// warnHTMLSuccess logs, once per middleware, that a 2xx HTML page settled
// an attempt as a successful login under SettleByStatus: the signature of
// a login form rendered again after a wrong password.
func (m *Middleware) warnHTMLSuccess(r *http.Request) {
	if m.htmlWarned.Swap(true) {
		return
	}
	m.log.WarnContext(r.Context(), "httpaxes: a 2xx HTML page answered a login attempt the handler did not settle, and SettleByStatus counted it as a successful login. If the page is the login form shown again after a wrong password, that client is never locked out: call httpaxes.Fail there, or use httpaxes.SettleExplicitly (logged once)",
		"method", r.Method, "path", r.URL.Path)
}

// errorLogInterval is how often defaultError logs at most: a store outage
// under load makes a line every interval (with the count of the requests
// refused meanwhile), not one per request.
const errorLogInterval = 10 * time.Second

// defaultError logs err (at most once per errorLogInterval) and answers
// 503. It never panics.
func (m *Middleware) defaultError(w http.ResponseWriter, r *http.Request, err error) {
	now, last := time.Now().UnixNano(), m.errLogged.Load()
	if now-last >= int64(errorLogInterval) && m.errLogged.CompareAndSwap(last, now) {
		m.log.ErrorContext(r.Context(), "httpaxes: cannot guard the login; refusing it", "err", err, "method", r.Method, "path", r.URL.Path,
			"refused_unlogged", m.errQuiet.Swap(0))
	} else {
		m.errQuiet.Add(1)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("Service Unavailable: login protection is not available, please try again later.\n"))
}

// guarded reports whether r is a login attempt to guard: its method is
// guarded, or it is a GET or HEAD carrying credentials (unless
// axes.Config.NeverLockoutGET).
func (m *Middleware) guarded(r *http.Request) bool {
	if m.methods != nil && m.methods[r.Method] {
		return true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if m.policy.NeverLockoutGET {
			return false
		}
		return r.URL.Query().Has(m.cfg.UsernameFormField) || hasBody(r)
	case http.MethodOptions:
		return false
	}
	return m.methods == nil
}

// writeRequestError answers a request whose username cannot be read
// unambiguously (400) or whose body is too large (413). Nothing is counted
// and the login handler is not called.
func (m *Middleware) writeRequestError(w http.ResponseWriter, r *http.Request, e *requestError) {
	m.log.DebugContext(r.Context(), "httpaxes: refusing a login request", "status", e.status, "reason", e.msg, "method", r.Method, "path", r.URL.Path)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if WantsJSON(r) {
		body, _ := json.Marshal(struct {
			Error string `json:"error"`
		}{e.msg})
		h.Set("Content-Type", "application/json")
		w.WriteHeader(e.status)
		_, _ = w.Write(append(body, '\n'))
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(http.StatusText(e.status) + ": " + e.msg + "\n"))
}

// Identity returns the identity of a login attempt by username in r: the
// client address (see [WithClientIP]), the user agent, the path and the
// method. The guard normalises it. The error comes from the client address.
func (m *Middleware) Identity(r *http.Request, username string) (axes.Identity, error) {
	ip, err := m.clientIP(r)
	if err != nil {
		return axes.Identity{}, err
	}
	return axes.Identity{
		IP:        ip,
		Username:  username,
		UserAgent: r.UserAgent(),
		Path:      r.URL.Path,
		Method:    r.Method,
	}, nil
}

// Authenticate guards a credential check in a handler that reads the
// request itself (a JSON API, say), without [Middleware.Protect]. It runs
// [axes.Guard.Authenticate] for the identity of r and username; check is
// the application's password check (true: right credentials).
//
// When ok is false a response has already been written and the handler
// must return: the lockout response (res.Verdict Locked or Denied, check
// did not run or this failure reached the limit), 400 for a username that
// contains NUL or is not valid UTF-8 (check did not run, nothing was
// counted), or the error handler's response (the store failed, the client
// address is unknown, or check returned an error). When ok is true the handler writes the response:
// res.Verdict is Allowed (log the user in) or Invalid (answer 401).
//
//	res, ok := mw.Authenticate(w, r, req.Username, func(ctx context.Context) (bool, error) {
//		return users.Check(ctx, req.Username, req.Password)
//	})
//	if !ok {
//		return
//	}
//	if res.Verdict != axes.Allowed {
//		http.Error(w, "invalid credentials", http.StatusUnauthorized)
//		return
//	}
//
// The [Settlement] given to [New] does not apply here: check's result
// settles the attempt. Do not use it on a route wrapped by Protect: the
// attempt would be counted twice. It answers such a request through the
// error handler.
func (m *Middleware) Authenticate(w http.ResponseWriter, r *http.Request, username string, check func(context.Context) (bool, error)) (res axes.Result, ok bool) {
	if stateFrom(r) != nil {
		m.onError(w, r, errDoubleGuard)
		return axes.Result{}, false
	}
	if err := checkUsername("username", username); err != nil {
		m.writeRequestError(w, r, err.(*requestError))
		return axes.Result{}, false
	}
	id, err := m.identity(r, username)
	if err != nil {
		m.onError(w, r, err)
		return axes.Result{}, false
	}
	res, err = m.guard.Authenticate(r.Context(), id, check)
	if err != nil {
		m.onError(w, r, err)
		return res, false
	}
	if res.Verdict == axes.Locked || res.Verdict == axes.Denied {
		m.WriteLockout(w, r, res)
		return res, false
	}
	return res, true
}

// identity is Identity, except that a disabled guard needs no address.
func (m *Middleware) identity(r *http.Request, username string) (axes.Identity, error) {
	if m.policy.Disabled {
		return axes.Identity{Username: username, UserAgent: r.UserAgent(), Path: r.URL.Path, Method: r.Method}, nil
	}
	return m.Identity(r, username)
}

// Protect returns next guarded by m; m.Protect has the standard middleware
// type func(http.Handler) http.Handler.
//
// IMPORTANT: next must check the password of exactly the username Protect
// counted, which it gets with [Username] (and, for a JSON body, read the
// password from that JSON object: see [JSONBody]). A handler that reads the
// username from the request in its own way can check another user's
// password than the one counted, and that user's lockout then protects
// nothing. A handler that must parse requests its own way uses
// [Middleware.Authenticate] instead of Protect.
//
// Requests whose method is not guarded pass straight through: by default
// OPTIONS, and GET and HEAD without credentials (showing the login page).
// A GET or HEAD with the username field in its URL query (or with a body)
// is guarded like a POST, unless the guard's [axes.Config.NeverLockoutGET]
// is set.
//
// For a guarded request Protect reads the username (see below) and the
// client address and asks the guard to admit the attempt. A locked-out or
// denied client gets the lockout response and next is not called, so the
// password is never checked. An admitted attempt holds a place under the
// failure limit while next checks the password, and next settles it as the
// [Settlement] given to [New] says:
//
//   - Under [SettleExplicitly], next calls [Fail], [Succeed],
//     [SucceedSession] or [Release]; its response status is not looked at.
//     An attempt still unsettled when next returns (or hijacks the
//     connection and returns) is counted as a failure and logged as a
//     warning.
//   - Under [SettleByStatus], an attempt next does not settle with those
//     functions is settled by its response status: a failure status fails
//     it, 2xx (or no response) succeeds it, 3xx fails it with a warning,
//     other statuses and a hijacked connection release it uncounted.
//     IMPORTANT: a 2xx answer to a wrong password (the login form rendered
//     again with an error) counts as a SUCCESSFUL login in this mode.
//
// When a failure reaches the limit before the handler's response is sent,
// that response is replaced by the lockout response: with limit 3 the
// answers are 401, 401, 429. If next panics the attempt keeps its place
// and counts as a failure once its lease lapses
// (axes.WithReservationLease), and the panic goes on.
//
// Unless [WithUsernameFunc] is given, the username is the field
// [Config.UsernameFormField] of the body and the URL query, read strictly so
// that the request cannot show the handler another username than the one
// counted:
//
//   - The body may be at most [WithMaxBodyBytes] long (default 64 KiB);
//     form bodies are capped before they are parsed. A longer body is
//     answered 413.
//   - A body is JSON when its media type is application/json or
//     application/*+json (even with malformed parameters), or when it is
//     not a form and starts with '{'. It must then be exactly one JSON
//     object followed only by white space, in which the username field
//     (matched case-insensitively, as encoding/json matches struct fields)
//     is absent or a string, and appears at most once. The body is put
//     back for the handler.
//   - Every value of the field, in the body and in the URL query, must be
//     the same.
//   - The username must not contain NUL, and must be valid UTF-8 (this
//     holds for a username from [WithUsernameFunc] too).
//
// A request that breaks these rules is answered 400 (JSON when the client
// asks for JSON, see [WantsJSON]) without counting anything, and next is
// not called. Store errors and unreadable identities go to the error
// handler (default 503); the login is never let through unguarded.
func (m *Middleware) Protect(next http.Handler) http.Handler {
	if next == nil {
		panic("httpaxes: Protect: nil handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.guarded(r) {
			next.ServeHTTP(w, r)
			return
		}
		// The username is read even when the guard is disabled: the
		// handler gets it from Username.
		l, err := m.readUsername(w, r)
		if err != nil {
			var re *requestError
			if errors.As(err, &re) {
				m.writeRequestError(w, r, re)
				return
			}
			m.onError(w, r, err)
			return
		}
		id, err := m.identity(r, l.username)
		if err != nil {
			m.onError(w, r, err)
			return
		}
		t, err := m.guard.Admit(r.Context(), id)
		if err != nil {
			var le *axes.LockoutError
			if errors.As(err, &le) {
				m.WriteLockout(w, r, le.Result)
				return
			}
			m.onError(w, r, err)
			return
		}
		st := &state{m: m, ticket: t, ctx: context.WithoutCancel(r.Context()), login: l}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		rw := newResponseWriter(w, r, st)
		next.ServeHTTP(rw.public(), r)
		rw.finish()
	})
}
