package haproxy

import (
	"net/netip"
	"strings"
)

// optionKeyword is one `option NAME` keyword.
type optionKeyword struct {
	cap Cap
	// set applies `option NAME args...` (on=true) or `no option NAME`.
	set func(l *loader, p *Proxy, ln Line, on bool)
	// noNegate: HAProxy refuses `no option NAME` for it.
	noNegate bool
	notImpl  bool
}

func boolOption(f func(o *Options) *bool) func(*loader, *Proxy, Line, bool) {
	return func(l *loader, p *Proxy, ln Line, on bool) { *f(&p.Options) = on }
}

var optionKeywords map[string]optionKeyword

func init() {
	all, fe, be := CapListen, CapFE, CapBE
	optionKeywords = map[string]optionKeyword{
		"httplog":                {cap: all, set: setHTTPLog, noNegate: true},
		"tcplog":                 {cap: all, set: boolOption(func(o *Options) *bool { return &o.TCPLog }), noNegate: true},
		"dontlognull":            {cap: fe, set: boolOption(func(o *Options) *bool { return &o.DontLogNull })},
		"dontlog-normal":         {cap: fe, set: boolOption(func(o *Options) *bool { return &o.DontLogNormal })},
		"log-health-checks":      {cap: be, set: boolOption(func(o *Options) *bool { return &o.LogHealthChecks })},
		"log-separate-errors":    {cap: fe, set: boolOption(func(o *Options) *bool { return &o.LogSeparateErrors })},
		"logasap":                {cap: fe, set: boolOption(func(o *Options) *bool { return &o.LogASAP })},
		"redispatch":             {cap: be, set: setRedispatch},
		"http-server-close":      {cap: all, set: setConnMode(func(o *Options) *bool { return &o.HTTPServerClose })},
		"httpclose":              {cap: all, set: setConnMode(func(o *Options) *bool { return &o.HTTPClose })},
		"forceclose":             {cap: all, set: setForceclose},
		"http-keep-alive":        {cap: all, set: setConnMode(func(o *Options) *bool { return &o.HTTPKeepAlive })},
		"http-pretend-keepalive": {cap: all, set: boolOption(func(o *Options) *bool { return &o.HTTPPretendKA })},
		"http-buffer-request":    {cap: all, set: boolOption(func(o *Options) *bool { return &o.HTTPBufferRequest })},
		"abortonclose":           {cap: be, set: boolOption(func(o *Options) *bool { return &o.AbortOnClose })},
		"allbackups":             {cap: be, set: boolOption(func(o *Options) *bool { return &o.AllBackups })},
		"tcpka":                  {cap: all, set: boolOption(func(o *Options) *bool { return &o.TCPKA })},
		"clitcpka":               {cap: fe, set: boolOption(func(o *Options) *bool { return &o.ClientTCPKA })},
		"srvtcpka":               {cap: be, set: boolOption(func(o *Options) *bool { return &o.ServerTCPKA })},
		"splice-auto":            {cap: all, set: boolOption(func(o *Options) *bool { return &o.Splice })},
		"splice-request":         {cap: all, set: boolOption(func(o *Options) *bool { return &o.Splice })},
		"splice-response":        {cap: all, set: boolOption(func(o *Options) *bool { return &o.Splice })},
		"persist":                {cap: be, set: boolOption(func(o *Options) *bool { return &o.Persist })},
		"prefer-last-server":     {cap: be, set: boolOption(func(o *Options) *bool { return &o.PreferLastServer })},
		"transparent":            {cap: be, set: boolOption(func(o *Options) *bool { return &o.Transparent }), notImpl: true},
		"http-ignore-probes":     {cap: fe, set: boolOption(func(o *Options) *bool { return &o.HTTPIgnoreProbes })},
		"http-use-proxy-header":  {cap: fe, set: boolOption(func(o *Options) *bool { return &o.HTTPUseProxyHeader })},
		"forwardfor":             {cap: all, set: setForwardfor, noNegate: true},
		"originalto":             {cap: all, set: setOriginalto, noNegate: true},
		"httpchk":                {cap: be, set: (*loader).setHTTPChk, noNegate: true},
		"tcp-check":              {cap: be, set: setCheckKind(CheckTCPSeq), noNegate: true},
		"mysql-check":            {cap: be, set: setMySQLCheck, noNegate: true},
		"smtpchk":                {cap: be, set: setSMTPChk, noNegate: true},
		"pgsql-check":            {cap: be, set: setCheckKind(CheckPgSQL), noNegate: true, notImpl: true},
		"redis-check":            {cap: be, set: setCheckKind(CheckRedis), noNegate: true},
		"ssl-hello-chk":          {cap: be, set: setCheckKind(CheckSSLHello), noNegate: true, notImpl: true},
		"ldap-check":             {cap: be, set: setCheckKind(CheckLDAP), noNegate: true, notImpl: true},
		"external-check":         {cap: be, set: ignoreOption, noNegate: true, notImpl: true},
		"http-tunnel":            {cap: all, set: setHTTPTunnel},
	}
	// Options accepted with no effect yet, reported once per line.
	for _, n := range []string{"accept-invalid-http-request", "accept-invalid-http-response",
		"checkcache", "contstats", "disable-h2-upgrade", "h1-case-adjust-bogus-client",
		"h1-case-adjust-bogus-server", "http-no-delay", "http-restrict-req-hdr-names",
		"http_proxy", "http-use-htx", "idle-close-on-response", "independent-streams",
		"nolinger", "socket-stats", "spop-check", "tcp-smart-accept", "tcp-smart-connect",
		"dontlog-normal", "httpslog", "http-drop-request-trailers",
		"http-drop-response-trailers"} {
		if _, dup := optionKeywords[n]; dup {
			continue
		}
		optionKeywords[n] = optionKeyword{cap: CapListen, set: ignoreOption, notImpl: true}
	}
	// Performance knobs of HAProxy's own event loop: the behaviour is the
	// same without them.
	for _, n := range []string{"tcp-smart-accept", "tcp-smart-connect", "http-no-delay", "nolinger",
		"contstats", "http-use-htx", "socket-stats", "independent-streams"} {
		optionKeywords[n] = optionKeyword{cap: CapListen, set: ignoreOption}
	}
}

