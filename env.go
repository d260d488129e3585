package axes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// setting is one configuration value that can come from the environment
// (AXES_NAME) or a configuration file (key "name").
type setting struct {
	name   string // without the AXES_ prefix, upper case
	field  string // the Config field it sets
	expect string // what a value must look like, for error messages
	set    func(c *Config, v string) error
}

func boolSetting(name, field string, dst func(*Config) *bool, invert bool) setting {
	return setting{name, field, "true, false, 1 or 0", func(c *Config, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*dst(c) = b != invert
		return nil
	}}
}

func intSetting(name, field, expect string, lo int, dst func(*Config) *int) setting {
	return setting{name, field, expect, func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo {
			return errors.New("not a whole number in range")
		}
		*dst(c) = n
		return nil
	}}
}

func durationSetting(name, field string, dst func(*Config) *time.Duration) setting {
	return setting{name, field, `a duration with units such as "30m", "1h30m" or "0" for none`, func(c *Config, v string) error {
		d, err := ParseDuration(v)
		if err != nil {
			return err
		}
		*dst(c) = d
		return nil
	}}
}

func stringSetting(name, field string, dst func(*Config) *string) setting {
	return setting{name, field, "a string", func(c *Config, v string) error { *dst(c) = v; return nil }}
}

func prefixSetting(name, field string, dst func(*Config) *[]netip.Prefix) setting {
	return setting{name, field, "a comma-separated list of IP addresses or CIDR prefixes", func(c *Config, v string) error {
		ps, err := ParsePrefixes(v)
		if err != nil {
			return err
		}
		*dst(c) = ps
		return nil
	}}
}

// settings lists every setting read from the environment and from files.
var settings = []setting{
	boolSetting("ENABLED", "Disabled", func(c *Config) *bool { return &c.Disabled }, true),
	intSetting("FAILURE_LIMIT", "FailureLimit", "a whole number of at least 1", 1, func(c *Config) *int { return &c.FailureLimit }),
	durationSetting("COOLOFF_TIME", "CoolOff", func(c *Config) *time.Duration { return &c.CoolOff }),
	durationSetting("FAILURE_WINDOW", "FailureWindow", func(c *Config) *time.Duration { return &c.FailureWindow }),
	{"LOCKOUT_PARAMETERS", "LockoutParameters", `groups separated by commas, parameters joined by "+" (username,ip_address or username+ip_address), or a JSON list such as [["username","ip_address"]]`, func(c *Config, v string) error {
		gs, err := ParseLockoutParameters(v)
		if err != nil {
			return err
		}
		c.LockoutParameters = gs
		return nil
	}},
	{"LOCKOUT_TIERS", "Tiers", `tiers as FAILURES:COOLOFF separated by commas, such as "3:1m,6:15m,10:24h"`, func(c *Config, v string) error {
		ts, err := ParseTiers(v)
		if err != nil {
			return err
		}
		c.Tiers = ts
		return nil
	}},
	boolSetting("LOCK_OUT_AT_FAILURE", "RecordOnly", func(c *Config) *bool { return &c.RecordOnly }, true),
	boolSetting("RESET_ON_SUCCESS", "ResetOnSuccess", func(c *Config) *bool { return &c.ResetOnSuccess }, false),
	boolSetting("RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT", "FixedCoolOff", func(c *Config) *bool { return &c.FixedCoolOff }, true),
	prefixSetting("IP_WHITELIST", "IPAllowlist", func(c *Config) *[]netip.Prefix { return &c.IPAllowlist }),
	prefixSetting("IP_BLACKLIST", "IPDenylist", func(c *Config) *[]netip.Prefix { return &c.IPDenylist }),
	boolSetting("NEVER_LOCKOUT_WHITELIST", "NeverLockoutAllowlist", func(c *Config) *bool { return &c.NeverLockoutAllowlist }, false),
	boolSetting("ONLY_WHITELIST", "OnlyAllowlist", func(c *Config) *bool { return &c.OnlyAllowlist }, false),
	boolSetting("NEVER_LOCKOUT_GET", "NeverLockoutGET", func(c *Config) *bool { return &c.NeverLockoutGET }, false),
	stringSetting("USERNAME_FORM_FIELD", "UsernameFormField", func(c *Config) *string { return &c.UsernameFormField }),
	intSetting("IPV6_PREFIX", "IPv6Prefix", "a prefix length from 1 to 128", 1, func(c *Config) *int { return &c.IPv6Prefix }),
	prefixSetting("IPWARE_PROXY_TRUSTED_IPS", "TrustedProxies", func(c *Config) *[]netip.Prefix { return &c.TrustedProxies }),
	intSetting("IPWARE_PROXY_COUNT", "ProxyCount", "a whole number of at least 0", 0, func(c *Config) *int { return &c.ProxyCount }),
	{"IPWARE_META_PRECEDENCE_ORDER", "ForwardedHeader", `a header name such as X-Forwarded-For (or Django's HTTP_X_FORWARDED_FOR)`, func(c *Config, v string) error {
		h, err := parseHeaderName(v)
		if err != nil {
			return err
		}
		c.ForwardedHeader = h
		return nil
	}},
	intSetting("HTTP_RESPONSE_CODE", "HTTPResponseCode", "an HTTP status from 400 to 599", 400, func(c *Config) *int { return &c.HTTPResponseCode }),
	stringSetting("LOCKOUT_URL", "LockoutURL", func(c *Config) *string { return &c.LockoutURL }),
	stringSetting("LOCKOUT_TEMPLATE", "LockoutTemplate", func(c *Config) *string { return &c.LockoutTemplate }),
	stringSetting("COOLOFF_MESSAGE", "CoolOffMessage", func(c *Config) *string { return &c.CoolOffMessage }),
	stringSetting("PERMALOCK_MESSAGE", "PermalockMessage", func(c *Config) *string { return &c.PermalockMessage }),
	stringSetting("ALLOWED_CORS_ORIGINS", "AllowedCORSOrigins", func(c *Config) *string { return &c.AllowedCORSOrigins }),
	boolSetting("DISABLE_ACCESS_LOG", "DisableAccessLog", func(c *Config) *bool { return &c.DisableAccessLog }, false),
	boolSetting("ENABLE_ACCESS_FAILURE_LOG", "EnableAccessFailureLog", func(c *Config) *bool { return &c.EnableAccessFailureLog }, false),
	intSetting("ACCESS_FAILURE_LOG_PER_USER_LIMIT", "AccessFailureLogPerUserLimit", "a whole number of at least 0", 0, func(c *Config) *int { return &c.AccessFailureLogPerUserLimit }),
	{"SILENCED_CHECKS", "SilencedChecks", "a comma-separated list of check codes such as axes.W006", func(c *Config, v string) error {
		c.SilencedChecks = splitList(v)
		return nil
	}},
}

