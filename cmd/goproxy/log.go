package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hapair/internal/syslog"
	"hapair/parser/haproxy"
	"hapair/proxy"
	"hapair/proxy/logfmt"
)

// The logging part sends HAProxy's log lines: one line per transaction
// (tcplog, httplog, clf or log-format, to the frontend's log targets),
// the health-check events of checks.go (to the backend's targets), and
// the soft-stop "Proxy X stopped" lines (to every proxy's targets and to
// stderr, as HAProxy 2.6 in the foreground). Senders are opened once at
// start; a line that cannot be sent at once is dropped (internal/syslog).

func init() {
	parts = append(parts, newLogPart)
}

// logPart is the runtimePart of logging.
type logPart struct {
	cfg  *haproxy.Config
	env  *partEnv
	host string

	senders map[syslog.Target]*syslog.Sender // opened once per distinct target
	proxies map[string]*proxyLog             // by proxy name
	global  []*syslog.Sender
	reqs    atomic.Uint64 // %rt

	p        *proxy.Proxy
	parent   context.Context // serve's context: ended by a hard stop
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// proxyLog is what a proxy needs to log: its targets and, for frontends,
// the compiled format and the options that pick the level.
type proxyLog struct {
	senders []*syslog.Sender
	format  *logfmt.Format // nil: HAProxy's "Connect from" line
	opts    logfmt.Options
	nReq    int // capture request header count
	nRes    int // capture response header count
	count   atomic.Uint64
}

// logParts maps a configuration to its logging part, so that the
// health-check part (built from the same configuration) finds the
// targets of a backend (logEvent).
var logParts sync.Map

func newLogPart(cfg *haproxy.Config, env *partEnv) (runtimePart, error) {
	host, _ := os.Hostname()
	return &logPart{cfg: cfg, env: env, host: host,
		senders: map[syslog.Target]*syslog.Sender{}, proxies: map[string]*proxyLog{}}, nil
}

// Configure opens the senders and hooks the transaction log.
func (l *logPart) Configure(opts *proxy.Options) error {
	g, err := l.open(l.cfg.Global.Logs, l.cfg.Global.LogTag)
	if err != nil {
		return err
	}
	l.global = g
	any := false
	for _, pc := range l.cfg.Proxies {
		if pc.Disabled || pc.NoLog || len(pc.Logs) == 0 {
			continue
		}
		tag := pc.LogTag
		if tag == "" {
			tag = l.cfg.Global.LogTag
		}
		ss, err := l.open(pc.Logs, tag)
		if err != nil {
			return err
		}
		pl := &proxyLog{senders: ss,
			opts: logfmt.Options{DontLogNull: pc.Options.DontLogNull, DontLogNormal: pc.Options.DontLogNormal,
				SeparateErrors: pc.Options.LogSeparateErrors}}
		if pl.format, err = proxyFormat(pc); err != nil {
			return fmt.Errorf("parsing [%s:%d] : proxy '%s': log-format: %w", pc.Pos.File, pc.Pos.Line, pc.Name, err)
		}
		for _, c := range pc.Captures {
			switch c.Kind {
			case "request header":
				pl.nReq++
			case "response header":
				pl.nRes++
			}
		}
		l.proxies[pc.Name] = pl
		any = any || pc.Cap&haproxy.CapFE != 0
	}
	if any {
		opts.Log = l.logRecord
		opts.Connect = l.logConnect
	}
	logParts.Store(l.cfg, l)
	return nil
}

// proxyFormat returns the format a proxy logs transactions with, as
// HAProxy chooses it: log-format, else option httplog [clf] (tcplog in
// mode tcp), else option tcplog, else none.
func proxyFormat(pc *haproxy.Proxy) (*logfmt.Format, error) {
	switch {
	case pc.LogFormat != "":
		return logfmt.Compile(pc.LogFormat)
	case pc.Options.HTTPLog && pc.Mode == haproxy.ModeHTTP && pc.Options.HTTPLogCLF:
		return logfmt.CLFLog(), nil
	case pc.Options.HTTPLog && pc.Mode == haproxy.ModeHTTP:
		return logfmt.HTTPLog(), nil
	case pc.Options.HTTPLog, pc.Options.TCPLog:
		return logfmt.TCPLog(), nil
	}
	return nil, nil
}

// open returns the senders of targets, sharing one sender per distinct
// target across proxies.
func (l *logPart) open(targets []haproxy.LogTarget, tag string) ([]*syslog.Sender, error) {
	var out []*syslog.Sender
	for _, lt := range targets {
		t, err := syslogTarget(lt, tag, l.cfg.Global.LogSendHost)
		if err != nil {
			return nil, fmt.Errorf("parsing [%s:%d] : log %s: %w", lt.Pos.File, lt.Pos.Line, lt.Addr, err)
		}
		s := l.senders[t]
		if s == nil {
			if s, err = syslog.Open(t); err != nil {
				return nil, fmt.Errorf("parsing [%s:%d] : %w", lt.Pos.File, lt.Pos.Line, err)
			}
			l.senders[t] = s
		}
		out = append(out, s)
	}
	return out, nil
}

// syslogTarget converts a `log` line to a sender target.
func syslogTarget(lt haproxy.LogTarget, tag, sendHost string) (syslog.Target, error) {
	network, addr, err := syslog.ParseAddr(lt.Addr)
	if err != nil {
		return syslog.Target{}, err
	}
	t := syslog.Target{Network: network, Addr: addr, Tag: tag, MaxLevel: syslog.Debug, MaxLen: lt.Len}
	if lt.Format != "" {
		f, ok := syslog.ParseFormat(lt.Format)
		if !ok {
			return t, fmt.Errorf("unknown log format %q", lt.Format)
		}
		t.Format = f
	}
	t.Hostname = syslog.HostnameFor(sendHost, lt.FormatSet && lt.Format == "rfc3164")
	if lt.Facility != "" {
		f, ok := syslog.ParseFacility(lt.Facility)
		if !ok {
			return t, fmt.Errorf("unknown facility %q", lt.Facility)
		}
		t.Facility = f
	}
	if lt.Level != "" {
		v, ok := syslog.ParseLevel(lt.Level)
		if !ok {
			return t, fmt.Errorf("unknown level %q", lt.Level)
		}
		t.MaxLevel = v
	}
	if lt.MinLevel != "" {
		v, ok := syslog.ParseLevel(lt.MinLevel)
		if !ok {
			return t, fmt.Errorf("unknown level %q", lt.MinLevel)
		}
		t.MinLevel = v
	}
	return t, nil
}

// Start watches for the soft stop (SIGUSR1) to log HAProxy's "Proxy X
// stopped" lines.
func (l *logPart) Start(ctx context.Context, p *proxy.Proxy) error {
	l.p, l.parent = p, ctx
	ctx, l.cancel = context.WithCancel(ctx)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer signal.Stop(sig)
		select {
		case <-ctx.Done():
		case <-sig:
			l.stopOnce.Do(func() { l.logStopped(p) })
		}
	}()
	return nil
}

