package httpaxes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/goaxes/axes"
)

// Settlement is how [Middleware.Protect] recognises the outcome of a login
// attempt that its handler has checked: the required second argument of
// [New]. Choose it with [SettleExplicitly] (recommended, and the only safe
// choice for a handler that answers a wrong password with 200 or a
// redirect) or with [SettleByStatus] (for APIs that answer a wrong password
// with 401). The zero Settlement is no choice, and New refuses it.
//
// In either mode a handler may settle the attempt itself with [Fail],
// [Succeed], [SucceedSession] or [Release]; the first settlement wins.
type Settlement struct {
	mode    settleMode
	failure map[int]bool // modeByStatus: the statuses that fail an attempt
	err     error        // reported by New
}

type settleMode int

const (
	modeUnset settleMode = iota
	modeExplicit
	modeByStatus
)

// SettleExplicitly makes the handler behind [Middleware.Protect] say how
// the attempt ended: it calls [Fail] after a wrong password, [Succeed] or
// [SucceedSession] after a right one, or [Release] for a request it could
// not check. The response status is not looked at, so the handler may
// answer a wrong password with the login form again (200) or with a
// redirect. An attempt the handler leaves unsettled when it returns is
// counted as a failure, the safe side, and logged as a warning naming the
// request path: a handler that forgets to call Succeed locks its users out
// (loudly) instead of letting guesses through (silently).
func SettleExplicitly() Settlement { return Settlement{mode: modeExplicit} }

// SettleByStatus settles an attempt that the handler does not settle
// itself by the status of its response:
//
//   - a failure status (by default 401 and 403; failure replaces the set,
//     and each must be a 4xx or 5xx status) fails the attempt;
//   - 2xx succeeds it, and so does no response at all, which net/http
//     sends as 200;
//   - 3xx fails it, with a warning in the log: a redirect answers a wrong
//     password as often as a right one, so a handler that redirects after
//     a successful login calls [Succeed] first;
//   - any other status (400, 404, 500...) releases it uncounted, and so
//     does hijacking the connection before writing a status.
//
// It suits APIs that answer a wrong password with 401. A handler that
// answers a wrong password with 2xx (the login form rendered again with an
// error, as Django's LoginView does) is NEVER locked out in this mode
// unless it calls [Fail] first. The middleware cannot tell such a page from
// a welcome page; when a 2xx HTML page settles an attempt as a success it
// logs one warning about it. Such handlers use [SettleExplicitly].
func SettleByStatus(failure ...int) Settlement {
	if len(failure) == 0 {
		failure = []int{http.StatusUnauthorized, http.StatusForbidden}
	}
	set := make(map[int]bool, len(failure))
	for _, c := range failure {
		if c < 400 || c > 599 {
			return Settlement{err: fmt.Errorf("httpaxes: SettleByStatus: %d is not a 4xx or 5xx status", c)}
		}
		set[c] = true
	}
	return Settlement{mode: modeByStatus, failure: set}
}

// check reports why s cannot be used.
func (s Settlement) check() error {
	switch {
	case s.err != nil:
		return s.err
	case s.mode == modeUnset:
		return errNoSettlement
	}
	return nil
}

var errNoSettlement = errors.New("httpaxes: New: no Settlement chosen; pass httpaxes.SettleExplicitly() if the handler calls httpaxes.Fail and Succeed, or httpaxes.SettleByStatus() if it answers a wrong password with 401")

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
	// byStatusSuccess: a 2xx status settled the attempt as a success (status
	// mode, no explicit settlement).
	byStatusSuccess bool
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

