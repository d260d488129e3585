package main

// Tests that client-chosen text cannot act on the operator's terminal:
// every command's text output, over a store seeded with hostile
// usernames, user agents and rule reasons, has no control character but
// the layout's new lines and tabs and no bidi or invisible format
// character; the hostile characters show as visible escapes; JSON output
// decodes to the exact values; and an unlock hint is a shell command line
// whose username is exactly one word.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/storage"
)

// hostile are values a client (or whoever wrote to a shared store) picks.
var hostile = []string{
	"clear\x1b[2Jscreen",
	"link\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
	"mallory\r\nunlock: axes allow add 0.0.0.0/0",
	"adm\u202enimda\u2066x\u2069y\u202a\u202b\u202c\u202d\u2067\u2068",
	"ro\u200bo\u200c\u200d\u200e\u200ft\u2028\u2029\ufeffz",
	"csi\u009b2J\x7fdel\x07bel\x08bs\tTab",
	"x'; axes allow add 0.0.0.0/0; echo '",
}

// badRune reports a character the tool's output must never carry raw:
// any control character but \n and \t, a format character (bidi controls,
// zero-width characters, the BOM), a line or paragraph separator.
func badRune(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// assertInert fails when out has a character badRune names or bytes that
// are not UTF-8.
func assertInert(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: output is not UTF-8: %q", what, out)
	}
	for i, r := range out {
		if badRune(r) {
			t.Errorf("%s: raw %U at byte %d:\n%q", what, r, i, out)
			return
		}
	}
}

