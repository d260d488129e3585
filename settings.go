package axes

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/goaxes/axes/internal/setting"
)

// Setting is one row of the settings registry: a [Config] field that can be
// given as an AXES_* environment variable ([Config.ApplyEnv]), as a key of
// a configuration file ([Config.LoadFile]) or, in the axes command, as a
// flag. [Settings] returns every row.
type Setting struct {
	Env   string // the environment variable: AXES_FAILURE_LIMIT
	Key   string // the configuration file key: failure_limit
	Field string // the Config field it sets: FailureLimit
	Help  string // what a value must look like

	row setting.Row[Config]
}

// Get writes the setting's value in c as the environment and files write
// it ("15m", "username+ip_address", "true"), so that Set reads it back as
// the same value. It shows the field as c holds it: pass [Config.Effective]
// to see the defaults filled in.
func (s Setting) Get(c Config) string {
	if s.row.Get == nil {
		return ""
	}
	return s.row.Get(&c)
}

// Set reads v into c as ApplyEnv reads the setting's variable, except that
// a blank v is read rather than skipped. A bad value is reported as a
// *[ConfigError] naming the setting and what it expects.
func (s Setting) Set(c *Config, v string) error {
	if s.row.Set == nil {
		return fmt.Errorf("axes: unknown setting %q", s.Env)
	}
	if err := s.row.Set(c, v); err != nil {
		return envError(s.Env, s.Field, s.Help, v, err)
	}
	return nil
}

// Settings returns every setting, in the order axes config prints them.
// The slice is the caller's: changing it changes nothing here.
func Settings() []Setting {
	out := make([]Setting, len(registry))
	for i, r := range registry {
		out[i] = Setting{Env: r.Env, Key: r.Key(), Field: r.Field, Help: r.Help, row: r}
	}
	return out
}

// registry is the table of settings that ApplyEnv, ParseJSON and Settings
// read, assembled from the parts below. A part is a list of row values, so
// a setting moves between parts, or to another package's registry, as one
// line. The settings of the HTTP layer are httpaxes's (httpaxes.Settings).
var registry = slices.Concat(guardSettings, admitSettings, logSettings, checkSettings)

// guardSettings are the lockout policy the guard applies.
var guardSettings = []setting.Row[Config]{
	setting.Bool("AXES_ENABLED", "Disabled", func(c *Config) *bool { return &c.Disabled }, true),
	setting.Int("AXES_FAILURE_LIMIT", "FailureLimit", "a whole number of at least 1", 1, func(c *Config) *int { return &c.FailureLimit }),
	setting.Duration("AXES_COOLOFF_TIME", "CoolOff", func(c *Config) *time.Duration { return &c.CoolOff }),
	setting.Duration("AXES_FAILURE_WINDOW", "FailureWindow", func(c *Config) *time.Duration { return &c.FailureWindow }),
	{
		Env: "AXES_LOCKOUT_PARAMETERS", Field: "LockoutParameters",
		Help: `groups separated by commas, parameters joined by "+" (username,ip_address or username+ip_address), or a JSON list such as [["username","ip_address"]]`,
		Set: func(c *Config, v string) error {
			gs, err := parseLockoutParameters(v)
			if err != nil {
				return err
			}
			c.LockoutParameters = gs
			return nil
		},
		Get: func(c *Config) string { return formatGroups(c.LockoutParameters) },
	},
	{
		Env: "AXES_LOCKOUT_TIERS", Field: "Tiers",
		Help: `tiers as FAILURES:COOLOFF separated by commas, such as "3:1m,6:15m,10:24h"`,
		Set: func(c *Config, v string) error {
			ts, err := parseTiers(v)
			if err != nil {
				return err
			}
			c.Tiers = ts
			return nil
		},
		Get: func(c *Config) string { return formatTiers(c.Tiers) },
	},
	setting.Bool("AXES_LOCK_OUT_AT_FAILURE", "RecordOnly", func(c *Config) *bool { return &c.RecordOnly }, true),
	setting.Bool("AXES_RESET_ON_SUCCESS", "ResetOnSuccess", func(c *Config) *bool { return &c.ResetOnSuccess }, false),
	setting.Bool("AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT", "FixedCoolOff", func(c *Config) *bool { return &c.FixedCoolOff }, true),
	setting.Prefixes("AXES_IP_WHITELIST", "IPAllowlist", func(c *Config) *[]netip.Prefix { return &c.IPAllowlist }),
	setting.Prefixes("AXES_IP_BLACKLIST", "IPDenylist", func(c *Config) *[]netip.Prefix { return &c.IPDenylist }),
	setting.Bool("AXES_NEVER_LOCKOUT_WHITELIST", "NeverLockoutAllowlist", func(c *Config) *bool { return &c.NeverLockoutAllowlist }, false),
	setting.Bool("AXES_ONLY_WHITELIST", "OnlyAllowlist", func(c *Config) *bool { return &c.OnlyAllowlist }, false),
	setting.Bool("AXES_NEVER_LOCKOUT_GET", "NeverLockoutGET", func(c *Config) *bool { return &c.NeverLockoutGET }, false),
	setting.Int("AXES_IPV6_PREFIX", "IPv6Prefix", "a prefix length from 1 to 128", 1, func(c *Config) *int { return &c.IPv6Prefix }),
}

// admitSettings are how admission waits for places and for the store.
var admitSettings = []setting.Row[Config]{
	setting.Bound("AXES_MAX_WAIT", "MaxWait", func(c *Config) *time.Duration { return &c.MaxWait }),
	setting.Int("AXES_MAX_WAITERS", "MaxWaiters", "a whole number of at least 0 (0: the default, 100)", 0, func(c *Config) *int { return &c.MaxWaiters }),
	setting.Bound("AXES_STORE_TIMEOUT", "StoreTimeout", func(c *Config) *time.Duration { return &c.StoreTimeout }),
	setting.Bool("AXES_FAIL_OPEN", "FailOpen", func(c *Config) *bool { return &c.FailOpen }, false),
}

// logSettings are what the audit log records and keeps.
var logSettings = []setting.Row[Config]{
	setting.Bool("AXES_DISABLE_ACCESS_LOG", "DisableAccessLog", func(c *Config) *bool { return &c.DisableAccessLog }, false),
	setting.Bool("AXES_ENABLE_ACCESS_FAILURE_LOG", "EnableAccessFailureLog", func(c *Config) *bool { return &c.EnableAccessFailureLog }, false),
	setting.Int("AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT", "AccessFailureLogPerUserLimit", "a whole number of at least 0", 0, func(c *Config) *int { return &c.AccessFailureLogPerUserLimit }),
}

// checkSettings are about the checks themselves.
var checkSettings = []setting.Row[Config]{
	setting.List("AXES_SILENCED_CHECKS", "SilencedChecks", "a comma-separated list of check codes such as axes.W006", func(c *Config) *[]string { return &c.SilencedChecks }),
}
