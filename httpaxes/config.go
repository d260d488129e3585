package httpaxes

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/internal/setting"
)

// Default values, equal to django-axes 8.
const (
	DefaultUsernameFormField = "username"
	DefaultForwardedHeader   = "X-Forwarded-For"
	DefaultHTTPResponseCode  = 429
	DefaultCoolOffMessage    = "Account locked: too many login attempts. Please try again later."
	DefaultPermalockMessage  = "Account locked: too many login attempts. Contact an admin to unlock your account."
)

// Config is how the middleware reads a request (the username field, the
// proxies in front of the application) and answers a locked-out client.
// It is plain data: the zero value of every field means the django-axes 8
// default, so Config{} trusts no proxy and answers 429 with the default
// message. Give it to [New] with [WithConfig]; the lockout policy itself
// is the guard's [axes.Config].
//
// Its settings have AXES_* variables and file keys like the guard's:
// [Config.ApplyEnv] reads the variables, [LoadFile] a file that holds the
// keys of both configurations, and [Settings] lists every row.
type Config struct {
	// UsernameFormField is the form or JSON field the username is read from
	// (AXES_USERNAME_FORM_FIELD). Default "username".
	UsernameFormField string

	// TrustedProxies lists the proxies whose forwarding header is believed
	// (AXES_IPWARE_PROXY_TRUSTED_IPS). Default none: the client IP is the
	// TCP peer. Alone, the header is walked from the right past trusted
	// addresses; with ProxyCount, it is read only from a trusted peer and
	// its hops are counted. See [ClientIPResolver].
	TrustedProxies []netip.Prefix
	// ProxyCount is the number of proxies in front of the application
	// (AXES_IPWARE_PROXY_COUNT): the client is that many hops from the right
	// of the forwarding header. Default 0 (no header is read). Alone, the
	// header is believed from any peer, as in django-axes, which is safe
	// only if clients cannot reach the application except through the
	// proxies (axes.W109); set TrustedProxies too to count hops only in
	// requests a trusted proxy forwarded.
	ProxyCount int
	// ForwardedHeader is the header read when TrustedProxies or ProxyCount is
	// set (AXES_IPWARE_META_PRECEDENCE_ORDER). Default X-Forwarded-For.
	ForwardedHeader string

	// HTTPResponseCode is the status of a lockout response
	// (AXES_HTTP_RESPONSE_CODE). Default 429.
	HTTPResponseCode int
	// LockoutURL, if set, redirects locked-out clients there with
	// ?username= (AXES_LOCKOUT_URL).
	LockoutURL string
	// LockoutTemplate, if set, is the path of an html/template file rendered
	// as the lockout page (AXES_LOCKOUT_TEMPLATE). It wins over LockoutURL.
	LockoutTemplate string
	// CoolOffMessage is the lockout text when locks expire
	// (AXES_COOLOFF_MESSAGE).
	CoolOffMessage string
	// PermalockMessage is the lockout text when locks last until reset
	// (AXES_PERMALOCK_MESSAGE).
	PermalockMessage string
	// AllowedCORSOrigins, if set, is sent as Access-Control-Allow-Origin on
	// JSON lockout responses (AXES_ALLOWED_CORS_ORIGINS). Default: no CORS
	// headers (django-axes sends "*").
	AllowedCORSOrigins string
}

// Effective returns the configuration with every default filled in, as the
// middleware uses it.
func (c Config) Effective() Config {
	if c.UsernameFormField == "" {
		c.UsernameFormField = DefaultUsernameFormField
	}
	if c.ForwardedHeader == "" {
		c.ForwardedHeader = DefaultForwardedHeader
	}
	if c.HTTPResponseCode == 0 {
		c.HTTPResponseCode = DefaultHTTPResponseCode
	}
	if c.CoolOffMessage == "" {
		c.CoolOffMessage = DefaultCoolOffMessage
	}
	if c.PermalockMessage == "" {
		c.PermalockMessage = DefaultPermalockMessage
	}
	c.TrustedProxies = setting.FoldPrefixes(c.TrustedProxies) // a copy of its own
	return c
}