// onStatus is called when the handler writes its final status, or with
// 200 when it returns without writing one. In status mode it settles the
// attempt by the status, unless it is settled already; in explicit mode it
// settles nothing. It reports whether the response must be replaced by the
// lockout response.
func (s *state) onStatus(r *http.Request, status int) bool {
	s.mu.Lock()
	settled, lockout := s.settled, s.lockout
	s.mu.Unlock()
	if settled || s.m.settlement.mode != modeByStatus {
		return lockout
	}
	var kind settleKind
	switch {
	case s.m.settlement.failure[status]:
		kind = settleFail
	case status >= 200 && status < 300:
		kind = settleSucceed
	case status >= 300 && status < 400:
		// A redirect answers a wrong password as often as a right one
		// (post, redirect, get): without Succeed it is the safe side.
		kind = settleFail
	default:
		kind = settleRelease
	}
	_, err := s.settle(kind, "")
	switch {
	case errors.Is(err, axes.ErrSettled):
	case err != nil:
		s.m.log.ErrorContext(r.Context(), "httpaxes: could not settle a login attempt", "err", err, "status", status)
	case kind == settleSucceed:
		s.mu.Lock()
		s.byStatusSuccess = true
		s.mu.Unlock()
	case kind == settleFail && !s.m.settlement.failure[status]:
		s.m.log.WarnContext(r.Context(), "httpaxes: a redirect answered a login attempt that the handler did not settle; counted as a failure. Call httpaxes.Succeed before redirecting after a right password, or use httpaxes.SettleExplicitly",
			"status", status, "method", r.Method, "path", r.URL.Path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockout
}

// leftover settles, in explicit mode, an attempt that the handler left
// unsettled when it returned: as a failure, with a warning naming the
// handler's path. It reports whether the response must be replaced by the
// lockout response.
func (s *state) leftover(r *http.Request) bool {
	if s.m.settlement.mode == modeExplicit {
		_, err := s.settle(settleFail, "")
		switch {
		case errors.Is(err, axes.ErrSettled):
			// Settled by the handler (or through TicketFrom).
		case err != nil:
			s.m.log.ErrorContext(r.Context(), "httpaxes: could not settle a login attempt the handler left unsettled", "err", err, "method", r.Method, "path", r.URL.Path)
		default:
			s.m.log.WarnContext(r.Context(), "httpaxes: the login handler returned without settling the attempt; counted as a failure. Call httpaxes.Fail, Succeed, SucceedSession or Release in every branch of the handler",
				"method", r.Method, "path", r.URL.Path)
		}
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

// Fail settles the attempt of r as failed: the place it held under the
// limit becomes a counted failure. Call it in a handler behind
// [Middleware.Protect] before writing the response (the response status is
// then not looked at): when this failure reaches the limit (res.Verdict is
// Locked) the response the handler writes next is replaced by the lockout
// response. Under [SettleExplicitly] a Fail after the response was written
// still counts, but the response can no longer be replaced.
//
// The error is [ErrNotProtected] for a request not guarded by Protect, and
// [axes.ErrSettled] when the attempt is already settled (settled twice, or,
// under [SettleByStatus], by the status the handler wrote).
func Fail(r *http.Request) (axes.Result, error) {
	st := stateFrom(r)
	if st == nil {
		return axes.Result{}, ErrNotProtected
	}
	return st.settle(settleFail, "")
}

// Succeed settles the attempt of r as a successful login: the reservation
// is given back (or the user's failures are reset, with
// axes.Config.ResetOnSuccess) and the login is recorded. An error other than
// [ErrNotProtected] and [axes.ErrSettled] comes from the store: the login
// stands, but its reservation keeps its place and counts as a failure once
// its lease lapses.
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

// Release gives the attempt of r back uncounted, as if it had not been
// made: for a request whose password the handler did not check (the form
// lacks a field, the user database is down). Never call it after finding
// a password wrong: every released guess is a guess the limit does not
// see. The errors are those of [Fail].
func Release(r *http.Request) error {
	st := stateFrom(r)
	if st == nil {
		return ErrNotProtected
	}
	_, err := st.settle(settleRelease, "")
	return err
}

// Username returns the username that [Middleware.Protect] read from r and
// counted the attempt under, exactly as it was read (before the guard's
// axes.Config.NormalizeUsername). ok is false for a request that did not pass
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
