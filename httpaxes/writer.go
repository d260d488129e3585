package httpaxes

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"

	"github.com/goaxes/axes"
)

// responseWriter watches the login handler's response: under
// SettleByStatus its status settles the attempt, and when a failure locks
// the client before the handler's response is sent, that response is
// swallowed and the lockout response written in its place.
type responseWriter struct {
	w  http.ResponseWriter
	r  *http.Request
	st *state
	// snapshot is the header as it was before the handler ran; a replaced
	// response starts from it, without what the handler set.
	snapshot  http.Header
	committed bool // a final status has been written (or the lockout)
	replaced  bool // the lockout response was written instead
	// html: the response is an HTML page (from its Content-Type, or
	// sniffed from the first Write as net/http does when sniff is set).
	html, sniff bool
}

func newResponseWriter(w http.ResponseWriter, r *http.Request, st *state) *responseWriter {
	return &responseWriter{w: w, r: r, st: st, snapshot: w.Header().Clone()}
}

// public returns the writer given to the handler: it is an http.Flusher
// when the underlying writer is one, and an http.Hijacker when the
// underlying writer (or one it unwraps to) is one, so that a hijack, also
// through http.ResponseController, goes through responseWriter.hijack.
func (rw *responseWriter) public() http.ResponseWriter {
	_, flush := rw.w.(http.Flusher)
	hijack := findHijacker(rw.w) != nil
	switch {
	case flush && hijack:
		return flushHijackWriter{rw}
	case flush:
		return flushWriter{rw}
	case hijack:
		return hijackWriter{rw}
	}
	return rw
}

// findHijacker returns the first http.Hijacker in w's Unwrap chain, as
// http.ResponseController looks for it, or nil.
func findHijacker(w http.ResponseWriter) http.Hijacker {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	switch {
	case rw.committed:
		if !rw.replaced {
			rw.w.WriteHeader(code) // net/http reports the superfluous call
		}
		return
	case code < 100 || code > 999:
		// net/http panics: the attempt keeps its place and counts as a
		// failure once its lease lapses.
		rw.w.WriteHeader(code)
		return
	case code < 200 && code != http.StatusSwitchingProtocols:
		rw.w.WriteHeader(code) // informational: not the final status
		return
	}
	if rw.st.onStatus(rw.r, code) {
		rw.replace()
		return
	}
	rw.committed = true
	if ct := rw.w.Header().Get("Content-Type"); ct != "" {
		rw.html = isHTML(ct)
	} else {
		rw.sniff = true
	}
	rw.w.WriteHeader(code)
}

// isHTML reports whether the media type ct is an HTML page.
func isHTML(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "text/html" || mt == "application/xhtml+xml"
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.committed {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.replaced {
		return len(p), nil // swallowed: the lockout response was sent
	}
	if rw.sniff && len(p) > 0 {
		rw.sniff = false
		rw.html = isHTML(http.DetectContentType(p))
	}
	return rw.w.Write(p)
}

// Unwrap returns the underlying writer, for [http.ResponseController].
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

// errHijackLocked refuses a hijack after an explicit Fail locked the
// client: the lockout response is written instead.
var errHijackLocked = errors.New("httpaxes: the client is locked out; the connection cannot be hijacked")

// hijack hands the connection over to the handler. Under SettleByStatus an
// attempt that no status settled yet is released uncounted before the
// connection is handed over: what happens on a hijacked connection is not
// seen, and must not count as a successful login (as the 200 net/http
// reports for a handler that wrote nothing would). Under SettleExplicitly
// the handler still settles it, or it counts as a failure.
func (rw *responseWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj := findHijacker(rw.w)
	if hj == nil {
		return nil, nil, fmt.Errorf("httpaxes: hijack: %w", http.ErrNotSupported)
	}
	if !rw.committed {
		rw.st.mu.Lock()
		locked := rw.st.lockout
		rw.st.mu.Unlock()
		if locked {
			return nil, nil, errHijackLocked
		}
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return conn, buf, err
	}
	if !rw.committed {
		if rw.st.m.settlement.mode == modeByStatus {
			if _, err := rw.st.settle(settleRelease, ""); err != nil && !errors.Is(err, axes.ErrSettled) {
				rw.st.m.log.ErrorContext(rw.r.Context(), "httpaxes: could not release a login attempt", "err", err)
			}
		}
		rw.committed = true
	}
	return conn, buf, nil
}

// finish runs when the handler has returned. It settles what is left:
// under SettleByStatus an attempt whose handler wrote no status (net/http
// answers 200), under SettleExplicitly any attempt the handler did not
// settle (as a failure). It writes the lockout response if a failure
// locked the client and nothing was written yet, and warns once about a
// 2xx HTML page settled as a success by its status.
func (rw *responseWriter) finish() {
	lock := false
	if !rw.committed {
		lock = rw.st.onStatus(rw.r, http.StatusOK)
	}
	lock = rw.st.leftover(rw.r) || lock
	if lock && !rw.committed {
		rw.replace()
	}
	if rw.html && !rw.replaced {
		rw.st.mu.Lock()
		bySuccess := rw.st.byStatusSuccess
		rw.st.mu.Unlock()
		if bySuccess {
			rw.st.m.warnHTMLSuccess(rw.r)
		}
	}
	if rw.replaced {
		// Trailers the handler set after the lockout response replaced
		// its own must not be sent with it.
		dropTrailers(rw.w.Header())
	}
}

// dropTrailers deletes the "Trailer:"-prefixed keys, which net/http sends
// as trailers.
func dropTrailers(h http.Header) {
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			delete(h, k)
		}
	}
}

// replace writes the lockout response in place of the handler's.
func (rw *responseWriter) replace() {
	rw.committed, rw.replaced = true, true
	h := rw.w.Header()
	clear(h)
	maps.Copy(h, rw.snapshot)
	dropTrailers(h)
	rw.st.m.WriteLockout(rw.w, rw.r, rw.st.result())
}

type flushWriter struct{ *responseWriter }

// Flush sends what was written so far; like net/http it writes status 200
// first if no status was written.
func (fw flushWriter) Flush() {
	if !fw.committed {
		fw.WriteHeader(http.StatusOK)
	}
	fw.w.(http.Flusher).Flush()
}

type hijackWriter struct{ *responseWriter }

// Hijack hands the connection over; see responseWriter.hijack.
func (hw hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return hw.hijack() }

type flushHijackWriter struct{ *responseWriter }

func (fw flushHijackWriter) Flush() { flushWriter(fw).Flush() }

// Hijack hands the connection over; see responseWriter.hijack.
func (fw flushHijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return fw.hijack() }
