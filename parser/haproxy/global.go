package haproxy

import (
	"os/user"
	"strconv"
	"strings"
)

func defaultGlobal() Global {
	return Global{UID: -1, GID: -1}
}

// globalKeyword parses one keyword of the global section.
type globalKeyword struct {
	parse func(l *loader, g *Global, ln Line)
	// notImpl marks keywords that are accepted but have no effect yet;
	// they are reported so that nothing is silently ignored.
	notImpl bool
}

var globalKeywords map[string]globalKeyword

func init() {
	intArg := func(set func(g *Global, v int)) func(*loader, *Global, Line) {
		return func(l *loader, g *Global, ln Line) {
			if v, ok := l.intArg(ln, 1); ok {
				set(g, v)
			}
		}
	}
	ignore := func(*loader, *Global, Line) {}
	globalKeywords = map[string]globalKeyword{
		"log":               {parse: func(l *loader, g *Global, ln Line) { l.parseLog(&g.Logs, ln, true) }},
		"log-tag":           {parse: func(l *loader, g *Global, ln Line) { g.LogTag = l.strArg(ln, 1) }},
		"log-send-hostname": {parse: parseLogSendHostname},
		"maxconn":           {parse: intArg(func(g *Global, v int) { g.Maxconn = v })},
		"daemon":            {parse: func(l *loader, g *Global, ln Line) { g.Daemon = true }},
		"master-worker":     {parse: func(l *loader, g *Global, ln Line) { g.MasterWorker = true }},
		"nbproc":            {parse: parseNbproc},
		"nbthread":          {parse: intArg(func(g *Global, v int) { g.Nbthread = v })},
		"pidfile":           {parse: func(l *loader, g *Global, ln Line) { g.PidFile = l.strArg(ln, 1) }},
		"user":              {parse: parseUser},
		"group":             {parse: parseGroup},
		"uid":               {parse: intArg(func(g *Global, v int) { g.UID = v })},
		"gid":               {parse: intArg(func(g *Global, v int) { g.GID = v })},
		"chroot":            {parse: func(l *loader, g *Global, ln Line) { g.Chroot = l.strArg(ln, 1) }},
		"ulimit-n":          {parse: intArg(func(g *Global, v int) { g.UlimitN = v })},
		"stats":             {parse: parseGlobalStats},
		"spread-checks":     {parse: intArg(func(g *Global, v int) { g.SpreadChecks = v })},
		"hard-stop-after": {parse: func(l *loader, g *Global, ln Line) {
			if d, ok := l.durationArg(ln, 1, "ms"); ok {
				g.HardStopAfter = d
			}
		}},
		"tune.bufsize":    {parse: intArg(func(g *Global, v int) { g.TuneBufsize = v })},
		"tune.maxrewrite": {parse: intArg(func(g *Global, v int) { g.TuneMaxrewrite = v })},
		"quiet":           {parse: func(l *loader, g *Global, ln Line) { g.Quiet = true }},
		"description":     {parse: func(l *loader, g *Global, ln Line) { g.Description = strings.Join(ln.Words[1:], " ") }},
		"node":            {parse: func(l *loader, g *Global, ln Line) { g.Node = l.strArg(ln, 1) }},
		"debug":           {parse: ignore, notImpl: true},
		// Applied while the file is read (see envOverlay), so that
		// "${NAME}" on the following lines sees them, as in HAProxy.
		"setenv":    {parse: envArgs(2, 2)},
		"presetenv": {parse: envArgs(2, 2)},
		"unsetenv":  {parse: envArgs(1, -1)},
		"resetenv":  {parse: envArgs(0, -1)},
	}
	// Accepted keywords that need no action from goproxy, or whose
	// effect is not implemented yet (reported once per line).
	for _, k := range []string{"ca-base", "crt-base", "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites",
		"ssl-default-bind-options", "ssl-default-server-ciphers", "ssl-default-server-ciphersuites",
		"ssl-default-server-options", "ssl-dh-param-file", "ssl-server-verify", "tune.ssl.default-dh-param",
		"maxsslconn", "maxconnrate", "maxsessrate", "maxcomprate", "maxpipes", "cpu-map", "lua-load",
		"server-state-file", "server-state-base", "unix-bind", "external-check", "insecure-fork-wanted",
		"expose-experimental-directives", "busy-polling", "set-dumpable", "strict-limits", "localpeer",
		"h1-case-adjust", "h1-case-adjust-file", "noepoll", "nopoll", "nosplice", "nogetaddrinfo", "noreuseport",
		"numa-cpu-mapping", "zero-warning", "log-send-hostname",
		"profiling.tasks", "thread-groups", "ssl-engine", "ssl-mode-async", "tune.ssl.cachesize",
		"tune.ssl.lifetime", "tune.http.maxhdr", "tune.maxaccept", "tune.maxpollevents", "tune.rcvbuf.client",
		"tune.rcvbuf.server", "tune.sndbuf.client", "tune.sndbuf.server", "tune.comp.maxlevel", "tune.h2.max-concurrent-streams",
		"tune.idletimer", "tune.pipesize", "tune.recv_enough", "tune.runqueue-depth", "tune.lua.maxmem",
		"tune.ssl.maxrecord", "tune.http.cookielen", "tune.http.logurilen", "tune.idle-pool.shared",
		"tune.fd.edge-triggered", "tune.sched.low-latency", "tune.listener.multi-queue", "tune.vars.global-max-size",
		"tune.vars.proc-max-size", "tune.vars.reqres-max-size", "tune.vars.sess-max-size", "tune.vars.txn-max-size",
		"tune.zlib.memlevel", "tune.zlib.windowsize", "mworker-max-reloads", "group-check", "51degrees-data-file",
		"wurfl-data-file", "deviceatlas-json-file", "httpclient.resolvers.prefer", "httpclient.ssl.verify",
		"issuers-chain-path", "pp2-never-send-local", "stats-file", "fd-hard-limit", "cluster-secret", "grace",
	} {
		if _, dup := globalKeywords[k]; dup {
			continue
		}
		globalKeywords[k] = globalKeyword{parse: ignore, notImpl: true}
	}
	// Keywords that only tune HAProxy's own internals: accepted silently
	// because goproxy has no equivalent knob and the behaviour is the same.
	for _, k := range []string{"nosplice", "noepoll", "nopoll", "noreuseport", "nogetaddrinfo", "tune.maxaccept",
		"tune.maxpollevents", "busy-polling", "tune.idletimer", "tune.runqueue-depth", "tune.recv_enough",
		"tune.fd.edge-triggered", "tune.sched.low-latency", "tune.listener.multi-queue", "tune.idle-pool.shared",
		"thread-groups", "numa-cpu-mapping", "cpu-map", "set-dumpable", "profiling.tasks", "zero-warning"} {
		globalKeywords[k] = globalKeyword{parse: ignore}
	}
}