// logStopped logs, for every proxy in file order, the line HAProxy 2.6
// writes when a soft stop stops it, then the same for its internal HTTP
// client proxy (measured: all of them at once, level warning, to the
// proxy's targets and to stderr).
func (l *logPart) logStopped(p *proxy.Proxy) {
	fes := map[string]*proxy.Frontend{}
	for _, fe := range p.Frontends() {
		fes[fe.Name] = fe
	}
	var b []byte
	for _, pc := range l.cfg.Proxies {
		if pc.Disabled {
			continue
		}
		var fc, bc int64
		if fe := fes[pc.Name]; fe != nil {
			fc = fe.Counters.Stot.Load()
		}
		if be := p.Backend(pc.Name); be != nil {
			bc = be.Counters.Stot.Load()
		}
		b = logfmt.AppendProxyStopped(b[:0], pc.Name, fc, bc)
		l.event(pc.Name, logfmt.LevelProxyStop, string(b))
		l.env.Warn("%s", b)
	}
	b = logfmt.AppendProxyStopped(b[:0], "<HTTPCLIENT>", 0, 0)
	l.event("", logfmt.LevelProxyStop, string(b))
	l.env.Warn("%s", b)
}

// event sends msg to the targets of the proxy called name ("" or a
// proxy without targets: the global ones only for "").
func (l *logPart) event(name string, level int, msg string) {
	ss := l.global
	if name != "" {
		ss = nil
		if pl := l.proxies[name]; pl != nil {
			ss = pl.senders
		}
	}
	now := time.Now()
	for _, s := range ss {
		s.Log(level, msg, now)
	}
}

// logEvent sends msg at level to the log targets of proxy name of the
// configuration cfg (nothing when logging is not configured for it).
func logEvent(cfg *haproxy.Config, name string, level int, msg string) {
	if v, ok := logParts.Load(cfg); ok {
		v.(*logPart).event(name, level, msg)
	}
}

