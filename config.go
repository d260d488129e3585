package axes

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/goaxes/axes/internal/setting"
)

// Param is one lockout parameter: a property of the client that failures are
// counted by.
type Param string

// The lockout parameters, named as in django-axes.
const (
	ParamIPAddress Param = "ip_address"
	ParamUsername  Param = "username"
	ParamUserAgent Param = "user_agent"
)

// Group is a combination of lockout parameters that are counted together:
// [ParamUsername, ParamIPAddress] counts failures per (username, IP) pair.
type Group []Param

// String returns the group as the parameters joined by "+".
func (g Group) String() string {
	parts := make([]string, len(g))
	for i, p := range g {
		parts[i] = string(p)
	}
	return strings.Join(parts, "+")
}

func (g Group) has(p Param) bool { return slices.Contains(g, p) }

// The defaults of the settings that django-axes does not have.
const (
	defaultMaxWait      = 3 * time.Second
	defaultMaxWaiters   = 100
	defaultStoreTimeout = 2 * time.Second
)

// Default values, equal to django-axes 8.
const (
	DefaultFailureLimit                 = 3
	DefaultIPv6Prefix                   = 64
	DefaultAccessFailureLogPerUserLimit = 1000
)

// Tier is one step of a progressive lockout: from Failures failures on, a
// locked bucket stays locked for CoolOff after its last failure. A zero
// CoolOff locks until reset.
type Tier struct {
	Failures int           `json:"failures"`
	CoolOff  time.Duration `json:"cooloff"`
}

