package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"hapair/checks"
	"hapair/parser/haproxy"
	"hapair/proxy"
	"hapair/proxy/logfmt"
)

// The health-check part runs one checks.Monitor per server with `check`,
// configured from the server line (inter, fastinter, downinter, rise,
// fall, port, addr), the backend (option httpchk, http-check, tcp-check,
// mysql-check, smtpchk, timeout check) and the global section
// (spread-checks). Each transition takes the server out of balancing or
// puts it back (proxy.SetServerState) and is logged as HAProxy 2.6 logs
// it: to the backend's log targets and to stderr.

func init() {
	parts = append(parts, newChecksPart)
}

// checksPart is the runtimePart of health checks.
type checksPart struct {
	cfg      *haproxy.Config
	env      *partEnv
	monitors map[string]*serverCheck // by "backend/server"
	order    []*serverCheck
	events   chan checks.Event

	p          *proxy.Proxy // set by Start, before the monitors run
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	unregister func()
}

// serverCheck is one server's monitor.
type serverCheck struct {
	backend, server string
	backup          bool
	mon             *checks.Monitor
	// logHealth is the backend's option log-health-checks: every check
	// that moves the health counter is logged, with rise and fall for
	// its status.
	logHealth  bool
	rise, fall int
}

// checkParts maps a running proxy to its health checks (checkSnapshot).
var checkParts sync.Map

func newChecksPart(cfg *haproxy.Config, env *partEnv) (runtimePart, error) {
	return &checksPart{cfg: cfg, env: env, monitors: map[string]*serverCheck{}, events: make(chan checks.Event)}, nil
}

// Configure builds the monitors; an unusable check setting is a
// configuration error naming the proxy.
func (c *checksPart) Configure(*proxy.Options) error {
	type pending struct {
		pc  *haproxy.Proxy
		sc  *haproxy.Server
		chk checks.Checker
	}
	var all []pending
	var minInter time.Duration
	for _, pc := range c.cfg.Proxies {
		if pc.Disabled || pc.Cap&haproxy.CapBE == 0 {
			continue
		}
		for _, sc := range pc.Servers {
			if !sc.Check {
				continue
			}
			chk, warns, err := newChecker(pc, sc)
			if err != nil {
				return fmt.Errorf("config : backend '%s', server '%s': %w", pc.Name, sc.Name, err)
			}
			for _, w := range warns {
				c.env.Warn("config : backend '%s', server '%s': %s", pc.Name, sc.Name, w)
			}
			if chk == nil {
				continue
			}
			all = append(all, pending{pc, sc, chk})
			if minInter == 0 || interOf(sc) < minInter {
				minInter = interOf(sc)
			}
		}
	}
	for i, p := range all {
		_, total := checks.Timeouts(interOf(p.sc), p.pc.Timeouts.Connect, p.pc.Timeouts.Check)
		cfg := checks.Config{
			Rise: p.sc.Rise, Fall: p.sc.Fall, Start: checks.StartUp,
			Intervals: checks.Intervals{Inter: interOf(p.sc), FastInter: p.sc.FastInter, DownInter: p.sc.DownInter},
			Timeout:   total,
			Delay:     checks.FirstCheckDelay(minInter, i, len(all)),
			Spread:    c.cfg.Global.SpreadChecks,
		}
		name := p.pc.Name + "/" + p.sc.Name
		sc := &serverCheck{backend: p.pc.Name, server: p.sc.Name, backup: p.sc.Backup,
			logHealth: p.pc.Options.LogHealthChecks,
			rise:      max(p.sc.Rise, 1), fall: max(p.sc.Fall, 1)}
		if sc.logHealth {
			cfg.OnHealth = func(ev checks.Event) { c.healthLine(sc, ev) }
		}
		sc.mon = checks.NewMonitor(name, p.chk, cfg, c.events)
		c.monitors[name] = sc
		c.order = append(c.order, sc)
	}
	return nil
}

func interOf(sc *haproxy.Server) time.Duration {
	if sc.Inter > 0 {
		return sc.Inter
	}
	return 2 * time.Second
}

