package haproxy

import (
	"maps"
	"slices"
	"strings"
	"time"
)

func newProxy(kind, name string, pos Pos) *Proxy {
	return &Proxy{
		Pos:        pos,
		Kind:       kind,
		Name:       name,
		Mode:       ModeTCP,
		Retries:    3,
		Balance:    Balance{Algo: "roundrobin"},
		HashType:   HashType{Method: "map-based"},
		ErrorFiles: map[int]string{},
		HTTPReuse:  "safe",
		DefaultServer: ServerParams{
			Inter: 2 * time.Second, Rise: 2, Fall: 3, Weight: 1,
		},
		HTTPCheck: HTTPCheck{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"},
	}
}

// inherit copies into p what a defaults section passes on to the proxies
// declared after it.
func inherit(p, d *Proxy) {
	p.Mode = d.Mode
	p.Maxconn = d.Maxconn
	p.Fullconn = d.Fullconn
	p.Backlog = d.Backlog
	p.Retries = d.Retries
	p.Timeouts = d.Timeouts
	p.Options = d.Options
	if d.Options.Forwardfor != nil {
		f := *d.Options.Forwardfor
		p.Options.Forwardfor = &f
	}
	if d.Options.OriginalTo != nil {
		f := *d.Options.OriginalTo
		p.Options.OriginalTo = &f
	}
	p.Options.IgnoreUnknown = slices.Clone(d.Options.IgnoreUnknown)
	p.Balance = d.Balance
	p.HashType = d.HashType
	p.DefaultServer = d.DefaultServer
	p.DefaultServer.Options = slices.Clone(d.DefaultServer.Options)
	p.Stats = d.Stats
	p.Stats.Auth = slices.Clone(d.Stats.Auth)
	p.Stats.Scope = slices.Clone(d.Stats.Scope)
	p.Stats.HTTPRequest = slices.Clone(d.Stats.HTTPRequest)
	p.ErrorFiles = maps.Clone(d.ErrorFiles)
	p.ErrorFilesFrom = slices.Clone(d.ErrorFilesFrom)
	p.Logs = slices.Clone(d.Logs)
	p.NoLog = d.NoLog
	p.LogFormat = d.LogFormat
	p.LogTag = d.LogTag
	p.UniqueIDFormat = d.UniqueIDFormat
	p.HTTPCheck = d.HTTPCheck
	p.HTTPCheck.Headers = slices.Clone(d.HTTPCheck.Headers)
	p.HTTPCheck.Expect = slices.Clone(d.HTTPCheck.Expect)
	p.TCPCheck = slices.Clone(d.TCPCheck)
	p.CheckKind = d.CheckKind
	p.HTTPReuse = d.HTTPReuse
	p.MonitorURI = d.MonitorURI
	if d.Cookie != nil {
		c := *d.Cookie
		p.Cookie = &c
	}
}

// proxyKeyword parses one keyword of a defaults/frontend/backend/listen
// section.
type proxyKeyword struct {
	// cap says which proxies use the keyword; in a proxy lacking it the
	// keyword is ignored with HAProxy's warning (or refused, for server).
	cap Cap
	// noDefaults: not allowed in defaults sections.
	noDefaults bool
	parse      func(l *loader, p *Proxy, ln Line)
	// notImpl: accepted, without effect in goproxy yet (reported).
	notImpl bool
}

var proxyKeywords map[string]proxyKeyword

func (l *loader) proxyLine(ln Line) {
	p := l.proxy
	w := ln.Words
	kwName := w[0]
	// Legacy 1.x keywords that HAProxy 2.x refuses: mapped, with a
	// warning naming the modern form.
	if lg, ok := legacyKeywords[kwName]; ok {
		ln = lg(l, ln)
		if ln.Words == nil {
			return
		}
		w = ln.Words
		kwName = w[0]
	}
	kw, ok := proxyKeywords[kwName]
	if !ok {
		l.unknownKeyword(ln, p.Kind, proxyKeywordNames())
		return
	}
	if p.Kind == "defaults" && kw.noDefaults {
		l.d.Alertf(ln.Pos, "'%s' not allowed in 'defaults' section.", kwName)
		return
	}
	if p.Kind != "defaults" && p.Cap&kw.cap == 0 {
		other := "frontend"
		if kw.cap == CapBE {
			other = "backend"
		}
		if kwName == "server" || kwName == "server-template" || kwName == "default-server" && false {
			l.d.Alertf(ln.Pos, "'%s' not allowed because %s '%s' has no %s capability.", kwName, p.Kind, p.Name, other)
			return
		}
		l.d.Warnf(ln.Pos, "'%s' ignored because %s '%s' has no %s capability.", kwName, p.Kind, p.Name, other)
		return
	}
	if kw.notImpl {
		l.d.Warnf(ln.Pos, "'%s' is parsed but not implemented by goproxy yet; ignored.", kwName)
	}
	kw.parse(l, p, ln)
}

func proxyKeywordNames() []string {
	out := make([]string, 0, len(proxyKeywords))
	for k := range proxyKeywords {
		out = append(out, k)
	}
	return out
}

// checkProxyEnd runs the checks HAProxy makes once a proxy is complete.
func (l *loader) checkProxyEnd(p *Proxy) {
	if p.Cap&CapFE != 0 && len(p.Binds) == 0 && !p.Disabled {
		l.d.Alertf(p.Pos, "%s '%s' has no 'bind' directive. Please declare it as a backend if this was intended.", p.Kind, p.Name)
	}
	// HAProxy's famous warning: it runs, but connections may hang forever.
	var missing []string
	if p.Cap&CapFE != 0 && p.Timeouts.Client == 0 {
		missing = append(missing, "'client'")
	}
	if p.Cap&CapBE != 0 && (len(p.Servers) > 0 || p.Mode == ModeTCP) {
		if p.Timeouts.Connect == 0 {
			missing = append(missing, "'connect'")
		}
		if p.Timeouts.Server == 0 {
			missing = append(missing, "'server'")
		}
	}
	if len(missing) > 0 {
		l.d.Warnf(p.Pos, "missing timeouts for %s '%s'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: %s.", p.Kind, p.Name, strings.Join(missing, ", "))
	}
	if p.Mode == ModeTCP && (p.Options.HTTPLog) {
		l.d.Warnf(p.Pos, "'option httplog' not usable with %s '%s' (needs 'mode http'). Falling back to 'option tcplog'.", p.Kind, p.Name)
		p.Options.HTTPLog = false
		p.Options.TCPLog = true
	}
	if p.Mode == ModeTCP && p.Options.Forwardfor != nil && p.Cap&CapBE != 0 && p.Kind != "defaults" {
		l.d.Warnf(p.Pos, "'option forwardfor' ignored for %s '%s' as it requires HTTP mode.", p.Kind, p.Name)
		p.Options.Forwardfor = nil
	}
}

// resolveReferences checks what may point forward: backends named by
// use_backend and default_backend, servers named by use-server, and the
// `log global` targets.
func (l *loader) resolveReferences() {
	backends := map[string]*Proxy{}
	for _, p := range l.cfg.Proxies {
		if p.Cap&CapBE != 0 {
			if _, dup := backends[p.Name]; !dup {
				backends[p.Name] = p
			}
		}
	}
	for _, p := range l.cfg.Proxies {
		// `log global` copies the global targets once: a second
		// `log global` (defaults plus the proxy itself, as in the seed)
		// does not duplicate them, as in HAProxy.
		var logs []LogTarget
		globalDone := false
		for _, t := range p.Logs {
			if t.Addr == "global" {
				if !globalDone {
					logs = append(logs, l.cfg.Global.Logs...)
				}
				globalDone = true
				continue
			}
			logs = append(logs, t)
		}
		p.Logs = logs
		if p.Cap&CapFE == 0 {
			continue
		}
		if p.DefaultBackend != "" {
			if be := backends[p.DefaultBackend]; be == nil {
				l.d.Alertf(p.Pos, "Proxy '%s': unable to find required default_backend: '%s'.", p.Name, p.DefaultBackend)
			} else if p.Mode == ModeHTTP && be.Mode == ModeTCP {
				// A tcp frontend may use an http backend: HAProxy 2.x
				// upgrades the stream to HTTP. The reverse is refused.
				l.d.Alertf(p.Pos, "http %s '%s' (%s) tries to use incompatible tcp backend '%s' (%s) as its default backend (see 'mode').", p.Kind, p.Name, p.Pos, be.Name, be.Pos)
			}
		}
		for _, r := range p.UseBackends {
			if r.Dynamic {
				continue
			}
			be := backends[r.Target]
			if be == nil {
				l.d.Alertf(r.Pos, "Proxy '%s': unable to find required use_backend: '%s'.", p.Name, r.Target)
			} else if p.Mode == ModeHTTP && be.Mode == ModeTCP {
				l.d.Alertf(r.Pos, "http %s '%s' (%s) tries to use incompatible tcp backend '%s' (%s) in a 'use_backend' rule (see 'mode').", p.Kind, p.Name, p.Pos, be.Name, be.Pos)
			}
		}
		for _, r := range p.UseServers {
			if _, found := l.serverIndex[p][r.Target]; !found && !r.Dynamic {
				l.d.Alertf(r.Pos, "%s '%s' : unable to find server '%s' referenced in a 'use-server' rule.", p.Kind, p.Name, r.Target)
			}
		}
	}
}