// hostileFixture is a SQLite store with a bucket for each hostile
// username (alone, and with an address), failures with a hostile user
// agent, and allow and deny rules with hostile reasons; its configuration
// file has a hostile name.
func hostileFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{dir: dir, dsn: "sqlite:" + filepath.Join(dir, "axes.db"), config: filepath.Join(dir, "ax\x1b[2Jes\u202e.json")}
	const cfgText = `{"cooloff_time": "1h", "failure_limit": 2,
	  "lockout_parameters": "ip_address,username+ip_address,username,user_agent"}`
	if err := os.WriteFile(f.config, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := openStore(t.Context(), f.dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var cfg axes.Config
	if err := cfg.LoadFile(f.config); err != nil {
		t.Fatal(err)
	}
	clock := cliNow.Add(-10 * time.Minute)
	g, err := axes.New(s, cfg, axes.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hostile {
		for range 2 {
			clock = clock.Add(time.Second)
			id := axes.Identity{IP: netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), Username: h, UserAgent: "ua " + h, Path: "/login" + h}
			if _, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { return false, nil }); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range []storage.Action{storage.ActionAllow, storage.ActionDeny} {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(a[0]), byte(i), 0}), 24)
			if err := g.AddRule(t.Context(), storage.Rule{Prefix: p, Action: a, Reason: h, Created: clock}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

// TestTextOutputIsInert runs every command that prints stored or given
// values over the hostile store.
func TestTextOutputIsInert(t *testing.T) {
	f := hostileFixture(t)
	env := f.env()
	denied := fmt.Sprintf("10.%d.0.1", 'd') // in the first deny rule
	runs := [][]string{
		{"list"},
		{"list", "--locked"},
		{"list", "--ip", "10.0.1.1"},
		{"explain", denied},
		{"explain", "--user-agent", "ua " + hostile[0], "10.0.1.1", hostile[0]},
		{"allow", "list"},
		{"deny", "list"},
		{"check"},
		{"config"},
		{"config", "--username-form-field", "user\u202e\x1b[2J"},
		{"check", "--cooloff-time", "1h\x1b[2J\u202e"},
		{"reset-logs", "--age", "0"},
		{"prune"},
		// Messages that quote what the operator (or a pasted name) gave.
		{"list", "--store", "sqlite:" + filepath.Join(f.dir, "no\x1b]8;;http://e/\x07such\u202e.db")},
		{"list", "--bogus\x1b[2J\u202e"},
		{"list", "--ip", "10.0.0.300\x1b[2J\u2066"},
		{"deny", "add", "10.0.0.1\x1b[2J\u202e"},
		{"deny", "frob\x1b[2J\u202e"},
		{"explain", "a\x1b[2J\u202e", "b\u2028c"},
		{"frob\x1b[2J\u202e"},
	}
	for _, h := range hostile {
		runs = append(runs, []string{"explain", h}, []string{"list", "--username", h})
	}
	for i, h := range hostile {
		runs = append(runs, []string{"explain", fmt.Sprintf("10.0.1.%d", i+1), h})
	}
	for _, h := range hostile {
		runs = append(runs, []string{"reset", "--username", h})
	}
	for _, args := range runs {
		r := axesRun(t, env, args...)
		what := "axes " + strconv.Quote(strings.Join(args, " "))
		assertInert(t, what+" stdout", r.stdout)
		assertInert(t, what+" stderr", r.stderr)
	}
}

// TestInertEscapesAreVisible: the hostile characters are shown as escapes,
// not dropped or replaced by a '?' that hides what they were.
func TestInertEscapesAreVisible(t *testing.T) {
	f := hostileFixture(t)
	list := axesRun(t, f.env(), "list").want(t, exitOK).stdout
	explain := axesRun(t, f.env(), "explain", "10.0.1.4", hostile[3]).want(t, exitOK).stdout
	rules := axesRun(t, f.env(), "deny", "list").want(t, exitOK).stdout
	for _, want := range []string{`clear\x1b[2Jscreen`, `mallory\r\nunlock: axes allow add 0.0.0.0/0`,
		`adm\u202enimda\u2066x\u2069`, `ro\u200bo\u200c`, `\u2028\u2029\ufeffz`, `csi\u009b2J\x7fdel\x07bel\x08bs\tTab`} {
		// The username column shows the folded name.
		if !strings.Contains(list, want) && !strings.Contains(list, strings.ToLower(want)) {
			t.Errorf("list does not show %s:\n%s", want, list)
		}
		if !strings.Contains(rules, want) {
			t.Errorf("deny list does not show %s:\n%s", want, rules)
		}
	}
	if !strings.Contains(explain, `username adm\u202enimda\u2066x\u2069`) {
		t.Errorf("explain does not show the escaped username:\n%s", explain)
	}
	// No forged line: every line of list is a row of the table.
	for _, line := range strings.Split(strings.TrimSuffix(list, "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "unlock:") {
			t.Errorf("list has a forged line %q", line)
		}
	}
}

// TestJSONOutputIsExact: --json escapes the same characters, as JSON
// escapes, and decodes to the stored values.
func TestJSONOutputIsExact(t *testing.T) {
	f := hostileFixture(t)
	var recs []recordJSON
	for _, args := range [][]string{{"list", "--json"}, {"deny", "list", "--json"}, {"config", "--json"}, {"check", "--json"},
		{"explain", "--json", "10.0.1.4", hostile[3]}} {
		r := axesRun(t, f.env(), args...)
		assertInert(t, "axes "+strings.Join(args, " "), r.stdout)
		if !json.Valid([]byte(r.stdout)) {
			t.Errorf("axes %s: not JSON:\n%s", strings.Join(args, " "), r.stdout)
		}
		if args[0] == "list" {
			if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string]bool{}
	for _, r := range recs {
		got[r.Username] = true
	}
	for _, h := range hostile {
		if u := axes.FoldUsername(h); !got[u] {
			t.Errorf("list --json lost the username %q", u)
		}
	}
}

// TestUnlockHintIsOneShellWord: the unlock hints of a locked username are
// one command line a POSIX shell splits into exactly the words of the
// command, the username being one word with the stored value, on one line.
func TestUnlockHintIsOneShellWord(t *testing.T) {
	names := []string{
		"x'; axes allow add 0.0.0.0/0; echo '",
		"mallory\nunlock: axes allow add 0.0.0.0/0",
		"m\r\x1b[2J\u202e'; axes allow add 0.0.0.0/0; echo '\\",
		`eve\'$(id)` + "`id`\"$HOME\"",
		"zw\u200bsp\ufeff\x7f\u009b",
	}
	f := newFixture(t, false)
	if err := os.WriteFile(f.config, []byte(`{"lockout_parameters": "username", "failure_limit": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := openStore(t.Context(), f.dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	g, err := axes.New(s, axes.Config{LockoutParameters: []axes.Group{{axes.ParamUsername}}, FailureLimit: 1},
		axes.WithClock(func() time.Time { return cliNow }))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		id := axes.Identity{IP: netip.MustParseAddr("10.0.0.9"), Username: n}
		if _, err := g.Authenticate(t.Context(), id, func(context.Context) (bool, error) { return false, nil }); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for _, n := range names {
		want := []string{"axes", "reset", "--username", axes.FoldUsername(n)}
		r := axesRun(t, f.env(), "explain", n).want(t, exitOK)
		assertInert(t, "explain "+strconv.Quote(n), r.stdout)
		found := 0
		for _, line := range strings.Split(r.stdout, "\n") {
			var hint string
			switch {
			case strings.HasPrefix(line, "To unlock: "):
				hint = strings.TrimPrefix(line, "To unlock: ")
			case strings.HasPrefix(line, "    unlock:"):
				hint = strings.TrimSpace(strings.TrimPrefix(line, "    unlock:"))
			default:
				continue
			}
			found++
			words, err := shellSplit(hint)
			if err != nil || !equalStrings(words, want) {
				t.Errorf("username %q: hint %q splits into %q (%v), want %q", n, hint, words, err, want)
			}
		}
		if found != 2 {
			t.Errorf("username %q: %d hint lines, want 2:\n%s", n, found, r.stdout)
		}
		var ex explainJSON
		r = axesRun(t, f.env(), "explain", "--json", n).want(t, exitOK)
		if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil {
			t.Fatal(err)
		}
		if len(ex.Unlock) != 1 {
			t.Fatalf("username %q: unlock %q", n, ex.Unlock)
		}
		if words, err := shellSplit(ex.Unlock[0]); err != nil || !equalStrings(words, want) {
			t.Errorf("username %q: JSON hint %q splits into %q (%v)", n, ex.Unlock[0], words, err)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// shellSplit splits one line as a POSIX shell splits a simple command:
// blanks separate words; '...' quotes anything; "..." quotes anything but
// \, ", $ and `, which it refuses; \ quotes the next character; $'...'
// decodes \\, \', \", \t, \n, \r, \xHH, \uHHHH and \UHHHHHHHH. Anything
// that would make the line more than one command or expand something (an
// unquoted ; & | < > ( ) ` $, a new line, an unterminated quote) is an
// error.
func shellSplit(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
			continue
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return words, fmt.Errorf("unterminated '")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				return words, fmt.Errorf("unterminated \"")
			}
			if in := line[i+1 : i+1+j]; strings.ContainsAny(in, "\\$`") {
				return words, fmt.Errorf("expansion or escape in double quotes: %q", in)
			} else {
				cur.WriteString(in)
			}
			i += j + 1
		case c == '\\':
			if i+1 >= len(line) {
				return words, fmt.Errorf("trailing backslash")
			}
			i++
			cur.WriteByte(line[i])
		case c == '$' && i+1 < len(line) && line[i+1] == '\'':
			n, err := dollarQuote(line[i+2:], &cur)
			if err != nil {
				return words, err
			}
			i += 1 + n
		case strings.IndexByte(";&|<>()`$\n\r", c) >= 0:
			return words, fmt.Errorf("unquoted %q at %d", c, i)
		default:
			cur.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// dollarQuote decodes the body of $'...' from s (after the opening quote)
// into b and returns how many bytes it used, the closing quote included.
func dollarQuote(s string, b *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			return i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return 0, fmt.Errorf("unterminated $'")
			}
			i++
			hex := func(n int) (uint64, error) {
				if i+n >= len(s) {
					return 0, fmt.Errorf("short escape")
				}
				v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
				i += n
				return v, err
			}
			switch e := s[i]; e {
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'x':
				v, err := hex(2)
				if err != nil {
					return 0, err
				}
				b.WriteByte(byte(v))
			case 'u', 'U':
				n := 4
				if e == 'U' {
					n = 8
				}
				v, err := hex(n)
				if err != nil {
					return 0, err
				}
				b.WriteRune(rune(v))
			default:
				return 0, fmt.Errorf("unknown escape \\%c", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("unterminated $'")
}

// TestShellWordInShells hands hint words to the shells on this machine:
// bash reads each back as the very value; every shell, one that knows no
// $'...' included, reads each as exactly one argument, running nothing
// else.
func TestShellWordInShells(t *testing.T) {
	values := append(slices.Clone(hostile), "", "plain", "a b", `back\slash`, "\xff\xfe bytes", "quote'\x1b'",
		"\U000e0041tag", "nbsp\u00a0x", "$(touch pwned)`id`")
	for _, sh := range []string{"bash", "dash", "sh", "busybox"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		args := []string{"-c"}
		if sh == "busybox" {
			args = []string{"sh", "-c"}
		}
		for _, v := range values {
			w := shellWord(v)
			cmd := exec.Command(path, append(args, "set -- "+w+"; printf '%s|' \"$#\"; printf '%s' \"$1\"")...)
			cmd.Dir = t.TempDir() // where a command that ran would leave its file
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("%s: %q as %s: %v", sh, v, w, err)
				continue
			}
			n, got, _ := strings.Cut(string(out), "|")
			if n != "1" {
				t.Errorf("%s: %q as %s is %s words", sh, v, w, n)
			}
			if left, _ := os.ReadDir(cmd.Dir); len(left) > 0 {
				t.Errorf("%s: %s ran a command", sh, w)
			}
			if sh == "bash" && got != v {
				t.Errorf("bash reads %s as %q, want %q", w, got, v)
			}
		}
	}
}
