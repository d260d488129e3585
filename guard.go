package axes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"
)

// Errors returned by the guard. Lockouts come as a *[LockoutError], which
// matches ErrLockedOut (and ErrDenied for the deny list) with [errors.Is].
var (
	ErrLockedOut = errors.New("axes: locked out")
	ErrDenied    = errors.New("axes: client denied")
	ErrSettled   = errors.New("axes: ticket already settled")
	ErrNoIP      = errors.New("axes: the identity has no IP address, but a lockout parameter group needs one")
	// ErrUnsupported is returned when the store lacks an optional capability.
	ErrUnsupported = errors.ErrUnsupported
)

// Verdict is the outcome of one login attempt.
type Verdict int

const (
	// Undecided is the zero Verdict: no decision was reached (an error was
	// returned with it). It must never be treated as a login.
	Undecided Verdict = iota
	// Allowed: the credentials were right (or, for a ticket, the attempt was
	// admitted and the check has not run yet).
	Allowed
	// Invalid: the credentials were wrong and the client is not locked.
	Invalid
	// Locked: the client is locked out; the credentials were not checked,
	// or this failure reached the limit.
	Locked
	// Denied: the client's address is on the deny list (or, with
	// OnlyAllowlist, not on the allow list). Nothing was counted.
	Denied
)

// String returns the verdict's name in lower case.
func (v Verdict) String() string {
	switch v {
	case Undecided:
		return "undecided"
	case Allowed:
		return "allowed"
	case Invalid:
		return "invalid"
	case Locked:
		return "locked"
	case Denied:
		return "denied"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Result describes an attempt and the state of its buckets.
type Result struct {
	Verdict  Verdict
	Identity Identity // normalised
	// Failures is the highest failure count among the client's buckets.
	Failures int
	// Limit is the failure limit that applies to the client.
	Limit int
	// CoolOff is the cool-off of the lock (zero: until reset, or no lock).
	CoolOff time.Duration
	// LockedUntil is when the lock ends; zero when locked until reset.
	LockedUntil time.Time
	// Bucket is the bucket that locks the client (or has most failures).
	Bucket Bucket
}

// Permanent reports whether the lock lasts until an operator resets it.
func (r Result) Permanent() bool {
	return (r.Verdict == Locked || r.Verdict == Denied) && r.LockedUntil.IsZero()
}

// RetryAfter returns the time left on the lock at now, rounded up to whole
// seconds, or zero for no lock and for locks without an end.
func (r Result) RetryAfter(now time.Time) time.Duration {
	if r.LockedUntil.IsZero() || !now.Before(r.LockedUntil) {
		return 0
	}
	d := r.LockedUntil.Sub(now)
	return (d + time.Second - 1).Truncate(time.Second)
}

// LockoutError is returned by [Guard.Admit] when the client may not attempt
// to log in.
type LockoutError struct {
	Result Result
}

// Error says which bucket locks the client and until when.
func (e *LockoutError) Error() string {
	if e.Result.Verdict == Denied {
		return "axes: client denied"
	}
	if e.Result.LockedUntil.IsZero() {
		return fmt.Sprintf("axes: locked out by %s until reset", e.Result.Bucket.Params)
	}
	return fmt.Sprintf("axes: locked out by %s until %s", e.Result.Bucket.Params, e.Result.LockedUntil.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLockedOut) true for every lockout, and
// errors.Is(err, ErrDenied) true for deny-list refusals.
func (e *LockoutError) Is(target error) bool {
	return target == ErrLockedOut || (target == ErrDenied && e.Result.Verdict == Denied)
}

// Event is passed to [Hooks]. It never carries a password.
type Event struct {
	Identity    Identity
	Time        time.Time
	Failures    int
	Limit       int
	LockedUntil time.Time // zero: until reset (for LockedOut)
	Bucket      Bucket
	Verdict     Verdict
}

// Hooks are called synchronously after the guard has recorded an event; they
// are the counterparts of Django's user_login_failed, user_logged_in,
// user_logged_out and axes' user_locked_out signals. Nil hooks are skipped.
// A hook must not block for long: it runs on the login request.
type Hooks struct {
	// LockedOut runs for every attempt answered with a lockout: the failure
	// that reaches the limit, every refused attempt, and deny-list refusals.
	LockedOut func(context.Context, Event)
	// LoginFailed runs for every counted failure (including attempts counted
	// while locked).
	LoginFailed func(context.Context, Event)
	// LoggedIn runs after a successful login.
	LoggedIn func(context.Context, Event)
	// LoggedOut runs after a logout.
	LoggedOut func(context.Context, Event)
}

// Option configures behaviour of a [Guard] that is not plain data.
type Option func(*Guard) error

// WithClock sets the clock the guard reads; tests pass a fake one. Default
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(g *Guard) error {
		if now == nil {
			return errors.New("axes: WithClock: nil clock")
		}
		g.now = now
		return nil
	}
}

// WithLogger sets the logger for lockouts and store errors. Default: a
// logger that discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(g *Guard) error {
		if l == nil {
			return errors.New("axes: WithLogger: nil logger")
		}
		g.log = l
		return nil
	}
}

