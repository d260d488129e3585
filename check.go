package axes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/goaxes/axes/internal/wire"
	"github.com/goaxes/axes/storage"
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

// CheckInfo describes one check code, as axes check --list prints it.
type CheckInfo struct {
	Code    string `json:"code"`    // axes.W006
	Level   Level  `json:"level"`   // the level of its findings
	Summary string `json:"summary"` // what a finding with the code means, in one line
}

// Checks returns every check code this version reports, with its level
// and summary. W001-W008 keep the meaning django-axes gives them, as far as
// it carries over to Go; W1xx, E1xx and I001 are ours. The slice is the
// caller's.
func Checks() []CheckInfo { return slices.Clone(checkTable[:]) }

// check names a row of checkTable.
type check int

// The checks, in the order of checkTable.
const (
	checkProcessLocalStore check = iota
	checkResponseNotWired
	checkCheckNotWrapped
	checkDeprecatedSetting
	checkInvalidValue
	checkNoIPParameter
	checkTiersWithCoolOff
	checkTiersInvalid
	checkProxiesTrustAll
	checkHeaderWithoutProxy
	checkCoolOffBelowWindow
	checkUsernamePermanent
	checkStoreUnreachable
	checkSchemaBehind
	checkLimitBelowOne
	checkOnlyAllowlistEmpty
	checkSchemaAhead
	checkNoRuleStore
	checkNoAuditLog
	checkFailOpen
	checkCountUntrusted
	checkUnknownSilenced
	checkCount
)

// checkTable is the one list of check codes: their level, and what they
// mean. A finding takes its code and level from here (see check.finding).
var checkTable = [checkCount]CheckInfo{
	checkProcessLocalStore:  {"axes.W001", LevelWarning, "the store keeps its counters in one process (memory:); instances do not share them"},
	checkResponseNotWired:   {"axes.W002", LevelWarning, "no lockout response is wired (reported by Guard.Check in the application only)"},
	checkCheckNotWrapped:    {"axes.W003", LevelWarning, "the credential check is not guarded (reported by Guard.Check in the application only)"},
	checkDeprecatedSetting:  {"axes.W004", LevelWarning, "a deprecated django-axes setting is set (AXES_ONLY_USER_FAILURES ...)"},
	checkInvalidValue:       {"axes.W005", LevelError, "a setting has an invalid value, or the configuration file cannot be read"},
	checkNoIPParameter:      {"axes.W006", LevelWarning, "no lockout parameter group includes ip_address"},
	checkTiersWithCoolOff:   {"axes.W007", LevelWarning, "lockout tiers and a cool-off are both set; the cool-off is ignored"},
	checkTiersInvalid:       {"axes.W008", LevelError, "the lockout tiers are not usable"},
	checkProxiesTrustAll:    {"axes.W101", LevelWarning, "the trusted proxies include every address, so any client can forge its IP"},
	checkHeaderWithoutProxy: {"axes.W102", LevelWarning, "a forwarding header is set but no trusted proxy, so the header is ignored"},
	checkCoolOffBelowWindow: {"axes.W103", LevelWarning, "the cool-off is shorter than the failure window"},
	checkUsernamePermanent:  {"axes.W104", LevelWarning, "username lockout without a cool-off: anyone can lock any account until reset"},
	checkStoreUnreachable:   {"axes.E101", LevelError, "the store cannot be opened or does not answer"},
	checkSchemaBehind:       {"axes.E102", LevelError, "the database schema is older than this build (run axes migrate)"},
	checkLimitBelowOne:      {"axes.E103", LevelError, "the failure limit is below 1"},
	checkOnlyAllowlistEmpty: {"axes.E104", LevelError, "only the allow list may log in, and it is empty"},
	checkSchemaAhead:        {"axes.W105", LevelWarning, "the database schema is newer than this build"},
	checkNoRuleStore:        {"axes.W106", LevelWarning, "the store keeps no operators' allow/deny rules (a wrapping store must implement Unwrap)"},
	checkNoAuditLog:         {"axes.W107", LevelWarning, "the audit log is on but nothing records it (a wrapping store must implement Unwrap)"},
	checkFailOpen:           {"axes.W108", LevelWarning, "fail open is on: while the store is down, nothing limits password guessing"},
	checkCountUntrusted:     {"axes.W109", LevelWarning, "a proxy hop count is set without trusted proxies, so a direct client can forge its IP"},
	checkUnknownSilenced:    {"axes.I001", LevelInfo, "silenced_checks names a code that does not exist"},
}

