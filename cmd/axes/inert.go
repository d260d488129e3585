package main

// Making client-chosen text inert on the operator's terminal.
//
// Usernames, user agents, rule reasons, paths and the messages that quote
// them reach the terminal of whoever runs axes list or axes explain. A
// client picks its username: left as it is, it could clear the screen
// (ESC [2J), plant an OSC 8 hyperlink, start a new line with CR or LF and
// forge a line that looks like the tool's own advice, or reorder a table
// row with bidi controls. Every such string goes through inert (or, for
// text that has line breaks of the tool's own, inertLines) before it is
// printed. The characters are escaped visibly rather than dropped, so the
// operator sees that something odd is there, and can tell the escaped
// form apart from a name that merely looks like it (a backslash is
// escaped too).
//
// JSON output stays exact: writeJSON escapes the same characters as
// \uXXXX, which decodes to the very same string (see jsonInert).

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// needsEscape reports whether r must not reach a terminal as it is:
// control characters (C0, DEL, C1), format characters (bidi embeddings,
// overrides and isolates, zero-width space and joiners, the word joiner,
// the byte order mark, soft hyphen, tag characters ...), the line and
// paragraph separators, and white space other than the plain space (which
// can hide where a value ends).
func needsEscape(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return false // visible as it is; invalid bytes are handled apart
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r < 0x80:
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Zs, unicode.Co) ||
		unicode.Is(unicode.Noncharacter_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r)
}

// escapeTo appends s to b with every character needsEscape names, every
// byte that is not UTF-8 and the characters in also escaped. The escapes are those of Go and of the shell's $'...': \t, \n,
// \r, \\, \xHH for an ASCII control or a stray byte, \uHHHH or \UHHHHHHHH
// for a character.
func escapeTo(b *strings.Builder, s, also string) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(b, `\x%02x`, s[i])
		case r == '\\' && strings.ContainsRune(also, r):
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && (needsEscape(r) || strings.ContainsRune(also, r)):
			fmt.Fprintf(b, `\x%02x`, r)
		case needsEscape(r) || strings.ContainsRune(also, r):
			if r > 0xffff {
				fmt.Fprintf(b, `\U%08x`, r)
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
}

// printable reports whether s can be printed as it is.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r == '\\' || needsEscape(r) })
}

// inert returns s safe to print on a terminal: one line, with nothing a
// terminal acts on and nothing invisible, each such character written as
// an escape (\x1b, \n, \u202e).
func inert(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	escapeTo(&b, s, `\`)
	return b.String()
}

// inertLines is the last guard for a message, such as an error, that may
// have line breaks and tabs of its own (errors.Join, a hint after the
// message): it keeps \n and \t, escapes every other character inert
// would, and leaves backslashes alone, as the values a message quotes
// are mostly quoted with %q already (whose escapes make them inert).
func inertLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		fields := strings.Split(l, "\t")
		for j, f := range fields {
			fields[j] = inertMessage(f)
		}
		lines[i] = strings.Join(fields, "\t")
	}
	return strings.Join(lines, "\n")
}

// inertMessage is inertLines for a message of one line: it escapes new
// lines and tabs too.
func inertMessage(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, needsEscape) {
		return s
	}
	var b strings.Builder
	escapeTo(&b, s, "")
	return b.String()
}

// shellBare reports whether r is one of the characters a shell word may have without quotes.
func shellBare(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)
}

// shellWord writes s as one word of a POSIX shell command line, to put in
// a hint the operator may copy:
//
//   - as it is, when every character is in the safe set;
//   - in single quotes, each quote in s closing them, escaped with a
//     backslash and reopening them, when it prints as it is;
//   - otherwise in $'...' (POSIX.1-2024, bash, ksh, zsh, busybox sh), with
//     the characters inert escapes written as the same escapes, and ' as
//     \x27, so that the word has no quote of its own.
//
// Either way the hint shows nothing a terminal acts on, and a shell reads
// it as exactly one word: an older shell without $'...' reads $'...' as a
// literal word (a $ followed by a single-quoted string with no quote in
// it), which names no record but runs nothing else.
func shellWord(s string) string {
	switch {
	case s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !shellBare(r) }):
		return s
	case utf8.ValidString(s) && !strings.ContainsFunc(s, needsEscape):
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	escapeTo(&b, s, `\'`)
	b.WriteByte('\'')
	return b.String()
}

// jsonInert rewrites JSON made by encoding/json so that no character
// needsEscape names appears raw: encoding/json escapes C0 controls and
// U+2028/U+2029, but writes DEL, C1 controls and the bidi and zero-width
// characters as they are. The JSON is the same value; only its spelling
// changes. Outside strings JSON is ASCII with no control characters but
// the layout's new lines, so every rune rewritten is inside a string.
func jsonInert(data []byte) []byte {
	if !bytes.ContainsFunc(data, func(r rune) bool { return r >= 0x7f && needsEscape(r) }) {
		return data
	}
	var b bytes.Buffer
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r >= 0x7f && needsEscape(r) && r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		case r >= 0x7f && needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.Write(data[:size])
		}
		data = data[size:]
	}
	return b.Bytes()
}