// Validate reports every problem with c at once, as errors joined with
// [errors.Join]; each is an *[axes.ConfigError]. It returns nil for a
// usable configuration. [New] calls it.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, env, format string, args ...any) {
		errs = append(errs, &axes.ConfigError{Field: field, Env: env, Problem: fmt.Sprintf(format, args...)})
	}
	if c.UsernameFormField != "" && strings.TrimSpace(c.UsernameFormField) != c.UsernameFormField {
		bad("UsernameFormField", "AXES_USERNAME_FORM_FIELD", "must not have surrounding space")
	}
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			bad("TrustedProxies", "AXES_IPWARE_PROXY_TRUSTED_IPS", "contains an invalid prefix")
		}
	}
	if c.ProxyCount < 0 {
		bad("ProxyCount", "AXES_IPWARE_PROXY_COUNT", "must not be negative, got %d", c.ProxyCount)
	}
	if c.ForwardedHeader != "" && !validHeaderName(c.ForwardedHeader) {
		bad("ForwardedHeader", "AXES_IPWARE_META_PRECEDENCE_ORDER", "%q is not a header name", c.ForwardedHeader)
	}
	if c.HTTPResponseCode != 0 && (c.HTTPResponseCode < 400 || c.HTTPResponseCode > 599) {
		bad("HTTPResponseCode", "AXES_HTTP_RESPONSE_CODE", "must be a 4xx or 5xx status, got %d", c.HTTPResponseCode)
	}
	if c.LockoutURL != "" && !strings.HasPrefix(c.LockoutURL, "/") && !strings.HasPrefix(c.LockoutURL, "https://") && !strings.HasPrefix(c.LockoutURL, "http://") {
		bad("LockoutURL", "AXES_LOCKOUT_URL", "must be a path starting with / or an http(s) URL, got %q", c.LockoutURL)
	}
	return errors.Join(errs...)
}

// ApplyEnv sets the fields of c from the AXES_* variables of its settings
// that lookup finds (os.LookupEnv for the process environment); variables
// that are not set, or set to the empty string, leave their field alone.
// Every bad value is reported, each as an *[axes.ConfigError] naming the
// variable and what it must look like. The guard's variables are read by
// [axes.Config.ApplyEnv].
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return errors.Join(setting.ApplyEnv(registry, c, lookup, valueError)...)
}

// LoadFile reads a JSON configuration file into the two configurations
// its keys belong to: the guard's settings (failure_limit, cooloff_time,
// ...) into core, as [axes.Config.LoadFile] reads them, and the settings
// of this package (username_form_field, lockout_url, ...) into cfg. A key
// that is a setting of neither is an error, so a typo cannot silently
// leave a default in place. Every problem is reported at once.
//
//	var core axes.Config
//	var cfg httpaxes.Config
//	if err := httpaxes.LoadFile("axes.json", &core, &cfg); err != nil { ... }
//	guard, err := axes.New(store, core)
//	...
//	mw, err := httpaxes.New(guard, httpaxes.SettleExplicitly(), httpaxes.WithConfig(cfg))
func LoadFile(path string, core *axes.Config, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("axes: config file: %w", err)
	}
	if err := ParseJSON(data, core, cfg); err != nil {
		return fmt.Errorf("axes: config file %s: %w", path, err)
	}
	return nil
}

// ParseJSON applies a JSON configuration document to core and cfg (see
// [LoadFile]). Problems are reported in the order of the keys.
func ParseJSON(data []byte, core *axes.Config, cfg *Config) error {
	if core == nil || cfg == nil {
		return errors.New("httpaxes: ParseJSON: nil configuration")
	}
	entries, err := setting.DecodeJSON(data)
	if err != nil {
		return err
	}
	mine := map[string]setting.Row[Config]{}
	for _, r := range registry {
		mine[r.Key()] = r
	}
	theirs := map[string]bool{}
	for _, s := range axes.Settings() {
		theirs[s.Key] = true
	}
	var errs []error
	for _, e := range entries {
		if r, ok := mine[e.Key]; ok {
			v, err := e.Text()
			if err == nil {
				err = r.Set(cfg, v)
			}
			if err != nil {
				errs = append(errs, &axes.ConfigError{Field: r.Field, Env: e.Key, Problem: setting.FileProblem(err, r.Help)})
			}
			continue
		}
		if !theirs[e.Key] {
			errs = append(errs, fmt.Errorf("unknown key %q", e.Key))
			continue
		}
		// A key of the guard's: the core reads it as it reads its own
		// files, one key at a time, so that problems keep the key order.
		one, err := json.Marshal(map[string]json.RawMessage{e.Key: e.Raw})
		if err == nil {
			err = core.ParseJSON(one)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// valueError is the *axes.ConfigError for a value of a variable (or flag)
// that does not parse.
func valueError(r setting.Row[Config], v string, err error) error {
	return &axes.ConfigError{Field: r.Field, Env: r.Env, Problem: setting.ValueProblem(v, err, r.Help)}
}
