package haproxy

import "strings"

func (l *loader) parseHTTPCheck(p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'http-check' expects 'comment', 'connect', 'disable-on-404', 'expect', 'send', 'send-state', 'set-var' or 'unset-var'.")
		return
	}
	hc := &p.HTTPCheck
	switch w[1] {
	case "expect":
		e := HTTPExpect{}
		rest := w[2:]
		for len(rest) > 0 && (rest[0] == "!" || rest[0] == "min-recv" || rest[0] == "comment" ||
			rest[0] == "ok-status" || rest[0] == "error-status" || rest[0] == "tout-status" || rest[0] == "on-success" || rest[0] == "on-error" || rest[0] == "status-code") {
			if rest[0] == "!" {
				e.Negate = true
				rest = rest[1:]
				continue
			}
			if len(rest) < 2 {
				break
			}
			rest = rest[2:]
		}
		if len(rest) < 1 {
			l.d.Alertf(ln.Pos, "'http-check expect' expects 'status', 'rstatus', 'string', 'rstring', 'hdr' or 'fhdr'.")
			return
		}
		e.Kind = rest[0]
		switch e.Kind {
		case "status", "rstatus", "string", "rstring", "hdr", "fhdr", "custom":
		default:
			l.d.Alertf(ln.Pos, "'http-check expect' : unknown pattern type '%s' (expects 'status', 'rstatus', 'string', 'rstring', 'hdr' or 'fhdr').", e.Kind)
			return
		}
		if len(rest) < 2 {
			l.d.Alertf(ln.Pos, "'http-check expect %s' expects <pattern> as an argument.", e.Kind)
			return
		}
		e.Pattern = strings.Join(rest[1:], " ")
		hc.Expect = append(hc.Expect, e)
	case "send":
		for i := 2; i < len(w); i++ {
			if i+1 >= len(w) {
				l.d.Alertf(ln.Pos, "'http-check send' : '%s' expects an argument.", w[i])
				return
			}
			switch w[i] {
			case "meth":
				hc.Method = w[i+1]
			case "uri", "uri-lf":
				hc.URI = w[i+1]
			case "ver":
				hc.Version = w[i+1]
			case "hdr":
				if i+2 >= len(w) {
					l.d.Alertf(ln.Pos, "'http-check send hdr' expects <name> and <value>.")
					return
				}
				hc.Headers = append(hc.Headers, Header{Name: w[i+1], Value: w[i+2]})
				i++
			case "body", "body-lf":
				hc.Body = w[i+1]
			case "comment":
			default:
				l.d.Alertf(ln.Pos, "'http-check send' : unknown argument '%s' (expects 'meth', 'uri', 'ver', 'hdr' or 'body').", w[i])
				return
			}
			i++
		}
		if p.CheckKind == CheckTCP {
			p.CheckKind = CheckHTTP
		}
	case "disable-on-404", "send-state", "comment", "connect", "set-var", "unset-var":
		l.d.Warnf(ln.Pos, "'http-check %s' is parsed but not implemented by goproxy yet; ignored.", w[1])
	default:
		l.d.Alertf(ln.Pos, "'http-check' : unknown keyword '%s'.", w[1])
	}
}

func (l *loader) parseTCPCheck(p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'tcp-check' expects 'comment', 'connect', 'send', 'send-binary', 'expect' or 'set-var'.")
		return
	}
	// set-var and unset-var carry their variable in parentheses:
	// `tcp-check set-var(check.port) int(8080)`.
	verb, _, _ := strings.Cut(w[1], "(")
	switch verb {
	case "connect", "send", "send-lf", "send-binary", "send-binary-lf", "expect", "comment", "set-var", "unset-var":
	default:
		l.d.Alertf(ln.Pos, "'tcp-check' : unknown keyword '%s'.", w[1])
		return
	}
	if (w[1] == "send" || w[1] == "send-binary" || w[1] == "expect") && len(w) < 3 {
		l.d.Alertf(ln.Pos, "'tcp-check %s' expects an argument.", w[1])
		return
	}
	p.TCPCheck = append(p.TCPCheck, TCPCheckStep{Pos: ln.Pos, Action: w[1], Args: w[2:]})
}