// WithHooks sets the event hooks.
func WithHooks(h Hooks) Option {
	return func(g *Guard) error { g.hooks = h; return nil }
}

// DefaultReservationLease is how long an admitted attempt may stay
// unsettled before its reservation counts as a failure; see
// [WithReservationLease].
const DefaultReservationLease = time.Minute

// WithReservationLease sets how long an admitted attempt may stay
// unsettled. A ticket that is neither failed nor released within d (its
// process crashed, its handler panicked) counts as a failure from then on;
// until then it holds its place under the limit. It must be longer than the
// slowest credential check. Default one minute.
func WithReservationLease(d time.Duration) Option {
	return func(g *Guard) error {
		if d <= 0 {
			return fmt.Errorf("axes: WithReservationLease: %s is not a positive duration", d)
		}
		g.lease = d
		return nil
	}
}

// WithAuditLog sets where logins, logouts and failures are recorded. By
// default the guard uses the store when it implements [AuditLog], and keeps
// no audit log otherwise.
func WithAuditLog(a AuditLog) Option {
	return func(g *Guard) error { g.audit = a; return nil }
}

// Guard decides who may attempt to log in and records the outcome. It is
// safe for concurrent use. Create one with [New] at start-up.
type Guard struct {
	cfg   Config // with defaults
	raw   Config // as given
	store Store
	audit AuditLog
	now   func() time.Time
	log   *slog.Logger
	hooks Hooks
	lease time.Duration           // how long a reservation may stay unsettled
	wired [wiredCount]atomic.Bool // for Check: W002, W003
	rules ruleCache               // operators' allow/deny rules from the store
}

