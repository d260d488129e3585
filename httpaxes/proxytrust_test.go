package httpaxes_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/httpaxes"
)

// proxyServer serves the login over real HTTP behind a middleware with cfg
// and a guard with limit 3, and returns a function that posts a wrong
// password with the given X-Forwarded-For (none if "") and returns the
// status. The TCP peer of every request is the loopback address.
func proxyServer(t *testing.T, cfg httpaxes.Config) func(xff string) int {
	t.Helper()
	g := newGuard(t, newMapStore(), axes.Config{FailureLimit: 3})
	srv := httptest.NewServer(newMiddleware(t, g, httpaxes.WithConfig(cfg)).Protect(&wrongPassword{}))
	t.Cleanup(srv.Close)
	return func(xff string) int {
		t.Helper()
		form := url.Values{"username": {"alice"}, "password": {"wrong"}}
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/login", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
}

// TestProxyCountTrustedDirectClient is the regression test of issue 8,
// finding 4: with ProxyCount and TrustedProxies both set, a client that
// reaches the application directly (its address is not a trusted proxy)
// cannot choose its address with X-Forwarded-For. Whatever it sends, it is
// counted as its TCP peer: 401, 401, 429.
func TestProxyCountTrustedDirectClient(t *testing.T) {
	login := proxyServer(t, httpaxes.Config{ProxyCount: 1, TrustedProxies: prefixes(t, "10.0.0.0/8")})
	headers := []string{"198.51.100.1", "198.51.100.2, 10.0.0.1", "", "203.0.113.9", "10.0.0.2"}
	for i, want := range []int{401, 401, 429, 429, 429} {
		if got := login(headers[i]); got != want {
			t.Errorf("attempt %d with X-Forwarded-For %q: %d, want %d", i+1, headers[i], got, want)
		}
	}
}

// TestProxyCountTrustedPeer: from a trusted peer the hop count applies.
// Behind a CDN whose edges are not listed and a trusted load balancer (the
// peer), the client is the second entry from the right: the edge that
// forwarded it and whatever the client wrote to the left change nothing,
// and another client has a bucket of its own.
func TestProxyCountTrustedPeer(t *testing.T) {
	login := proxyServer(t, httpaxes.Config{ProxyCount: 2, TrustedProxies: prefixes(t, "127.0.0.0/8", "::1")})
	for i, want := range []int{401, 401, 429, 429} {
		xff := fmt.Sprintf("192.0.2.%d, 198.51.100.1, 203.0.113.%d", i+1, i+10)
		if got := login(xff); got != want {
			t.Errorf("attempt %d with X-Forwarded-For %q: %d, want %d", i+1, xff, got, want)
		}
	}
	if got := login("198.51.100.2, 203.0.113.10"); got != 401 {
		t.Errorf("another client behind the same proxies: %d, want 401", got)
	}
	// Too few hops: the request did not come through the CDN, so the
	// client is the peer, which has a bucket of its own.
	if got := login("198.51.100.1"); got != 401 {
		t.Errorf("a header shorter than the hop count: %d, want 401 (the peer's bucket)", got)
	}
}

// TestProxyCountAloneTrustsAnyPeer pins the django-axes behaviour kept for
// ProxyCount without TrustedProxies (axes.W109 warns of it): the header is
// believed from any peer.
func TestProxyCountAloneTrustsAnyPeer(t *testing.T) {
	login := proxyServer(t, httpaxes.Config{ProxyCount: 1})
	for i := range 5 {
		if got := login(fmt.Sprintf("198.51.100.%d", i+1)); got != 401 {
			t.Errorf("attempt %d: %d, want 401 (each forged address is a new client)", i+1, got)
		}
	}
}
