package main

// The demo must not let a client hold a connection open (timeouts) or make
// it read and spool an arbitrarily large body (body limits).

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingBody is a multipart body of size bytes, made up as it is read,
// that counts what was read of it.
type countingBody struct {
	head, tail string
	size       int64
	read       int64
	sent       atomic.Int64 // read, for other goroutines (the transport may still write)
}

func newCountingBody(boundary string, size int64) *countingBody {
	return &countingBody{
		head: "--" + boundary + "\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"big.bin\"\r\n" +
			"Content-Type: application/octet-stream\r\n\r\n",
		tail: "\r\n--" + boundary + "--\r\n",
		size: size,
	}
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.read >= b.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if rest := b.size - b.read; n > rest {
		n = rest
	}
	for i := range p[:n] {
		off := b.read + int64(i)
		switch {
		case off < int64(len(b.head)):
			p[i] = b.head[off]
		case off >= b.size-int64(len(b.tail)):
			p[i] = b.tail[off-(b.size-int64(len(b.tail)))]
		default:
			p[i] = 'x'
		}
	}
	b.read += n
	b.sent.Store(b.read)
	return int(n), nil
}

// A 48 MB multipart upload to POST /logout is refused with 413 after at
// most the demo's body limit has been read, instead of being read in full
// (and spooled to disk by the multipart parser).
func TestDemoLogoutRefusesLargeBody(t *testing.T) {
	_, h := identityDemo(t, byUsername)
	const size = 48 << 20
	for _, ctype := range []string{"multipart/form-data; boundary=XyZ", "application/x-www-form-urlencoded", "application/json"} {
		t.Run(strings.Fields(ctype)[0], func(t *testing.T) {
			body := newCountingBody("XyZ", size)
			req := httptest.NewRequest(http.MethodPost, "/logout", body)
			req.Header.Set("Content-Type", ctype)
			req.ContentLength = size
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "s1"})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge && !strings.HasPrefix(ctype, "application/json") {
				t.Errorf("status %d, want 413", rec.Code)
			}
			// A JSON body of 'x' is a syntax error after one byte: any
			// status is fine there, as long as the body is not read.
			if limit := int64(demoMaxBody) + 64<<10; body.sent.Load() > limit {
				t.Errorf("the handler read %d bytes of a %d-byte body, want at most %d", body.sent.Load(), size, limit)
			}
		})
	}
}

// The same over a real connection: the client gets its answer (413, or the
// connection closed) long before it could send 48 MB, and the server does
// not wait for the rest.
func TestDemoLogoutLargeBodyOverTCP(t *testing.T) {
	_, h := identityDemo(t, byUsername)
	srv := httptest.NewUnstartedServer(h)
	srv.Config = newDemoServer(context.Background(), h)
	srv.Start()
	defer srv.Close()

	const size = 48 << 20
	body := newCountingBody("XyZ", size)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/logout", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XyZ")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	} else if ctx.Err() != nil {
		t.Fatalf("no answer within 5s: %v", err)
	}
	if body.sent.Load() >= size {
		t.Errorf("the client sent the whole %d-byte body; the server should have stopped it", size)
	}
}

// The demo's server has every timeout that bounds a connection: headers,
// the whole request, the response, and idle keep-alive connections.
func TestDemoServerTimeouts(t *testing.T) {
	srv := newDemoServer(context.Background(), http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s is not set", name)
		}
	}
	if srv.ReadTimeout < srv.ReadHeaderTimeout {
		t.Errorf("ReadTimeout %v is shorter than ReadHeaderTimeout %v", srv.ReadTimeout, srv.ReadHeaderTimeout)
	}
	if srv.MaxHeaderBytes <= 0 {
		t.Error("MaxHeaderBytes is not set")
	}
}
