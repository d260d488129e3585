package httpaxes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// multipartMemory is the maxMemory given to ParseMultipartForm. The body is
// capped by the middleware's body limit first, so it is never reached.
const multipartMemory = 32 << 20

// requestError is a request the middleware refuses to guess about: the
// username cannot be read unambiguously (400) or the body is over the
// limit (413). It is answered with a short response before anything is
// counted, and the handler is not called.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return fmt.Sprintf("httpaxes: %d: %s", e.status, e.msg) }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

var errBodyTooLarge = &requestError{status: http.StatusRequestEntityTooLarge, msg: "the request body is too large"}

// login is what the middleware read from a login request.
type login struct {
	username string
	json     bool // the body was read as a JSON object
}

// readUsername returns the username of a login request: from
// WithUsernameFunc, or from the body (form or JSON) and the URL query.
//
// Without WithUsernameFunc it is strict, so that the handler cannot read a
// different username than the one counted:
//
//   - the body is at most maxBody bytes (413 otherwise); form bodies are
//     capped with http.MaxBytesReader before they are parsed;
//   - a JSON body (application/json or application/*+json, even with a
//     malformed parameter, or any other non-form body that starts with
//     '{') must be exactly one JSON object, in which the username field
//     (matched case-insensitively, as encoding/json matches a struct
//     field) appears at most once and is a string;
//   - every value of the username field, in the body and in the URL query,
//     must be the same, and none may contain NUL or be invalid UTF-8 (in a
//     JSON string, raw invalid bytes count; a \ud800 escape is decoded to
//     U+FFFD by encoding/json for the handler too, and is kept).
//
// A request that breaks a rule gets a *requestError (400 or 413).
func (m *Middleware) readUsername(w http.ResponseWriter, r *http.Request) (login, error) {
	if m.usernameFunc != nil {
		u, err := m.usernameFunc(r)
		if err == nil {
			err = checkUsername(m.cfg.UsernameFormField, u)
		}
		return login{username: u}, err
	}
	field := m.cfg.UsernameFormField
	var (
		values []string // the username values found, body first
		l      login
	)
	mt := mediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data":
		if hasBody(r) {
			r.Body = http.MaxBytesReader(w, r.Body, m.maxBody)
		}
		var err error
		if mt == "multipart/form-data" {
			err = r.ParseMultipartForm(multipartMemory)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			if tooLarge(err) {
				return l, errBodyTooLarge
			}
			return l, badRequest("the form cannot be read: %v", err)
		}
		values = append(values, r.PostForm[field]...)
	case isJSONType(mt):
		buf, err := m.readBody(r)
		if err != nil {
			return l, err
		}
		l.json = true
		if u, ok, err := m.sniffer.username(buf); err != nil {
			return l, err
		} else if ok {
			values = append(values, u)
		}
	default:
		// Not a form: net/http does not parse the body, but a handler may
		// still decode it as JSON whatever its Content-Type says.
		buf, err := m.readBody(r)
		if err != nil {
			return l, err
		}
		if looksLikeJSONObject(buf) {
			l.json = true
			if u, ok, err := m.sniffer.username(buf); err != nil {
				return l, err
			} else if ok {
				values = append(values, u)
			}
		}
	}
	values = append(values, r.URL.Query()[field]...)
	for _, v := range values {
		if err := checkUsername(field, v); err != nil {
			return l, err
		}
	}
	for _, v := range values[min(1, len(values)):] {
		if v != values[0] {
			return l, badRequest("the %s field is given more than once, with different values", field)
		}
	}
	if len(values) > 0 {
		l.username = values[0]
	}
	return l, nil
}

// checkUsername refuses (400) a username that contains NUL or is not valid
// UTF-8. No user store holds such a name, but one written in C may cut it
// at the NUL, and the guard would key the raw bytes (or U+FFFD): a client
// would get a fresh bucket per variant of one account's name.
func checkUsername(field, u string) error {
	if strings.IndexByte(u, 0) >= 0 {
		return badRequest("the %s field contains a NUL character", field)
	}
	if !utf8.ValidString(u) {
		return badRequest("the %s field is not valid UTF-8", field)
	}
	return nil
}

// mediaType returns the media type of a Content-Type, also when its
// parameters are malformed (mime.ErrInvalidMediaParameter: net/http's form
// parser and most handlers still go by the type), "" when there is none.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return ""
	}
	return mt
}

func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody
}

// readBody reads the whole body of r, at most maxBody bytes, and puts it
// back for the handler. A longer body is errBodyTooLarge.
func (m *Middleware) readBody(r *http.Request) ([]byte, error) {
	if !hasBody(r) {
		return nil, nil
	}
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, m.maxBody+1))
	if err != nil {
		if tooLarge(err) {
			return nil, errBodyTooLarge
		}
		return nil, badRequest("the body cannot be read")
	}
	if int64(len(buf)) > m.maxBody {
		return nil, errBodyTooLarge
	}
	r.Body = &replayBody{Reader: bytes.NewReader(buf), closer: orig}
	return buf, nil
}

// looksLikeJSONObject reports whether body starts, after JSON white space,
// with '{'.
func looksLikeJSONObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// replayBody is a request body that replays what was read.
type replayBody struct {
	io.Reader
	closer io.Closer
}

func (b *replayBody) Close() error { return b.closer.Close() }

// jsonSniffer finds the username field in a JSON object by the rules
// encoding/json applies to a struct field tagged with the field name: a key
// matches when it equals the name, or folds to it case-insensitively.
type jsonSniffer struct {
	field  string
	folded string
}

func newJSONSniffer(field string) jsonSniffer {
	return jsonSniffer{field: field, folded: foldName(field)}
}

func (s jsonSniffer) matches(key string) bool {
	return key == s.field || foldName(key) == s.folded
}

// username reads the username field of body, which must be exactly one
// JSON object followed only by white space. ok is false when the field is
// absent. The error (a *requestError) says why the body is refused: it is
// not a single JSON object, or the field is not a string or appears twice
// (encoding/json would keep the last one, and a null leaves an earlier one
// in place).
func (s jsonSniffer) username(body []byte) (name string, ok bool, err error) {
	if !json.Valid(body) {
		return "", false, badRequest("the body is not valid JSON (exactly one JSON object is expected)")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false, badRequest("the body is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false, badRequest("the body is not valid JSON")
		}
		key, _ := tok.(string)
		if !s.matches(key) {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", false, badRequest("the body is not valid JSON")
			}
			continue
		}
		if ok {
			return "", false, badRequest("the %s field appears more than once in the JSON body", s.field)
		}
		// The raw value, not the decoded token: encoding/json replaces
		// invalid UTF-8 with U+FFFD, which would hide it from checkUsername.
		var raw json.RawMessage
		var v string
		if err := dec.Decode(&raw); err != nil || len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
			return "", false, badRequest("the %s field of the JSON body must be a string", s.field)
		}
		if !utf8.Valid(raw) {
			return "", false, badRequest("the %s field is not valid UTF-8", s.field)
		}
		name, ok = v, true
	}
	return name, ok, nil
}

// foldName folds a JSON object key as encoding/json does when it matches
// keys to struct fields case-insensitively: ASCII letters to upper case,
// other runes to the smallest rune of their Unicode fold set (so that the
// Kelvin sign matches k, and the long s matches s).
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(foldRune(r))
		i += n
	}
	return b.String()
}

// foldRune returns the smallest rune of r's fold set.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