// DeprecatedSettings are django-axes settings that are still honoured when
// AXES_LOCKOUT_PARAMETERS is not set, and reported by check axes.W004.
var DeprecatedSettings = []string{
	"AXES_ONLY_USER_FAILURES", "AXES_LOCK_OUT_BY_USER_OR_IP",
	"AXES_LOCK_OUT_BY_COMBINATION_USER_AND_IP", "AXES_USE_USER_AGENT",
}

// EnvNames returns the names of every environment variable [Config.ApplyEnv]
// reads, deprecated ones last.
func EnvNames() []string {
	names := make([]string, 0, len(settings)+len(DeprecatedSettings))
	for _, s := range settings {
		names = append(names, "AXES_"+s.name)
	}
	return append(names, DeprecatedSettings...)
}

// ApplyEnv sets the fields of c from the AXES_* variables that lookup finds
// (os.LookupEnv for the process environment); variables that are not set,
// or set to the empty string, leave their field alone. Every bad value is
// reported, each as a *[ConfigError] naming the variable and what it must
// look like.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var errs []error
	for _, s := range settings {
		v, ok := lookup("AXES_" + s.name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if err := s.set(c, v); err != nil {
			errs = append(errs, envError("AXES_"+s.name, s.field, s.expect, v, err))
		}
	}
	if _, ok := lookup("AXES_LOCKOUT_PARAMETERS"); !ok {
		legacy := func(name string) (bool, error) {
			v, ok := lookup(name)
			if !ok || strings.TrimSpace(v) == "" {
				return false, nil
			}
			b, err := parseBool(v)
			if err != nil {
				errs = append(errs, envError(name, "LockoutParameters", "true, false, 1 or 0", v, err))
			}
			return b, nil
		}
		if gs := legacyParameters(legacy); gs != nil {
			c.LockoutParameters = gs
		}
	}
	return errors.Join(errs...)
}

