package httpaxes

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// username returns the username of a login request: from WithUsernameFunc,
// or from the JSON body or the form.
func (m *Middleware) username(r *http.Request) (string, error) {
	if m.usernameFunc != nil {
		return m.usernameFunc(r)
	}
	if isJSON(r.Header.Get("Content-Type")) {
		return m.jsonUsername(r), nil
	}
	// FormValue reads the body, then the URL query: a handler that reads
	// the username with FormValue sees the same one, and a handler that
	// reads only the body sees none where the query has one (harmless:
	// the attempt is then counted against a name that is not checked).
	return r.FormValue(m.cfg.UsernameFormField), nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// jsonUsername reads at most maxBody bytes of r's JSON body, returns the
// username field of the top-level object ("" if there is none, it is not a
// string, the JSON is malformed or the body is too long), and puts the body
// back so the handler reads all of it.
func (m *Middleware) jsonUsername(r *http.Request) string {
	if r.Body == nil || r.Body == http.NoBody {
		return ""
	}
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, m.maxBody+1))
	r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), closer: orig}
	if err != nil || int64(len(buf)) > m.maxBody {
		return ""
	}
	return m.sniffer.username(buf)
}

// replayBody is a request body that replays what was read before the rest.
type replayBody struct {
	io.Reader
	closer io.Closer
}

func (b *replayBody) Close() error { return b.closer.Close() }

// jsonSniffer finds the username field in a JSON object by the rules
// encoding/json applies to a struct field tagged with the field name (the
// last key that matches, case-insensitively, wins), so that a handler that
// decodes the body into such a struct checks the same username the guard
// counts.
type jsonSniffer struct {
	field string
	typ   reflect.Type // struct { U json.RawMessage `json:"field"` }, or nil
}

func newJSONSniffer(field string) jsonSniffer {
	s := jsonSniffer{field: field}
	if validJSONTag(field) {
		s.typ = reflect.StructOf([]reflect.StructField{{
			Name: "U",
			Type: reflect.TypeFor[json.RawMessage](),
			Tag:  reflect.StructTag("json:" + strconv.Quote(field)),
		}})
	}
	return s
}

func (s jsonSniffer) username(body []byte) string {
	var raw json.RawMessage
	if s.typ != nil {
		v := reflect.New(s.typ)
		if json.Unmarshal(body, v.Interface()) != nil {
			return ""
		}
		raw = v.Elem().Field(0).Interface().(json.RawMessage)
	} else {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return ""
		}
		raw = obj[s.field]
	}
	var name string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &name) != nil {
		return ""
	}
	return name
}

// validJSONTag reports whether encoding/json accepts s as a field name in a
// struct tag (its isValidTag).
func validJSONTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
