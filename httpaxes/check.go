package httpaxes

import (
	"context"
	"fmt"

	"github.com/goaxes/axes"
	"github.com/goaxes/axes/internal/finding"
)

// Check returns the findings about c alone, without the guard's
// SilencedChecks applied (use [axes.Silence]): values that [Config.Validate]
// rejects (axes.W005), trusted proxies that include every address
// (axes.W101), a forwarding header that no proxy setting makes the
// middleware read (axes.W102), and a ProxyCount without TrustedProxies,
// which believes the header from any peer (axes.W109). The codes are those
// of [axes.Checks].
func (c Config) Check() []axes.Finding {
	var fs []axes.Finding
	if err := c.Validate(); err != nil {
		for _, e := range unwrapAll(err) {
			fs = append(fs, finding.New("axes.W005", e.Error(), "fix the value; the middleware refuses to start with it"))
		}
	}
	eff := c.Effective()
	for _, p := range c.TrustedProxies {
		if p.Bits() == 0 {
			fs = append(fs, finding.New("axes.W101",
				fmt.Sprintf("TrustedProxies contains %s, which trusts every peer: any client can forge its address in %s.", p, eff.ForwardedHeader),
				"List only your proxies' addresses or networks."))
			break
		}
	}
	if c.ForwardedHeader != "" && len(c.TrustedProxies) == 0 && c.ProxyCount == 0 {
		fs = append(fs, finding.New("axes.W102",
			fmt.Sprintf("ForwardedHeader is %s, but no trusted proxy is configured, so the header is ignored and the client is the TCP peer.", c.ForwardedHeader),
			"Set AXES_IPWARE_PROXY_TRUSTED_IPS or AXES_IPWARE_PROXY_COUNT, or remove the header setting."))
	}
	if c.ProxyCount > 0 && len(c.TrustedProxies) == 0 {
		fs = append(fs, finding.New("axes.W109",
			fmt.Sprintf("ProxyCount is %d but TrustedProxies is empty: %s is believed from any peer, so a client that reaches the application without passing through the proxies can choose its address on every request and is never locked out.", c.ProxyCount, eff.ForwardedHeader),
			"Set AXES_IPWARE_PROXY_TRUSTED_IPS to the address of the proxy that connects to the application; the header is then read only from it. Silence axes.W109 only if nothing but the proxies can reach the application."))
	}
	return fs
}

// Check runs every check that applies to the middleware: those of its
// guard ([axes.Guard.Check]: the policy, the store, the wiring) and those
// of the [Config] it was given ([Config.Check]). The codes the guard's
// SilencedChecks lists are left out. Call it at start-up, after the
// routes are wired, in place of the guard's Check.
func (m *Middleware) Check(ctx context.Context) []axes.Finding {
	fs := m.guard.Check(ctx)
	fs = append(fs, m.given.Check()...)
	return axes.Silence(fs, m.guard.Config().SilencedChecks)
}

func unwrapAll(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	return []error{err}
}
