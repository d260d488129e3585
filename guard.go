package axes

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/goaxes/axes/internal/norm"
	"github.com/goaxes/axes/internal/wire"
	"github.com/goaxes/axes/storage"
)

// Errors returned by the guard. Lockouts come as a *[LockoutError], which
// matches ErrLockedOut (and ErrDenied for the deny list) with [errors.Is].
var (
	ErrLockedOut = errors.New("axes: locked out")
	ErrDenied    = errors.New("axes: client denied")
	ErrSettled   = errors.New("axes: ticket already settled")
	ErrNoIP      = errors.New("axes: the identity has no IP address, but a lockout parameter group needs one")
	// ErrInvalidUsername is returned by [Guard.Admit] and
	// [Guard.Authenticate] (before check runs; not when the guard is
	// disabled) for a username that
	// contains NUL: a user store written in C may cut the name there, so
	// that "alice\x00x" would be checked as alice but counted apart.
	// Invalid UTF-8 is not refused: it is replaced with U+FFFD before
	// keying (httpaxes refuses both with 400 at the edge).
	ErrInvalidUsername = errors.New("axes: the username contains a NUL character")
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
	Bucket storage.Bucket
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
	Bucket      storage.Bucket
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
// unsettled. A ticket that is neither failed nor released (its process
// crashed, its handler panicked) holds its place until it lapses, at a time
// between d and 2·d after its admission, and then counts as a failure. d
// must be longer than the slowest credential check, and the same in every
// process that shares a store. Default one minute.
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
// default the guard uses the store (or a store it wraps) when it implements
// [storage.AuditLog], and keeps no audit log otherwise.
func WithAuditLog(a storage.AuditLog) Option {
	return func(g *Guard) error { g.audit = a; return nil }
}

// Guard decides who may attempt to log in and records the outcome. It is
// safe for concurrent use. Create one with [New] at start-up.
type Guard struct {
	cfg   Config // with defaults
	raw   Config // as given
	store storage.Store
	audit storage.AuditLog
	now   func() time.Time
	log   *slog.Logger
	hooks Hooks
	lease time.Duration           // how long a reservation may stay unsettled
	fixed *storage.Policy         // the policy of every identity, when no function varies it
	wired [wire.Parts]atomic.Bool // for Check: W002, W003
	rules ruleCache               // operators' allow/deny rules from the store
	waits waitroom                // attempts waiting for a place, by bucket
	check checkTimer              // how long credential checks take
	quiet quietLog                // what was logged lately, per bucket or store
	locks lockMemo                // buckets that answered locked lately
}

// New returns a guard over store with policy cfg. It validates cfg and
// reports every problem at once.
func New(store storage.Store, cfg Config, opts ...Option) (*Guard, error) {
	if store == nil {
		return nil, errors.New("axes: New: nil store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Guard{
		cfg:   cfg.withDefaults(),
		raw:   cfg.clone(),
		store: store,
		now:   time.Now,
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	g.rules.refresh = DefaultRuleRefresh
	g.lease = DefaultReservationLease
	if a, ok := storage.Find[storage.AuditLog](store); ok {
		g.audit = a
	}
	for _, o := range opts {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	if g.cfg.FailureLimitFunc == nil && g.cfg.CoolOffFunc == nil {
		p := g.resolve(Identity{})
		g.fixed = &p
	}
	return g, nil
}

// Config returns the configuration as given to [New] (a copy: changing
// its slices changes nothing in the guard).
func (g *Guard) Config() Config { return g.raw.clone() }

// Now returns the guard's current time.
func (g *Guard) Now() time.Time { return g.now() }

// Policy returns the lockout rule that applies to id, as the steps of its
// buckets carry it.
func (g *Guard) Policy(id Identity) storage.Policy { return g.policy(g.normalize(id)) }

// policy resolves the rule for a normalised identity. Without functions
// in the configuration it is the same for everyone, and resolved once.
func (g *Guard) policy(id Identity) storage.Policy {
	if g.fixed != nil {
		return *g.fixed
	}
	return g.resolve(id)
}

func (g *Guard) resolve(id Identity) storage.Policy {
	c := &g.cfg
	p := storage.Policy{RecordOnly: c.RecordOnly, FixedCoolOff: c.FixedCoolOff, Lease: storage.Duration(g.lease)}
	tiers := c.Tiers
	if len(tiers) == 0 {
		limit := c.FailureLimit
		if c.FailureLimitFunc != nil {
			limit = c.FailureLimitFunc(id)
		}
		cool := c.CoolOff
		if c.CoolOffFunc != nil {
			cool = max(c.CoolOffFunc(id), 0)
		}
		tiers = []Tier{{Failures: max(limit, 1), CoolOff: cool}}
	}
	p.Limit = tiers[0].Failures
	p.Tiers = make([]storage.Tier, len(tiers))
	for i, t := range tiers {
		p.Tiers[i] = storage.Tier{Failures: t.Failures, CoolOff: storage.Duration(t.CoolOff)}
	}
	p.Window = storage.Duration(c.FailureWindow)
	if c.FailureWindow == 0 {
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
func (g *Guard) Buckets(id Identity) ([]storage.Bucket, error) {
	a, err := g.attempt(g.normalize(id))
	if err != nil {
		return nil, err
	}
	return a.buckets, nil
}

// attempt returns the buckets and the policy of a normalised identity.
func (g *Guard) attempt(id Identity) (*attempt, error) {
	groups := g.groups(id)
	for _, gr := range groups {
		if err := validateGroup(gr); err != nil {
			return nil, fmt.Errorf("axes: lockout parameters: %w", err)
		}
		if gr.has(ParamIPAddress) && !id.IP.IsValid() {
			return nil, ErrNoIP
		}
	}
	a := &attempt{buckets: bucketsFor(id, norm.GroupIP(id.IP, g.cfg.IPv6Prefix), groups), policy: g.policy(id)}
	a.users = make([]string, len(a.buckets))
	for i, b := range a.buckets {
		if b.Username == "" {
			a.users[i] = id.Username
		}
	}
	return a, nil
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
	case rule == storage.ActionDeny:
		return Denied, fmt.Sprintf("%s matches an operator's deny rule (axes deny list)", id.IP)
	case rule == storage.ActionAllow:
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
	p := g.policy(id)
	if v == Allowed {
		return Result{Verdict: Allowed, Identity: id, Limit: p.Limit}, nil
	}
	a, err := g.attempt(id)
	if err != nil || len(a.buckets) == 0 {
		return Result{Verdict: Allowed, Identity: id, Limit: p.Limit}, err
	}
	ans, err := g.bounded(ctx, a.ops(storage.Peek, storage.Micros(now), nil))
	if err != nil {
		return Result{}, fmt.Errorf("axes: status: %w", err)
	}
	s := summarise(a.buckets, ans)
	v = Allowed
	if s.locked {
		v = Locked
	}
	return g.resultOf(v, id, &p, s), nil
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
		actx, cancel := g.deadline(ctx)
		_, err := g.audit.LogLogout(actx, id.Username, sessionHash(sessionID), now)
		cancel()
		if err != nil {
			return fmt.Errorf("axes: logout: %w", err)
		}
	}
	g.fire(ctx, g.hooks.LoggedOut, Result{Verdict: Allowed, Identity: id}, now)
	return nil
}

// Filter selects buckets for [Guard.Reset] and [Guard.List]. Empty fields
// match everything; set fields are joined with AND.
type Filter struct {
	// IP is an address (an IPv6 address is taken as its group prefix, see
	// Config.IPv6Prefix) or a group prefix such as 2001:db8::/64.
	IP string
	// Username is normalised as the guard normalises usernames.
	Username string
	// LockedOnly keeps the buckets locked now, under the guard's policy.
	LockedOnly bool
}

// storeFilter returns f in the store's terms.
func (g *Guard) storeFilter(f Filter) storage.Filter {
	sf := storage.Filter{IP: f.IP, Username: f.Username}
	if sf.Username != "" {
		sf.Username = norm.Truncate(g.cfg.NormalizeUsername(sf.Username), norm.MaxFieldLength)
	}
	if ip, err := netip.ParseAddr(sf.IP); err == nil {
		sf.IP = norm.GroupIP(ip, g.cfg.IPv6Prefix)
	}
	return sf
}

// lister returns the store's Lister, or an error that says it has none.
func (g *Guard) lister(what string) (storage.Lister, error) {
	l, ok := storage.Find[storage.Lister](g.store)
	if !ok {
		return nil, fmt.Errorf("axes: %s: the store cannot list its buckets: %w", what, errors.ErrUnsupported)
	}
	return l, nil
}

// bucketPolicy returns the policy of the identity a bucket was made from.
func (g *Guard) bucketPolicy(b storage.Bucket) storage.Policy {
	id := Identity{Username: b.Username, UserAgent: b.UserAgent}
	if ip, err := netip.ParseAddr(b.IP); err == nil {
		id.IP = ip
	} else if p, err := netip.ParsePrefix(b.IP); err == nil {
		id.IP = p.Addr()
	}
	return g.policy(id)
}

// List returns the state of the buckets that f matches at the guard's time,
// judged by the guard's policy, newest failure first (ties by key). Buckets
// that hold nothing at that time are left out. The store must implement
// [storage.Lister].
func (g *Guard) List(ctx context.Context, f Filter) ([]BucketState, error) {
	l, err := g.lister("list")
	if err != nil {
		return nil, err
	}
	now := storage.Micros(g.now())
	entries, err := l.List(ctx, g.storeFilter(f))
	if err != nil {
		return nil, fmt.Errorf("axes: list: %w", err)
	}
	var out []BucketState
	for _, e := range entries {
		p := g.bucketPolicy(e.Bucket)
		st, a := storage.Apply(&storage.Step{Kind: storage.Peek, Now: now, Policy: p}, e.State)
		if st.Empty() || (f.LockedOnly && !a.Locked) {
			continue
		}
		out = append(out, bucketState(e.Bucket, &p, a))
	}
	slices.SortFunc(out, func(a, b BucketState) int {
		return cmp.Or(b.LastFailure.Compare(a.LastFailure), cmp.Compare(a.Bucket.Key, b.Bucket.Key))
	})
	return out, nil
}

// Reset forgets the failures that f selects (an IP address or prefix, a
// username, or both; an empty filter selects every bucket) and returns how
// many buckets it reduced. A bucket of the username (or of the address) is
// cleared; from a bucket without a username, such as the address's own,
// only the failures the username caused there are taken off, so that
// resetting a user forgets what that user did from an address, as
// django-axes' axes_reset_username does. Checks in flight keep their
// places and count when they settle. The store must implement
// [storage.Lister].
func (g *Guard) Reset(ctx context.Context, f Filter) (int, error) {
	l, err := g.lister("reset")
	if err != nil {
		return 0, err
	}
	now := storage.Micros(g.now())
	sf := g.storeFilter(f)
	entries, err := l.List(ctx, sf)
	if err != nil {
		return 0, fmt.Errorf("axes: reset: %w", err)
	}
	var ops []storage.Op
	for _, e := range entries {
		p := g.bucketPolicy(e.Bucket)
		if f.LockedOnly {
			if _, a := storage.Apply(&storage.Step{Kind: storage.Peek, Now: now, Policy: p}, e.State); !a.Locked {
				continue
			}
		}
		ops = append(ops, storage.Op{Bucket: e.Bucket, Step: storage.Step{Kind: storage.Clear, Now: now, Policy: p}})
	}
	if sf.Username != "" && !f.LockedOnly {
		shared, err := l.List(ctx, storage.Filter{IP: sf.IP, ShareOf: sf.Username})
		if err != nil {
			return 0, fmt.Errorf("axes: reset: %w", err)
		}
		for _, e := range shared {
			if e.Bucket.Username == "" && e.State.Share(sf.Username) > 0 {
				ops = append(ops, storage.Op{Bucket: e.Bucket, Step: storage.Step{Kind: storage.Take, Now: now, Policy: g.bucketPolicy(e.Bucket), User: sf.Username}})
			}
		}
	}
	if len(ops) == 0 {
		return 0, nil
	}
	ans, err := g.do(ctx, ops)
	g.locks.mu.Lock()
	for _, op := range ops {
		delete(g.locks.until, op.Bucket.Key) // this process asks again
	}
	g.locks.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("axes: reset: %w", err)
	}
	n := 0
	for _, a := range ans {
		if a.Taken > 0 {
			n++
		}
	}
	return n, nil
}

// sessionHash returns the hex SHA-256 of a session identifier, or "" for "".
func sessionHash(sessionID string) string {
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
	e := storage.FailureEntry{Time: at, Username: id.Username, IP: ipString(id.IP), UserAgent: id.UserAgent, Path: id.Path, LockedOut: locked}
	actx, cancel := g.deadline(ctx)
	defer cancel()
	if err := g.audit.LogFailure(actx, e, g.cfg.AccessFailureLogPerUserLimit); err != nil {
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
