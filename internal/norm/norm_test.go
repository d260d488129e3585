package norm

import (
	"net/netip"
	"strings"
	"testing"
)

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	got := Truncate(long, MaxFieldLength)
	if len(got) != 254 || !strings.HasPrefix(long, got) {
		t.Errorf("Truncate cut to %d bytes, want 254 (a whole rune below 255)", len(got))
	}
	if got := Truncate("a\xffb", 10); got != "a\uFFFDb" {
		t.Errorf("Truncate of invalid UTF-8 = %q, want a\\uFFFDb", got)
	}
}

func TestGroupIP(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		bits int
		want string
	}{
		{"203.0.113.5", 64, "203.0.113.5"},
		{"::ffff:203.0.113.5", 64, "203.0.113.5"},
		{"2001:db8::1", 64, "2001:db8::/64"},
		{"2001:db8::1%eth0", 64, "2001:db8::/64"},
		{"2001:db8::1", 128, "2001:db8::1"},
	} {
		if got := GroupIP(netip.MustParseAddr(tc.ip), tc.bits); got != tc.want {
			t.Errorf("GroupIP(%s, %d) = %q, want %q", tc.ip, tc.bits, got, tc.want)
		}
	}
	if got := GroupIP(netip.Addr{}, 64); got != "" {
		t.Errorf("GroupIP(zero) = %q, want empty", got)
	}
}