// legacyParameters maps the deprecated django-axes flags to lockout
// parameters, as django-axes does when AXES_LOCKOUT_PARAMETERS is unset.
func legacyParameters(flag func(string) (bool, error)) []Group {
	only, _ := flag("AXES_ONLY_USER_FAILURES")
	either, _ := flag("AXES_LOCK_OUT_BY_USER_OR_IP")
	combo, _ := flag("AXES_LOCK_OUT_BY_COMBINATION_USER_AND_IP")
	ua, _ := flag("AXES_USE_USER_AGENT")
	var gs []Group
	switch {
	case only:
		gs = []Group{{ParamUsername}}
	case either:
		gs = []Group{{ParamUsername}, {ParamIPAddress}}
	case combo:
		gs = []Group{{ParamUsername, ParamIPAddress}}
	case ua:
		gs = []Group{{ParamIPAddress}}
	default:
		return nil
	}
	if ua {
		gs[0] = append(gs[0], ParamUserAgent)
	}
	return gs
}

func envError(name, field, expect, value string, err error) error {
	shown := value
	if len(shown) > 80 {
		shown = shown[:80] + "..."
	}
	return &ConfigError{Field: field, Env: name, Problem: fmt.Sprintf("%q is not valid (%v); expected %s", shown, err, expect)}
}

// Set applies one setting by name: the environment variable name
// ("AXES_FAILURE_LIMIT") or the file key ("failure_limit"). Command-line
// flags use it. The error names the setting and what it expects.
func (c *Config) Set(name, value string) error {
	key := strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(name, "AXES_"), "axes_"))
	for _, s := range settings {
		if s.name == key {
			if err := s.set(c, value); err != nil {
				return envError("AXES_"+s.name, s.field, s.expect, value, err)
			}
			return nil
		}
	}
	return fmt.Errorf("axes: unknown setting %q", name)
}

// Describe returns what a value of the named setting must look like.
func Describe(name string) string {
	key := strings.ToUpper(strings.TrimPrefix(name, "AXES_"))
	for _, s := range settings {
		if s.name == key {
			return s.expect
		}
	}
	return ""
}

// LoadFile reads a JSON configuration file into c. Its keys are the
// environment variable names in lower case without the AXES_ prefix
// ("failure_limit", "cooloff_time", ...); values are JSON numbers, booleans,
// strings (durations with units: "15m") or lists. Unknown keys are errors,
// so a typo cannot silently leave a default in place. Every problem is
// reported at once.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("axes: config file: %w", err)
	}
	if err := c.ParseJSON(data); err != nil {
		return fmt.Errorf("axes: config file %s: %w", path, err)
	}
	return nil
}

// ParseJSON applies a JSON configuration document to c (see [Config.LoadFile]).
func (c *Config) ParseJSON(data []byte) error {
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	known := map[string]setting{}
	for _, s := range settings {
		known[strings.ToLower(s.name)] = s
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		s, ok := known[k]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown key %q", k))
			continue
		}
		v, err := jsonToSetting(doc[k])
		if err == nil {
			err = s.set(c, v)
		}
		if err != nil {
			errs = append(errs, &ConfigError{Field: s.field, Env: k, Problem: fmt.Sprintf("%v; expected %s", err, s.expect)})
		}
	}
	return errors.Join(errs...)
}

// jsonToSetting turns a JSON value into the text form the setting parsers
// read: strings as they are, numbers and booleans as written, lists of
// strings joined by commas, nested lists passed on as JSON.
func jsonToSetting(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return string(raw), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return string(raw), nil // nested: let the parser read JSON
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", errors.New("null is not a value")
	}
	return "", fmt.Errorf("unsupported JSON value %s", raw)
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// ParseDuration parses a duration with units ("15m", "1h30m", "90s"); "0"
// means none. A bare number is rejected: django-axes reads
// AXES_COOLOFF_TIME=2 as two hours, and guessing the unit is how lockouts go
// wrong.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "0" || strings.EqualFold(v, "none") {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return 0, fmt.Errorf("a bare number has no unit (django-axes would read %s as hours); write %sh or %sm", v, v, v)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("not a duration")
	}
	if d < 0 {
		return 0, errors.New("negative")
	}
	return d, nil
}

