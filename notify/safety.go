package notify

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// maxResponse caps how much of a response body is read.
const maxResponse = 64 << 10

// RefusedError says a target's address is not public and not allow-listed.
type RefusedError struct {
	Host string
	Addr netip.Addr
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s (%s): loopback, link-local, private, unspecified and multicast addresses need --webhook-allow-cidr", e.Host, e.Addr)
}

// Allowed says whether an HTTP target may connect to a: public unicast
// addresses always, others only within an allow-listed prefix.
func Allowed(a netip.Addr, allow []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	if !a.IsValid() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsPrivate() || a.IsUnspecified() {
		return false
	}
	for _, p := range extraBlocked {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// extraBlocked are non-public ranges netip does not classify.
var extraBlocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
}

// safeDialer resolves the host itself, refuses addresses that are not
// allowed, and dials the checked IP, so a DNS answer that changes between
// check and connect (rebinding) cannot reach a refused address.
type safeDialer struct {
	resolver *net.Resolver
	allow    []netip.Prefix
	dialer   net.Dialer
}

func (d *safeDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ias, err := d.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		ips = ias
	}
	var refused error
	var lastErr error
	for _, ip := range ips {
		if !Allowed(ip, d.allow) {
			if refused == nil {
				refused = &RefusedError{Host: host, Addr: ip}
			}
			continue
		}
		c, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if refused != nil {
		return nil, refused
	}
	return nil, fmt.Errorf("%s has no address", host)
}

// newHTTPClient is the client of every HTTP target: no proxy (it would
// bypass the address check), no redirects, the safe dialer.
func newHTTPClient(r *net.Resolver, allow []netip.Prefix) *http.Client {
	if r == nil {
		r = net.DefaultResolver
	}
	d := &safeDialer{resolver: r, allow: allow, dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NewHTTPClient returns the guarded client HTTP targets use (for the
// "send test" path and receivers' tests).
func NewHTTPClient(allow []netip.Prefix) *http.Client { return newHTTPClient(nil, allow) }

// ParseCIDRs parses allow-list entries ("127.0.0.0/8", or a bare address).
func ParseCIDRs(ss []string) ([]netip.Prefix, error) {
	out := []netip.Prefix{}
	for _, s := range ss {
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR: %v", s, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
