// Package wire lets httpaxes tell a guard that it renders the lockout
// response and runs the credential check under it (checks axes.W002 and
// axes.W003), without a method for it in the user API of package axes.
package wire

// The parts of the integration that Guard.Check looks for.
const (
	Response = iota // a lockout response is rendered
	Check           // credential checks run under the guard
	Parts
)

// Mark marks part as wired on g, an *axes.Guard. Package axes sets it when
// it is initialised; it is never changed afterwards.
var Mark func(g any, part int)
