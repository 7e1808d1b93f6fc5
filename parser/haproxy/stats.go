package haproxy

import (
	"strings"
	"time"
)

// DefaultStatsURI is the stats page address when only `stats enable` is given.
const DefaultStatsURI = "/haproxy?stats"

// DefaultStatsRealm is the authentication realm of the stats page.
const DefaultStatsRealm = "HAProxy Statistics"

func (l *loader) parseStats(p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'http-request', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', 'show-node' or 'uri'.")
		return
	}
	s := &p.Stats
	enable := func() {
		s.Enabled = true
		if s.URI == "" {
			s.URI = DefaultStatsURI
		}
		if s.Realm == "" {
			s.Realm = DefaultStatsRealm
		}
	}
	switch w[1] {
	case "enable":
		enable()
	case "disable":
		s.Enabled = false
	case "uri":
		if len(w) < 3 {
			l.d.Alertf(ln.Pos, "'uri' needs an URI prefix.")
			return
		}
		enable()
		s.URI = w[2]
	case "realm":
		if len(w) < 3 {
			l.d.Alertf(ln.Pos, "'realm' needs an realm name.")
			return
		}
		enable()
		s.Realm = strings.Join(w[2:], " ")
	case "auth":
		if len(w) < 3 || !strings.Contains(w[2], ":") {
			l.d.Alertf(ln.Pos, "'auth' needs a user:password account.")
			return
		}
		enable()
		u, pw, _ := strings.Cut(w[2], ":")
		s.Auth = append(s.Auth, UserPass{u, pw})
	case "refresh":
		if len(w) < 3 {
			l.d.Alertf(ln.Pos, "'refresh' needs a refresh delay in seconds.")
			return
		}
		d, err := parseTime(w[2], "s")
		if err != nil {
			l.d.Alertf(ln.Pos, "%v in 'stats refresh'", err)
			return
		}
		enable()
		s.Refresh = d
	case "hide-version":
		enable()
		s.HideVersion = true
	case "show-legends":
		enable()
		s.ShowLegends = true
	case "show-node":
		enable()
		s.ShowNode = hostname()
		if len(w) > 2 {
			s.ShowNode = w[2]
		}
	case "show-desc":
		enable()
		s.ShowDesc = strings.Join(w[2:], " ")
	case "scope":
		if len(w) < 3 {
			l.d.Alertf(ln.Pos, "'scope' needs a proxy name.")
			return
		}
		enable()
		s.Scope = append(s.Scope, w[2])
	case "admin":
		if p.Kind == "defaults" {
			l.d.Alertf(ln.Pos, "'stats admin' not supported in 'defaults' section.")
			return
		}
		if len(w) < 3 {
			l.d.Alertf(ln.Pos, "'stats admin' requires either 'if' or 'unless' followed by a condition.")
			return
		}
		c, err := l.parseCond(p, w[2:])
		if err != nil {
			l.d.Alertf(ln.Pos, "error detected while parsing a 'stats admin' rule : %v.", err)
			return
		}
		enable()
		s.Admin = c
	case "http-request":
		if p.Kind == "defaults" {
			l.d.Alertf(ln.Pos, "'stats http-request' not supported in 'defaults' section.")
			return
		}
		args, condWords := splitCondWords(w[2:])
		if len(args) == 0 {
			l.d.Alertf(ln.Pos, "'stats http-request' expects an action.")
			return
		}
		cond, err := l.parseCond(p, condWords)
		if err != nil {
			l.d.Alertf(ln.Pos, "error detected while parsing a 'stats http-request' rule : %v.", err)
			return
		}
		enable()
		s.HTTPRequest = append(s.HTTPRequest, &Rule{Pos: ln.Pos, Kind: "stats http-request", Action: args[0], Args: args[1:], Cond: cond})
	case "bind-process", "maxconn", "timeout":
		// Global-only or obsolete; harmless here.
	case "socket":
		l.d.Alertf(ln.Pos, "'stats socket' is only allowed in 'global' section.")
	default:
		l.d.Alertf(ln.Pos, "'stats' only supports 'admin', 'auth', 'enable', 'hide-version', 'http-request', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', 'show-node' and 'uri' (got '%s').", w[1])
	}
	_ = time.Second
}
