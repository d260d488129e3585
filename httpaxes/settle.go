package httpaxes

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/goaxes/axes"
)

type stateKey struct{}

// state is the admitted attempt of one request behind Protect.
type state struct {
	m      *Middleware
	ticket *axes.Ticket
	ctx    context.Context // the request context without its cancellation
	login  login           // the username counted, and how it was read

	mu      sync.Mutex
	settled bool
	res     axes.Result
	lockout bool // res is a lock: the handler's response is replaced
}

func stateFrom(r *http.Request) *state {
	st, _ := r.Context().Value(stateKey{}).(*state)
	return st
}

// settleKind names the ways an attempt is settled.
type settleKind int

const (
	settleFail settleKind = iota
	settleSucceed
	settleRelease
)

// settle settles the attempt once; later calls return axes.ErrSettled.
func (s *state) settle(kind settleKind, sessionID string) (axes.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.settled {
		return s.res, axes.ErrSettled
	}
	var (
		res axes.Result
		err error
	)
	switch kind {
	case settleFail:
		res, err = s.ticket.Fail(s.ctx)
	case settleSucceed:
		res, err = s.ticket.SucceedSession(s.ctx, sessionID)
	case settleRelease:
		err = s.ticket.Release(s.ctx)
		res = axes.Result{Verdict: axes.Undecided, Identity: s.ticket.Identity()}
	}
	if errors.Is(err, axes.ErrSettled) {
		// The handler settled the ticket from TicketFrom directly.
		s.settled = true
		return res, err
	}
	s.settled, s.res = true, res
	s.lockout = res.Verdict == axes.Locked
	return res, err
}

// settleStatus settles the attempt by a response status, unless it is
// settled already, and reports whether the response must be replaced by the
// lockout response.
func (s *state) settleStatus(r *http.Request, status int) bool {
	var kind settleKind
	switch {
	case s.m.failure[status]:
		kind = settleFail
	case status >= 200 && status < 400:
		kind = settleSucceed
	default:
		kind = settleRelease
	}
	_, err := s.settle(kind, "")
	if err != nil && !errors.Is(err, axes.ErrSettled) {
		s.m.log.ErrorContext(r.Context(), "httpaxes: could not settle a login attempt", "err", err, "status", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockout
}

func (s *state) result() axes.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res
}

// Fail settles the attempt of r as failed: its failure stays counted. Call
// it in a handler behind [Middleware.Protect] before writing the response;
// the response status is then not looked at. When this failure reaches the
// limit (res.Verdict is Locked) the response the handler writes next is
// replaced by the lockout response.
//
// The error is [ErrNotProtected] for a request not guarded by Protect, and
// [axes.ErrSettled] when the attempt is already settled (the handler wrote
// its status already, or settled twice).
func Fail(r *http.Request) (axes.Result, error) {
	st := stateFrom(r)
	if st == nil {
		return axes.Result{}, ErrNotProtected
	}
	return st.settle(settleFail, "")
}

// Succeed settles the attempt of r as a successful login: the reservation
// is given back (or the user's failures are reset, with
// Config.ResetOnSuccess) and the login is recorded. An error other than
// [ErrNotProtected] and [axes.ErrSettled] comes from the store: the login
// stands, but its reservation may still be counted.
func Succeed(r *http.Request) (axes.Result, error) {
	return SucceedSession(r, "")
}

// SucceedSession is [Succeed] for applications with sessions: the audit
// log entry carries a hash of sessionID, so that [axes.Guard.Logout] closes
// this session's entry only.
func SucceedSession(r *http.Request, sessionID string) (axes.Result, error) {
	st := stateFrom(r)
	if st == nil {
		return axes.Result{}, ErrNotProtected
	}
	return st.settle(settleSucceed, sessionID)
}

// Username returns the username that [Middleware.Protect] read from r and
// counted the attempt under, exactly as it was read (before the guard's
// Config.NormalizeUsername). ok is false for a request that did not pass
// through Protect (or whose method is not guarded).
//
// A handler behind Protect must check the password of exactly this
// username, and not read the username from the request again: a handler
// that decodes it in its own way (another JSON field, the URL query, the
// last of two fields) could check the password of a user other than the
// one counted, whose lockout would then protect nothing. Handlers that must
// read requests their own way call [Middleware.Authenticate] instead.
func Username(r *http.Request) (username string, ok bool) {
	st := stateFrom(r)
	if st == nil {
		return "", false
	}
	return st.login.username, true
}

// JSONBody reports whether [Middleware.Protect] read the body of r as a
// JSON object (and took the username from it): the handler should read
// the password from the same JSON object. It is false for form bodies and
// for requests that did not pass through Protect.
func JSONBody(r *http.Request) bool {
	st := stateFrom(r)
	return st != nil && st.login.json
}

// TicketFrom returns the admitted attempt of a request behind
// [Middleware.Protect]. Prefer [Fail] and [Succeed]: a ticket settled
// directly is not seen by the middleware, which then cannot replace the
// response of a failure that reached the limit.
func TicketFrom(r *http.Request) (*axes.Ticket, bool) {
	st := stateFrom(r)
	if st == nil {
		return nil, false
	}
	return st.ticket, true
}
