package haproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parseAddr parses one HAProxy address: "[proto@]host:port", ":port",
// "*:port", "[::]:port", ":::port", "unix@/path", "/path", "abns@name",
// "fd@N", "ipv4@", "ipv6@", port ranges "host:8000-8010" (listen only) and
// port offsets "+N"/"-N" (servers). listen selects the listening rules.
func parseAddr(s string, listen bool) (Addr, error) {
	a := Addr{Raw: s, Net: "tcp"}
	if i := strings.Index(s, "@"); i >= 0 {
		proto := s[:i]
		rest := s[i+1:]
		switch proto {
		case "ipv4", "tcp4":
			a.Net = "tcp4"
		case "ipv6", "tcp6":
			a.Net = "tcp6"
		case "tcp":
		case "unix":
			a.Net, a.Host = "unix", rest
			return a, nil
		case "abns":
			a.Net, a.Host = "abns", rest
			return a, nil
		case "fd", "sockpair":
			a.Net, a.Host = proto, rest
			return a, nil
		case "udp", "udp4", "udp6":
			a.Net = proto
		default:
			return a, fmt.Errorf("unknown address family '%s' in '%s'", proto, s)
		}
		s = rest
	}
	if strings.HasPrefix(s, "/") {
		a.Net, a.Host = "unix", s
		return a, nil
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return a, fmt.Errorf("invalid address: '%s'", a.Raw)
		}
		host = s[1:end]
		rest := s[end+1:]
		if strings.HasPrefix(rest, ":") {
			port = rest[1:]
		} else if rest != "" {
			return a, fmt.Errorf("invalid address: '%s'", a.Raw)
		}
	case strings.Count(s, ":") > 1:
		// IPv6 without brackets: the port follows the last colon.
		i := strings.LastIndex(s, ":")
		host, port = s[:i], s[i+1:]
	default:
		if i := strings.LastIndex(s, ":"); i >= 0 {
			host, port = s[:i], s[i+1:]
		}
	}
	if host == "*" || host == "0.0.0.0" && a.Net == "tcp" && listen {
		if host == "*" {
			host = ""
		}
	}
	if host == "::" && a.Net == "tcp" {
		a.Net = "tcp6"
	}
	if host != "" {
		if ip, err := netip.ParseAddr(host); err == nil {
			if ip.Is4() && a.Net == "tcp" {
				a.Net = "tcp4"
			} else if ip.Is6() && !ip.Is4In6() && a.Net == "tcp" {
				a.Net = "tcp6"
			}
		}
	}
	a.Host = host
	if port == "" {
		if listen {
			return a, fmt.Errorf("missing port number: '%s'", a.Raw)
		}
		a.NoPort = true
		return a, nil
	}
	if !listen && (port[0] == '+' || port[0] == '-') {
		v, err := strconv.Atoi(port)
		if err != nil {
			return a, fmt.Errorf("invalid port offset '%s'", port)
		}
		a.Port, a.PortEnd, a.PortOff = v, v, true
		return a, nil
	}
	lo, hi, isRange := strings.Cut(port, "-")
	p1, err := strconv.Atoi(lo)
	if err != nil || p1 < 0 || p1 > 65535 || (listen && p1 == 0) {
		return a, fmt.Errorf("invalid port '%s'", port)
	}
	a.Port, a.PortEnd = p1, p1
	if isRange {
		if !listen {
			return a, fmt.Errorf("port ranges are not allowed here: '%s'", a.Raw)
		}
		p2, err := strconv.Atoi(hi)
		if err != nil || p2 < p1 || p2 > 65535 {
			return a, fmt.Errorf("invalid port range '%s'", port)
		}
		a.PortEnd = p2
	}
	return a, nil
}

// bindOption parses one option of a bind line; n is how many words it
// takes after its name.
type bindOption struct {
	n     int
	apply func(b *Bind, args []string) error
	// notImpl: accepted and kept, without effect yet (reported).
	notImpl bool
}