// logRecord formats and sends one transaction's line.
// logConnect sends HAProxy's "Connect from" line of a proxy without a
// log format, at level info whatever happens next and even under
// dontlognull (measured: HAProxy 2.6 logs it when it creates the stream,
// before knowing the outcome).
func (l *logPart) logConnect(rec *proxy.LogRecord) {
	pl := l.proxies[rec.FrontName]
	if pl == nil || pl.format != nil {
		return
	}
	var buf [256]byte
	b := logfmt.AppendConnect(buf[:0], rec.Client, rec.Frontend, rec.FrontName, rec.HTTP)
	now := time.Now()
	for _, s := range pl.senders {
		s.LogBytes(syslog.Info, b, now)
	}
}

func (l *logPart) logRecord(rec *proxy.LogRecord) {
	pl := l.proxies[rec.FrontName]
	if pl == nil || pl.format == nil {
		return // without a format: logConnect's line only
	}
	var r logfmt.Record
	l.record(&r, rec, pl)
	level, ok := pl.opts.Level(&r)
	if !ok {
		return
	}
	var buf [512]byte
	b := pl.format.Append(buf[:0], &r)
	now := time.Now()
	for _, s := range pl.senders {
		s.LogBytes(level, b, now)
	}
}

// record converts the proxy's LogRecord to the formatter's Record.
func (l *logPart) record(r *logfmt.Record, rec *proxy.LogRecord, pl *proxyLog) {
	*r = logfmt.Record{
		Client: rec.Client, FrontendAddr: rec.Frontend, Accept: rec.Accept,
		Frontend: rec.FrontName, Backend: rec.BackName, Server: rec.ServerName, HTTP: rec.HTTP,
		Tw: int64(rec.Tw), Tc: int64(rec.Tc), Tr: int64(rec.Tr),
		Status: rec.Status, BytesRead: rec.BytesRead, BytesUploaded: rec.BytesIn,
		ActConn: int(rec.Actconn), FeConn: int(rec.Feconn), BeConn: int(rec.Beconn), SrvConn: int(rec.SrvConn),
		Retries: rec.Retries, Redispatched: rec.Redispatched,
		SrvQueue: int(rec.SrvQueue), BackendQueue: int(rec.BackendQueue),
		RequestLine: rec.RequestLine,
		Hostname:    l.host, PID: l.env.Pid,
		ReqCounter: l.reqs.Add(1) - 1, LogCount: pl.count.Add(1) - 1,
	}
	if r.RequestLine == "<BADREQ>" {
		r.RequestLine = ""
	}
	// The proxy measures Tq and Tt from the start of the request; HAProxy
	// splits the time before it into Th (handshake, 0 without TLS) and Ti
	// (idle time of a keep-alive connection).
	var ti int64
	if rec.HTTP {
		ti = max(rec.Start.Sub(rec.Accept).Milliseconds(), 0)
	}
	r.Ti = ti
	r.TR = int64(rec.Tq)
	r.Tt = int64(rec.Tt) + ti
	r.Td = -1
	if rec.Tq >= 0 && rec.Tw >= 0 && rec.Tc >= 0 && rec.Tr >= 0 {
		r.Td = int64(rec.Tt - rec.Tq - rec.Tw - rec.Tc - rec.Tr)
	}
	r.TermState = [4]byte{'-', '-', '-', '-'}
	copy(r.TermState[:], rec.TermState)
	r.ReqCaptures = fillCaptures(rec.ReqCaptures, pl.nReq)
	r.ResCaptures = fillCaptures(rec.ResCaptures, pl.nRes)
}

// fillCaptures returns n captures from the proxy's values ("" is an
// absent header), nil when the frontend captures none.
func fillCaptures(vals []string, n int) []logfmt.Capture {
	if n == 0 {
		return nil
	}
	out := make([]logfmt.Capture, n)
	for i := range out {
		if i < len(vals) && vals[i] != "" {
			out[i] = logfmt.Capture{Value: vals[i], Set: true}
		}
	}
	return out
}

// Close stops the watcher and closes the senders. A soft stop that ended
// the proxy before the watcher saw the signal is logged here: the proxy
// stopped while serve's context is still alive (a hard stop ends it and
// logs nothing, as HAProxy on SIGTERM).
func (l *logPart) Close() error {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
	if l.p != nil && l.p.Stopping() && l.parent.Err() == nil {
		l.stopOnce.Do(func() { l.logStopped(l.p) })
	}
	logParts.CompareAndDelete(l.cfg, l)
	for _, s := range l.senders {
		s.Close()
	}
	return nil
}