// Config is the lockout policy: who is counted, when a client is locked,
// and what the audit log keeps. How a request is read and a lockout is
// answered over HTTP is configured on the middleware (httpaxes.Config).
// The zero value of every field means the
// django-axes 8 default, so Config{} is a working configuration: three
// failures per IP address lock it until reset. Fields whose django-axes
// default is true are inverted here (Disabled, RecordOnly, FixedCoolOff), so
// that a zero value can never switch protection off by accident.
//
// The Func fields take precedence over their plain counterparts; they cannot
// be set from a file or the environment. A Guard copies the Config when it is
// created: later changes have no effect on it.
type Config struct {
	// Disabled turns the guard into a no-op that admits everything and
	// records nothing (AXES_ENABLED=False). Default false.
	Disabled bool

	// FailureLimit is the number of failures that locks a bucket
	// (AXES_FAILURE_LIMIT). Default 3. With Tiers it is ignored: the
	// smallest tier's Failures is the limit.
	FailureLimit int
	// FailureLimitFunc, if set, returns the limit for an identity.
	FailureLimitFunc func(Identity) int

	// CoolOff is how long a bucket stays locked after its last failure
	// (AXES_COOLOFF_TIME). Zero, the default, locks until reset.
	CoolOff time.Duration
	// CoolOffFunc, if set, returns the cool-off for an identity.
	CoolOffFunc func(Identity) time.Duration

	// FailureWindow is how long after its last failure a bucket's count is
	// forgotten (never before its lock ends). Default: the cool-off; with
	// Tiers, the longest tier cool-off; never when any lock is permanent.
	FailureWindow time.Duration

	// Tiers turns on progressive lockout (AXES_LOCKOUT_TIERS): a bucket
	// locked with at least Tiers[i].Failures failures stays locked for
	// Tiers[i].CoolOff. The count outlives a lock, so a client that keeps
	// failing reaches the longer tiers. CoolOff is ignored when Tiers is set.
	Tiers []Tier

	// LockoutParameters lists the groups that failures are counted by
	// (AXES_LOCKOUT_PARAMETERS). A client is locked when any group is (OR);
	// the parameters within a group are combined (AND). Default
	// [[ip_address]]. A group that includes username is skipped for an
	// attempt without a username.
	LockoutParameters []Group
	// LockoutParametersFunc, if set, returns the groups for an identity.
	LockoutParametersFunc func(Identity) []Group

	// RecordOnly counts failures but never locks anyone
	// (AXES_LOCK_OUT_AT_FAILURE=False). The deny list still applies.
	RecordOnly bool
	// ResetOnSuccess makes a successful login clear the failures of the
	// user's own buckets (AXES_RESET_ON_SUCCESS). Buckets without the
	// username (IP only) lose only the failures this username caused there.
	// Only a username given in its normal form resets: a success of
	// "ALICE" or "alıce", which normalise to "alice" but which the
	// application's user store may take for other accounts, gives its
	// places back and resets nothing, so that no account can clear
	// another's failures.
	ResetOnSuccess bool
	// FixedCoolOff refuses attempts made while locked without counting them,
	// so a lock ends a fixed cool-off after the failure that caused it
	// (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT=False). Default false:
	// attempts during a lockout count and extend it.
	FixedCoolOff bool

	// MaxWait is how long an attempt waits for a place when every place
	// left under the limit of a bucket is held by checks in flight (users
	// behind one NAT address logging in at once), before it is refused
	// (AXES_MAX_WAIT). Default (0) 3s; a negative value refuses at once.
	// Waiting never lets more than the limit of checks run for a bucket.
	MaxWait time.Duration
	// MaxWaiters is how many attempts of one process may wait for a place
	// in one bucket; more are refused at once (AXES_MAX_WAITERS). Default
	// (0) 100.
	MaxWaiters int
	// StoreTimeout bounds every store call made for an attempt, on top of
	// the request's context (AXES_STORE_TIMEOUT). Default (0) 2s; a
	// negative value leaves only the request's context.
	StoreTimeout time.Duration
	// FailOpen lets attempts through to the credential check when the
	// store fails or times out, instead of refusing them (AXES_FAIL_OPEN).
	// Default false (fail closed: the login is refused, with 503 from
	// httpaxes). A failure settled while the store is down is counted once
	// it answers again, where possible; nothing limits guessing meanwhile.
	FailOpen bool

	// IPAllowlist lists addresses and prefixes (AXES_IP_WHITELIST). It has
	// an effect only with NeverLockoutAllowlist or OnlyAllowlist.
	IPAllowlist []netip.Prefix
	// IPDenylist lists addresses and prefixes that are always refused,
	// without counting (AXES_IP_BLACKLIST). It wins over the allow list.
	IPDenylist []netip.Prefix
	// NeverLockoutAllowlist makes IPAllowlist addresses never locked and
	// never counted (AXES_NEVER_LOCKOUT_WHITELIST).
	NeverLockoutAllowlist bool
	// OnlyAllowlist refuses every address not in IPAllowlist
	// (AXES_ONLY_WHITELIST).
	OnlyAllowlist bool
	// NeverLockoutGET never locks or counts GET requests
	// (AXES_NEVER_LOCKOUT_GET).
	NeverLockoutGET bool
	// AllowlistFunc, if set, returns true for identities that are never
	// locked and never counted (AXES_WHITELIST_CALLABLE).
	AllowlistFunc func(Identity) bool

	// NormalizeUsername maps a submitted username to the one that is keyed
	// and stored. Default [FoldUsername]: trim white space and fold case;
	// [FoldUsernameStrict] also drops invisible characters and folds
	// fullwidth ASCII. It must match how the user store compares names (a
	// case-sensitive user table must not fold case). It runs after invalid
	// UTF-8 is replaced with U+FFFD and before the username is cut to 255
	// bytes.
	NormalizeUsername func(string) string

	// IPv6Prefix is the prefix length IPv6 clients are grouped by, since one
	// client usually holds a whole /64. 128 turns grouping off. Default 64.
	IPv6Prefix int
	// DisableAccessLog stops recording successful logins and logouts
	// (AXES_DISABLE_ACCESS_LOG).
	DisableAccessLog bool
	// EnableAccessFailureLog records every failed attempt in the audit log
	// (AXES_ENABLE_ACCESS_FAILURE_LOG).
	EnableAccessFailureLog bool
	// AccessFailureLogPerUserLimit caps the failure entries kept per
	// username; the oldest go first (AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT).
	// Default 1000.
	AccessFailureLogPerUserLimit int

	// SilencedChecks lists check codes (such as "axes.W006") that
	// [Config.Check] leaves out.
	SilencedChecks []string
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c = c.clone()
	if c.FailureLimit == 0 {
		c.FailureLimit = DefaultFailureLimit
	}
	if len(c.LockoutParameters) == 0 {
		c.LockoutParameters = []Group{{ParamIPAddress}}
	}
	if c.NormalizeUsername == nil {
		c.NormalizeUsername = FoldUsername
	}
	if c.IPv6Prefix == 0 {
		c.IPv6Prefix = DefaultIPv6Prefix
	}
	if c.MaxWait == 0 {
		c.MaxWait = defaultMaxWait
	}
	if c.MaxWaiters == 0 {
		c.MaxWaiters = defaultMaxWaiters
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = defaultStoreTimeout
	}
	if c.AccessFailureLogPerUserLimit == 0 {
		c.AccessFailureLogPerUserLimit = DefaultAccessFailureLogPerUserLimit
	}
	c.IPAllowlist = setting.FoldPrefixes(c.IPAllowlist)
	c.IPDenylist = setting.FoldPrefixes(c.IPDenylist)
	if len(c.Tiers) > 0 {
		c.Tiers = slices.Clone(c.Tiers)
		slices.SortStableFunc(c.Tiers, func(a, b Tier) int { return a.Failures - b.Failures })
	}
	return c
}

