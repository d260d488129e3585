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

// responseWriter watches the login handler's response: its status settles
// the attempt, and when the failure locks the client the handler's response
// is swallowed and the lockout response written in its place.
type responseWriter struct {
	w  http.ResponseWriter
	r  *http.Request
	st *state
	// snapshot is the header as it was before the handler ran; a replaced
	// response starts from it, without what the handler set.
	snapshot  http.Header
	committed bool // a final status has been written (or the lockout)
	replaced  bool // the lockout response was written instead
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
		rw.w.WriteHeader(code) // net/http panics; the attempt stays counted
		return
	case code < 200 && code != http.StatusSwitchingProtocols:
		rw.w.WriteHeader(code) // informational: not the final status
		return
	}
	if rw.st.settleStatus(rw.r, code) {
		rw.replace()
		return
	}
	rw.committed = true
	rw.w.WriteHeader(code)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.committed {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.replaced {
		return len(p), nil // swallowed: the lockout response was sent
	}
	return rw.w.Write(p)
}

// Unwrap returns the underlying writer, for [http.ResponseController].
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

// errHijackLocked refuses a hijack after an explicit Fail locked the
// client: the lockout response is written instead.
var errHijackLocked = errors.New("httpaxes: the client is locked out; the connection cannot be hijacked")

// hijack hands the connection over to the handler. An attempt that no
// status settled yet is released uncounted before the connection is
// handed over: what happens on a hijacked connection is not seen, and must
// not count as a successful login (as the 200 net/http reports for a
// handler that wrote nothing would).
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
		if _, err := rw.st.settle(settleRelease, ""); err != nil && !errors.Is(err, axes.ErrSettled) {
			rw.st.m.log.ErrorContext(rw.r.Context(), "httpaxes: could not release a login attempt", "err", err)
		}
		rw.committed = true
	}
	return conn, buf, nil
}

// finish settles an attempt whose handler returned without writing a
// status (net/http answers 200), and writes the lockout response if an
// explicit Fail locked the client.
func (rw *responseWriter) finish() {
	if !rw.committed && rw.st.settleStatus(rw.r, http.StatusOK) {
		rw.replace()
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
