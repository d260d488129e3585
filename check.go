package axes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Level is how serious a [Finding] is.
type Level int

// The levels of findings. Errors make `axes check` exit non-zero; warnings
// do so with --strict.
const (
	LevelInfo Level = iota
	LevelWarning
	LevelError
)

// String returns the level's name: info, warning or error.
func (l Level) String() string {
	switch l {
	case LevelInfo:
		return "info"
	case LevelWarning:
		return "warning"
	case LevelError:
		return "error"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// MarshalText writes the level as its name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Finding is one result of a configuration check, the counterpart of a
// Django system-check message: axes.W006 and friends.
type Finding struct {
	Code    string `json:"code"`
	Level   Level  `json:"level"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// String formats the finding as Django prints a system-check message.
func (f Finding) String() string {
	s := fmt.Sprintf("%s (%s): %s", f.Code, f.Level, f.Message)
	if f.Hint != "" {
		s += "\n\tHINT: " + f.Hint
	}
	return s
}

// The check codes. W001-W008 keep the meaning django-axes gives them, as far
// as it carries over to Go; W1xx and E1xx are ours.
const (
	CheckProcessLocalStore  = "axes.W001" // a per-process store where a shared one may be needed
	CheckResponseNotWired   = "axes.W002" // no lockout response is rendered
	CheckCheckNotWrapped    = "axes.W003" // the credential check is not guarded
	CheckDeprecatedSetting  = "axes.W004" // a deprecated setting is used
	CheckInvalidValue       = "axes.W005" // a setting has an invalid value
	CheckNoIPParameter      = "axes.W006" // no lockout group includes ip_address
	CheckTiersWithCoolOff   = "axes.W007" // tiers and a cool-off are both set
	CheckTiersInvalid       = "axes.W008" // tiers are not usable
	CheckProxiesTrustAll    = "axes.W101" // trusted proxies cover every address
	CheckHeaderWithoutProxy = "axes.W102" // a forwarding header but no trusted proxy
	CheckCoolOffBelowWindow = "axes.W103" // the cool-off is shorter than the failure window
	CheckUsernamePermanent  = "axes.W104" // username lockout without cool-off
	CheckStoreUnreachable   = "axes.E101" // the store does not answer
	CheckSchemaBehind       = "axes.E102" // the schema is older than the binary
	CheckLimitBelowOne      = "axes.E103" // the failure limit is below 1
	CheckOnlyAllowlistEmpty = "axes.E104" // only the allow list may log in, and it is empty
	CheckSchemaAhead        = "axes.W105" // the schema is newer than the binary
	CheckUnknownSilenced    = "axes.I001" // informational: a silenced code is unknown
)

// knownChecks lists every code, for SilencedChecks validation.
var knownChecks = []string{
	CheckProcessLocalStore, CheckResponseNotWired, CheckCheckNotWrapped, CheckDeprecatedSetting,
	CheckInvalidValue, CheckNoIPParameter, CheckTiersWithCoolOff, CheckTiersInvalid,
	CheckProxiesTrustAll, CheckHeaderWithoutProxy, CheckCoolOffBelowWindow, CheckUsernamePermanent,
	CheckStoreUnreachable, CheckSchemaBehind, CheckLimitBelowOne, CheckOnlyAllowlistEmpty, CheckSchemaAhead,
	CheckUnknownSilenced,
}

// CheckCodes returns every check code this version knows.
func CheckCodes() []string { return slices.Clone(knownChecks) }

// Check returns the findings about the configuration alone, without
// SilencedChecks applied (use [Silence]). Problems that [Config.Validate]
// rejects are reported as errors, so one call shows everything.
func (c Config) Check() []Finding {
	var fs []Finding
	add := func(code string, l Level, msg, hint string) {
		fs = append(fs, Finding{Code: code, Level: l, Message: msg, Hint: hint})
	}
	if err := c.Validate(); err != nil {
		for _, e := range unwrapAll(err) {
			var ce *ConfigError
			code := CheckInvalidValue
			if errors.As(e, &ce) {
				switch {
				case ce.Field == "FailureLimit":
					code = CheckLimitBelowOne
				case ce.Field == "Tiers":
					code = CheckTiersInvalid
				case ce.Field == "OnlyAllowlist":
					code = CheckOnlyAllowlistEmpty
				}
			}
			add(code, LevelError, e.Error(), "fix the value; the guard refuses to start with it")
		}
	}
	eff := c.withDefaults()
	if c.LockoutParametersFunc == nil && !slices.ContainsFunc(eff.LockoutParameters, func(g Group) bool { return g.has(ParamIPAddress) }) {
		add(CheckNoIPParameter, LevelWarning,
			"LockoutParameters does not contain ip_address: an attacker can guess without limit by rotating usernames or user agents.",
			"Add ip_address to AXES_LOCKOUT_PARAMETERS, for example username,ip_address.")
	}
	if len(c.Tiers) > 0 && (c.CoolOff > 0 || c.CoolOffFunc != nil) {
		add(CheckTiersWithCoolOff, LevelWarning,
			"Tiers is set alongside CoolOff: with tiers, CoolOff is ignored.",
			"Remove AXES_COOLOFF_TIME, or the tiers.")
	}
	for _, p := range c.TrustedProxies {
		if p.Bits() == 0 {
			add(CheckProxiesTrustAll, LevelWarning,
				fmt.Sprintf("TrustedProxies contains %s, which trusts every peer: any client can forge its address in %s.", p, eff.ForwardedHeader),
				"List only your proxies' addresses or networks.")
			break
		}
	}
	if c.ForwardedHeader != "" && len(c.TrustedProxies) == 0 && c.ProxyCount == 0 {
		add(CheckHeaderWithoutProxy, LevelWarning,
			fmt.Sprintf("ForwardedHeader is %s, but no trusted proxy is configured, so the header is ignored and the client is the TCP peer.", c.ForwardedHeader),
			"Set AXES_IPWARE_PROXY_TRUSTED_IPS or AXES_IPWARE_PROXY_COUNT, or remove the header setting.")
	}
	if c.CoolOff > 0 && c.FailureWindow > c.CoolOff && len(c.Tiers) == 0 {
		add(CheckCoolOffBelowWindow, LevelWarning,
			fmt.Sprintf("CoolOff (%s) is shorter than FailureWindow (%s): after a lock ends the count remains, and every further failure locks again at once.", c.CoolOff, c.FailureWindow),
			"If that is not the escalation you want, make the window equal to the cool-off, or use Tiers.")
	}
	if !c.HasCoolOff() && !c.RecordOnly && slices.ContainsFunc(eff.LockoutParameters, func(g Group) bool { return g.has(ParamUsername) && !g.has(ParamIPAddress) }) {
		add(CheckUsernamePermanent, LevelWarning,
			"A lockout group counts by username without the IP address and there is no cool-off: anyone can lock any account until an operator resets it.",
			"Set AXES_COOLOFF_TIME, or lock by username+ip_address.")
	}
	for _, s := range c.SilencedChecks {
		if !slices.Contains(knownChecks, s) {
			add(CheckUnknownSilenced, LevelInfo, fmt.Sprintf("SilencedChecks names %q, which is not a check code.", s), "See axes check --list for the codes.")
		}
	}
	return fs
}

// CheckEnv adds the findings about deprecated environment variables
// (axes.W004) that lookup finds.
func CheckEnv(lookup func(string) (string, bool)) []Finding {
	var fs []Finding
	for _, name := range legacySettings {
		if _, ok := lookup(name); ok {
			fs = append(fs, Finding{Code: CheckDeprecatedSetting, Level: LevelWarning,
				Message: fmt.Sprintf("The deprecated setting %s is set.", name),
				Hint:    "Use AXES_LOCKOUT_PARAMETERS instead; it wins when both are set."})
		}
	}
	return fs
}

// ProcessLocal is implemented by stores whose counters live in one process
// (memstore): several instances of an application do not share them.
type ProcessLocal interface {
	ProcessLocal() bool
}

// CheckStore returns the findings about a store: reachable, schema current,
// shared between processes.
func CheckStore(ctx context.Context, s Store) []Finding {
	var fs []Finding
	if p, ok := s.(ProcessLocal); ok && p.ProcessLocal() {
		fs = append(fs, Finding{Code: CheckProcessLocalStore, Level: LevelWarning,
			Message: "The store keeps its counters in this process: instances of the application do not share them, and a restart forgets every lockout.",
			Hint:    "Use a shared store (SQLite for one host; a database server for several) unless this runs as one process on purpose."})
	}
	if p, ok := s.(Pinger); ok {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := p.Ping(pctx)
		cancel()
		if err != nil {
			fs = append(fs, Finding{Code: CheckStoreUnreachable, Level: LevelError,
				Message: fmt.Sprintf("The store does not answer: %v", err),
				Hint:    "Check the DSN and that the server runs and accepts connections from here."})
			return fs
		}
	}
	if m, ok := s.(Migrator); ok {
		cur, latest, err := m.SchemaVersion(ctx)
		switch {
		case err != nil:
			fs = append(fs, Finding{Code: CheckStoreUnreachable, Level: LevelError,
				Message: fmt.Sprintf("The schema version cannot be read: %v", err), Hint: "Run axes migrate."})
		case cur < latest:
			fs = append(fs, Finding{Code: CheckSchemaBehind, Level: LevelError,
				Message: fmt.Sprintf("The schema is at version %d; this build needs %d.", cur, latest), Hint: "Run axes migrate."})
		case cur > latest:
			fs = append(fs, Finding{Code: CheckSchemaAhead, Level: LevelWarning,
				Message: fmt.Sprintf("The schema is at version %d, newer than this build knows (%d).", cur, latest),
				Hint:    "Upgrade this binary to the version that migrated the database."})
		}
	}
	return fs
}

// Silence drops the findings whose codes are listed in silenced.
func Silence(fs []Finding, silenced []string) []Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f Finding) bool { return slices.Contains(silenced, f.Code) })
}

// Check runs every check that applies to the guard: its configuration, its
// store, and whether the application wired the guard in (W002: no lockout
// response is rendered; W003: no credential check runs under the guard; an
// application marks these with [Guard.MarkWired], which httpaxes does). The
// silenced codes are left out. Call it at start-up, after wiring.
func (g *Guard) Check(ctx context.Context) []Finding {
	fs := g.raw.Check()
	fs = append(fs, CheckStore(ctx, g.store)...)
	if !g.wired[WiredResponse].Load() {
		fs = append(fs, Finding{Code: CheckResponseNotWired, Level: LevelWarning,
			Message: "No lockout response is wired: nothing renders the 429 for locked-out clients.",
			Hint:    "Wrap the login handler with httpaxes.Middleware.Protect, or render the verdict yourself and call guard.MarkWired(axes.WiredResponse)."})
	}
	if !g.wired[WiredCheck].Load() {
		fs = append(fs, Finding{Code: CheckCheckNotWrapped, Level: LevelWarning,
			Message: "The credential check is not wrapped: nothing admits attempts before the password is checked.",
			Hint:    "Use httpaxes.Middleware.Protect or guard.Authenticate around the password check."})
	}
	return Silence(fs, g.raw.SilencedChecks)
}

// Wiring names a part of the integration that [Guard.Check] looks for.
type Wiring int

// The parts of the integration.
const (
	WiredResponse Wiring = iota // a lockout response is rendered (httpaxes)
	WiredCheck                  // credential checks run under the guard
	wiredCount
)

// MarkWired tells the guard that a part of the integration is in place.
// httpaxes.New marks both; Admit marks WiredCheck when first called.
func (g *Guard) MarkWired(w Wiring) {
	if w >= 0 && w < wiredCount {
		g.wired[w].Store(true)
	}
}

func unwrapAll(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	return []error{err}
}