// clone returns c with slices of its own, so that a caller who changes
// the slices it passed in changes nothing in a guard.
func (c Config) clone() Config {
	c.Tiers = slices.Clone(c.Tiers)
	c.LockoutParameters = slices.Clone(c.LockoutParameters)
	for i, g := range c.LockoutParameters {
		c.LockoutParameters[i] = slices.Clone(g)
	}
	c.IPAllowlist = slices.Clone(c.IPAllowlist)
	c.IPDenylist = slices.Clone(c.IPDenylist)
	c.SilencedChecks = slices.Clone(c.SilencedChecks)
	return c
}

// Effective returns the configuration with every default filled in, as the
// guard uses it.
func (c Config) Effective() Config { return c.withDefaults() }

// hasCoolOff reports whether locks expire: a cool-off, a cool-off function
// or tiers are configured.
func (c Config) hasCoolOff() bool {
	return c.CoolOff > 0 || c.CoolOffFunc != nil || len(c.Tiers) > 0
}

// ConfigError is one problem with a configuration.
type ConfigError struct {
	Field   string // the Config field
	Env     string // its environment variable, if it has one
	Problem string
}

// Error names the field, its variable and the problem.
func (e *ConfigError) Error() string {
	if e.Env != "" {
		return fmt.Sprintf("axes: %s (%s): %s", e.Field, e.Env, e.Problem)
	}
	return fmt.Sprintf("axes: %s: %s", e.Field, e.Problem)
}

// Validate reports every problem with c at once, as errors joined with
// [errors.Join]; each is a *[ConfigError]. It returns nil for a usable
// configuration.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, env, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Env: env, Problem: fmt.Sprintf(format, args...)})
	}
	if c.FailureLimit < 0 {
		bad("FailureLimit", "AXES_FAILURE_LIMIT", "must be at least 1, got %d", c.FailureLimit)
	}
	if c.CoolOff < 0 {
		bad("CoolOff", "AXES_COOLOFF_TIME", "must not be negative, got %s", c.CoolOff)
	}
	if c.FailureWindow < 0 {
		bad("FailureWindow", "AXES_FAILURE_WINDOW", "must not be negative, got %s", c.FailureWindow)
	}
	if c.MaxWaiters < 0 {
		bad("MaxWaiters", "AXES_MAX_WAITERS", "must not be negative, got %d", c.MaxWaiters)
	}
	seen := map[int]bool{}
	for i, t := range c.Tiers {
		if t.Failures < 1 {
			bad("Tiers", "AXES_LOCKOUT_TIERS", "tier %d: failures must be at least 1, got %d", i+1, t.Failures)
		}
		if t.CoolOff < 0 {
			bad("Tiers", "AXES_LOCKOUT_TIERS", "tier %d: cool-off must not be negative, got %s", i+1, t.CoolOff)
		}
		if seen[t.Failures] {
			bad("Tiers", "AXES_LOCKOUT_TIERS", "tier %d: two tiers start at %d failures", i+1, t.Failures)
		}
		seen[t.Failures] = true
	}
	for i, g := range c.LockoutParameters {
		if err := validateGroup(g); err != nil {
			bad("LockoutParameters", "AXES_LOCKOUT_PARAMETERS", "group %d: %v", i+1, err)
		}
	}
	if c.IPv6Prefix != 0 && (c.IPv6Prefix < 1 || c.IPv6Prefix > 128) {
		bad("IPv6Prefix", "AXES_IPV6_PREFIX", "must be between 1 and 128, got %d", c.IPv6Prefix)
	}
	for _, p := range c.IPAllowlist {
		if !p.IsValid() {
			bad("IPAllowlist", "AXES_IP_WHITELIST", "contains an invalid prefix")
		}
	}
	for _, p := range c.IPDenylist {
		if !p.IsValid() {
			bad("IPDenylist", "AXES_IP_BLACKLIST", "contains an invalid prefix")
		}
	}
	if c.OnlyAllowlist && len(c.IPAllowlist) == 0 {
		bad("OnlyAllowlist", "AXES_ONLY_WHITELIST", "refuses every client because IPAllowlist is empty")
	}
	if c.AccessFailureLogPerUserLimit < 0 {
		bad("AccessFailureLogPerUserLimit", "AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT", "must not be negative, got %d", c.AccessFailureLogPerUserLimit)
	}
	return errors.Join(errs...)
}

func validateGroup(g Group) error {
	if len(g) == 0 {
		return errors.New("is empty")
	}
	seen := map[Param]bool{}
	for _, p := range g {
		switch p {
		case ParamIPAddress, ParamUsername, ParamUserAgent:
		default:
			return fmt.Errorf("%q is not a lockout parameter; allowed: ip_address, username, user_agent", string(p))
		}
		if seen[p] {
			return fmt.Errorf("%q appears twice", string(p))
		}
		seen[p] = true
	}
	return nil
}
