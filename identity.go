package axes

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/goaxes/axes/internal/norm"
	"github.com/goaxes/axes/storage"
)

// Identity is who is attempting to log in. The HTTP layer fills it from the
// request; the guard normalises it before keying (IPv4-mapped addresses are
// folded, usernames normalised, long fields cut).
type Identity struct {
	IP        netip.Addr
	Username  string
	UserAgent string
	Path      string
	Method    string
}

// FoldUsername is the default username normalisation: it trims surrounding
// white space and folds Unicode case, so that "Alice " and "alice" share
// a bucket.
func FoldUsername(s string) string {
	s = strings.TrimSpace(s)
	return strings.Map(foldRune, s)
}

// foldRune maps every case variant of r to one rune, normally the lower
// case: upper-casing first folds variants such as the long s and the final
// sigma, which have no upper case of their own.
func foldRune(r rune) rune {
	return unicode.ToLower(unicode.ToUpper(r))
}

// normalize returns id as the guard keys and stores it.
func (g *Guard) normalize(id Identity) Identity {
	id.IP = id.IP.Unmap().WithZone("")
	id.Username = norm.Truncate(g.cfg.NormalizeUsername(strings.ToValidUTF8(id.Username, "\uFFFD")), norm.MaxFieldLength)
	id.UserAgent = norm.Truncate(id.UserAgent, norm.MaxFieldLength)
	id.Path = norm.Truncate(id.Path, norm.MaxFieldLength)
	return id
}

// bucketsFor returns the buckets of id (normalised) for groups, one per
// group that applies (a group with the username needs one; a group listed
// twice counts once), in the order of groups.
func bucketsFor(id Identity, ipValue string, groups []Group) []storage.Bucket {
	out := make([]storage.Bucket, 0, len(groups))
	for _, g := range groups {
		b := storage.Bucket{Params: g.String()}
		var key strings.Builder
		key.Grow(32 + len(ipValue) + len(id.Username) + len(id.UserAgent))
		key.WriteString("b")
		skip := false
		for _, p := range g {
			var v string
			switch p {
			case ParamIPAddress:
				v, b.IP = ipValue, ipValue
				if v == "" {
					skip = true
				}
			case ParamUsername:
				v, b.Username = id.Username, id.Username
				if v == "" {
					skip = true
				}
			case ParamUserAgent:
				v, b.UserAgent = id.UserAgent, id.UserAgent
			}
			writeField(&key, string(p), v)
		}
		if skip {
			continue
		}
		b.Key = key.String()
		if slices.ContainsFunc(out, func(o storage.Bucket) bool { return o.Key == b.Key }) {
			continue // a group listed twice
		}
		out = append(out, b)
	}
	return out
}

// writeField appends "|name=len:value": the length prefix makes every key
// unambiguous whatever the value contains.
func writeField(b *strings.Builder, name, value string) {
	b.WriteByte('|')
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(strconv.Itoa(len(value)))
	b.WriteByte(':')
	b.WriteString(value)
}
