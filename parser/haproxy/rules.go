package haproxy

import (
	"fmt"
	"strconv"
	"strings"
)

// actionInfo describes an http-request/http-response action: how many
// words it takes before the condition (-1: any number) and whether the
// runtime implements it.
type actionInfo struct {
	min, max int
	notImpl  bool
}

var httpRequestActions = map[string]actionInfo{
	"add-header": {2, 2, false}, "set-header": {2, 2, false}, "del-header": {1, 3, false},
	"replace-header": {3, 3, false}, "replace-value": {3, 3, false}, "set-path": {1, 1, false},
	"set-pathq": {1, 1, false}, "replace-path": {2, 2, false}, "replace-pathq": {2, 2, false},
	"set-uri": {1, 1, false}, "replace-uri": {2, 2, false}, "set-query": {1, 1, false},
	"set-method": {1, 1, false}, "set-var": {1, 3, false}, "unset-var": {1, 1, false},
	"redirect": {2, -1, false}, "deny": {0, -1, false}, "tarpit": {0, -1, false}, "allow": {0, 0, false},
	"return": {0, -1, false}, "auth": {0, 2, false}, "use-service": {1, 1, false},
	"reject": {0, 0, false}, "capture": {3, 3, false}, "set-log-level": {1, 1, false},
	"set-src": {1, 1, true}, "set-dst": {1, 1, true}, "set-dst-port": {1, 1, true}, "set-src-port": {1, 1, true},
	"add-acl": {2, 2, true}, "del-acl": {2, 2, true}, "set-map": {3, 3, true}, "del-map": {2, 2, true},
	"cache-use": {1, 1, true}, "disable-l7-retry": {0, 0, true}, "do-resolve": {2, 3, true},
	"early-hint": {2, 2, true}, "normalize-uri": {1, 2, true}, "sc-inc-gpc0": {1, 1, false},
	"sc-inc-gpc1": {1, 1, true}, "sc-set-gpt0": {2, 2, false}, "send-spoe-group": {2, 2, true},
	"set-mark": {1, 1, true}, "set-nice": {1, 1, true}, "set-priority-class": {1, 1, true},
	"set-priority-offset": {1, 1, true}, "set-timeout": {2, 2, true}, "set-tos": {1, 1, true},
	"silent-drop": {0, 0, true}, "strict-mode": {1, 1, true}, "track-sc0": {1, 3, false},
	"track-sc1": {1, 3, false}, "track-sc2": {1, 3, false}, "wait-for-body": {2, 4, true},
	"wait-for-handshake": {0, 0, true}, "lua": {1, -1, true},
}

var httpResponseActions = map[string]actionInfo{
	"add-header": {2, 2, false}, "set-header": {2, 2, false}, "del-header": {1, 3, false},
	"replace-header": {3, 3, false}, "replace-value": {3, 3, false}, "deny": {0, -1, false},
	"allow": {0, 0, false}, "redirect": {2, -1, false}, "return": {0, -1, false},
	"set-status": {1, 3, false}, "set-var": {1, 3, false}, "unset-var": {1, 1, false},
	"capture": {3, 3, false}, "set-log-level": {1, 1, false}, "cache-store": {1, 1, true},
	"add-acl": {2, 2, true}, "del-acl": {2, 2, true}, "set-map": {3, 3, true}, "del-map": {2, 2, true},
	"sc-inc-gpc0": {1, 1, true}, "sc-set-gpt0": {2, 2, true}, "send-spoe-group": {2, 2, true},
	"set-mark": {1, 1, true}, "set-nice": {1, 1, true}, "set-tos": {1, 1, true},
	"silent-drop": {0, 0, true}, "strict-mode": {1, 1, true}, "track-sc0": {1, 3, true},
	"track-sc1": {1, 3, true}, "track-sc2": {1, 3, true}, "wait-for-body": {2, 4, true}, "lua": {1, -1, true},
}

