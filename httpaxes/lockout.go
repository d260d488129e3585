package httpaxes

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/goaxes/axes"
)

// ISO8601 formats d as an ISO 8601 duration the way django-axes'
// get_cool_off_iso8601 does: whole seconds (rounded) split into days,
// hours, minutes and seconds, zero parts left out, e.g. PT30M, P1DT2H or
// P15D. Unlike django-axes, which returns "P" for a zero duration, ISO8601
// returns "PT0S" for zero and negative durations.
func ISO8601(d time.Duration) string {
	secs := int64(d.Round(time.Second) / time.Second)
	if secs <= 0 {
		return "PT0S"
	}
	days := secs / 86400
	secs %= 86400
	h, m, s := secs/3600, secs%3600/60, secs%60
	var b strings.Builder
	b.WriteByte('P')
	if days > 0 {
		b.WriteString(strconv.FormatInt(days, 10))
		b.WriteByte('D')
	}
	if h > 0 || m > 0 || s > 0 {
		b.WriteByte('T')
		for _, p := range []struct {
			n    int64
			unit byte
		}{{h, 'H'}, {m, 'M'}, {s, 'S'}} {
			if p.n > 0 {
				b.WriteString(strconv.FormatInt(p.n, 10))
				b.WriteByte(p.unit)
			}
		}
	}
	return b.String()
}

// LockoutData is what the lockout template is executed with. The fields
// carry the django-axes template context (failure_limit, failure_count,
// username, cooloff_time) under Go names.
type LockoutData struct {
	FailureLimit int
	FailureCount int
	Username     string // normalised, as the guard keys it
	// CoolOffTime is the cool-off as ISO 8601 (PT30M), empty when the lock
	// lasts until reset or for a deny-list refusal.
	CoolOffTime string
	CoolOff     time.Duration
	// RetryAfter is the number of seconds until the lock ends, 0 when its
	// end is not known.
	RetryAfter  int64
	LockedUntil time.Time // zero when the lock lasts until reset
	Denied      bool      // the client's address is on the deny list
	Message     string    // CoolOffMessage or PermalockMessage
}

// lockoutJSON is the JSON lockout body: django-axes' fields plus
// retry_after.
type lockoutJSON struct {
	FailureLimit int    `json:"failure_limit"`
	FailureCount int    `json:"failure_count"`
	Username     string `json:"username"`
	CoolOffTime  string `json:"cooloff_time,omitempty"`
	RetryAfter   int64  `json:"retry_after,omitempty"`
}

type resultKey struct{}

// WriteLockout writes the lockout response for res (a Locked or Denied
// result) to w. [Middleware.Protect] and [Middleware.Authenticate] call it;
// handlers that run [axes.Guard.Authenticate] or [axes.Guard.Admit]
// themselves can call it to answer exactly as the middleware would.
//
// Every variant carries Cache-Control: no-store, and Retry-After (the real
// time left on the lock in whole seconds, rounded up) when the lock has a
// known end. The first matching variant is written:
//
//  1. The handler given with [WithLockoutHandler], which finds res with
//     [ResultFrom]. The two headers above are already set on w; it may
//     change them.
//  2. JSON, when the request asks for it (Accept contains
//     application/json, or X-Requested-With is XMLHttpRequest): the fields
//     failure_limit, failure_count, username, cooloff_time (ISO 8601, left
//     out when the lock has no cool-off) and retry_after (seconds, left out
//     when the end is not known). CORS headers are added only when
//     Config.AllowedCORSOrigins is set.
//  3. The template (WithTemplate, or Config.LockoutTemplate), executed with
//     a [LockoutData], as text/html.
//  4. A 302 redirect to Config.LockoutURL with ?username=.
//  5. The plain-text message: Config.CoolOffMessage when locks expire,
//     Config.PermalockMessage otherwise.
//
// The status is Config.HTTPResponseCode (default 429) except for the
// redirect. Deny-list refusals (Verdict Denied) get the same response.
func (m *Middleware) WriteLockout(w http.ResponseWriter, r *http.Request, res axes.Result) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	retry := res.RetryAfter(m.guard.Now())
	if retry > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(retry/time.Second), 10))
	}
	if m.lockoutHandler != nil {
		ctx := context.WithValue(r.Context(), resultKey{}, res)
		m.lockoutHandler.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	data := m.lockoutData(res, retry)
	status := m.cfg.HTTPResponseCode
	if WantsJSON(r) {
		body, err := json.Marshal(lockoutJSON{
			FailureLimit: data.FailureLimit, FailureCount: data.FailureCount,
			Username: data.Username, CoolOffTime: data.CoolOffTime, RetryAfter: data.RetryAfter,
		})
		if err == nil {
			if o := m.cfg.AllowedCORSOrigins; o != "" {
				h.Set("Access-Control-Allow-Origin", o)
				h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Origin, Content-Type, Accept, Authorization, X-Requested-With")
			}
			h.Set("Content-Type", "application/json")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			_, _ = w.Write(append(body, '\n'))
			return
		}
	}
	if m.tmpl != nil {
		var buf bytes.Buffer
		err := m.tmpl.Execute(&buf, data)
		if err == nil {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			_, _ = w.Write(buf.Bytes())
			return
		}
		m.log.ErrorContext(r.Context(), "httpaxes: lockout template failed; sending the plain-text message", "err", err)
	}
	if u := m.cfg.LockoutURL; u != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		h.Set("Location", u+sep+url.Values{"username": {data.Username}}.Encode())
		w.WriteHeader(http.StatusFound)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(data.Message + "\n"))
}

func (m *Middleware) lockoutData(res axes.Result, retry time.Duration) LockoutData {
	d := LockoutData{
		FailureLimit: res.Limit,
		FailureCount: res.Failures,
		Username:     res.Identity.Username,
		CoolOff:      res.CoolOff,
		RetryAfter:   int64(retry / time.Second),
		LockedUntil:  res.LockedUntil,
		Denied:       res.Verdict == axes.Denied,
		Message:      m.cfg.PermalockMessage,
	}
	if res.CoolOff > 0 && res.Verdict != axes.Denied {
		d.CoolOffTime = ISO8601(res.CoolOff)
	}
	if !res.Permanent() {
		// The lock has an end: a permanent tier of a progressive lockout
		// gets the permanent message although the configuration has
		// cool-offs.
		d.Message = m.cfg.CoolOffMessage
	}
	return d
}

// WantsJSON reports whether r asks for a JSON answer: its Accept header
// names application/json anywhere in its list (as in "application/json,
// text/plain, */*"), or X-Requested-With is XMLHttpRequest. It is the test
// [Middleware.WriteLockout] and the middleware's own error responses use;
// handlers can use it to answer in the same format.
func WantsJSON(r *http.Request) bool {
	if strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest") {
		return true
	}
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), "application/json") {
			return true
		}
	}
	return false
}

// ResultFrom returns the result of the attempt in r: the lockout result in
// the request given to a [WithLockoutHandler] handler, or, in a handler
// behind [Middleware.Protect], the result of the settled attempt. ok is
// false when there is none yet.
func ResultFrom(r *http.Request) (res axes.Result, ok bool) {
	if res, ok := r.Context().Value(resultKey{}).(axes.Result); ok {
		return res, true
	}
	if st := stateFrom(r); st != nil {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.res, st.settled
	}
	return axes.Result{}, false
}