// ParsePrefixes parses a comma-separated list of addresses and CIDR
// prefixes; an address becomes a single-address prefix. IPv4-mapped IPv6
// addresses are folded to IPv4.
func ParsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(v) {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePrefix parses one address or CIDR prefix (masked to its network).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix", s)
		}
		return foldPrefix(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address", s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// foldPrefix returns p as client addresses are compared with it: an
// IPv4-mapped prefix of /96 or longer becomes the IPv4 prefix, zones are
// dropped, and the address is masked to the network.
func foldPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

func foldPrefixes(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return ps
	}
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = foldPrefix(p)
	}
	return out
}

// ParseLockoutParameters parses lockout parameter groups: groups separated
// by commas, parameters in a group joined by "+" ("username,ip_address"
// locks on either, "username+ip_address" on the pair), or the django-axes
// JSON list form, where a nested list is a combination:
// ["ip_address", ["username", "user_agent"]].
func ParseLockoutParameters(v string) ([]Group, error) {
	v = strings.TrimSpace(v)
	var gs []Group
	if strings.HasPrefix(v, "[") {
		var items []any
		if err := json.Unmarshal([]byte(v), &items); err != nil {
			return nil, errors.New("not a JSON list")
		}
		for _, it := range items {
			switch x := it.(type) {
			case string:
				gs = append(gs, Group{Param(x)})
			case []any:
				var g Group
				for _, e := range x {
					s, ok := e.(string)
					if !ok {
						return nil, errors.New("a combination must list parameter names")
					}
					g = append(g, Param(s))
				}
				gs = append(gs, g)
			default:
				return nil, errors.New("items must be names or lists of names")
			}
		}
	} else {
		for _, part := range splitList(v) {
			var g Group
			for _, p := range strings.Split(part, "+") {
				g = append(g, Param(strings.TrimSpace(p)))
			}
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return nil, errors.New("no groups")
	}
	for _, g := range gs {
		if err := validateGroup(g); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// ParseTiers parses progressive lockout tiers, "3:1m,6:15m,10:24h", or a
// JSON list of {"failures": 3, "cooloff": "1m"} objects.
func ParseTiers(v string) ([]Tier, error) {
	v = strings.TrimSpace(v)
	var ts []Tier
	if strings.HasPrefix(v, "[") {
		var items []struct {
			Failures int    `json:"failures"`
			CoolOff  string `json:"cooloff"`
		}
		if err := json.Unmarshal([]byte(v), &items); err != nil {
			return nil, errors.New(`not a JSON list of {"failures": N, "cooloff": "15m"}`)
		}
		for _, it := range items {
			d, err := ParseDuration(it.CoolOff)
			if err != nil {
				return nil, fmt.Errorf("tier %d: %v", it.Failures, err)
			}
			ts = append(ts, Tier{Failures: it.Failures, CoolOff: d})
		}
	} else {
		for _, part := range splitList(v) {
			n, d, ok := strings.Cut(part, ":")
			if !ok {
				return nil, fmt.Errorf("%q has no colon", part)
			}
			f, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil || f < 1 {
				return nil, fmt.Errorf("%q: failures must be a whole number of at least 1", part)
			}
			c, err := ParseDuration(d)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", part, err)
			}
			ts = append(ts, Tier{Failures: f, CoolOff: c})
		}
	}
	if len(ts) == 0 {
		return nil, errors.New("no tiers")
	}
	return ts, nil
}

func parseHeaderName(v string) (string, error) {
	for _, s := range splitList(strings.Trim(v, "()[]")) {
		s = strings.Trim(s, `"'`)
		if strings.EqualFold(s, "REMOTE_ADDR") {
			continue
		}
		if rest, ok := strings.CutPrefix(strings.ToUpper(s), "HTTP_"); ok && strings.ToUpper(s) == s {
			words := strings.Split(strings.ToLower(rest), "_")
			for i, w := range words {
				if w != "" {
					words[i] = strings.ToUpper(w[:1]) + w[1:]
				}
			}
			s = strings.Join(words, "-")
		}
		if !validHeaderName(s) {
			return "", fmt.Errorf("%q is not a header name", s)
		}
		return s, nil
	}
	return "", errors.New("no header name")
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
