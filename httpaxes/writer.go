package httpaxes

import (
	"maps"
	"net/http"
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
// when the underlying writer is one.
func (rw *responseWriter) public() http.ResponseWriter {
	if _, ok := rw.w.(http.Flusher); ok {
		return flushWriter{rw}
	}
	return rw
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

// finish settles an attempt whose handler returned without writing a
// status (net/http answers 200), and writes the lockout response if an
// explicit Fail locked the client.
func (rw *responseWriter) finish() {
	if rw.committed {
		return
	}
	if rw.st.settleStatus(rw.r, http.StatusOK) {
		rw.replace()
	}
}

// replace writes the lockout response in place of the handler's.
func (rw *responseWriter) replace() {
	rw.committed, rw.replaced = true, true
	h := rw.w.Header()
	clear(h)
	maps.Copy(h, rw.snapshot)
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