// finding is a finding of check k, with the code and level of its row.
func (k check) finding(msg, hint string) Finding {
	return Finding{Code: checkTable[k].Code, Level: checkTable[k].Level, Message: msg, Hint: hint}
}

// knownCheck reports whether code is a check code.
func knownCheck(code string) bool {
	return slices.ContainsFunc(checkTable[:], func(c CheckInfo) bool { return c.Code == code })
}

// Check returns the findings about the configuration alone, without
// SilencedChecks applied (use [Silence]). Problems that [Config.Validate]
// rejects are reported as errors, so one call shows everything. The
// checks of the HTTP settings (axes.W101, axes.W102, axes.W109) are made by
// httpaxes.Config.Check.
func (c Config) Check() []Finding {
	var fs []Finding
	add := func(k check, msg, hint string) { fs = append(fs, k.finding(msg, hint)) }
	if err := c.Validate(); err != nil {
		for _, e := range unwrapAll(err) {
			var ce *ConfigError
			k := checkInvalidValue
			if errors.As(e, &ce) {
				switch {
				case ce.Field == "FailureLimit":
					k = checkLimitBelowOne
				case ce.Field == "Tiers":
					k = checkTiersInvalid
				case ce.Field == "OnlyAllowlist":
					k = checkOnlyAllowlistEmpty
				}
			}
			add(k, e.Error(), "fix the value; the guard refuses to start with it")
		}
	}
	eff := c.withDefaults()
	if c.LockoutParametersFunc == nil && !slices.ContainsFunc(eff.LockoutParameters, func(g Group) bool { return g.has(ParamIPAddress) }) {
		add(checkNoIPParameter,
			"LockoutParameters does not contain ip_address: an attacker can guess without limit by rotating usernames or user agents.",
			"Add ip_address to AXES_LOCKOUT_PARAMETERS, for example username,ip_address.")
	}
	if len(c.Tiers) > 0 && (c.CoolOff > 0 || c.CoolOffFunc != nil) {
		add(checkTiersWithCoolOff,
			"Tiers is set alongside CoolOff: with tiers, CoolOff is ignored.",
			"Remove AXES_COOLOFF_TIME, or the tiers.")
	}
	if c.CoolOff > 0 && c.FailureWindow > c.CoolOff && len(c.Tiers) == 0 {
		add(checkCoolOffBelowWindow,
			fmt.Sprintf("CoolOff (%s) is shorter than FailureWindow (%s): after a lock ends the count remains, and every further failure locks again at once.", c.CoolOff, c.FailureWindow),
			"If that is not the escalation you want, make the window equal to the cool-off, or use Tiers.")
	}
	if !c.hasCoolOff() && !c.RecordOnly && slices.ContainsFunc(eff.LockoutParameters, func(g Group) bool { return g.has(ParamUsername) && !g.has(ParamIPAddress) }) {
		add(checkUsernamePermanent,
			"A lockout group counts by username without the IP address and there is no cool-off: anyone can lock any account until an operator resets it.",
			"Set AXES_COOLOFF_TIME, or lock by username+ip_address.")
	}
	if c.FailOpen {
		add(checkFailOpen,
			"AXES_FAIL_OPEN is true: when the store fails or times out, logins go on to the password check with no limit until it answers again.",
			"Keep it false (fail closed: logins are refused while the store is down) unless availability matters more than brute-force protection.")
	}
	for _, s := range c.SilencedChecks {
		if !knownCheck(s) {
			add(checkUnknownSilenced, fmt.Sprintf("SilencedChecks names %q, which is not a check code.", s), "See axes check --list for the codes.")
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
			fs = append(fs, checkDeprecatedSetting.finding(fmt.Sprintf("The deprecated setting %s is set.", name),
				"Use AXES_LOCKOUT_PARAMETERS instead; it wins when both are set."))
		}
	}
	return fs
}