// splitCondWords splits rule words at the first "if" or "unless".
func splitCondWords(w []string) (args, cond []string) {
	for i, x := range w {
		if x == "if" || x == "unless" {
			return w[:i], w[i:]
		}
	}
	return w, nil
}

func (l *loader) parseHTTPRule(p *Proxy, ln Line) {
	kind := ln.Words[0]
	table := httpRequestActions
	if kind == "http-response" {
		table = httpResponseActions
	}
	if len(ln.Words) < 2 {
		l.d.Alertf(ln.Pos, "'%s' expects an action.", kind)
		return
	}
	action := ln.Words[1]
	// Actions written with their first argument in parentheses
	// (set-var(txn.x), unset-var(...), set-map(file), sc-inc-gpc0(0)):
	// the argument becomes the first of Args.
	paren := ""
	if i := strings.IndexByte(action, '('); i > 0 && strings.HasSuffix(action, ")") {
		action, paren = action[:i], action[i+1:len(action)-1]
	}
	info, ok := table[action]
	if !ok {
		names := make([]string, 0, len(table))
		for k := range table {
			names = append(names, k)
		}
		msg := fmt.Sprintf("'%s %s' : unknown action", kind, action)
		if s := suggest(action, names); s != "" {
			msg += fmt.Sprintf("; did you mean '%s' maybe ?", s)
		}
		l.d.Alertf(ln.Pos, "%s", msg)
		return
	}
	args, condWords := splitCondWords(ln.Words[2:])
	if paren != "" {
		args = append([]string{paren}, args...)
	}
	if len(args) < info.min || info.max >= 0 && len(args) > info.max {
		l.d.Alertf(ln.Pos, "'%s %s' expects %s argument(s) (got %d).", kind, action, argCount(info), len(args))
		return
	}
	r := &Rule{Pos: ln.Pos, Kind: kind, Action: action, Args: args}
	if err := l.fillRule(r); err != nil {
		l.d.Alertf(ln.Pos, "'%s %s' : %v.", kind, action, err)
		return
	}
	cond, err := l.parseCond(p, condWords)
	if err != nil {
		l.d.Alertf(ln.Pos, "error detected while parsing an '%s %s' condition : %v.", kind, action, err)
		return
	}
	r.Cond = cond
	if info.notImpl {
		l.d.Warnf(ln.Pos, "'%s %s' is parsed but not implemented by goproxy yet; ignored.", kind, action)
	}
	if kind == "http-response" {
		p.HTTPResponse = append(p.HTTPResponse, r)
	} else {
		p.HTTPRequest = append(p.HTTPRequest, r)
	}
}

func argCount(a actionInfo) string {
	switch {
	case a.max < 0:
		return fmt.Sprintf("at least %d", a.min)
	case a.min == a.max:
		return strconv.Itoa(a.min)
	}
	return fmt.Sprintf("%d to %d", a.min, a.max)
}

// fillRule parses the arguments of the common actions into typed fields.
func (l *loader) fillRule(r *Rule) error {
	a := r.Args
	switch r.Action {
	case "add-header", "set-header":
		r.Name, r.Value = a[0], a[1]
	case "del-header":
		r.Name = a[0]
	case "replace-header", "replace-value":
		r.Name, r.Regex, r.Value = a[0], a[1], a[2]
	case "replace-path", "replace-pathq", "replace-uri":
		r.Regex, r.Value = a[0], a[1]
	case "set-path", "set-pathq", "set-uri", "set-query", "set-method":
		r.Value = a[0]
	case "set-var", "unset-var":
		r.Name = a[0]
		if len(a) > 1 {
			r.Value = a[1]
		}
		if !strings.HasPrefix(r.Name, "set-var(") && !strings.HasPrefix(r.Name, "(") {
			// The action is written set-var(txn.x) <expr>: the name
			// was glued to the action; handled below.
		}
	case "set-status":
		code, err := strconv.Atoi(a[0])
		if err != nil || code < 100 || code > 999 {
			return fmt.Errorf("expects a valid status code between 100 and 999")
		}
		r.Status = code
		if len(a) == 3 && a[1] == "reason" {
			r.Value = a[2]
		}
	case "deny", "tarpit":
		r.Status = 403
		if r.Action == "tarpit" {
			r.Status = 500
		}
		for i := 0; i < len(a); i++ {
			switch a[i] {
			case "deny_status", "status":
				if i+1 >= len(a) {
					return fmt.Errorf("missing status code")
				}
				code, err := strconv.Atoi(a[i+1])
				if err != nil {
					return fmt.Errorf("invalid status code '%s'", a[i+1])
				}
				r.Status = code
				i++
			case "content-type", "string", "lf-string", "file", "lf-file", "errorfile", "errorfiles", "hdr":
				if err := l.fillReturn(r, a[i:]); err != nil {
					return err
				}
				i = len(a)
			default:
				return fmt.Errorf("unexpected keyword '%s'", a[i])
			}
		}
	case "return":
		r.Status = 200
		return l.fillReturn(r, a)
	case "auth":
		if len(a) == 2 && a[0] == "realm" {
			r.Realm = a[1]
		}
	case "redirect":
		rd, err := parseRedirectArgs(a)
		if err != nil {
			return err
		}
		r.Redirect = rd
	}
	return nil
}

