package axes

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestApplyEnv(t *testing.T) {
	var c Config
	err := c.ApplyEnv(lookupMap(map[string]string{
		"AXES_FAILURE_LIMIT":                            "5",
		"AXES_COOLOFF_TIME":                             "1h30m",
		"AXES_LOCKOUT_PARAMETERS":                       "username+ip_address,user_agent",
		"AXES_RESET_ON_SUCCESS":                         "True",
		"AXES_LOCK_OUT_AT_FAILURE":                      "0",
		"AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT": "false",
		"AXES_IP_WHITELIST":                             "10.0.0.0/8, 192.0.2.1",
		"AXES_IP_BLACKLIST":                             "::ffff:203.0.113.9",
		"AXES_NEVER_LOCKOUT_WHITELIST":                  "1",
		"AXES_ONLY_WHITELIST":                           "false",
		"AXES_NEVER_LOCKOUT_GET":                        "true",
		"AXES_ENABLED":                                  "false",
		"AXES_LOCKOUT_TIERS":                            "3:1m,6:15m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Disabled: true, FailureLimit: 5, CoolOff: 90 * time.Minute,
		LockoutParameters: []Group{{ParamUsername, ParamIPAddress}, {ParamUserAgent}},
		ResetOnSuccess:    true, RecordOnly: true, FixedCoolOff: true,
		IPAllowlist:           []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")},
		IPDenylist:            []netip.Prefix{netip.MustParsePrefix("203.0.113.9/32")},
		NeverLockoutAllowlist: true, NeverLockoutGET: true,
		Tiers: []Tier{{3, time.Minute}, {6, 15 * time.Minute}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ApplyEnv =\n%+v\nwant\n%+v", c, want)
	}
}

func TestApplyEnvJSONLockoutParameters(t *testing.T) {
	var c Config
	if err := c.ApplyEnv(lookupMap(map[string]string{"AXES_LOCKOUT_PARAMETERS": `["ip_address", ["username","user_agent"]]`})); err != nil {
		t.Fatal(err)
	}
	want := []Group{{ParamIPAddress}, {ParamUsername, ParamUserAgent}}
	if !reflect.DeepEqual(c.LockoutParameters, want) {
		t.Errorf("got %v, want %v", c.LockoutParameters, want)
	}
}

func TestApplyEnvReportsEveryBadValue(t *testing.T) {
	var c Config
	err := c.ApplyEnv(lookupMap(map[string]string{
		"AXES_COOLOFF_TIME":       "2",
		"AXES_FAILURE_LIMIT":      "three",
		"AXES_LOCKOUT_PARAMETERS": "ip_address,session",
		"AXES_RESET_ON_SUCCESS":   "yes",
		"AXES_IP_BLACKLIST":       "1.2.3.400",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"AXES_COOLOFF_TIME", "bare number", "write 2h or 2m",
		"AXES_FAILURE_LIMIT", "AXES_LOCKOUT_PARAMETERS", `"session" is not a lockout parameter`,
		"AXES_RESET_ON_SUCCESS", "true, false, 1 or 0", "AXES_IP_BLACKLIST",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("error is not a *ConfigError")
	}
}

func TestLegacyFlags(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []Group
	}{
		{map[string]string{"AXES_ONLY_USER_FAILURES": "true"}, []Group{{ParamUsername}}},
		{map[string]string{"AXES_LOCK_OUT_BY_USER_OR_IP": "1"}, []Group{{ParamUsername}, {ParamIPAddress}}},
		{map[string]string{"AXES_LOCK_OUT_BY_COMBINATION_USER_AND_IP": "1"}, []Group{{ParamUsername, ParamIPAddress}}},
		{map[string]string{"AXES_USE_USER_AGENT": "1"}, []Group{{ParamIPAddress, ParamUserAgent}}},
		{map[string]string{"AXES_LOCK_OUT_BY_USER_OR_IP": "1", "AXES_USE_USER_AGENT": "1"}, []Group{{ParamUsername, ParamUserAgent}, {ParamIPAddress}}},
		{map[string]string{"AXES_ONLY_USER_FAILURES": "1", "AXES_LOCKOUT_PARAMETERS": "ip_address"}, []Group{{ParamIPAddress}}},
	} {
		var c Config
		if err := c.ApplyEnv(lookupMap(tc.env)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.LockoutParameters, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.env, c.LockoutParameters, tc.want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "axes.json")
	doc := `{"failure_limit": 5, "cooloff_time": "15m", "lockout_parameters": [["username","ip_address"]],
	  "ip_blacklist": ["10.0.0.0/8"], "reset_on_success": true, "silenced_checks": ["axes.W006"]}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if c.FailureLimit != 5 || c.CoolOff != 15*time.Minute || !c.ResetOnSuccess ||
		!reflect.DeepEqual(c.LockoutParameters, []Group{{ParamUsername, ParamIPAddress}}) ||
		len(c.IPDenylist) != 1 || !reflect.DeepEqual(c.SilencedChecks, []string{"axes.W006"}) {
		t.Errorf("LoadFile = %+v", c)
	}
	bad := `{"failure_limt": 5, "cooloff_time": 2}`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := new(Config).LoadFile(path)
	if err == nil || !strings.Contains(err.Error(), `unknown key "failure_limt"`) || !strings.Contains(err.Error(), "bare number") {
		t.Errorf("bad file error = %v", err)
	}
	// A key of httpaxes.Config is not one of Config's: the error says
	// where such a file is read.
	err = new(Config).ParseJSON([]byte(`{"lockout_url": "/locked"}`))
	if err == nil || !strings.Contains(err.Error(), `unknown key "lockout_url"`) || !strings.Contains(err.Error(), "httpaxes.LoadFile") {
		t.Errorf("HTTP key error = %v", err)
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	c := Config{FailureLimit: -1, CoolOff: -time.Second, LockoutParameters: []Group{{"ip"}},
		OnlyAllowlist: true, Tiers: []Tier{{0, time.Minute}}}
	err := c.Validate()
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConfigError
		if !errors.As(e, &ce) {
			t.Errorf("%v is not a *ConfigError", e)
		}
		n++
	}
	if n != 5 {
		t.Errorf("Validate found %d problems, want 5:\n%v", n, err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestFoldUsername(t *testing.T) {
	if got := FoldUsername("  ÄLICE\u212a "); got != "älicek" {
		t.Errorf("FoldUsername = %q", got)
	}
}

func TestKeysAreUnambiguous(t *testing.T) {
	id := func(u, ua string) Identity { return Identity{IP: ip1, Username: u, UserAgent: ua} }
	g := Group{ParamUsername, ParamUserAgent}
	a := bucketsFor(id("a|user_agent=1:b", "c"), "1.1.1.1", []Group{g})
	b := bucketsFor(id("a", "b|user_agent=1:c"), "1.1.1.1", []Group{g})
	if a[0].Key == b[0].Key {
		t.Errorf("keys collide: %q", a[0].Key)
	}
	u := bucketsFor(id("1.1.1.1", ""), "9.9.9.9", []Group{{ParamUsername}})
	i := bucketsFor(id("", ""), "1.1.1.1", []Group{{ParamIPAddress}})
	if u[0].Key == i[0].Key {
		t.Errorf("username 1.1.1.1 shares the key of IP 1.1.1.1")
	}
}

func FuzzParseLockoutParameters(f *testing.F) {
	for _, s := range []string{"ip_address", "username+ip_address,user_agent", `[["username","ip_address"]]`, "[", "+,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		gs, err := parseLockoutParameters(s)
		if err != nil {
			return
		}
		for _, g := range gs {
			if validateGroup(g) != nil {
				t.Errorf("accepted invalid group %v from %q", g, s)
			}
		}
	})
}
