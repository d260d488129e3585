// Package axes protects login endpoints against password guessing, in the
// manner of Django's django-axes: it counts failed logins per IP address,
// username, user agent or any combination of them, locks a client out after
// a number of failures, for a cool-off or until an operator resets it, and
// keeps an audit log of logins, logouts and failures.
//
// # Quick start
//
//	store := memstore.New() // or sqlstore.New(db, sqlstore.SQLite) for a shared, durable store
//	guard, err := axes.New(store, axes.Config{CoolOff: 15 * time.Minute})
//	...
//	res, err := guard.Authenticate(ctx, axes.Identity{IP: ip, Username: user},
//		func(ctx context.Context) (bool, error) { return checkPassword(ctx, user, password) })
//	switch res.Verdict {
//	case axes.Allowed: // logged in
//	case axes.Invalid: // wrong password: 401
//	case axes.Locked, axes.Denied: // 429 with Retry-After: res.RetryAfter(time.Now())
//	}
//
// For net/http, package httpaxes resolves the client from the request and
// renders the lockout response (its Middleware.Protect); how it does both
// is configured there, in httpaxes.Config.
//
// # Reserve before verify
//
// [Guard.Admit] asks each of the client's buckets for a place under the
// limit before the password is checked; each bucket decides and reserves
// in one atomic step of its own, and when one refuses, the places taken on
// the others are given back. The [Ticket] it returns is settled afterwards:
// a failure turns its places into counted failures, a success gives them
// back (or clears the user's failures with [Config.ResetOnSuccess]). While
// failures and tickets in flight together fill a bucket, further attempts
// wait for a place ([Config.MaxWait]): users behind one address who log in
// at once all get in, while a burst of guesses gets no more checks than
// the limit and is refused, uncounted or as locked, when the wait ends. So with FailureLimit N no more than N
// password checks ever run for one bucket, however many requests arrive at
// once, and across every process that shares the store. A ticket that is
// never settled (the handler panicked, the process died) holds its places
// and counts as a failure between one and two leases after its admission
// ([WithReservationLease]).
//
// # Semantics
//
// A bucket is one lockout parameter group evaluated for one client, such as
// ip_address=203.0.113.7 or username=alice+ip_address=203.0.113.7. It is
// locked while its failures reach the limit and the cool-off since its last
// failure has not passed; its count is forgotten [Config.FailureWindow]
// after its last failure. The failure that reaches the limit is itself
// answered with the lockout (limit 3: invalid, invalid, locked). Where this
// package deliberately differs from django-axes is listed in the README.
//
// # Stores
//
// A store implements [storage.Store]: it applies per-bucket steps, each
// atomically on its own key, and [storage.Apply], a pure function, makes
// every decision, so every store answers alike. The guard coordinates the
// buckets of an attempt. Optional capabilities (listing, purging, the audit
// log, operators' rules) are found with [storage.Find], also behind a
// wrapping store.
// Package axestest is the conformance suite every store passes.
//
// # Configuration
//
// [Config] holds the lockout policy as plain data; its zero value is
// django-axes' defaults. The settings of the HTTP layer (the username
// field, proxies, the lockout response) are httpaxes.Config's. [Config.ApplyEnv] reads AXES_* variables with the django-axes
// names and [Config.LoadFile] a JSON file whose keys are those names in
// lower case; [Settings] lists every setting, with a getter that writes a
// value back in the same form. Behaviour that is not data (a clock, a
// logger, event hooks) is given to [New] as an [Option]. [Checks] lists the
// codes of the findings that [Config.Check] and [Guard.Check] report.
package axes
