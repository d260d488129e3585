package httpaxes_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
	"github.com/goaxes/axes/internal/setting/settingtest"
)

// settingSamples holds a value of every setting, written as Get writes it,
// that is not the zero value of its field. A new setting needs one here.
var settingSamples = map[string]string{
	"AXES_USERNAME_FORM_FIELD":          "email",
	"AXES_IPWARE_PROXY_TRUSTED_IPS":     "127.0.0.1,10.1.0.0/16",
	"AXES_IPWARE_PROXY_COUNT":           "2",
	"AXES_IPWARE_META_PRECEDENCE_ORDER": "X-Real-IP",
	"AXES_HTTP_RESPONSE_CODE":           "403",
	"AXES_LOCKOUT_URL":                  "/locked",
	"AXES_LOCKOUT_TEMPLATE":             "templates/locked.html",
	"AXES_COOLOFF_MESSAGE":              "Locked; try again in a while.",
	"AXES_PERMALOCK_MESSAGE":            "Locked; ask an admin.",
	"AXES_ALLOWED_CORS_ORIGINS":         "https://app.example",
}

func cases() []settingtest.Setting[httpaxes.Config] {
	var out []settingtest.Setting[httpaxes.Config]
	for _, s := range httpaxes.Settings() {
		out = append(out, settingtest.Setting[httpaxes.Config]{Env: s.Env, Key: s.Key, Field: s.Field, Help: s.Help, Get: s.Get, Set: s.Set})
	}
	return out
}

// TestSettingsCoverConfig: every field of httpaxes.Config has exactly one
// setting, spelled as the guard's are.
func TestSettingsCoverConfig(t *testing.T) { settingtest.Cover(t, cases()) }

// TestSettingsRoundTrip: every setting reads its sample into its own field
// only, and writes it back as it was written; so do the defaults.
func TestSettingsRoundTrip(t *testing.T) {
	settingtest.RoundTrip(t, cases(), settingSamples, httpaxes.Config.Effective)
}

// TestSettingsApart: no variable is a setting of both configurations, so a
// file key always has one owner.
func TestSettingsApart(t *testing.T) {
	for _, s := range httpaxes.Settings() {
		for _, c := range axes.Settings() {
			if s.Env == c.Env {
				t.Errorf("%s is a setting of axes.Config and of httpaxes.Config", s.Env)
			}
		}
	}
}