func ignoreOption(l *loader, p *Proxy, ln Line, on bool) {
	if on {
		p.Options.IgnoreUnknown = append(p.Options.IgnoreUnknown, ln.Words[1])
	}
}

func (l *loader) parseOption(p *Proxy, ln Line, negate bool) {
	if len(ln.Words) < 2 {
		l.d.Alertf(ln.Pos, "'option' expects an option name.")
		return
	}
	name := ln.Words[1]
	kw, ok := optionKeywords[name]
	if !ok {
		names := make([]string, 0, len(optionKeywords))
		for k := range optionKeywords {
			names = append(names, k)
		}
		if s := suggest(name, names); s != "" {
			l.d.Alertf(ln.Pos, "unknown option '%s'; did you mean '%s' maybe ?", name, s)
			return
		}
		l.d.Alertf(ln.Pos, "unknown option '%s'.", name)
		return
	}
	if negate && kw.noNegate {
		l.d.Alertf(ln.Pos, "negation/default is not supported for option '%s'.", name)
		return
	}
	if p.Kind != "defaults" && p.Cap&kw.cap == 0 {
		other := "frontend"
		if kw.cap == CapBE {
			other = "backend"
		}
		l.d.Warnf(ln.Pos, "'option %s' ignored because %s '%s' has no %s capability.", name, p.Kind, p.Name, other)
		return
	}
	if kw.notImpl && !negate {
		l.d.Warnf(ln.Pos, "'option %s' is parsed but not implemented by goproxy yet; ignored.", name)
	}
	kw.set(l, p, ln, !negate)
}

func setHTTPLog(l *loader, p *Proxy, ln Line, on bool) {
	p.Options.HTTPLog = true
	p.Options.TCPLog = false
	p.Options.HTTPLogCLF = len(ln.Words) > 2 && ln.Words[2] == "clf"
	if len(ln.Words) > 2 && ln.Words[2] != "clf" {
		l.d.Alertf(ln.Pos, "'option httplog' only supports the 'clf' argument (got '%s').", ln.Words[2])
	}
}

// setConnMode applies HAProxy's rule that the HTTP connection modes
// (http-keep-alive, http-server-close, httpclose) exclude each other: the
// last one wins.
func setConnMode(f func(o *Options) *bool) func(*loader, *Proxy, Line, bool) {
	return func(l *loader, p *Proxy, ln Line, on bool) {
		if on {
			p.Options.HTTPKeepAlive, p.Options.HTTPServerClose, p.Options.HTTPClose = false, false, false
		}
		*f(&p.Options) = on
	}
}

func setForceclose(l *loader, p *Proxy, ln Line, on bool) {
	l.d.Warnf(ln.Pos, "'option forceclose' is HAProxy 1.x syntax (removed in 1.9); accepted as 'option httpclose'.")
	setConnMode(func(o *Options) *bool { return &o.HTTPClose })(l, p, ln, on)
}

func setRedispatch(l *loader, p *Proxy, ln Line, on bool) {
	p.Options.Redispatch = on
	if on && len(ln.Words) > 2 {
		v, err := atoiArg(strings.TrimPrefix(ln.Words[2], "-"))
		if err != nil {
			l.d.Alertf(ln.Pos, "'option redispatch' expects an integer interval (got '%s').", ln.Words[2])
			return
		}
		p.Options.RedispatchInterval = v
	}
}