var bindOptions = map[string]bindOption{
	"name":         {1, func(b *Bind, a []string) error { b.Name = a[0]; return nil }, false},
	"v4v6":         {0, func(b *Bind, a []string) error { b.V4V6 = true; return nil }, false},
	"v6only":       {0, func(b *Bind, a []string) error { b.V6Only = true; return nil }, false},
	"accept-proxy": {0, func(b *Bind, a []string) error { b.AcceptProxy = true; return nil }, false},
	"transparent":  {0, func(b *Bind, a []string) error { b.Transparent = true; return nil }, false},
	"interface":    {1, func(b *Bind, a []string) error { b.Interface = a[0]; return nil }, false},
	"backlog":      {1, func(b *Bind, a []string) (err error) { b.Backlog, err = atoiArg(a[0]); return }, false},
	"maxconn":      {1, func(b *Bind, a []string) (err error) { b.Maxconn, err = atoiArg(a[0]); return }, false},
	"process":      {1, func(b *Bind, a []string) error { b.Process = a[0]; return nil }, false},
	"thread":       {1, func(b *Bind, a []string) error { return nil }, false},
	"mode": {1, func(b *Bind, a []string) error {
		m, err := strconv.ParseUint(a[0], 8, 32)
		b.Mode = uint32(m)
		return err
	}, false},
	"user":                  {1, func(b *Bind, a []string) error { b.User = a[0]; return nil }, false},
	"group":                 {1, func(b *Bind, a []string) error { b.Group = a[0]; return nil }, false},
	"uid":                   {1, func(b *Bind, a []string) error { return nil }, false},
	"gid":                   {1, func(b *Bind, a []string) error { return nil }, false},
	"defer-accept":          {0, func(b *Bind, a []string) error { b.Defer = true; return nil }, false},
	"tfo":                   {0, func(b *Bind, a []string) error { b.TFO = true; return nil }, true},
	"ssl":                   {0, func(b *Bind, a []string) error { b.SSL = true; return nil }, true},
	"crt":                   {1, func(b *Bind, a []string) error { b.Crt = append(b.Crt, a[0]); return nil }, true},
	"crt-list":              {1, func(b *Bind, a []string) error { b.Crt = append(b.Crt, a[0]); return nil }, true},
	"ca-file":               {1, func(b *Bind, a []string) error { b.CAFile = a[0]; return nil }, true},
	"verify":                {1, func(b *Bind, a []string) error { b.Verify = a[0]; return nil }, true},
	"alpn":                  {1, func(b *Bind, a []string) error { b.ALPN = a[0]; return nil }, true},
	"npn":                   {1, nil, true},
	"ciphers":               {1, nil, true},
	"ciphersuites":          {1, nil, true},
	"ssl-min-ver":           {1, nil, true},
	"ssl-max-ver":           {1, nil, true},
	"no-sslv3":              {0, nil, true},
	"no-tlsv10":             {0, nil, true},
	"no-tlsv11":             {0, nil, true},
	"no-tlsv12":             {0, nil, true},
	"no-tls-tickets":        {0, nil, true},
	"strict-sni":            {0, nil, true},
	"crl-file":              {1, nil, true},
	"ecdhe":                 {1, nil, true},
	"curves":                {1, nil, true},
	"allow-0rtt":            {0, nil, true},
	"prefer-client-ciphers": {0, nil, true},
	"force-tlsv12":          {0, nil, true},
	"force-tlsv13":          {0, nil, true},
	"generate-certificates": {0, nil, true},
	"id":                    {1, nil, false},
	"nice":                  {1, nil, false},
	"level":                 {1, nil, false},
	"severity-output":       {1, nil, false},
	"expose-fd":             {1, nil, false},
	"tcp-ut":                {1, nil, true},
	"namespace":             {1, nil, true},
	"mss":                   {1, nil, true},
	"proto":                 {1, nil, true},
	"quic-cc-algo":          {1, nil, true},
}

func atoiArg(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("expects a positive integer (got '%s')", s)
	}
	return v, nil
}

func (l *loader) parseBind(p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
		return
	}
	b := &Bind{Pos: ln.Pos}
	for _, s := range strings.Split(w[1], ",") {
		if s == "" {
			continue
		}
		a, err := parseAddr(s, true)
		if err != nil {
			l.d.Alertf(ln.Pos, "'bind %s' : %v.", w[1], err)
			return
		}
		b.Addrs = append(b.Addrs, a)
	}
	for i := 2; i < len(w); i++ {
		opt, ok := bindOptions[w[i]]
		if !ok {
			l.d.Alertf(ln.Pos, "'bind %s' unknown keyword '%s'.", w[1], w[i])
			return
		}
		if i+opt.n >= len(w) {
			l.d.Alertf(ln.Pos, "'bind %s' : missing argument for '%s'.", w[1], w[i])
			return
		}
		args := w[i+1 : i+1+opt.n]
		if opt.apply != nil {
			if err := opt.apply(b, args); err != nil {
				l.d.Alertf(ln.Pos, "'bind %s' : '%s' %v.", w[1], w[i], err)
				return
			}
		}
		if opt.notImpl {
			l.d.Warnf(ln.Pos, "'bind %s' : '%s' is parsed but not implemented by goproxy yet; ignored.", w[1], w[i])
		}
		b.Options = append(b.Options, strings.Join(w[i:i+1+opt.n], " "))
		i += opt.n
	}
	p.Binds = append(p.Binds, b)
}