func TestSettingSetNamesTheSetting(t *testing.T) {
	for _, s := range httpaxes.Settings() {
		if s.Env != "AXES_HTTP_RESPONSE_CODE" {
			continue
		}
		var ce *axes.ConfigError
		err := s.Set(new(httpaxes.Config), "200")
		if !errors.As(err, &ce) || ce.Env != "AXES_HTTP_RESPONSE_CODE" || ce.Field != "HTTPResponseCode" || !strings.Contains(ce.Problem, "from 400 to 599") {
			t.Errorf("Set(200) = %v, want a *axes.ConfigError naming AXES_HTTP_RESPONSE_CODE and what it expects", err)
		}
		return
	}
	t.Fatal("no AXES_HTTP_RESPONSE_CODE setting")
}

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestApplyEnv(t *testing.T) {
	var c httpaxes.Config
	err := c.ApplyEnv(lookupMap(map[string]string{
		"AXES_USERNAME_FORM_FIELD":          "email",
		"AXES_IPWARE_PROXY_COUNT":           "1",
		"AXES_IPWARE_META_PRECEDENCE_ORDER": "HTTP_X_REAL_IP",
		"AXES_HTTP_RESPONSE_CODE":           "403",
		"AXES_LOCKOUT_URL":                  " ",     // blank: left alone
		"AXES_FAILURE_LIMIT":                "5",     // the guard's: not read here
		"AXES_COOLOFF_TIME":                 "bogus", // the guard's: not reported here
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := httpaxes.Config{UsernameFormField: "email", ProxyCount: 1, ForwardedHeader: "X-Real-Ip", HTTPResponseCode: 403}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ApplyEnv = %+v, want %+v", c, want)
	}

	err = new(httpaxes.Config).ApplyEnv(lookupMap(map[string]string{
		"AXES_HTTP_RESPONSE_CODE":       "200",
		"AXES_IPWARE_PROXY_TRUSTED_IPS": "10.0.0.0/33",
	}))
	for _, want := range []string{"AXES_HTTP_RESPONSE_CODE", `"200" is not valid`, "AXES_IPWARE_PROXY_TRUSTED_IPS", "CIDR"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ApplyEnv error %v does not mention %q", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (httpaxes.Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	c := httpaxes.Config{UsernameFormField: " user", ProxyCount: -1, ForwardedHeader: "X Real", HTTPResponseCode: 200, LockoutURL: "locked"}
	err := c.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *axes.ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *axes.ConfigError", e)
		}
		fields = append(fields, ce.Field)
	}
	if want := []string{"UsernameFormField", "ProxyCount", "ForwardedHeader", "HTTPResponseCode", "LockoutURL"}; !slices.Equal(fields, want) {
		t.Errorf("Validate reported %v, want %v", fields, want)
	}
	// Both proxy settings together count hops behind a trusted peer.
	both := httpaxes.Config{ProxyCount: 1, TrustedProxies: prefixes(t, "10.0.0.0/8")}
	if err := both.Validate(); err != nil {
		t.Errorf("ProxyCount and TrustedProxies: %v", err)
	}
	// New refuses what Validate refuses.
	g := newGuard(t, newMapStore(), axes.Config{})
	if _, err := httpaxes.New(g, httpaxes.SettleExplicitly(), httpaxes.WithConfig(c)); err == nil || !strings.Contains(err.Error(), "AXES_HTTP_RESPONSE_CODE") {
		t.Errorf("New with an invalid Config: %v", err)
	}
}

// TestLoadFile: one file holds the keys of both configurations; each goes
// to its own, and a key neither knows is an error.
func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "axes.json")
	doc := `{"failure_limit": 5, "cooloff_time": "15m", "username_form_field": "email",
	  "ipware_proxy_trusted_ips": ["10.0.0.0/8"], "lockout_url": "/locked", "silenced_checks": ["axes.W006"]}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var core axes.Config
	var cfg httpaxes.Config
	if err := httpaxes.LoadFile(path, &core, &cfg); err != nil {
		t.Fatal(err)
	}
	wantCore := axes.Config{FailureLimit: 5, CoolOff: 15 * time.Minute, SilencedChecks: []string{"axes.W006"}}
	if !reflect.DeepEqual(core, wantCore) {
		t.Errorf("core = %+v, want %+v", core, wantCore)
	}
	wantCfg := httpaxes.Config{UsernameFormField: "email", TrustedProxies: prefixes(t, "10.0.0.0/8"), LockoutURL: "/locked"}
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("cfg = %+v, want %+v", cfg, wantCfg)
	}

	bad := `{"failure_limt": 5, "cooloff_time": 2, "http_response_code": 200, "lockout_urll": "/x"}`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := httpaxes.LoadFile(path, new(axes.Config), new(httpaxes.Config))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	// Every problem, in the order of the keys.
	want := []string{`CoolOff (cooloff_time)`, `unknown key "failure_limt"`, `HTTPResponseCode (http_response_code)`, `unknown key "lockout_urll"`}
	last := -1
	for _, w := range want {
		i := strings.Index(msg, w)
		if i < 0 {
			t.Errorf("error does not mention %q:\n%s", w, msg)
			continue
		}
		if i < last {
			t.Errorf("%q is out of key order:\n%s", w, msg)
		}
		last = i
	}
	if strings.Contains(msg, "httpaxes.LoadFile") {
		t.Errorf("the combined loader points to itself:\n%s", msg)
	}
	if err := httpaxes.ParseJSON([]byte(`{}`), nil, new(httpaxes.Config)); err == nil {
		t.Error("ParseJSON with a nil axes.Config: no error")
	}
	if err := httpaxes.ParseJSON([]byte(`[]`), new(axes.Config), new(httpaxes.Config)); err == nil {
		t.Error("ParseJSON of a list: no error")
	}
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  httpaxes.Config
		want []string
	}{
		{"defaults", httpaxes.Config{}, nil},
		{"trust all", httpaxes.Config{TrustedProxies: prefixes(t, "0.0.0.0/0")}, []string{"axes.W101"}},
		{"header without proxy", httpaxes.Config{ForwardedHeader: "X-Real-IP"}, []string{"axes.W102"}},
		{"header with proxy count", httpaxes.Config{ForwardedHeader: "X-Real-IP", ProxyCount: 1}, []string{"axes.W109"}},
		{"proxy count without trusted proxies", httpaxes.Config{ProxyCount: 2}, []string{"axes.W109"}},
		{"proxy count behind trusted proxies", httpaxes.Config{ProxyCount: 2, TrustedProxies: prefixes(t, "10.0.0.0/8")}, nil},
		{"trusted proxies alone", httpaxes.Config{TrustedProxies: prefixes(t, "10.0.0.0/8")}, nil},
		{"invalid value", httpaxes.Config{HTTPResponseCode: 200}, []string{"axes.W005"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := tc.cfg.Check()
			var got []string
			for _, f := range fs {
				got = append(got, f.Code)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Check() = %v, want %v", got, tc.want)
			}
			levels := map[string]axes.Level{}
			for _, c := range axes.Checks() {
				levels[c.Code] = c.Level
			}
			for _, f := range fs {
				if f.Level != levels[f.Code] {
					t.Errorf("%s: level %s, the table says %s", f.Code, f.Level, levels[f.Code])
				}
			}
		})
	}
}

// TestMiddlewareCheck: the middleware's Check reports its guard's findings
// and its own Config's, less the codes the guard silences.
func TestMiddlewareCheck(t *testing.T) {
	codes := func(fs []axes.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Code)
		}
		return out
	}
	cfg := httpaxes.Config{TrustedProxies: prefixes(t, "::/0")}
	g := newGuard(t, newMapStore(), axes.Config{LockoutParameters: []axes.Group{{axes.ParamUsername}}, CoolOff: time.Hour})
	m := newMiddleware(t, g, httpaxes.WithConfig(cfg))
	cfg.TrustedProxies[0] = prefixes(t, "10.0.0.0/8")[0] // the middleware has its own copy
	got := codes(m.Check(context.Background()))
	for _, want := range []string{"axes.W006", "axes.W101"} {
		if !slices.Contains(got, want) {
			t.Errorf("Check() = %v, want %s among them", got, want)
		}
	}
	for _, wired := range []string{"axes.W002", "axes.W003"} {
		if slices.Contains(got, wired) {
			t.Errorf("Check() = %v: %s, although the middleware is wired", got, wired)
		}
	}
	// The middleware reports axes.W109 for a hop count without trusted
	// proxies, and the guard's SilencedChecks can silence it.
	m = newMiddleware(t, newGuard(t, newMapStore(), axes.Config{}), httpaxes.WithConfig(httpaxes.Config{ProxyCount: 1}))
	if got := codes(m.Check(context.Background())); !slices.Contains(got, "axes.W109") {
		t.Errorf("Check() = %v with ProxyCount alone, want axes.W109", got)
	}
	m = newMiddleware(t, newGuard(t, newMapStore(), axes.Config{SilencedChecks: []string{"axes.W109"}}), httpaxes.WithConfig(httpaxes.Config{ProxyCount: 1}))
	if got := codes(m.Check(context.Background())); slices.Contains(got, "axes.W109") {
		t.Errorf("Check() = %v with axes.W109 silenced", got)
	}
	g = newGuard(t, newMapStore(), axes.Config{SilencedChecks: []string{"axes.W102"}})
	m = newMiddleware(t, g, httpaxes.WithConfig(httpaxes.Config{ForwardedHeader: "X-Real-IP"}))
	if got := codes(m.Check(context.Background())); slices.Contains(got, "axes.W102") {
		t.Errorf("Check() = %v with axes.W102 silenced", got)
	}
}