// New returns a guard over store with policy cfg. It validates cfg and
// reports every problem at once.
func New(store Store, cfg Config, opts ...Option) (*Guard, error) {
	if store == nil {
		return nil, errors.New("axes: New: nil store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Guard{
		cfg:   cfg.withDefaults(),
		raw:   cfg,
		store: store,
		now:   time.Now,
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	g.rules.refresh = DefaultRuleRefresh
	g.lease = DefaultReservationLease
	if a, ok := store.(AuditLog); ok {
		g.audit = a
	}
	for _, o := range opts {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Config returns the configuration as given to [New].
func (g *Guard) Config() Config { return g.raw }

// Store returns the guard's store.
func (g *Guard) Store() Store { return g.store }

// Now returns the guard's current time.
func (g *Guard) Now() time.Time { return g.now() }

// Policy returns the lockout rule that applies to id.
func (g *Guard) Policy(id Identity) Policy {
	c := &g.cfg
	p := Policy{RecordOnly: c.RecordOnly, FixedCoolOff: c.FixedCoolOff, Lease: g.lease}
	if len(c.Tiers) > 0 {
		p.Tiers = c.Tiers
		p.Limit = c.Tiers[0].Failures
	} else {
		p.Limit = c.FailureLimit
		if c.FailureLimitFunc != nil {
			p.Limit = c.FailureLimitFunc(id)
		}
		p.Limit = max(p.Limit, 1)
		cool := c.CoolOff
		if c.CoolOffFunc != nil {
			cool = max(c.CoolOffFunc(id), 0)
		}
		p.Tiers = []Tier{{Failures: p.Limit, CoolOff: cool}}
	}
	p.Window = c.FailureWindow
	if p.Window == 0 {
		for _, t := range p.Tiers {
			if t.CoolOff <= 0 {
				p.Window = 0
				break
			}
			p.Window = max(p.Window, t.CoolOff)
		}
	}
	return p
}

func (g *Guard) groups(id Identity) []Group {
	if g.cfg.LockoutParametersFunc != nil {
		if gs := g.cfg.LockoutParametersFunc(id); len(gs) > 0 {
			return gs
		}
	}
	return g.cfg.LockoutParameters
}

// Buckets returns the buckets an attempt by id is counted in.
func (g *Guard) Buckets(id Identity) ([]Bucket, error) {
	id = g.normalize(id)
	return g.buckets(id)
}

func (g *Guard) buckets(id Identity) ([]Bucket, error) {
	groups := g.groups(id)
	for _, gr := range groups {
		if err := validateGroup(gr); err != nil {
			return nil, fmt.Errorf("axes: lockout parameters: %w", err)
		}
		if gr.has(ParamIPAddress) && !id.IP.IsValid() {
			return nil, ErrNoIP
		}
	}
	return bucketsFor(id, GroupIP(id.IP, g.cfg.IPv6Prefix), groups), nil
}

func inPrefixes(ip netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// screen applies the lists and the operators' rules to id, in the order
// every path uses: the deny list and deny rules refuse (nothing counted);
// allow rules, the allow list (with NeverLockoutAllowlist or
// OnlyAllowlist), AllowlistFunc and NeverLockoutGET admit without
// counting; with OnlyAllowlist every other address is refused. It returns
// Undecided when the buckets decide, and a reason for people.
func (g *Guard) screen(ctx context.Context, id Identity, now time.Time) (Verdict, string) {
	c := &g.cfg
	rule := g.ruleFor(ctx, id.IP, now)
	inAllow := inPrefixes(id.IP, c.IPAllowlist)
	switch {
	case inPrefixes(id.IP, c.IPDenylist):
		return Denied, fmt.Sprintf("%s is on the configured deny list (AXES_IP_BLACKLIST)", id.IP)
	case rule == ActionDeny:
		return Denied, fmt.Sprintf("%s matches an operator's deny rule (axes deny list)", id.IP)
	case rule == ActionAllow:
		return Allowed, fmt.Sprintf("%s matches an operator's allow rule: never locked, never counted", id.IP)
	case (c.NeverLockoutAllowlist || c.OnlyAllowlist) && inAllow:
		return Allowed, fmt.Sprintf("%s is on the allow list: never locked, never counted", id.IP)
	case c.OnlyAllowlist:
		return Denied, fmt.Sprintf("%s is not on the allow list, and only the allow list may log in (AXES_ONLY_WHITELIST)", id.IP)
	case c.AllowlistFunc != nil && c.AllowlistFunc(id):
		return Allowed, "AllowlistFunc allows this client: never locked, never counted"
	case c.NeverLockoutGET && id.Method == "GET":
		return Allowed, "GET requests are never locked (AXES_NEVER_LOCKOUT_GET)"
	}
	return Undecided, ""
}

// Ticket is an admitted attempt: it holds a reservation, a place under the
// limit, while the credentials are checked. Settle it with exactly one of
// Fail, Succeed or Release. A ticket that is never settled keeps its place,
// and once its lease lapses ([WithReservationLease]) it counts as a failure,
// so a crash or panic during the check errs on the safe side.
type Ticket struct {
	g        *Guard
	id       Identity
	at       time.Time
	op       *Op // nil when nothing was reserved (disabled, allowlisted)
	settled  atomic.Bool
	disabled bool
}

// Identity returns the normalised identity of the attempt.
func (t *Ticket) Identity() Identity { return t.id }

// Admit decides whether id may attempt to log in, before its credentials are
// checked. It returns a ticket to settle after the check, or a
// *[LockoutError] (ErrLockedOut, ErrDenied) when the client is refused, or
// another error when the store fails. One store operation decides and
// reserves, so no more than FailureLimit checks run for a bucket at once.
func (g *Guard) Admit(ctx context.Context, id Identity) (*Ticket, error) {
	now := g.now()
	if !g.wired[WiredCheck].Load() {
		g.wired[WiredCheck].Store(true)
	}
	if g.cfg.Disabled {
		return &Ticket{g: g, id: id, at: now, disabled: true}, nil
	}
	id = g.normalize(id)
	t := &Ticket{g: g, id: id, at: now}
	v, _ := g.screen(ctx, id, now)
	if v == Denied {
		res := Result{Verdict: Denied, Identity: id, Limit: g.Policy(id).Limit}
		g.log.WarnContext(ctx, "axes: denied client", "ip", id.IP, "username", id.Username)
		g.fire(ctx, g.hooks.LockedOut, res, now)
		return nil, &LockoutError{Result: res}
	}
	if v == Allowed {
		return t, nil
	}
	buckets, err := g.buckets(id)
	if err != nil {
		return nil, err
	}
	if len(buckets) == 0 {
		return t, nil
	}
	op := &Op{Kind: OpAdmit, Now: now, Buckets: buckets, Policy: g.Policy(id)}
	o, err := g.store.Do(ctx, op)
	if err != nil {
		return nil, fmt.Errorf("axes: admit: %w", err)
	}
	if o.Admitted {
		t.op = op
		return t, nil
	}
	if o.Pending {
		// Attempts being verified fill the bucket: refuse this one without
		// counting it; the lock, if any, is decided when they settle.
		res := g.result(Locked, id, &op.Policy, o.Failures, o.Bucket, o.LockedUntil)
		g.log.InfoContext(ctx, "axes: refused while other attempts are verified", "bucket", o.Bucket.Params,
			"ip", id.IP, "username", id.Username)
		return nil, &LockoutError{Result: res}
	}
	res := g.result(Locked, id, &op.Policy, o.Failures, o.Bucket, o.LockedUntil)
	g.logLockout(ctx, res, "refused while locked")
	if o.Counted {
		g.fire(ctx, g.hooks.LoginFailed, res, now)
		g.logFailure(ctx, id, now, true)
	}
	g.fire(ctx, g.hooks.LockedOut, res, now)
	return nil, &LockoutError{Result: res}
}

func (g *Guard) result(v Verdict, id Identity, p *Policy, failures int, b Bucket, until time.Time) Result {
	res := Result{Verdict: v, Identity: id, Failures: failures, Limit: p.Limit, Bucket: b, LockedUntil: until}
	if failures >= p.Limit {
		res.CoolOff = p.CoolOff(failures)
	}
	return res
}

// Fail settles the attempt as failed: its reserved failure stays counted.
// The result is Locked when this failure reached the limit (the failure that
// locks is itself answered with the lockout response, as in django-axes),
// and Invalid otherwise.
func (t *Ticket) Fail(ctx context.Context) (Result, error) {
	if !t.settled.CompareAndSwap(false, true) {
		return Result{}, ErrSettled
	}
	g := t.g
	if t.disabled || t.op == nil {
		return Result{Verdict: Invalid, Identity: t.id}, nil
	}
	now := g.now()
	op := &Op{Kind: OpFail, Now: now, Buckets: t.op.Buckets, Policy: t.op.Policy, Admitted: t.op.Now}
	o, err := g.store.Do(ctx, op)
	if err != nil {
		// The reservation stays and lapses into a failure after the lease.
		return Result{Verdict: Invalid, Identity: t.id, Limit: op.Policy.Limit}, fmt.Errorf("axes: settle failure: %w", err)
	}
	res := g.result(Invalid, t.id, &op.Policy, o.Failures, o.Bucket, time.Time{})
	if o.Locked {
		res = g.result(Locked, t.id, &op.Policy, o.Failures, o.Bucket, o.LockedUntil)
	}
	g.fire(ctx, g.hooks.LoginFailed, res, t.at)
	g.logFailure(ctx, t.id, t.at, res.Verdict == Locked)
	if res.Verdict == Locked {
		g.logLockout(ctx, res, "failure limit reached")
		g.fire(ctx, g.hooks.LockedOut, res, t.at)
	}
	return res, nil
}

// Succeed settles the attempt as a successful login: the reservation is
// given back (or, with ResetOnSuccess, the user's failures are cleared) and
// the login is recorded in the audit log.
func (t *Ticket) Succeed(ctx context.Context) (Result, error) {
	return t.SucceedSession(ctx, "")
}

// SucceedSession is [Ticket.Succeed] for applications with sessions: the
// audit entry carries a hash of sessionID, so that [Guard.Logout] closes the
// entry of this session only. The session identifier itself is not stored.
func (t *Ticket) SucceedSession(ctx context.Context, sessionID string) (Result, error) {
	if !t.settled.CompareAndSwap(false, true) {
		return Result{}, ErrSettled
	}
	g := t.g
	res := Result{Verdict: Allowed, Identity: t.id}
	if t.disabled {
		return res, nil
	}
	var storeErr error
	if t.op != nil {
		kind := OpRelease
		if g.cfg.ResetOnSuccess {
			kind = OpResetUser
		}
		op := &Op{Kind: kind, Now: g.now(), Buckets: t.op.Buckets, Policy: t.op.Policy, Admitted: t.op.Now}
		o, err := g.store.Do(ctx, op)
		if err != nil {
			storeErr = fmt.Errorf("axes: settle success: %w", err)
			g.log.ErrorContext(ctx, "axes: could not give back a reservation", "err", err)
		}
		res.Failures, res.Bucket, res.Limit = o.Failures, o.Bucket, op.Policy.Limit
	}
	if g.audit != nil && !g.cfg.DisableAccessLog {
		e := AccessEntry{Time: t.at, Username: t.id.Username, IP: ipString(t.id.IP), UserAgent: t.id.UserAgent, Path: t.id.Path, SessionHash: SessionHash(sessionID)}
		if err := g.audit.LogLogin(ctx, e); err != nil {
			g.log.ErrorContext(ctx, "axes: could not record a login", "err", err)
		}
	}
	g.fire(ctx, g.hooks.LoggedIn, res, t.at)
	return res, storeErr
}

// Release gives the reservation back without a verdict: use it when the
// credentials could not be checked at all (the user database was down).
func (t *Ticket) Release(ctx context.Context) error {
	if !t.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	if t.disabled || t.op == nil {
		return nil
	}
	g := t.g
	op := &Op{Kind: OpRelease, Now: g.now(), Buckets: t.op.Buckets, Policy: t.op.Policy, Admitted: t.op.Now}
	if _, err := g.store.Do(ctx, op); err != nil {
		return fmt.Errorf("axes: release: %w", err)
	}
	return nil
}

// Authenticate runs check, the application's credential check, under the
// guard: a locked-out or denied client is refused before check runs (the
// counterpart of django-axes' AxesBackend). check returns true for right
// credentials and false for wrong ones; an error from check means the
// credentials could not be checked, gives the reservation back and is
// returned with the verdict Undecided. Lockouts are not errors: the verdict
// says Locked or Denied.
func (g *Guard) Authenticate(ctx context.Context, id Identity, check func(context.Context) (bool, error)) (Result, error) {
	t, err := g.Admit(ctx, id)
	if err != nil {
		var le *LockoutError
		if errors.As(err, &le) {
			return le.Result, nil
		}
		return Result{Verdict: Undecided, Identity: id}, err
	}
	ok, err := check(ctx)
	if err != nil {
		if rerr := t.Release(ctx); rerr != nil {
			g.log.ErrorContext(ctx, "axes: could not give back a reservation", "err", rerr)
		}
		return Result{Verdict: Undecided, Identity: t.id}, err
	}
	if ok {
		return t.Succeed(ctx)
	}
	return t.Fail(ctx)
}

// Status reports the lock state of id without counting anything.
func (g *Guard) Status(ctx context.Context, id Identity) (Result, error) {
	now := g.now()
	id = g.normalize(id)
	if g.cfg.Disabled {
		return Result{Verdict: Allowed, Identity: id}, nil
	}
	v, _ := g.screen(ctx, id, now)
	if v == Denied {
		return Result{Verdict: Denied, Identity: id}, nil
	}
	p := g.Policy(id)
	if v == Allowed {
		return Result{Verdict: Allowed, Identity: id, Limit: p.Limit}, nil
	}
	buckets, err := g.buckets(id)
	if err != nil || len(buckets) == 0 {
		return Result{Verdict: Allowed, Identity: id, Limit: p.Limit}, err
	}
	o, err := g.store.Do(ctx, &Op{Kind: OpPeek, Now: now, Buckets: buckets, Policy: p})
	if err != nil {
		return Result{}, fmt.Errorf("axes: status: %w", err)
	}
	v = Allowed
	if o.Locked {
		v = Locked
	}
	return g.result(v, id, &p, o.Failures, o.Bucket, o.LockedUntil), nil
}

// Logout records a logout in the audit log: the open login entries of the
// user with the same session are closed.
func (g *Guard) Logout(ctx context.Context, id Identity, sessionID string) error {
	if g.cfg.Disabled {
		return nil
	}
	now := g.now()
	id = g.normalize(id)
	if g.audit != nil && !g.cfg.DisableAccessLog && id.Username != "" {
		if _, err := g.audit.LogLogout(ctx, id.Username, SessionHash(sessionID), now); err != nil {
			return fmt.Errorf("axes: logout: %w", err)
		}
	}
	g.fire(ctx, g.hooks.LoggedOut, Result{Verdict: Allowed, Identity: id}, now)
	return nil
}

// Reset removes the records matching f (an IP address or prefix, a username,
// or both; an empty filter removes all) and returns how many lockout records
// it removed. The username is normalised as the guard normalises it. The
// store must implement [Deleter].
func (g *Guard) Reset(ctx context.Context, f Filter) (int, error) {
	d, ok := g.store.(Deleter)
	if !ok {
		return 0, fmt.Errorf("axes: reset: the store cannot delete by filter: %w", ErrUnsupported)
	}
	if f.Username != "" {
		f.Username = Truncate(g.cfg.NormalizeUsername(f.Username), MaxFieldLength)
	}
	if f.Now.IsZero() {
		f.Now = g.now()
	}
	if f.IP != "" {
		if ip, err := netip.ParseAddr(f.IP); err == nil {
			f.IP = GroupIP(ip, g.cfg.IPv6Prefix)
		}
	}
	return d.Delete(ctx, f)
}

// SessionHash returns the hex SHA-256 of a session identifier, or "" for "".
func SessionHash(sessionID string) string {
	if sessionID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(sessionID))
	return hex.EncodeToString(sum[:])
}

func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

func (g *Guard) fire(ctx context.Context, hook func(context.Context, Event), res Result, at time.Time) {
	if hook == nil {
		return
	}
	hook(ctx, Event{
		Identity: res.Identity, Time: at, Failures: res.Failures, Limit: res.Limit,
		LockedUntil: res.LockedUntil, Bucket: res.Bucket, Verdict: res.Verdict,
	})
}

func (g *Guard) logFailure(ctx context.Context, id Identity, at time.Time, locked bool) {
	if g.audit == nil || !g.cfg.EnableAccessFailureLog {
		return
	}
	e := FailureEntry{Time: at, Username: id.Username, IP: ipString(id.IP), UserAgent: id.UserAgent, Path: id.Path, LockedOut: locked}
	if err := g.audit.LogFailure(ctx, e, g.cfg.AccessFailureLogPerUserLimit); err != nil {
		g.log.ErrorContext(ctx, "axes: could not record a failure", "err", err)
	}
}

func (g *Guard) logLockout(ctx context.Context, res Result, why string) {
	until := "reset"
	if !res.LockedUntil.IsZero() {
		until = res.LockedUntil.UTC().Format(time.RFC3339)
	}
	g.log.WarnContext(ctx, "axes: locked out", "reason", why, "bucket", res.Bucket.Params,
		"ip", res.Identity.IP, "username", res.Identity.Username,
		"failures", res.Failures, "limit", res.Limit, "until", until)
}