// newChecker returns the Checker the backend's check settings describe
// for server sc. Rules goproxy does not run (http-check expect hdr/fhdr,
// tcp-check set-var/unset-var) are left out with a warning rather than
// refusing a configuration HAProxy accepts.
func newChecker(pc *haproxy.Proxy, sc *haproxy.Server) (checks.Checker, []string, error) {
	var warns []string
	if sc.Addr.Net == "unix" || sc.Addr.Net == "abns" {
		return nil, []string{fmt.Sprintf("health checks on %s sockets are not supported by goproxy; the server is not checked.", sc.Addr.Net)}, nil
	}
	// The parser refuses a checked server with no port to check
	// (haproxy.NeedsCheckPort); a tcp-check connect step brings its own.
	port := sc.Addr.Port
	if sc.CheckPort > 0 {
		port = sc.CheckPort
	}
	host := sc.Addr.Host
	if sc.CheckAddr != "" {
		host = sc.CheckAddr
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	connect, _ := checks.Timeouts(interOf(sc), pc.Timeouts.Connect, pc.Timeouts.Check)
	var tlsConf *tls.Config
	if (sc.CheckSSL || sc.SSL) && !sc.NoCheckSSL {
		tlsConf = &tls.Config{InsecureSkipVerify: sc.Verify != "required", ServerName: sc.SNI}
	}
	hc := &pc.HTTPCheck
	switch pc.CheckKind {
	case haproxy.CheckHTTP:
		req := checks.HTTPRequest{Method: hc.Method, URI: hc.URI, Version: hc.Version, Body: hc.Body}
		for _, h := range hc.Headers {
			req.Headers = append(req.Headers, checks.Header{Name: strings.ToLower(h.Name), Value: h.Value})
		}
		chk := &checks.HTTP{Addr: addr, ConnectTimeout: connect, Request: req, TLS: tlsConf}
		for _, e := range hc.Expect {
			if e.Kind != "status" && e.Kind != "rstatus" && e.Kind != "string" && e.Kind != "rstring" {
				warns = append(warns, fmt.Sprintf("'http-check expect %s' is not supported by goproxy; ignored.", e.Kind))
				continue
			}
			args := []string{e.Kind, e.Pattern}
			if e.Negate {
				args = append([]string{"!"}, args...)
			}
			ex, err := checks.ParseHTTPExpect(args)
			if err != nil {
				return nil, warns, fmt.Errorf("http-check expect: %w", err)
			}
			chk.Expect = append(chk.Expect, ex)
		}
		return chk, warns, nil
	case haproxy.CheckTCPSeq:
		chk := &checks.TCPCheck{Addr: addr, ConnectTimeout: connect}
		for _, st := range pc.TCPCheck {
			switch st.Action {
			case "set-var", "unset-var":
				warns = append(warns, fmt.Sprintf("parsing [%s:%d] : 'tcp-check %s' is not supported by goproxy; ignored.", st.Pos.File, st.Pos.Line, st.Action))
				continue
			}
			step, err := checks.ParseTCPCheckRule(append([]string{st.Action}, st.Args...))
			if err != nil {
				return nil, warns, fmt.Errorf("parsing [%s:%d] : tcp-check: %w", st.Pos.File, st.Pos.Line, err)
			}
			chk.Steps = append(chk.Steps, step)
		}
		return chk, warns, nil
	case haproxy.CheckMySQL:
		return &checks.MySQL{Addr: addr, ConnectTimeout: connect, User: hc.MySQLUser}, warns, nil
	case haproxy.CheckSMTP:
		return &checks.SMTP{Addr: addr, ConnectTimeout: connect, Verb: hc.SMTPCmd, Domain: hc.SMTPDomain}, warns, nil
	case haproxy.CheckRedis:
		chk := checks.RedisCheck(addr)
		chk.ConnectTimeout = connect
		return chk, warns, nil
	}
	// Plain connect; pgsql, ssl-hello and ldap checks fall back to it.
	return &checks.TCP{Addr: addr, ConnectTimeout: connect, TLS: tlsConf}, warns, nil
}

// Start runs the monitors and applies their transitions to p.
func (c *checksPart) Start(ctx context.Context, p *proxy.Proxy) error {
	if len(c.order) == 0 {
		return nil
	}
	ctx, c.cancel = context.WithCancel(ctx)
	c.p = p
	checkParts.Store(p, c)
	unreg := registerCheckSource(p, c)
	c.unregister = func() {
		unreg()
		checkParts.CompareAndDelete(p, c)
	}
	for _, sc := range c.order {
		c.wg.Go(func() { sc.mon.Run(ctx) })
	}
	// One reader applies the transitions of every monitor in order.
	c.wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-c.events:
				if sc := c.monitors[ev.Name]; sc != nil {
					c.transition(p, sc, ev)
				}
			}
		}
	})
	return nil
}

// CheckSnapshot is the checkSource of the stats part.
func (c *checksPart) CheckSnapshot(backend, server string) (checks.Snapshot, bool) {
	sc := c.monitors[backend+"/"+server]
	if sc == nil {
		return checks.Snapshot{}, false
	}
	return sc.mon.Snapshot(), true
}

// checkSnapshot returns the health-check state of backend/server of the
// running proxy p: last status, code, duration, counters, downtime and
// last change. ok is false when the server has no check.
func checkSnapshot(p *proxy.Proxy, backend, server string) (checks.Snapshot, bool) {
	v, ok := checkParts.Load(p)
	if !ok {
		return checks.Snapshot{}, false
	}
	return v.(*checksPart).CheckSnapshot(backend, server)
}

