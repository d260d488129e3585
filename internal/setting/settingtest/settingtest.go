// Package settingtest checks a settings registry against the
// configuration type it sets, for the tests of every package that has
// one (axes and httpaxes).
package settingtest

import (
	"reflect"
	"strings"
	"testing"
)

// Setting is what the checks need of one public setting of a
// configuration of type T: axes.Setting and httpaxes.Setting both reduce
// to it.
type Setting[T any] struct {
	Env, Key, Field, Help string
	Get                   func(T) string
	Set                   func(*T, string) error
}

// Cover checks that every field of T that is data (not a func, which only
// code can set) has exactly one setting, that every setting names a field
// of T, and that names are spelled consistently: AXES_ and upper case for
// the variable, the variable in lower case without AXES_ for the key.
func Cover[T any](t *testing.T, ss []Setting[T]) {
	t.Helper()
	ct := reflect.TypeFor[T]()
	byField := map[string]Setting[T]{}
	seenEnv := map[string]bool{}
	for _, s := range ss {
		if _, ok := ct.FieldByName(s.Field); !ok {
			t.Errorf("%s sets %s.%s, which does not exist", s.Env, ct, s.Field)
		}
		if prev, dup := byField[s.Field]; dup {
			t.Errorf("%s.%s has two settings: %s and %s", ct, s.Field, prev.Env, s.Env)
		}
		byField[s.Field] = s
		if seenEnv[s.Env] {
			t.Errorf("%s is in the registry twice", s.Env)
		}
		seenEnv[s.Env] = true
		if !strings.HasPrefix(s.Env, "AXES_") || strings.ToUpper(s.Env) != s.Env {
			t.Errorf("%s: environment variables are AXES_ and upper case", s.Env)
		}
		if s.Key != strings.ToLower(strings.TrimPrefix(s.Env, "AXES_")) {
			t.Errorf("%s: file key %q is not the variable in lower case without AXES_", s.Env, s.Key)
		}
		if s.Help == "" {
			t.Errorf("%s has no help", s.Env)
		}
	}
	for i := range ct.NumField() {
		f := ct.Field(i)
		if f.Type.Kind() == reflect.Func {
			continue
		}
		if _, ok := byField[f.Name]; !ok {
			t.Errorf("%s.%s has no setting: add a row to the registry", ct, f.Name)
		}
	}
}

// RoundTrip checks every setting with its value in samples (written as
// Get writes it, and not the zero value of its field): Set stores it in
// the field the setting names and nowhere else, Get writes it back as it
// was written, and Set reads Get's text as the same value. The same must
// hold for the default, as effective fills it in and axes config prints
// it.
func RoundTrip[T any](t *testing.T, ss []Setting[T], samples map[string]string, effective func(T) T) {
	t.Helper()
	for _, s := range ss {
		t.Run(s.Key, func(t *testing.T) {
			x, ok := samples[s.Env]
			if !ok {
				t.Fatalf("no sample value of %s", s.Env)
			}
			var c T
			if err := s.Set(&c, x); err != nil {
				t.Fatalf("Set(%q): %v", x, err)
			}
			v := reflect.ValueOf(c)
			for i := range v.NumField() {
				name := v.Type().Field(i).Name
				if changed := !v.Field(i).IsZero(); changed != (name == s.Field) {
					t.Errorf("Set(%q) changed %s: %v (the row names %s)", x, name, changed, s.Field)
				}
			}
			got := s.Get(c)
			if got != x {
				t.Errorf("Get(Set(%q)) = %q", x, got)
			}
			var back T
			if err := s.Set(&back, got); err != nil {
				t.Fatalf("Set(Get()) = Set(%q): %v", got, err)
			}
			if !reflect.DeepEqual(back, c) {
				t.Errorf("Set(%q) read back as %+v, want %+v", got, back, c)
			}

			var zero T
			def := s.Get(effective(zero))
			var fromDef T
			if err := s.Set(&fromDef, def); err != nil {
				t.Fatalf("the default as Get writes it, %q, does not read back: %v", def, err)
			}
			if again := s.Get(effective(fromDef)); again != def {
				t.Errorf("the default %q read back as %q", def, again)
			}
		})
	}
	for env := range samples {
		found := false
		for _, s := range ss {
			found = found || s.Env == env
		}
		if !found {
			t.Errorf("a sample of %s, which is not a setting of %s", env, reflect.TypeFor[T]())
		}
	}
}
