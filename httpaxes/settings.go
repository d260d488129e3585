package httpaxes

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/goaxes/axes/internal/setting"
)

// Setting is one row of this package's settings registry: a [Config]
// field that can be given as an AXES_* environment variable
// ([Config.ApplyEnv]), as a key of a configuration file ([LoadFile]) or,
// in the axes command, as a flag. [Settings] returns every row; the
// guard's settings are [axes.Settings].
type Setting struct {
	Env   string // the environment variable: AXES_LOCKOUT_URL
	Key   string // the configuration file key: lockout_url
	Field string // the Config field it sets: LockoutURL
	Help  string // what a value must look like

	row setting.Row[Config]
}

// Get writes the setting's value in c as the environment and files write
// it, so that Set reads it back as the same value. It shows the field as c
// holds it: pass [Config.Effective] to see the defaults filled in.
func (s Setting) Get(c Config) string {
	if s.row.Get == nil {
		return ""
	}
	return s.row.Get(&c)
}

// Set reads v into c as ApplyEnv reads the setting's variable, except that
// a blank v is read rather than skipped. A bad value is reported as an
// *[axes.ConfigError] naming the setting and what it expects.
func (s Setting) Set(c *Config, v string) error {
	if s.row.Set == nil {
		return fmt.Errorf("httpaxes: unknown setting %q", s.Env)
	}
	if err := s.row.Set(c, v); err != nil {
		return valueError(s.row, v, err)
	}
	return nil
}

// Settings returns every setting of [Config], in the order axes config
// prints them. The slice is the caller's: changing it changes nothing
// here.
func Settings() []Setting {
	out := make([]Setting, len(registry))
	for i, r := range registry {
		out[i] = Setting{Env: r.Env, Key: r.Key(), Field: r.Field, Help: r.Help, row: r}
	}
	return out
}

// registry is the table of settings that ApplyEnv, ParseJSON and Settings
// read: how the middleware finds the username and the client in a
// request, and how it answers a locked-out client.
var registry = []setting.Row[Config]{
	setting.String("AXES_USERNAME_FORM_FIELD", "UsernameFormField", func(c *Config) *string { return &c.UsernameFormField }),
	setting.Prefixes("AXES_IPWARE_PROXY_TRUSTED_IPS", "TrustedProxies", func(c *Config) *[]netip.Prefix { return &c.TrustedProxies }),
	setting.Int("AXES_IPWARE_PROXY_COUNT", "ProxyCount", "a whole number of at least 0", 0, func(c *Config) *int { return &c.ProxyCount }),
	{
		Env: "AXES_IPWARE_META_PRECEDENCE_ORDER", Field: "ForwardedHeader",
		Help: `a header name such as X-Forwarded-For (or Django's HTTP_X_FORWARDED_FOR)`,
		Set: func(c *Config, v string) error {
			h, err := parseHeaderName(v)
			if err != nil {
				return err
			}
			c.ForwardedHeader = h
			return nil
		},
		Get: func(c *Config) string { return c.ForwardedHeader },
	},
	setting.Int("AXES_HTTP_RESPONSE_CODE", "HTTPResponseCode", "an HTTP status from 400 to 599", 400, func(c *Config) *int { return &c.HTTPResponseCode }),
	setting.String("AXES_LOCKOUT_URL", "LockoutURL", func(c *Config) *string { return &c.LockoutURL }),
	setting.String("AXES_LOCKOUT_TEMPLATE", "LockoutTemplate", func(c *Config) *string { return &c.LockoutTemplate }),
	setting.String("AXES_COOLOFF_MESSAGE", "CoolOffMessage", func(c *Config) *string { return &c.CoolOffMessage }),
	setting.String("AXES_PERMALOCK_MESSAGE", "PermalockMessage", func(c *Config) *string { return &c.PermalockMessage }),
	setting.String("AXES_ALLOWED_CORS_ORIGINS", "AllowedCORSOrigins", func(c *Config) *string { return &c.AllowedCORSOrigins }),
}

// parseHeaderName reads a header name, as Go writes it (X-Real-IP) or as
// django-axes' AXES_IPWARE_META_PRECEDENCE_ORDER does: a list of META
// names (HTTP_X_REAL_IP, REMOTE_ADDR), of which the first header is taken.
func parseHeaderName(v string) (string, error) {
	for _, s := range setting.SplitList(strings.Trim(v, "()[]")) {
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

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
