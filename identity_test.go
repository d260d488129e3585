package axes

import (
	"context"
	"errors"
	"testing"
)

func TestFoldUsernameStrict(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "alice", "alice"},
		{"case and space, as FoldUsername", "  ÄLICE\u212a ", "älicek"},
		{"zero-width space", "al\u200Bice", "alice"},
		{"zero-width non-joiner and joiner", "\u200Cali\u200Dce", "alice"},
		{"direction marks", "\u200Ealice\u200F", "alice"},
		{"bidi override", "\u202Ealice\u202C", "alice"},
		{"word joiner", "ali\u2060ce", "alice"},
		{"soft hyphen", "al\u00ADice", "alice"},
		{"byte order mark", "\uFEFFalice", "alice"},
		{"variation selector", "alice\uFE0F", "alice"},
		{"variation selector supplement", "alice\U000E0100", "alice"},
		{"tag characters", "alice\U000E0041", "alice"},
		{"combining grapheme joiner", "ali\u034Fce", "alice"},
		{"Mongolian variation selector", "ali\u180Bce", "alice"},
		{"Hangul filler", "\u3164alice", "alice"},
		{"fullwidth letters", "ａｌｉｃｅ", "alice"},
		{"fullwidth capitals fold", "ＡＬＩＣＥ", "alice"},
		{"fullwidth digits and punctuation", "ｂｏｂ＿０１＠ｅｘａｍｐｌｅ．ｃｏｍ", "bob_01@example.com"},
		{"fullwidth range ends", "\uFF01\uFF5E", "!~"},
		{"ideographic space is trimmed", "\u3000alice\u3000", "alice"},
		{"invisible then space, trimmed", " \u200B alice", "alice"},
		{"only invisible", "\u200B\uFEFF", ""},
		// Not NFKC: these stay as they are.
		{"ligature kept", "\uFB01le", "\uFB01le"},
		{"superscript kept", "x\u00B2", "x\u00B2"},
		{"halfwidth katakana kept", "\uFF71", "\uFF71"},
		{"Cyrillic a kept", "\u0430lice", "\u0430lice"},
		{"combining accent kept", "a\u0301", "a\u0301"},
		{"non-breaking space trimmed, as FoldUsername", "\u00A0alice", "alice"},
		{"just below the soft hyphen", "\u00ACx", "\u00ACx"},
		{"just past the fullwidth range", "\uFF5F", "\uFF5F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FoldUsernameStrict(tt.in); got != tt.want {
				t.Errorf("FoldUsernameStrict(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	// The default is unchanged: existing buckets keep their keys.
	if got := FoldUsername("al\u200Bice"); got != "al\u200Bice" {
		t.Errorf("FoldUsername(%q) = %q: the default normalisation changed", "al\u200Bice", got)
	}
}

// The strict normalisation puts the variants in the bucket of the plain
// name.
func TestFoldUsernameStrictSharesBucket(t *testing.T) {
	g, err := New(newMapStore(), Config{NormalizeUsername: FoldUsernameStrict, LockoutParameters: []Group{{ParamUsername}}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := g.Buckets(Identity{Username: "alice"})
	for _, u := range []string{"ALICE", "al\u200Bice", "ａｌｉｃｅ", "\uFEFFalice\u00AD"} {
		got, err := g.Buckets(Identity{Username: u})
		if err != nil || len(got) != 1 || got[0].Key != want[0].Key {
			t.Errorf("%q: buckets %v (%v), want %v", u, got, err, want)
		}
	}
}

// The guard refuses a username with NUL before anything is counted or
// checked; invalid UTF-8 is kept, as U+FFFD.
func TestGuardRefusesNULUsername(t *testing.T) {
	g, err := New(newMapStore(), Config{LockoutParameters: []Group{{ParamUsername}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := g.Admit(ctx, Identity{Username: "alice\x00x"}); !errors.Is(err, ErrInvalidUsername) {
		t.Errorf("Admit: err %v, want ErrInvalidUsername", err)
	}
	checked := false
	res, err := g.Authenticate(ctx, Identity{Username: "\x00"}, func(context.Context) (bool, error) { checked = true; return true, nil })
	if !errors.Is(err, ErrInvalidUsername) || checked || res.Verdict != Undecided {
		t.Errorf("Authenticate: %v, %v, checked %v; want Undecided, ErrInvalidUsername, not checked", res.Verdict, err, checked)
	}
	tk, err := g.Admit(ctx, Identity{Username: "al\xffice"})
	if err != nil {
		t.Fatalf("Admit of invalid UTF-8: %v", err)
	}
	if u := tk.Identity().Username; u != "al\uFFFDice" {
		t.Errorf("invalid UTF-8 keyed as %q, want U+FFFD in its place", u)
	}
	_ = tk.Release(ctx)

	// A disabled guard admits everything, as documented.
	off, _ := New(newMapStore(), Config{Disabled: true})
	if _, err := off.Admit(ctx, Identity{Username: "\x00"}); err != nil {
		t.Errorf("disabled guard: %v", err)
	}
}
