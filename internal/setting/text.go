package setting

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ParseBool reads true, false, 1 or 0, in any case and with surrounding
// space.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// ParseDuration parses a duration with units ("15m", "1h30m", "90s"); "0"
// and "none" mean none. A bare number is rejected: django-axes reads
// AXES_COOLOFF_TIME=2 as two hours, and guessing the unit is how lockouts
// go wrong.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "0" || strings.EqualFold(v, "none") {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return 0, fmt.Errorf("a bare number has no unit (django-axes would read %s as hours); write %sh or %sm", v, v, v)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("not a duration")
	}
	if d < 0 {
		return 0, errors.New("negative")
	}
	return d, nil
}

// FormatDuration writes d as ParseDuration reads it, without zero units:
// "0", "15m", "1h30m", "2h".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ParsePrefixes parses a comma-separated list of addresses and CIDR
// prefixes (see [ParsePrefix]).
func ParsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range SplitList(v) {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePrefix parses one address or CIDR prefix. An address becomes a
// single-address prefix; a prefix is folded as [FoldPrefix] does.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix", s)
		}
		return FoldPrefix(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address", s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// FoldPrefix returns p as client addresses are compared with it: an
// IPv4-mapped prefix of /96 or longer becomes the IPv4 prefix, zones are
// dropped, and the address is masked to the network.
func FoldPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

// FormatPrefixes writes prefixes as ParsePrefixes reads them: single
// addresses without a length, joined by commas.
func FormatPrefixes(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			parts[i] = p.Addr().String()
		} else {
			parts[i] = p.String()
		}
	}
	return strings.Join(parts, ",")
}

// SplitList splits a comma-separated list, trimming space and dropping
// empty items.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
