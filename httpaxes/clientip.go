package httpaxes

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/goaxes/axes/internal/norm"
)

// ErrNoClientIP is returned when the client's address cannot be determined:
// the TCP peer address (RemoteAddr) does not parse, as for a Unix socket.
var ErrNoClientIP = errors.New("httpaxes: cannot determine the client IP address")

// ClientIPResolver finds a request's client address by the proxy settings of
// a [Config]: TrustedProxies, ProxyCount and ForwardedHeader. The zero
// value trusts no proxy and returns the TCP peer. It is safe for concurrent
// use.
//
// The rules, which fail closed:
//
//   - No TrustedProxies and no ProxyCount: the client is the TCP peer
//     (RemoteAddr). No header is read.
//   - TrustedProxies: the header is read only when the peer is a trusted
//     proxy. Its entries (every header line, comma-separated lists, spaces
//     trimmed) are walked from the right, skipping trusted addresses; the
//     first untrusted address is the client. A forged header sent by an
//     untrusted peer is ignored, and the left-most entry, which the client
//     wrote, is believed only when every entry to its right is trusted.
//     When every entry is trusted the left-most one is the client.
//   - ProxyCount n: the client is the n-th entry from the right. When the
//     header has fewer than n entries, the client is the TCP peer (the
//     request did not pass through all the proxies, so the header is not
//     believed). The header is read whoever the peer is, as django-axes
//     reads it: a client that reaches the application directly chooses its
//     own address (axes.W109 warns of this).
//   - ProxyCount n and TrustedProxies: the header is read only when the
//     peer is a trusted proxy, and then the client is the n-th entry from
//     the right as with ProxyCount alone; from any other peer the client is
//     the peer. Only the last proxy, the one that connects to the
//     application, need be listed: the hops before it (a CDN's edges) are
//     counted, not matched.
//   - An entry that is not an IP address (garbage, "unknown", an obfuscated
//     RFC 7239 identifier) stops the walk: the client is the last hop that
//     was believed, that is the entry to its right, or the TCP peer.
//
// Entries may carry a port ("192.0.2.1:5678", "[2001:db8::1]:443") or
// brackets. With ForwardedHeader "Forwarded" the for= parameter of each
// RFC 7239 element is read. Every address returned has IPv4-mapped IPv6
// folded to IPv4 and no zone.
type ClientIPResolver struct {
	trusted   []netip.Prefix
	count     int
	header    string
	forwarded bool // the header is RFC 7239 Forwarded
}

// NewClientIPResolver returns the resolver for cfg's proxy settings.
// Invalid prefixes in cfg.TrustedProxies are skipped (they trust nothing);
// [Config.Validate] reports them.
func NewClientIPResolver(cfg Config) *ClientIPResolver {
	cfg = cfg.Effective()
	c := &ClientIPResolver{count: max(cfg.ProxyCount, 0), header: cfg.ForwardedHeader}
	for _, p := range cfg.TrustedProxies {
		if p.IsValid() {
			c.trusted = append(c.trusted, p.Masked())
		}
	}
	c.forwarded = strings.EqualFold(c.header, "Forwarded")
	return c
}

// ClientIP returns the client address of r under cfg's proxy settings; see
// [ClientIPResolver] for the rules. Code that resolves many requests should
// build a resolver once with [NewClientIPResolver].
func ClientIP(r *http.Request, cfg Config) (netip.Addr, error) {
	return NewClientIPResolver(cfg).ClientIP(r)
}

// ClientIP returns the client address of r. The error wraps
// [ErrNoClientIP].
func (c *ClientIPResolver) ClientIP(r *http.Request) (netip.Addr, error) {
	switch {
	case c.count > 0:
		if len(c.trusted) > 0 {
			// Count hops only in a header a trusted proxy passed on.
			peer, err := peerAddr(r)
			if err != nil || !c.isTrusted(peer) {
				return peer, err
			}
		}
		return c.countHops(r)
	case len(c.trusted) > 0:
		peer, err := peerAddr(r)
		if err != nil || !c.isTrusted(peer) {
			return peer, err
		}
		last := peer // the last hop believed so far
		c.eachEntry(r, func(e string) bool {
			a, valid := c.parseEntry(e)
			if !valid {
				return false
			}
			last = a
			return c.isTrusted(a) // an untrusted address is the client
		})
		return last, nil
	default:
		return peerAddr(r)
	}
}

// countHops returns the c.count-th entry from the right of the header, or
// the last hop believed when an entry before it is not an address, or the
// peer when the header is shorter.
func (c *ClientIPResolver) countHops(r *http.Request) (netip.Addr, error) {
	var (
		last   netip.Addr
		n      int
		broken bool
	)
	c.eachEntry(r, func(e string) bool {
		a, valid := c.parseEntry(e)
		if !valid {
			broken = true
			return false
		}
		last = a
		n++
		return n < c.count
	})
	if n == c.count {
		return last, nil
	}
	if broken && n > 0 {
		// The entry after a believed hop is garbage: that hop is the
		// last address we know.
		return last, nil
	}
	return peerAddr(r)
}

func (c *ClientIPResolver) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// eachEntry calls f with the entries of the forwarding header from the
// right-most one leftwards, until f returns false. It does not allocate a
// list, so a huge header costs no more than one scan.
func (c *ClientIPResolver) eachEntry(r *http.Request, f func(string) bool) {
	lines := r.Header.Values(c.header)
	for i := len(lines) - 1; i >= 0; i-- {
		s := lines[i]
		for {
			j := strings.LastIndexByte(s, ',')
			e := strings.TrimSpace(s[j+1:])
			if e != "" {
				if !f(e) {
					return
				}
			}
			if j < 0 {
				break
			}
			s = s[:j]
		}
	}
}

// parseEntry parses one header entry into a canonical address.
func (c *ClientIPResolver) parseEntry(e string) (netip.Addr, bool) {
	if c.forwarded {
		v, ok := forwardedFor(e)
		if !ok {
			return netip.Addr{}, false
		}
		e = v
	}
	return parseHost(e)
}

// forwardedFor returns the for= value of one RFC 7239 element.
func forwardedFor(elem string) (string, bool) {
	for pair := range strings.SplitSeq(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// parseHost parses an address with an optional port or brackets.
func parseHost(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		switch {
		case err2 == nil:
			a = ap.Addr()
		case len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']':
			a, err = netip.ParseAddr(s[1 : len(s)-1])
			if err != nil {
				return netip.Addr{}, false
			}
		default:
			return netip.Addr{}, false
		}
	}
	a = canonical(a)
	return a, a.IsValid()
}

func canonical(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// peerAddr returns the TCP peer of r.
func peerAddr(r *http.Request) (netip.Addr, error) {
	if a, ok := parseHost(r.RemoteAddr); ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("%w: RemoteAddr %q is not an IP address", ErrNoClientIP, truncate(r.RemoteAddr, 64))
}

func truncate(s string, n int) string {
	return norm.Truncate(s, n)
}