func (l *loader) globalLine(ln Line) {
	kw, ok := globalKeywords[ln.Words[0]]
	if !ok {
		l.unknownKeyword(ln, "global", globalKeywordNames())
		return
	}
	if kw.notImpl {
		l.d.Warnf(ln.Pos, "'%s' is parsed but not implemented by goproxy yet; ignored.", ln.Words[0])
	}
	kw.parse(l, &l.cfg.Global, ln)
}

func globalKeywordNames() []string {
	out := make([]string, 0, len(globalKeywords))
	for k := range globalKeywords {
		out = append(out, k)
	}
	return out
}

func parseLogSendHostname(l *loader, g *Global, ln Line) {
	if len(ln.Words) > 1 {
		g.LogSendHost = ln.Words[1]
		return
	}
	g.LogSendHost = hostname()
}

func parseNbproc(l *loader, g *Global, ln Line) {
	n, ok := l.intArg(ln, 1)
	if !ok {
		return
	}
	if n <= 1 {
		l.d.Warnf(ln.Pos, "'nbproc %d' is HAProxy 1.x syntax, refused since HAProxy 2.5; accepted and ignored (one process, as 'nbproc 1' means).", n)
		return
	}
	l.d.Warnf(ln.Pos, "'nbproc %d' is HAProxy 1.x syntax, refused since HAProxy 2.5; goproxy runs one process and uses every CPU (the modern form is 'nbthread %d').", n, n)
	if g.Nbthread == 0 {
		g.Nbthread = n
	}
}