// fillReturn parses `[status N] [content-type T] [string S|file F|...]
// [hdr N V]*` of return/deny.
func (l *loader) fillReturn(r *Rule, a []string) error {
	for i := 0; i < len(a); i++ {
		if i+1 >= len(a) {
			return fmt.Errorf("'%s' expects an argument", a[i])
		}
		v := a[i+1]
		switch a[i] {
		case "status", "deny_status":
			code, err := strconv.Atoi(v)
			if err != nil || code < 200 || code > 599 {
				return fmt.Errorf("status code must be between 200 and 599 (got '%s')", v)
			}
			r.Status = code
		case "content-type":
			r.ContentType = v
		case "string", "lf-string":
			r.Body = v
		case "file", "lf-file", "errorfile":
			b, err := l.opt.ReadFile(v)
			if err != nil {
				return fmt.Errorf("failed to open file '%s'", v)
			}
			r.Body = string(b)
		case "errorfiles":
			r.Value = v
		case "hdr":
			if i+2 >= len(a) {
				return fmt.Errorf("'hdr' expects <name> and <value>")
			}
			r.Args = append(r.Args, "hdr", v, a[i+2])
			i++
		default:
			return fmt.Errorf("unexpected keyword '%s'", a[i])
		}
		i++
	}
	if r.Body != "" && r.ContentType == "" {
		return fmt.Errorf("a content-type must be set with a payload")
	}
	return nil
}

func parseRedirectArgs(a []string) (*Redirect, error) {
	if len(a) < 2 {
		return nil, fmt.Errorf("expects 'location', 'prefix' or 'scheme' followed by a value")
	}
	rd := &Redirect{Type: a[0], Target: a[1], Code: 302}
	switch a[0] {
	case "location", "prefix", "scheme":
	default:
		return nil, fmt.Errorf("expects 'location', 'prefix' or 'scheme' (got '%s')", a[0])
	}
	for i := 2; i < len(a); i++ {
		switch a[i] {
		case "code":
			if i+1 >= len(a) {
				return nil, fmt.Errorf("'code' expects a status code")
			}
			code, err := strconv.Atoi(a[i+1])
			switch {
			case err != nil:
				return nil, fmt.Errorf("invalid code '%s'", a[i+1])
			case code == 301 || code == 302 || code == 303 || code == 307 || code == 308:
			default:
				return nil, fmt.Errorf("unsupported HTTP code '%d'", code)
			}
			rd.Code = code
			i++
		case "drop-query":
			rd.DropQuery = true
		case "append-slash":
			rd.AppendSlash = true
		case "set-cookie", "clear-cookie":
			if i+1 >= len(a) {
				return nil, fmt.Errorf("'%s' expects a cookie", a[i])
			}
			if a[i] == "set-cookie" {
				rd.SetCookie = a[i+1]
			} else {
				rd.ClearCookie = a[i+1]
			}
			i++
		case "ignore-empty":
		default:
			return nil, fmt.Errorf("expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query' or 'append-slash' (got '%s')", a[i])
		}
	}
	return rd, nil
}