// transition applies a monitor's change to the proxy and logs it.
func (c *checksPart) transition(p *proxy.Proxy, sc *serverCheck, ev checks.Event) {
	if !serverAllowedUp(p, sc.backend, sc.server) {
		return // in maintenance: the operator's state wins, as HAProxy
	}
	p.SetServerState(sc.backend, sc.server, ev.Up)
	e := serverEvent(p, sc.backend, sc.server)
	if !sc.logHealth { // else the check was logged on its own line
		e.Reason, e.Code, e.HasCode = ev.Result.Status.Description(), ev.Result.Code, ev.Result.Status.HasCode()
		e.Info, e.Duration = ev.Result.Info, ev.Result.Duration.Milliseconds()
	}
	if ev.Up {
		logServerLine(p, c.env, sc.backend, logfmt.LevelServerUp, logfmt.AppendServerUp(nil, e), false)
		return
	}
	logServerLine(p, c.env, sc.backend, logfmt.LevelServerDown, logfmt.AppendServerDown(nil, e),
		e.ActiveLeft == 0 && e.BackupLeft == 0)
}

// healthLine logs a check that moved the health counter (option
// log-health-checks), as HAProxy: notice, to the backend's targets and
// stderr.
func (c *checksPart) healthLine(sc *serverCheck, ev checks.Event) {
	if !serverAllowedUp(c.p, sc.backend, sc.server) {
		return
	}
	e := &logfmt.ServerEvent{Backend: sc.backend, Server: sc.server, Backup: sc.backup,
		Reason: ev.Result.Status.Description(), Code: ev.Result.Code, HasCode: ev.Result.Status.HasCode(),
		Info: ev.Result.Info, Duration: ev.Result.Duration.Milliseconds()}
	line := logfmt.AppendHealthCheck(nil, e, ev.Result.OK(), ev.Health, sc.rise, sc.fall, ev.Up)
	logEvent(c.cfg, sc.backend, logfmt.LevelServerUp, string(line))
	c.env.Warn("%s", line)
}

// serverEvent describes backend/server and its backend after a change:
// servers left in service (up with a weight, as HAProxy counts usable
// servers) and the server's sessions.
func serverEvent(p *proxy.Proxy, backend, server string) *logfmt.ServerEvent {
	e := &logfmt.ServerEvent{Backend: backend, Server: server}
	be := p.Backend(backend)
	if be == nil {
		return e
	}
	for _, s := range be.Servers {
		if s.Name == server {
			e.Backup = s.Cfg.Backup
			e.SessionsActive = int(s.Counters.Scur.Load())
		}
		if !s.Up() || s.Weight() <= 0 {
			continue
		}
		if s.Cfg.Backup {
			e.BackupLeft++
		} else {
			e.ActiveLeft++
		}
	}
	return e
}

// logServerLine sends a server event line to the backend's log targets
// and to stderr as a warning, then, when none is left, HAProxy's "backend
// has no server available!" (emerg in syslog, an alert on stderr).
func logServerLine(p *proxy.Proxy, env *partEnv, backend string, level int, line []byte, none bool) {
	logEvent(p.Config(), backend, level, string(line))
	env.Warn("%s", line)
	if none {
		logEvent(p.Config(), backend, logfmt.LevelNoServer, string(logfmt.AppendNoServer(nil, backend)))
		env.Alert("backend '%s' has no server available!", backend)
	}
}

// adminChange is an operator's change of a server's state (stats socket
// or stats page), for logServerAdmin.
type adminChange int

// The operator's changes HAProxy logs.
const (
	adminMaint   adminChange = iota // disable server, set server state maint
	adminReady                      // enable server, state ready, leaving maint
	adminDrain                      // set server state drain
	adminUndrain                    // state ready, leaving drain
)

// logServerAdmin logs an operator's change of backend/server as HAProxy
// 2.6 does (measured with the stats socket): "Server be/s1 is going DOWN
// for maintenance. ..." (alert), "Server be/s1 is UP/READY (leaving forced
// maintenance)." (notice), "Server be/s1 enters drain state. ..." and
// "Server be/s1 is UP (leaving forced drain)." (notice); to the backend's
// log targets and to stderr, with "backend be has no server available!"
// when maintenance leaves none. Call it after applying the change to p,
// so that the counts are those after the change.
func logServerAdmin(p *proxy.Proxy, env *partEnv, backend, server string, ch adminChange) {
	e := serverEvent(p, backend, server)
	switch ch {
	case adminMaint:
		logServerLine(p, env, backend, logfmt.LevelServerDown, logfmt.AppendServerMaint(nil, e),
			e.ActiveLeft == 0 && e.BackupLeft == 0)
	case adminReady:
		logServerLine(p, env, backend, logfmt.LevelServerUp, logfmt.AppendServerReady(nil, e), false)
	case adminDrain:
		logServerLine(p, env, backend, logfmt.LevelServerUp, logfmt.AppendServerDrain(nil, e), false)
	case adminUndrain:
		logServerLine(p, env, backend, logfmt.LevelServerUp, logfmt.AppendServerUndrain(nil, e), false)
	}
}

// Close stops the monitors.
func (c *checksPart) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	if c.unregister != nil {
		c.unregister()
	}
	return nil
}
