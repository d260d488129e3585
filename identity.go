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

// FoldUsernameStrict is a stricter username normalisation for
// [Config.NormalizeUsername], for user stores that compare names the same
// way. Before it trims and folds case as [FoldUsername] does, it
//
//   - drops invisible code points that Unicode calls default-ignorable:
//     the soft hyphen U+00AD, the combining grapheme joiner U+034F, the
//     Arabic letter mark U+061C, the Hangul fillers (U+115F, U+1160,
//     U+3164, U+FFA0), U+17B4-U+17B5, the Mongolian variation selectors
//     U+180B-U+180F, the zero-width space, non-joiner, joiner and the
//     direction marks U+200B-U+200F, the bidirectional controls
//     U+202A-U+202E, the word joiner and invisible operators
//     U+2060-U+206F, the variation selectors U+FE00-U+FE0F and
//     U+E0100-U+E01EF, the byte order mark U+FEFF and the tags
//     U+E0000-U+E007F, so that "al\u200Bice" is alice;
//   - maps the fullwidth forms of ASCII (U+FF01-U+FF5E) to ASCII, and the
//     ideographic space U+3000 to a space, so that "ａｌｉｃｅ" is alice.
//
// It is NOT Unicode NFKC (nor the PRECIS profiles of RFC 8265): it
// composes nothing, and leaves other compatibility characters (ligatures,
// superscripts, circled letters, other scripts' width variants) and
// confusable letters from other scripts (Cyrillic а) as they are. Full
// NFKC needs golang.org/x/text/unicode/norm, which the core does not
// depend on; an application that needs it sets its own function.
//
// Changing the normalisation of a running installation changes the keys
// of existing buckets: names it maps differently start with fresh counts.
func FoldUsernameStrict(s string) string {
	s = strings.Map(stripInvisible, s)
	return FoldUsername(s)
}

// stripInvisible drops default-ignorable code points (-1) and maps the
// fullwidth forms of ASCII to ASCII, for FoldUsernameStrict.
func stripInvisible(r rune) rune {
	switch {
	case r < 0x00AD:
		return r
	case r == 0x00AD, r == 0x034F, r == 0x061C, r == 0x115F, r == 0x1160,
		0x17B4 <= r && r <= 0x17B5, 0x180B <= r && r <= 0x180F,
		0x200B <= r && r <= 0x200F, 0x202A <= r && r <= 0x202E,
		0x2060 <= r && r <= 0x206F, r == 0x3164, 0xFE00 <= r && r <= 0xFE0F,
		r == 0xFEFF, r == 0xFFA0, 0xE0000 <= r && r <= 0xE007F,
		0xE0100 <= r && r <= 0xE01EF:
		return -1
	case 0xFF01 <= r && r <= 0xFF5E:
		return r - 0xFF01 + '!'
	case r == 0x3000:
		return ' '
	}
	return r
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
