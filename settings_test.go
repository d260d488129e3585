package axes

import (
	"strings"
	"testing"

	"github.com/goaxes/axes/internal/setting/settingtest"
)

// settingSamples holds a value of every setting, written as Get writes it,
// that is not the zero value of its field. A new setting needs one here.
var settingSamples = map[string]string{
	"AXES_ENABLED":                                  "false",
	"AXES_MAX_WAIT":                                 "off",
	"AXES_MAX_WAITERS":                              "20",
	"AXES_STORE_TIMEOUT":                            "500ms",
	"AXES_FAIL_OPEN":                                "true",
	"AXES_FAILURE_LIMIT":                            "5",
	"AXES_COOLOFF_TIME":                             "1h30m",
	"AXES_FAILURE_WINDOW":                           "2h",
	"AXES_LOCKOUT_PARAMETERS":                       "username+ip_address,user_agent",
	"AXES_LOCKOUT_TIERS":                            "3:1m,6:15m,10:0",
	"AXES_LOCK_OUT_AT_FAILURE":                      "false",
	"AXES_RESET_ON_SUCCESS":                         "true",
	"AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT": "false",
	"AXES_IP_WHITELIST":                             "10.0.0.0/8,192.0.2.7",
	"AXES_IP_BLACKLIST":                             "2001:db8::/32,::1",
	"AXES_NEVER_LOCKOUT_WHITELIST":                  "true",
	"AXES_ONLY_WHITELIST":                           "true",
	"AXES_NEVER_LOCKOUT_GET":                        "true",
	"AXES_IPV6_PREFIX":                              "56",
	"AXES_DISABLE_ACCESS_LOG":                       "true",
	"AXES_ENABLE_ACCESS_FAILURE_LOG":                "true",
	"AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT":        "50",
	"AXES_SILENCED_CHECKS":                          "axes.W001,axes.W006",
}

// cases are the registry's settings as settingtest checks them.
func cases() []settingtest.Setting[Config] {
	var out []settingtest.Setting[Config]
	for _, s := range Settings() {
		out = append(out, settingtest.Setting[Config]{Env: s.Env, Key: s.Key, Field: s.Field, Help: s.Help, Get: s.Get, Set: s.Set})
	}
	return out
}

// TestSettingsCoverConfig: every Config field that is data (not a func,
// which only code can set) has exactly one setting, and every setting
// names a Config field and is spelled consistently.
func TestSettingsCoverConfig(t *testing.T) { settingtest.Cover(t, cases()) }

// TestSettingsRoundTrip: for every setting, Set stores its value in the
// field the row names and nowhere else, Get writes it back as it was
// written, and Set reads Get's text as the same value. The same holds for
// the defaults, as axes config prints them.
func TestSettingsRoundTrip(t *testing.T) {
	settingtest.RoundTrip(t, cases(), settingSamples, Config.Effective)
}

// TestSettingsAreCopies: changing what Settings returns changes nothing
// in the registry.
func TestSettingsAreCopies(t *testing.T) {
	s := Settings()
	s[0].Env, s[0].Help = "AXES_CHANGED", ""
	s[0] = Settings()[1]
	if again := Settings(); again[0].Env != "AXES_ENABLED" || again[0].Help == "" {
		t.Errorf("Settings()[0] = %+v after the caller changed its copy", again[0])
	}
}

func TestSettingSetNamesTheSetting(t *testing.T) {
	for _, s := range Settings() {
		if s.Env != "AXES_FAILURE_LIMIT" {
			continue
		}
		err := s.Set(new(Config), "zero")
		ce, ok := err.(*ConfigError)
		if !ok || ce.Env != "AXES_FAILURE_LIMIT" || ce.Field != "FailureLimit" || !strings.Contains(ce.Problem, "a whole number of at least 1") {
			t.Errorf("Set(zero) = %v, want a *ConfigError naming AXES_FAILURE_LIMIT and what it expects", err)
		}
		return
	}
	t.Fatal("no AXES_FAILURE_LIMIT setting")
}