func (l *loader) parseRedirectLine(p *Proxy, ln Line) {
	args, condWords := splitCondWords(ln.Words[1:])
	rd, err := parseRedirectArgs(args)
	if err != nil {
		l.d.Alertf(ln.Pos, "error parsing 'redirect' rule : %v.", err)
		return
	}
	cond, err := l.parseCond(p, condWords)
	if err != nil {
		l.d.Alertf(ln.Pos, "error detected while parsing redirect condition : %v.", err)
		return
	}
	r := &Rule{Pos: ln.Pos, Kind: "redirect", Action: "redirect", Args: args, Cond: cond, Redirect: rd}
	p.Redirects = append(p.Redirects, r)
}

func (l *loader) parseTCPRule(p *Proxy, ln Line) {
	w := ln.Words
	kind := w[0]
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'%s' expects 'connection', 'session', 'content' or 'inspect-delay'.", kind)
		return
	}
	if w[1] == "inspect-delay" {
		if _, ok := l.durationArg(ln, 2, "ms"); !ok {
			return
		}
		p.TCPRequest = append(p.TCPRequest, &Rule{Pos: ln.Pos, Kind: kind + " inspect-delay", Action: "inspect-delay", Args: w[2:3]})
		return
	}
	switch w[1] {
	case "connection", "session", "content":
	default:
		l.d.Alertf(ln.Pos, "'%s' expects 'connection', 'session', 'content' or 'inspect-delay' (got '%s').", kind, w[1])
		return
	}
	if len(w) < 3 {
		l.d.Alertf(ln.Pos, "'%s %s' expects an action.", kind, w[1])
		return
	}
	action := w[2]
	implemented := map[string]bool{"accept": true, "reject": true, "set-var": true, "unset-var": true, "capture": true, "close": true}
	if kind == "tcp-request" {
		// Stick counters: tracked from tcp-request connection/content.
		for _, a := range []string{"track-sc0", "track-sc1", "track-sc2", "sc-inc-gpc0", "sc-set-gpt0"} {
			implemented[a] = true
		}
	}
	known := implemented[action] || strings.HasPrefix(action, "track-sc") || strings.HasPrefix(action, "sc-") ||
		strings.HasPrefix(action, "set-var(") || strings.HasPrefix(action, "unset-var(") ||
		map[string]bool{"expect-proxy": true, "expect-netscaler-cip": true, "silent-drop": true, "set-src": true,
			"set-dst": true, "set-mark": true, "set-tos": true, "do-resolve": true, "switch-mode": true,
			"use-service": true, "set-priority-class": true, "set-priority-offset": true, "send-spoe-group": true,
			"set-log-level": true, "set-nice": true, "lua": true, "attach-srv": true}[action]
	if !known {
		l.d.Alertf(ln.Pos, "'%s %s' : unknown action '%s'.", kind, w[1], action)
		return
	}
	args, condWords := splitCondWords(w[3:])
	cond, err := l.parseCond(p, condWords)
	if err != nil {
		l.d.Alertf(ln.Pos, "error detected in %s '%s' while parsing '%s %s' condition : %v.", p.Kind, p.Name, kind, w[1], err)
		return
	}
	if !implemented[action] && !strings.HasPrefix(action, "set-var(") && !strings.HasPrefix(action, "unset-var(") {
		l.d.Warnf(ln.Pos, "'%s %s %s' is parsed but not implemented by goproxy yet; ignored.", kind, w[1], action)
	}
	r := &Rule{Pos: ln.Pos, Kind: kind + " " + w[1], Action: action, Args: args, Cond: cond}
	if kind == "tcp-response" {
		p.TCPResponse = append(p.TCPResponse, r)
	} else {
		p.TCPRequest = append(p.TCPRequest, r)
	}
}
