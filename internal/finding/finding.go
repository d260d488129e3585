// Package finding makes check findings outside the core (in httpaxes and
// the axes command) with the codes of the core's one table of checks, so
// that a code has one level and one meaning wherever it is reported.
package finding

import "github.com/goaxes/axes"

// New returns a finding with code, at the level axes.Checks gives it. It
// panics for a code that is not in the table: that is a mistake in the
// caller, which its tests find.
func New(code, msg, hint string) axes.Finding {
	for _, c := range axes.Checks() {
		if c.Code == code {
			return axes.Finding{Code: code, Level: c.Level, Message: msg, Hint: hint}
		}
	}
	panic("finding: " + code + " is not a check code")
}