func parseUser(l *loader, g *Global, ln Line) {
	name := l.strArg(ln, 1)
	if name == "" {
		return
	}
	g.User = name
	u, err := user.Lookup(name)
	if err != nil {
		l.d.Alertf(ln.Pos, "cannot find user id for '%s' (0:Success)", name)
		return
	}
	g.UID, _ = strconv.Atoi(u.Uid)
}

// parseGroup resolves the group like HAProxy, with one deliberate
// difference: the seed's `group nobody` does not exist on Debian (its
// group is nogroup). HAProxy refuses the file; goproxy warns and uses
// nogroup, which is what the author of such a config meant.
func parseGroup(l *loader, g *Global, ln Line) {
	name := l.strArg(ln, 1)
	if name == "" {
		return
	}
	g.Group = name
	gr, err := user.LookupGroup(name)
	if err != nil && name == "nobody" {
		if alt, err2 := user.LookupGroup("nogroup"); err2 == nil {
			l.d.Warnf(ln.Pos, "cannot find group id for 'nobody'; using 'nogroup' (gid %s), the unprivileged group of this system (HAProxy refuses this line).", alt.Gid)
			g.Group = "nogroup"
			gr, err = alt, nil
		}
	}
	if err != nil {
		l.d.Alertf(ln.Pos, "cannot find group id for '%s' (0:Success)", name)
		return
	}
	g.GID, _ = strconv.Atoi(gr.Gid)
}

func parseGlobalStats(l *loader, g *Global, ln Line) {
	w := ln.Words
	if len(w) < 2 {
		l.d.Alertf(ln.Pos, "'stats' expects 'socket', 'maxconn', 'bind-process' or 'timeout' in 'global' section.")
		return
	}
	switch w[1] {
	case "socket":
		if len(w) < 3 {
			l.d.Alertf(ln.Pos, "'stats socket' requires a path or an address.")
			return
		}
		addr, err := parseAddr(w[2], true)
		if err != nil {
			l.d.Alertf(ln.Pos, "'stats socket' : %v.", err)
			return
		}
		// HAProxy 2.6 gives a socket without `level` the operator level
		// (measured: `show cli level` answers "operator").
		s := StatsSocket{Pos: ln.Pos, Addr: addr, Level: "operator"}
		for i := 3; i < len(w); i++ {
			switch w[i] {
			case "mode":
				if i+1 < len(w) {
					m, err := strconv.ParseUint(w[i+1], 8, 32)
					if err != nil {
						l.d.Alertf(ln.Pos, "'stats socket' : 'mode' expects an octal mode (got '%s').", w[i+1])
					}
					s.Mode = uint32(m)
					i++
				}
			case "level":
				if i+1 < len(w) {
					switch w[i+1] {
					case "user", "operator", "admin":
						s.Level = w[i+1]
					default:
						l.d.Alertf(ln.Pos, "'level' only supports 'user', 'operator', and 'admin' (got '%s').", w[i+1])
					}
					i++
				}
			case "expose-fd":
				if i+1 < len(w) && w[i+1] == "listeners" {
					s.ExposeFD = true
					i++
				}
			case "user":
				if i+1 < len(w) {
					s.User = w[i+1]
					i++
				}
			case "group":
				if i+1 < len(w) {
					s.Group = w[i+1]
					i++
				}
			case "uid", "gid", "process", "maxconn", "name", "severity-output", "thread", "backlog":
				i++
			default:
			}
		}
		g.StatsSockets = append(g.StatsSockets, s)
	case "timeout":
		if d, ok := l.durationArg(ln, 2, "ms"); ok {
			g.StatsTimeout = d
		}
	case "maxconn", "bind-process":
	default:
		l.d.Alertf(ln.Pos, "'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' in 'global' section.")
	}
}

// envArgs checks the argument count of an environment keyword; the keyword
// itself was applied by the lexer's envOverlay.
func envArgs(min, max int) func(*loader, *Global, Line) {
	return func(l *loader, g *Global, ln Line) {
		n := len(ln.Words) - 1
		if n < min || max >= 0 && n > max {
			what := "a name and a value"
			if min < 2 {
				what = "environment variable names"
			}
			l.d.Alertf(ln.Pos, "'%s' expects %s.", ln.Words[0], what)
		}
	}
}
