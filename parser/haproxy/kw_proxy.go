package haproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

func init() {
	all, fe, be := CapListen, CapFE, CapBE
	proxyKeywords = map[string]proxyKeyword{
		"mode":            {cap: all, parse: parseMode},
		"maxconn":         {cap: fe, parse: func(l *loader, p *Proxy, ln Line) { p.Maxconn, _ = l.intArg(ln, 1) }},
		"fullconn":        {cap: be, parse: func(l *loader, p *Proxy, ln Line) { p.Fullconn, _ = l.intArg(ln, 1) }},
		"backlog":         {cap: fe, parse: func(l *loader, p *Proxy, ln Line) { p.Backlog, _ = l.intArg(ln, 1) }},
		"retries":         {cap: be, parse: func(l *loader, p *Proxy, ln Line) { p.Retries, _ = l.intArg(ln, 1) }},
		"timeout":         {cap: all, parse: parseTimeout},
		"option":          {cap: all, parse: func(l *loader, p *Proxy, ln Line) { l.parseOption(p, ln, false) }},
		"no":              {cap: all, parse: parseNo},
		"balance":         {cap: be, parse: parseBalance},
		"hash-type":       {cap: be, parse: parseHashType},
		"bind":            {cap: fe, noDefaults: true, parse: (*loader).parseBind},
		"server":          {cap: be, noDefaults: true, parse: (*loader).parseServer},
		"default-server":  {cap: be, parse: (*loader).parseDefaultServer},
		"acl":             {cap: all, noDefaults: true, parse: (*loader).parseACLLine},
		"use_backend":     {cap: fe, noDefaults: true, parse: parseUseBackend},
		"default_backend": {cap: fe, parse: func(l *loader, p *Proxy, ln Line) { p.DefaultBackend = l.strArg(ln, 1) }},
		"use-server":      {cap: be, noDefaults: true, parse: parseUseServer},
		"http-request":    {cap: all, noDefaults: true, parse: (*loader).parseHTTPRule},
		"http-response":   {cap: all, noDefaults: true, parse: (*loader).parseHTTPRule},
		"tcp-request":     {cap: all, noDefaults: true, parse: (*loader).parseTCPRule},
		"tcp-response":    {cap: be, noDefaults: true, parse: (*loader).parseTCPRule},
		"redirect":        {cap: all, noDefaults: true, parse: (*loader).parseRedirectLine},
		"stats":           {cap: all, parse: (*loader).parseStats},
		"errorfile":       {cap: all, parse: (*loader).parseErrorfile},
		"errorfiles":      {cap: all, parse: func(l *loader, p *Proxy, ln Line) { p.ErrorFilesFrom = append(p.ErrorFilesFrom, l.strArg(ln, 1)) }},
		"capture":         {cap: fe, noDefaults: true, parse: (*loader).parseCapture},
		"monitor-uri":     {cap: fe, parse: func(l *loader, p *Proxy, ln Line) { p.MonitorURI = l.strArg(ln, 1) }},
		"cookie":          {cap: be, parse: (*loader).parseCookie},
		"stick-table":     {cap: all, noDefaults: true, parse: (*loader).parseStickTable},
		"stick":           {cap: be, noDefaults: true, parse: (*loader).parseStick},
		"log":             {cap: all, parse: func(l *loader, p *Proxy, ln Line) { l.parseLog(&p.Logs, ln, false) }},
		"log-format":      {cap: all, parse: func(l *loader, p *Proxy, ln Line) { p.LogFormat = strings.Join(ln.Words[1:], " ") }},
		"log-tag":         {cap: all, parse: func(l *loader, p *Proxy, ln Line) { p.LogTag = l.strArg(ln, 1) }},
		"http-check":      {cap: be, parse: (*loader).parseHTTPCheck},
		"tcp-check":       {cap: be, parse: (*loader).parseTCPCheck},
		"description":     {cap: all, parse: func(l *loader, p *Proxy, ln Line) { p.Desc = strings.Join(ln.Words[1:], " ") }},
		"disabled":        {cap: all, parse: func(l *loader, p *Proxy, ln Line) { p.Disabled = true }},
		"enabled":         {cap: all, parse: func(l *loader, p *Proxy, ln Line) { p.Disabled = false }},
		"id": {cap: all, noDefaults: true, parse: func(l *loader, p *Proxy, ln Line) {
			if v, ok := l.intArg(ln, 1); ok {
				p.ID = v
			}
		}},
		"http-reuse": {cap: be, parse: func(l *loader, p *Proxy, ln Line) {
			switch v := l.strArg(ln, 1); v {
			case "never", "safe", "aggressive", "always":
				p.HTTPReuse = v
			default:
				l.d.Alertf(ln.Pos, "'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'")
			}
		}},
		"unique-id-format":            {cap: fe, parse: func(l *loader, p *Proxy, ln Line) { p.UniqueIDFormat = strings.Join(ln.Words[1:], " ") }},
		"unique-id-header":            {cap: fe, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"retry-on":                    {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"compression":                 {cap: all, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"filter":                      {cap: all, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"server-template":             {cap: be, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"dispatch":                    {cap: be, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"source":                      {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"email-alert":                 {cap: all, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"force-persist":               {cap: all, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"ignore-persist":              {cap: all, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"persist":                     {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"rate-limit":                  {cap: fe, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"max-keep-alive-queue":        {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"http-send-name-header":       {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"load-server-state-from-file": {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"server-state-file-name":      {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"declare":                     {cap: fe, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"http-after-response":         {cap: all, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"http-error":                  {cap: all, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"errorloc":                    {cap: all, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"errorloc302":                 {cap: all, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"errorloc303":                 {cap: all, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"monitor":                     {cap: fe, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"use-fcgi-app":                {cap: be, noDefaults: true, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"external-check":              {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"log-format-sd":               {cap: all, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"error-log-format":            {cap: all, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"clitcpka-cnt":                {cap: fe, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"clitcpka-idle":               {cap: fe, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"clitcpka-intvl":              {cap: fe, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"srvtcpka-cnt":                {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"srvtcpka-idle":               {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
		"srvtcpka-intvl":              {cap: be, parse: func(*loader, *Proxy, Line) {}, notImpl: true},
	}
}

func parseMode(l *loader, p *Proxy, ln Line) {
	switch l.strArg(ln, 1) {
	case "http":
		p.Mode = ModeHTTP
	case "tcp":
		p.Mode = ModeTCP
	case "health":
		l.d.Alertf(ln.Pos, "'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.")
	case "":
	default:
		l.d.Alertf(ln.Pos, "unknown proxy mode '%s'.", ln.Words[1])
	}
}

// timeoutField returns the field a `timeout NAME` line sets.
func timeoutField(t *Timeouts, name string) *time.Duration {
	switch name {
	case "connect":
		return &t.Connect
	case "client":
		return &t.Client
	case "server":
		return &t.Server
	case "queue":
		return &t.Queue
	case "http-request":
		return &t.HTTPRequest
	case "http-keep-alive":
		return &t.HTTPKeepAlive
	case "tunnel":
		return &t.Tunnel
	case "tarpit":
		return &t.Tarpit
	case "check":
		return &t.Check
	case "client-fin":
		return &t.ClientFin
	case "server-fin":
		return &t.ServerFin
	}
	return nil
}

func parseTimeout(l *loader, p *Proxy, ln Line) {
	if len(ln.Words) < 2 {
		l.d.Alertf(ln.Pos, "'timeout' expects 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' as arguments.")
		return
	}
	name := ln.Words[1]
	// 1.x aliases still seen in old files.
	switch name {
	case "clitimeout":
		name = "client"
	case "srvtimeout":
		name = "server"
	case "contimeout":
		name = "connect"
	}
	f := timeoutField(&p.Timeouts, name)
	if f == nil {
		l.d.Alertf(ln.Pos, "'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s')", ln.Words[1])
		return
	}
	if d, ok := l.durationArg(ln, 2, "ms"); ok {
		*f = d
	}
}

func parseNo(l *loader, p *Proxy, ln Line) {
	if len(ln.Words) < 2 {
		l.d.Alertf(ln.Pos, "'no' expects 'option' or 'log'.")
		return
	}
	switch ln.Words[1] {
	case "option":
		l.parseOption(p, Line{Pos: ln.Pos, Words: ln.Words[1:]}, true)
	case "log":
		p.Logs = nil
		p.NoLog = true
	default:
		l.d.Alertf(ln.Pos, "unknown keyword 'no %s' in '%s' section", ln.Words[1], p.Kind)
	}
}

func parseBalance(l *loader, p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.")
		return
	}
	b := Balance{Algo: w[1]}
	arg, hasArg := "", false
	if i := strings.IndexByte(w[1], '('); i > 0 && strings.HasSuffix(w[1], ")") {
		b.Algo, arg, hasArg = w[1][:i], w[1][i+1:len(w[1])-1], true
	}
	switch b.Algo {
	case "roundrobin", "static-rr", "leastconn", "first", "source":
	case "random":
		b.Arg = "2" // draws
		if hasArg {
			b.Arg = arg
		}
	case "uri":
		for i := 2; i < len(w); i++ {
			switch w[i] {
			case "whole":
				b.URIWhole = true
			case "path-only":
				b.URIPathOnly = true
			case "len", "depth":
				if i+1 >= len(w) {
					l.d.Alertf(ln.Pos, "'balance uri %s' expects a positive integer (got '').", w[i])
					return
				}
				v, err := strconv.Atoi(w[i+1])
				if err != nil || v < 0 {
					l.d.Alertf(ln.Pos, "'balance uri %s' expects a positive integer (got '%s').", w[i], w[i+1])
					return
				}
				if w[i] == "len" {
					b.URILen = v
				} else {
					b.URIDepth = v
				}
				i++
			default:
				l.d.Alertf(ln.Pos, "'balance uri' only accepts parameters 'whole', 'len', 'depth' and 'path-only' (got '%s').", w[i])
				return
			}
		}
	case "url_param":
		if len(w) < 3 {
			l.d.Alertf(ln.Pos, "'balance url_param' requires an URL parameter name.")
			return
		}
		b.Arg = w[2]
		if len(w) > 3 && w[3] == "check_post" {
			b.CheckPost = true
		}
	case "hdr":
		if !hasArg || arg == "" {
			l.d.Alertf(ln.Pos, "hdr requires an http header field name.")
			return
		}
		b.Arg = arg
		if len(w) > 2 && w[2] == "use_domain_only" {
			b.UseDomainOnly = true
		}
	case "rdp-cookie":
		b.Arg = "mstshash"
		if hasArg && arg != "" {
			b.Arg = arg
		}
		l.d.Warnf(ln.Pos, "'balance rdp-cookie' is parsed but not implemented by goproxy yet; roundrobin is used.")
	default:
		l.d.Alertf(ln.Pos, "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.")
		return
	}
	p.Balance = b
}

func parseHashType(l *loader, p *Proxy, ln Line) {
	w := ln.Words
	h := HashType{Method: "map-based"}
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'hash-type' expects 'map-based' or 'consistent'.")
		return
	}
	switch w[1] {
	case "map-based", "consistent":
		h.Method = w[1]
	case "avalanche":
		h.Avalanche = true
	default:
		l.d.Alertf(ln.Pos, "'hash-type' expects 'map-based' or 'consistent' (got '%s').", w[1])
		return
	}
	for _, a := range w[2:] {
		switch a {
		case "sdbm", "djb2", "wt6", "crc32", "none":
			h.Function = a
		case "avalanche":
			h.Avalanche = true
		default:
			l.d.Alertf(ln.Pos, "'hash-type %s' : unknown hash function '%s'.", w[1], a)
			return
		}
	}
	p.HashType = h
}

func parseUseBackend(l *loader, p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'use_backend' expects a backend name.")
		return
	}
	r := &SwitchRule{Pos: ln.Pos, Target: w[1], Dynamic: strings.Contains(w[1], "%[")}
	if len(w) > 2 {
		c, err := l.parseCond(p, w[2:])
		if err != nil {
			l.d.Alertf(ln.Pos, "error detected while parsing switching rule : %v.", err)
			return
		}
		r.Cond = c
	}
	p.UseBackends = append(p.UseBackends, r)
}

func parseUseServer(l *loader, p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'use-server' expects a server name.")
		return
	}
	r := &SwitchRule{Pos: ln.Pos, Target: w[1], Dynamic: strings.Contains(w[1], "%[")}
	if len(w) > 2 {
		c, err := l.parseCond(p, w[2:])
		if err != nil {
			l.d.Alertf(ln.Pos, "error detected while parsing switching rule : %v.", err)
			return
		}
		r.Cond = c
	}
	p.UseServers = append(p.UseServers, r)
}

func (l *loader) parseErrorfile(p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 3 {
		l.d.Alertf(ln.Pos, "'errorfile' expects <code> and <file> as arguments.")
		return
	}
	code, err := strconv.Atoi(w[1])
	if err != nil {
		l.d.Alertf(ln.Pos, "'errorfile' : invalid status code '%s'.", w[1])
		return
	}
	switch code {
	case 200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504:
	default:
		l.d.Warnf(ln.Pos, "status code '%d' not handled by 'errorfile', error customization will be ignored.", code)
		return
	}
	b, err := l.opt.ReadFile(w[2])
	if err != nil {
		l.d.Alertf(ln.Pos, "error opening file <%s> for custom error message <%s>.", w[2], w[1])
		return
	}
	p.ErrorFiles[code] = string(b)
}

func (l *loader) parseCapture(p *Proxy, ln Line) {
	w := ln.Words
	switch {
	case len(w) >= 5 && (w[1] == "request" || w[1] == "response") && w[2] == "header" && w[4] == "len" && len(w) >= 6:
		n, err := strconv.Atoi(w[5])
		if err != nil || n <= 0 {
			l.d.Alertf(ln.Pos, "'capture %s header' length must be > 0.", w[1])
			return
		}
		p.Captures = append(p.Captures, Capture{Kind: w[1] + " header", Name: w[3], Len: n})
	case len(w) >= 5 && w[1] == "cookie" && w[3] == "len":
		n, err := strconv.Atoi(w[4])
		if err != nil || n <= 0 {
			l.d.Alertf(ln.Pos, "'capture cookie' length must be > 0.")
			return
		}
		p.Captures = append(p.Captures, Capture{Kind: "cookie", Name: w[2], Len: n})
	default:
		l.d.Alertf(ln.Pos, "'capture' expects 'cookie', 'request header' or 'response header'.")
	}
}

func (l *loader) parseCookie(p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'cookie' expects <cookie_name> as argument.")
		return
	}
	c := &Cookie{Name: w[1]}
	for i := 2; i < len(w); i++ {
		switch w[i] {
		case "rewrite", "insert", "prefix":
			if c.Mode != "" {
				l.d.Alertf(ln.Pos, "cookie 'rewrite', 'insert' and 'prefix' modes are incompatible.")
				return
			}
			c.Mode = w[i]
		case "indirect":
			c.Indirect = true
		case "nocache":
			c.NoCache = true
		case "postonly":
			c.PostOnly = true
		case "preserve":
			c.Preserve = true
		case "httponly":
			c.HTTPOnly = true
		case "secure":
			c.Secure = true
		case "dynamic":
			c.Dynamic = true
		case "domain", "maxidle", "maxlife", "attr":
			if i+1 >= len(w) {
				l.d.Alertf(ln.Pos, "'cookie' : '%s' expects an argument.", w[i])
				return
			}
			v := w[i+1]
			i++
			switch w[i-1] {
			case "domain":
				c.Domains = append(c.Domains, v)
			case "attr":
				c.Attrs = append(c.Attrs, v)
			default:
				d, err := parseTime(v, "s")
				if err != nil {
					l.d.Alertf(ln.Pos, "cookie '%s' : %v in '%s'.", w[i-1], err, v)
					return
				}
				if w[i-1] == "maxidle" {
					c.MaxIdle = d
				} else {
					c.MaxLife = d
				}
			}
		default:
			l.d.Alertf(ln.Pos, "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options.")
			return
		}
	}
	// HAProxy 2.6's combination checks, in its order and words.
	if c.Mode == "rewrite" && c.Indirect {
		l.d.Alertf(ln.Pos, "cookie 'rewrite' and 'indirect' modes are incompatible.")
		return
	}
	if c.Preserve && c.Mode != "insert" && !c.Indirect {
		l.d.Alertf(ln.Pos, "cookie 'preserve' requires at least 'insert' or 'indirect'.")
		return
	}
	p.Cookie = c
}

func (l *loader) parseStickTable(p *Proxy, ln Line) {
	w := ln.Words
	st := &StickTable{}
	for i := 1; i < len(w); i++ {
		switch w[i] {
		case "nopurge":
			st.NoPurge = true
			continue
		}
		if i+1 >= len(w) {
			l.d.Alertf(ln.Pos, "stick-table: missing argument after '%s'.", w[i])
			return
		}
		v := w[i+1]
		switch w[i] {
		case "type":
			st.Type = v
			if i+3 < len(w) && w[i+2] == "len" {
				st.Len, _ = strconv.Atoi(w[i+3])
				i += 2
			}
		case "size":
			st.Size = v
		case "expire":
			d, err := parseTime(v, "ms")
			if err != nil {
				l.d.Alertf(ln.Pos, "stick-table: %v in 'expire'.", err)
				return
			}
			st.Expire = d
		case "store":
			st.Store = strings.Split(v, ",")
		case "peers":
			st.Peers = v
		case "srvkey", "write-to", "recv-only":
		default:
			l.d.Alertf(ln.Pos, "stick-table: unknown argument '%s'.", w[i])
			return
		}
		i++
	}
	if st.Type == "" {
		l.d.Alertf(ln.Pos, "stick-table: missing type.")
		return
	}
	p.StickTable = st
}

func (l *loader) parseStick(p *Proxy, ln Line) {
	args, condWords := splitCondWords(ln.Words[1:])
	r := &Rule{Pos: ln.Pos, Kind: "stick", Args: args}
	if len(args) > 0 {
		r.Action = args[0]
	}
	if len(condWords) > 0 {
		cond, err := l.parseCond(p, condWords)
		if err != nil {
			l.d.Alertf(ln.Pos, "'stick': error detected while parsing sticking condition : %v.", err)
			return
		}
		r.Cond = cond
	}
	p.StickRules = append(p.StickRules, r)
}

// parseLog parses a `log` line: `log global`, or
// `log <addr> [len N] [format F] [sample R:S] <facility> [max [min]]`.
func (l *loader) parseLog(dst *[]LogTarget, ln Line, global bool) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'log' expects either <address[:port]> and <facility> or 'global' as arguments.")
		return
	}
	if w[1] == "global" {
		if global {
			l.d.Alertf(ln.Pos, "'log global' is not supported in the global section.")
			return
		}
		*dst = append(*dst, LogTarget{Pos: ln.Pos, Addr: "global"})
		return
	}
	t := LogTarget{Pos: ln.Pos, Addr: w[1], Format: "rfc3164", Len: 1024}
	rest := w[2:]
	for len(rest) >= 2 {
		switch rest[0] {
		case "len":
			n, err := strconv.Atoi(rest[1])
			if err != nil || n < 80 || n > 65535 {
				l.d.Alertf(ln.Pos, "log: invalid 'len' value '%s'.", rest[1])
				return
			}
			t.Len = n
		case "format":
			switch rest[1] {
			case "rfc3164", "rfc5424", "short", "raw", "timed", "iso", "priority", "local":
				t.Format, t.FormatSet = rest[1], true
			default:
				l.d.Alertf(ln.Pos, "unknown log format '%s'", rest[1])
				return
			}
		case "sample":
			t.Sample = rest[1]
		default:
			goto facility
		}
		rest = rest[2:]
	}
facility:
	if len(rest) < 1 {
		l.d.Alertf(ln.Pos, "missing log facility '' in 'log' line.")
		return
	}
	if !validFacility(rest[0]) {
		l.d.Alertf(ln.Pos, "unknown log facility '%s'", rest[0])
		return
	}
	t.Facility = rest[0]
	if len(rest) > 1 {
		if !validLevel(rest[1]) {
			l.d.Alertf(ln.Pos, "unknown optional log level '%s'", rest[1])
			return
		}
		t.Level = rest[1]
	}
	if len(rest) > 2 {
		if !validLevel(rest[2]) {
			l.d.Alertf(ln.Pos, "unknown optional minimum log level '%s'", rest[2])
			return
		}
		t.MinLevel = rest[2]
	}
	if len(rest) > 3 {
		l.d.Alertf(ln.Pos, "'log' : too many arguments.")
		return
	}
	if _, err := parseLogAddr(t.Addr); err != nil {
		l.d.Alertf(ln.Pos, "'log' : %v", err)
		return
	}
	*dst = append(*dst, t)
}

func parseLogAddr(a string) (string, error) {
	switch {
	case a == "stdout" || a == "stderr" || strings.HasPrefix(a, "/") || strings.HasPrefix(a, "unix@") || strings.HasPrefix(a, "fd@") || strings.HasPrefix(a, "ring@"):
		return a, nil
	}
	for _, p := range []string{"udp@", "udp4@", "udp6@", "ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"} {
		a = strings.TrimPrefix(a, p)
	}
	host := a
	if strings.HasPrefix(a, "[") {
		if i := strings.Index(a, "]"); i > 0 {
			host = a[1:i]
		}
	} else if strings.Count(a, ":") == 1 {
		h, port, _ := strings.Cut(a, ":")
		host = h
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", fmt.Errorf("invalid port in log address '%s'", a)
		}
	}
	if host == "" {
		return "", fmt.Errorf("missing address in '%s'", a)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		// A host name: resolved when the logger starts.
		return a, nil
	}
	return a, nil
}

var facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

var levels = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

func validFacility(s string) bool {
	for _, f := range facilities {
		if f == s {
			return true
		}
	}
	return false
}

func validLevel(s string) bool {
	for _, f := range levels {
		if f == s {
			return true
		}
	}
	return false
}
