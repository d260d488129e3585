package httpaxes_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/goaxes/axes/httpaxes"
)

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, err2 := netip.ParseAddr(s)
			if err2 != nil {
				t.Fatal(err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p)
	}
	return ps
}

func TestClientIP(t *testing.T) {
	trusted := httpaxes.Config{TrustedProxies: prefixes(t, "10.0.0.0/8", "2001:db8:ffff::/48")}
	two := httpaxes.Config{ProxyCount: 2}
	one := httpaxes.Config{ProxyCount: 1}
	countTrusted := httpaxes.Config{ProxyCount: 2, TrustedProxies: prefixes(t, "10.0.0.0/8")}
	tests := []struct {
		name   string
		cfg    httpaxes.Config
		remote string
		header []string // X-Forwarded-For lines
		want   string
	}{
		{"peer by default", httpaxes.Config{}, "203.0.113.7:1234", nil, "203.0.113.7"},
		{"forged XFF ignored by default", httpaxes.Config{}, "203.0.113.7:1234", []string{"1.2.3.4"}, "203.0.113.7"},
		{"peer without port", httpaxes.Config{}, "203.0.113.7", nil, "203.0.113.7"},
		{"IPv6 peer", httpaxes.Config{}, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"IPv4-mapped peer folded", httpaxes.Config{}, "[::ffff:203.0.113.7]:443", nil, "203.0.113.7"},
		{"zone dropped", httpaxes.Config{}, "[fe80::1%eth0]:443", nil, "fe80::1"},

		{"trusted: untrusted peer's forged XFF ignored", trusted, "203.0.113.7:1", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted: one proxy", trusted, "10.0.0.1:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted: client-written left part not believed", trusted, "10.0.0.1:1", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"trusted: skip trusted hops", trusted, "10.0.0.1:1", []string{"1.1.1.1, 198.51.100.1, 10.0.0.2, 10.0.0.3"}, "198.51.100.1"},
		{"trusted: several header lines", trusted, "10.0.0.1:1", []string{"1.1.1.1", "198.51.100.1 , 10.0.0.9"}, "198.51.100.1"},
		{"trusted: forged trusted address on the left", trusted, "10.0.0.1:1", []string{"10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"trusted: no header", trusted, "10.0.0.1:1", nil, "10.0.0.1"},
		{"trusted: empty header", trusted, "10.0.0.1:1", []string{" , "}, "10.0.0.1"},
		{"trusted: all trusted gives left-most", trusted, "10.0.0.1:1", []string{"10.0.0.7, 10.0.0.2"}, "10.0.0.7"},
		{"trusted: garbage stops at last trusted hop", trusted, "10.0.0.1:1", []string{"198.51.100.1, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"trusted: garbage right of peer", trusted, "10.0.0.1:1", []string{"198.51.100.1, unknown"}, "10.0.0.1"},
		{"trusted: entry with port", trusted, "10.0.0.1:1", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"trusted: bracketed IPv6 with port", trusted, "10.0.0.1:1", []string{"[2001:db8::5]:5555"}, "2001:db8::5"},
		{"trusted: bracketed IPv6", trusted, "10.0.0.1:1", []string{"[2001:db8::5]"}, "2001:db8::5"},
		{"trusted: mapped entry folded", trusted, "10.0.0.1:1", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"trusted: mapped trusted peer", trusted, "[::ffff:10.0.0.1]:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted: IPv6 proxy", trusted, "[2001:db8:ffff::1]:1", []string{"198.51.100.1"}, "198.51.100.1"},

		{"count 1", one, "203.0.113.7:1", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"count 2", two, "203.0.113.7:1", []string{"1.1.1.1, 198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"count 2 across lines", two, "203.0.113.7:1", []string{"1.1.1.1, 198.51.100.1", "10.0.0.2"}, "198.51.100.1"},
		{"count 2, too few entries: peer", two, "203.0.113.7:1", []string{"198.51.100.1"}, "203.0.113.7"},
		{"count 1, no header: peer", one, "203.0.113.7:1", nil, "203.0.113.7"},
		{"count 2, garbage client: last hop", two, "203.0.113.7:1", []string{"junk, 10.0.0.2"}, "10.0.0.2"},
		{"count 1, garbage: peer", one, "203.0.113.7:1", []string{"junk"}, "203.0.113.7"},

		{"count+trusted: untrusted peer's header ignored", countTrusted, "203.0.113.7:1", []string{"1.1.1.1, 198.51.100.1"}, "203.0.113.7"},
		{"count+trusted: hops counted from a trusted peer", countTrusted, "10.0.0.1:1", []string{"1.1.1.1, 198.51.100.1, 203.0.113.50"}, "198.51.100.1"},
		{"count+trusted: trusted hops are counted, not skipped", countTrusted, "10.0.0.1:1", []string{"198.51.100.1, 10.0.0.2, 10.0.0.3"}, "10.0.0.2"},
		{"count+trusted: too few entries: peer", countTrusted, "10.0.0.1:1", []string{"198.51.100.1"}, "10.0.0.1"},
		{"count+trusted: garbage client: last hop", countTrusted, "10.0.0.1:1", []string{"junk, 203.0.113.50"}, "203.0.113.50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/login", nil)
			r.RemoteAddr = tt.remote
			for _, h := range tt.header {
				r.Header.Add("X-Forwarded-For", h)
			}
			got, err := httpaxes.ClientIP(r, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIPForwardedHeader(t *testing.T) {
	cfg := httpaxes.Config{TrustedProxies: prefixes(t, "10.0.0.0/8"), ForwardedHeader: "Forwarded"}
	tests := []struct {
		header, want string
	}{
		{`for=198.51.100.1;proto=https, for=10.0.0.2`, "198.51.100.1"},
		{`for="[2001:db8::7]:4711"`, "2001:db8::7"},
		{`For=198.51.100.1`, "198.51.100.1"},
		{`for=1.1.1.1, for=_hidden`, "10.0.0.1"},
		{`proto=https`, "10.0.0.1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = "10.0.0.1:80"
		r.Header.Set("Forwarded", tt.header)
		r.Header.Set("X-Forwarded-For", "6.6.6.6") // not the configured header
		got, err := httpaxes.ClientIP(r, cfg)
		if err != nil || got.String() != tt.want {
			t.Errorf("Forwarded %q: ClientIP = %s, %v; want %s", tt.header, got, err, tt.want)
		}
	}
}

func TestClientIPBadRemoteAddr(t *testing.T) {
	for _, remote := range []string{"", "@", "unix-socket", "example.com:80"} {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = remote
		got, err := httpaxes.ClientIP(r, httpaxes.Config{})
		if !errors.Is(err, httpaxes.ErrNoClientIP) || got.IsValid() {
			t.Errorf("RemoteAddr %q: got %s, %v; want ErrNoClientIP", remote, got, err)
		}
	}
	// With ProxyCount the header alone can name the client.
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.RemoteAddr = "@"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	got, err := httpaxes.ClientIP(r, httpaxes.Config{ProxyCount: 1})
	if err != nil || got.String() != "198.51.100.1" {
		t.Errorf("unix socket behind one proxy: got %s, %v", got, err)
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "1.1.1.1, 198.51.100.1, 10.0.0.2", uint8(0))
	f.Add("[::ffff:10.0.0.1]:1", "[2001:db8::1%eth0]:80, junk", uint8(1))
	f.Add("@", ",,,", uint8(2))
	f.Add("203.0.113.7:1", "for=\"[2001:db8::7]:4711\";proto=http", uint8(3))
	f.Add("", "", uint8(4))
	cfgs := []httpaxes.Config{
		{},
		{TrustedProxies: prefixes(f, "10.0.0.0/8", "2001:db8::/32")},
		{ProxyCount: 2},
		{TrustedProxies: prefixes(f, "0.0.0.0/0", "::/0"), ForwardedHeader: "Forwarded"},
		{ProxyCount: 1, ForwardedHeader: "Forwarded"},
		{ProxyCount: 2, TrustedProxies: prefixes(f, "10.0.0.0/8", "2001:db8::/32")},
	}
	resolvers := make([]*httpaxes.ClientIPResolver, len(cfgs))
	for i, c := range cfgs {
		resolvers[i] = httpaxes.NewClientIPResolver(c)
	}
	f.Fuzz(func(t *testing.T, remote, header string, mode uint8) {
		i := int(mode) % len(cfgs)
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		r.Header.Add(cfgs[i].Effective().ForwardedHeader, header)
		r.Header.Add(cfgs[i].Effective().ForwardedHeader, header)
		got, err := resolvers[i].ClientIP(r)
		if err != nil {
			if got.IsValid() {
				t.Fatalf("error %v with address %s", err, got)
			}
			return
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %#v: want a valid canonical address", got)
		}
	})
}

// TestClientIPUnixSocketTrusted: with TrustedProxies, a peer that is not an
// address (a Unix socket) is not trusted, so a hop count does not make the
// header believed.
func TestClientIPUnixSocketTrusted(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.RemoteAddr = "@"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	got, err := httpaxes.ClientIP(r, httpaxes.Config{ProxyCount: 1, TrustedProxies: prefixes(t, "10.0.0.0/8")})
	if !errors.Is(err, httpaxes.ErrNoClientIP) || got.IsValid() {
		t.Errorf("unix socket with trusted proxies: got %s, %v; want ErrNoClientIP", got, err)
	}
}
