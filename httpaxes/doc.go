// Package httpaxes protects net/http login handlers with an [axes.Guard]:
// the counterpart of django-axes' middleware and lockout responses.
//
// Wrap the login handler with [Middleware.Protect]:
//
//	guard, err := axes.New(store, axes.Config{FailureLimit: 5, CoolOff: 15 * time.Minute})
//	...
//	mw, err := httpaxes.New(guard, httpaxes.SettleExplicitly(),
//		httpaxes.WithConfig(httpaxes.Config{TrustedProxies: proxies}))
//	...
//	mux.Handle("/login", mw.Protect(loginHandler))
//
// and settle each attempt in the handler:
//
//	func loginHandler(w http.ResponseWriter, r *http.Request) {
//		username, _ := httpaxes.Username(r)
//		if !checkPassword(username, r.PostFormValue("password")) {
//			httpaxes.Fail(r) // then show the form again, with any status
//			...
//			return
//		}
//		httpaxes.SucceedSession(r, sessionID)
//		...
//	}
//
// Protect lets OPTIONS, and GET and HEAD without credentials, through
// untouched, so the login page is always shown; a GET or HEAD with the
// username field in its query string is guarded like a POST unless the
// guard's axes.Config.NeverLockoutGET is set. For every guarded request it
// reads the username (the field [Config.UsernameFormField] of the form or
// of a JSON body, which is put back for the handler, and of the URL query)
// and the client address, and asks the guard to admit the attempt before the
// handler runs. The username is read strictly: a body over 64 KiB
// ([WithMaxBodyBytes]) is answered 413, and a request whose username could
// be read two ways (a JSON body that is not exactly one object, a username
// field that is not a string or appears twice, different usernames in the
// body and the query) is answered 400, without counting anything or
// calling the handler.
//
// The handler MUST check the password of exactly the username that was
// counted, which [Username] returns, and not read the username again in
// its own way; otherwise it may check another user's password than the one
// that is locked out. Handlers that must read requests their own way call
// [Middleware.Authenticate] instead. The admitted attempt holds a place
// under the failure limit while the password is checked, so however many
// requests arrive at once no more than FailureLimit password checks run
// for a client; it becomes a counted failure when it is settled as failed,
// or when its lease lapses unsettled (the handler panicked). A locked-out
// client gets the lockout response (429 by default, with Retry-After) and
// the handler is not called.
//
// # Settlement: how the outcome is recognised
//
// The second argument of [New] says how Protect learns whether the
// password was right. There is no default: a choice that does not fit the
// handler fails silently, so every call site makes it on purpose.
//
//   - [SettleExplicitly]: the handler calls [Fail], [Succeed],
//     [SucceedSession] or [Release], and may answer with any status (the
//     form shown again with 200, a redirect). An attempt it leaves
//     unsettled is counted as a failure and logged as a warning naming the
//     path. Use it for HTML forms, and whenever in doubt.
//   - [SettleByStatus]: what the handler does not settle itself is settled
//     by its status: 401 and 403 (or the statuses given) fail, 2xx
//     succeeds, 3xx fails with a warning, anything else gives the attempt
//     back uncounted. Use it for APIs that answer a wrong password with
//     401. A handler that answers a wrong password with 200 is never
//     locked out in this mode unless it calls [Fail]; a 2xx HTML page
//     settled as a success is logged, once, as a warning.
//
// In both modes the failure that reaches the limit is answered with the
// lockout response if the handler has not written its own yet: with
// FailureLimit 3, three wrong passwords get 401, 401, 429 (or 200, 200,
// 429 for a form shown again after Fail).
//
// Handlers that parse their own requests (JSON APIs with their own
// decoder) can skip the middleware and call [Middleware.Authenticate] with
// the username and a password-check function; it writes the lockout
// response when the client is locked out.
//
// # Lockout responses
//
// [Middleware.WriteLockout] answers locked-out and deny-listed clients: with
// the handler from [WithLockoutHandler] if set; with JSON (failure_limit,
// failure_count, username, cooloff_time in ISO 8601, retry_after) when the
// request asks for JSON; with the lockout template; with a redirect to
// Config.LockoutURL; or with the plain-text lockout message. Every variant
// carries Cache-Control: no-store and, when the lock has a known end,
// Retry-After with the real number of seconds left. CORS headers are sent
// only when Config.AllowedCORSOrigins is set.
//
// # Errors
//
// When the store fails, or the username or the client address cannot be
// read, the request is answered by the error handler (default: log and 503)
// and the login handler is not called: the middleware fails closed.
//
// # Behind a proxy
//
// By default the client address is the TCP peer (RemoteAddr) and no header
// is believed: behind a reverse proxy every client then shares the proxy's
// address, and the proxy gets locked out. Tell the middleware about the
// proxies in its [Config], in one of three ways:
//
//   - TrustedProxies lists the proxies' addresses or prefixes
//     (AXES_IPWARE_PROXY_TRUSTED_IPS). The forwarding header
//     (ForwardedHeader, default X-Forwarded-For) is read only when the TCP
//     peer is one of them, and is walked from the right, skipping trusted
//     addresses: the first untrusted address is the client. This is the
//     safe choice when the proxies' addresses are known.
//   - ProxyCount is the number of proxies (AXES_IPWARE_PROXY_COUNT): the
//     client is that many entries from the right of the header, whatever
//     the peer, as in django-axes. It is right only if the application
//     cannot be reached except through all the proxies: a client that
//     reaches it directly can write the header itself, and a new address
//     in each request is never locked out. [Config.Check] warns of it
//     (axes.W109).
//   - ProxyCount and TrustedProxies together: the header is read only when
//     the TCP peer is a trusted proxy, and then the client is ProxyCount
//     entries from the right; a request from any other peer is counted as
//     the peer. List the proxy that connects to the application; the hops
//     before it (a CDN's edges, whose addresses change) are counted, not
//     matched. Use this when the chain's length is known but not all of
//     its addresses.
//
// The left-most entry, written by the client, is never believed for itself.
// Never set the header name to one the proxy does not overwrite or append
// to. A header entry that is not an address ends the walk at the last hop
// believed; a header with fewer entries than ProxyCount is ignored. See
// [ClientIPResolver] for the exact rules; [ClientIP] applies them to any
// request, and [WithClientIP] replaces them.
//
// IPv4-mapped IPv6 addresses are folded to IPv4 and zones dropped; the
// guard groups IPv6 clients by axes.Config.IPv6Prefix (default /64).
//
// # Configuration
//
// The guard's [axes.Config] is the lockout policy; this package's [Config]
// is how a request is read and a lockout answered, given to [New] with
// [WithConfig]. Both are plain data with zero values that mean the
// django-axes defaults, and both read AXES_* variables
// ([axes.Config.ApplyEnv], [Config.ApplyEnv]). One JSON file holds the keys
// of both; [LoadFile] reads it into both, and rejects a key neither knows.
// [Settings] lists this package's settings, as [axes.Settings] lists the
// guard's. [Middleware.Check] reports the findings of both at start-up.
package httpaxes