// CheckStore returns the findings about a store: reachable, schema current,
// shared between processes.
func CheckStore(ctx context.Context, s storage.Store) []Finding {
	var fs []Finding
	if p, ok := storage.Find[storage.ProcessLocal](s); ok && p.ProcessLocal() {
		fs = append(fs, checkProcessLocalStore.finding("The store keeps its counters in this process: instances of the application do not share them, and a restart forgets every lockout.",
			"Use a shared store (SQLite for one host; a database server for several) unless this runs as one process on purpose."))
	}
	if _, ok := storage.Find[storage.RuleStore](s); !ok {
		fs = append(fs, checkNoRuleStore.finding("The store keeps no allow/deny rules: axes allow and axes deny cannot reach this application.",
			"A store that wraps another (metrics, tracing) must implement Unwrap() storage.Store, or forward storage.RuleStore."))
	}
	if p, ok := storage.Find[storage.Pinger](s); ok {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := p.Ping(pctx)
		cancel()
		if err != nil {
			fs = append(fs, checkStoreUnreachable.finding(fmt.Sprintf("The store does not answer: %v", err),
				"Check the DSN and that the server runs and accepts connections from here."))
			return fs
		}
	}
	if m, ok := storage.Find[storage.Migrator](s); ok {
		cur, latest, err := m.SchemaVersion(ctx)
		switch {
		case err != nil:
			fs = append(fs, checkStoreUnreachable.finding(fmt.Sprintf("The schema version cannot be read: %v", err), "Run axes migrate."))
		case cur < latest:
			fs = append(fs, checkSchemaBehind.finding(fmt.Sprintf("The schema is at version %d; this build needs %d.", cur, latest), "Run axes migrate."))
		case cur > latest:
			fs = append(fs, checkSchemaAhead.finding(fmt.Sprintf("The schema is at version %d, newer than this build knows (%d).", cur, latest),
				"Upgrade this binary to the version that migrated the database."))
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
// response is rendered; W003: no credential check runs under the guard;
// httpaxes.New marks both, and the first admission marks W003; an
// application that renders lockouts itself silences W002). The silenced
// codes are left out. Call it at start-up, after wiring; an application
// that serves logins with httpaxes calls httpaxes.Middleware.Check
// instead, which adds the checks of the HTTP settings to these.
func (g *Guard) Check(ctx context.Context) []Finding {
	fs := g.raw.Check()
	fs = append(fs, CheckStore(ctx, g.store)...)
	if g.audit == nil && (!g.cfg.DisableAccessLog || g.cfg.EnableAccessFailureLog) {
		fs = append(fs, checkNoAuditLog.finding("The audit log is on, but neither the store nor axes.WithAuditLog records it: logins and failures are not logged.",
			"A store that wraps another must implement Unwrap() storage.Store; or pass axes.WithAuditLog; or set AXES_DISABLE_ACCESS_LOG=true."))
	}
	if !g.wired[wire.Response].Load() {
		fs = append(fs, checkResponseNotWired.finding("No lockout response is wired: nothing renders the 429 for locked-out clients.",
			"Wrap the login handler with httpaxes.Middleware.Protect; if the application renders the lockout response itself, silence axes.W002."))
	}
	if !g.wired[wire.Check].Load() {
		fs = append(fs, checkCheckNotWrapped.finding("The credential check is not wrapped: nothing admits attempts before the password is checked.",
			"Use httpaxes.Middleware.Protect or guard.Authenticate around the password check."))
	}
	return Silence(fs, g.raw.SilencedChecks)
}

func init() {
	wire.Mark = func(g any, part int) {
		if g, ok := g.(*Guard); ok && part >= 0 && part < wire.Parts {
			g.wired[part].Store(true)
		}
	}
}

func unwrapAll(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	return []error{err}
}