func setForwardfor(l *loader, p *Proxy, ln Line, on bool) {
	f := &Forwardfor{Header: "X-Forwarded-For"}
	w := ln.Words[2:]
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case "except":
			if i+1 >= len(w) {
				l.d.Alertf(ln.Pos, "'option forwardfor except' expects <address>[/mask] as argument.")
				return
			}
			pfx, err := parsePrefix(w[i+1])
			if err != nil {
				l.d.Alertf(ln.Pos, "'option forwardfor except' expects <address>[/mask] as argument.")
				return
			}
			f.Except = &pfx
			i++
		case "header":
			if i+1 >= len(w) {
				l.d.Alertf(ln.Pos, "'option forwardfor header' expects <header_name> as argument.")
				return
			}
			f.Header = w[i+1]
			i++
		case "if-none":
			f.IfNone = true
		default:
			l.d.Alertf(ln.Pos, "'option forwardfor' only supports optional values 'except', 'header' and 'if-none'.")
			return
		}
	}
	p.Options.Forwardfor = f
}

func setOriginalto(l *loader, p *Proxy, ln Line, on bool) {
	f := &Forwardfor{Header: "X-Original-To"}
	w := ln.Words[2:]
	for i := 0; i+1 < len(w); i += 2 {
		switch w[i] {
		case "except":
			pfx, err := parsePrefix(w[i+1])
			if err != nil {
				l.d.Alertf(ln.Pos, "'option originalto except' expects <address>[/mask] as argument.")
				return
			}
			f.Except = &pfx
		case "header":
			f.Header = w[i+1]
		default:
			l.d.Alertf(ln.Pos, "'option originalto' only supports optional values 'except' and 'header'.")
			return
		}
	}
	p.Options.OriginalTo = f
}

// parsePrefix parses an address with an optional mask, in CIDR or dotted
// form (127.0.0.0/255.0.0.0), as HAProxy accepts.
func parsePrefix(s string) (netip.Prefix, error) {
	addr, mask, hasMask := strings.Cut(s, "/")
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !hasMask {
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	if m, err := netip.ParseAddr(mask); err == nil && m.Is4() {
		b := m.As4()
		bits := 0
		for _, x := range b {
			for x&0x80 != 0 {
				bits++
				x <<= 1
			}
		}
		return netip.PrefixFrom(ip, bits).Masked(), nil
	}
	return netip.ParsePrefix(s)
}

func setCheckKind(k CheckKind) func(*loader, *Proxy, Line, bool) {
	return func(l *loader, p *Proxy, ln Line, on bool) { p.CheckKind = k }
}

func setMySQLCheck(l *loader, p *Proxy, ln Line, on bool) {
	p.CheckKind = CheckMySQL
	w := ln.Words
	if len(w) >= 4 && w[2] == "user" {
		p.HTTPCheck.MySQLUser = w[3]
	}
}

func setSMTPChk(l *loader, p *Proxy, ln Line, on bool) {
	p.CheckKind = CheckSMTP
	p.HTTPCheck.SMTPCmd, p.HTTPCheck.SMTPDomain = "HELO", "localhost"
	if len(ln.Words) >= 4 && (ln.Words[2] == "HELO" || ln.Words[2] == "EHLO") {
		p.HTTPCheck.SMTPCmd, p.HTTPCheck.SMTPDomain = ln.Words[2], ln.Words[3]
	}
}

// setHTTPChk parses `option httpchk [<method>] [<uri>] [<version>]`. The
// 1.x trick of hiding headers after "\r\n" in the version string is split
// into headers, as HAProxy 2.6 does (it warns that the form is
// deprecated; goproxy keeps it as a first-class form of the seed).
func (l *loader) setHTTPChk(p *Proxy, ln Line, on bool) {
	p.CheckKind = CheckHTTP
	hc := &p.HTTPCheck
	hc.Method, hc.URI, hc.Version, hc.Headers, hc.Body, hc.Legacy = "OPTIONS", "/", "HTTP/1.0", nil, "", false
	w := ln.Words[2:]
	switch len(w) {
	case 0:
	case 1:
		hc.URI = w[0]
	default:
		hc.Method, hc.URI = w[0], w[1]
		if len(w) > 2 {
			hc.Version = strings.Join(w[2:], " ")
		}
	}
	if i := strings.Index(hc.Version, "\r\n"); i >= 0 {
		rest := hc.Version[i+2:]
		hc.Version = hc.Version[:i]
		hc.Legacy = true
		l.d.Warnf(ln.Pos, "'option httpchk' : headers hidden at the end of the version string are HAProxy 1.x syntax (deprecated in 2.x, whose form is 'http-check send hdr <name> <value>'); accepted.")
		head, body, _ := strings.Cut(rest, "\r\n\r\n")
		for _, h := range strings.Split(head, "\r\n") {
			name, val, ok := strings.Cut(h, ":")
			if !ok || name == "" {
				continue
			}
			hc.Headers = append(hc.Headers, Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(val)})
		}
		hc.Body = body
	}
}

// setHTTPTunnel accepts HAProxy 1.x's `option http-tunnel` (refused since
// 2.1, whose message says to remove it): goproxy keeps its default
// keep-alive mode, which also carries tunnels (CONNECT, Upgrade).
func setHTTPTunnel(l *loader, p *Proxy, ln Line, on bool) {
	l.d.Warnf(ln.Pos, "'option http-tunnel' is HAProxy 1.x syntax (refused since 2.1); ignored, the modern form is no option at all ('option http-keep-alive', the default, also tunnels Upgrade and CONNECT).")
}
