// Package norm holds the small normalisations that the core, httpaxes and
// the axes command share: cutting client-chosen text to a bounded length,
// and the value an address is counted under.
package norm

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// MaxFieldLength is the length in bytes that usernames, user agents, paths
// and reasons are cut to (at a rune boundary) before they are keyed or
// stored.
const MaxFieldLength = 255

// Truncate cuts s to at most n bytes without splitting a rune, after
// replacing invalid UTF-8 with U+FFFD.
func Truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// GroupIP returns the value an address is counted under: the address itself
// for IPv4 (an IPv4-mapped address is folded), its /bits prefix for IPv6
// (bits 128 keeps the address). It is "" for the zero Addr.
func GroupIP(ip netip.Addr, bits int) string {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return ""
	}
	if ip.Is6() && bits > 0 && bits < 128 {
		p, err := ip.WithZone("").Prefix(bits)
		if err == nil {
			return p.String()
		}
	}
	return ip.WithZone("").String()
}
