package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hapair/checks"
	"hapair/parser/haproxy"
	"hapair/proxy"
	"hapair/proxy/stats"
)

// The stats part serves HAProxy's statistics from the running proxy: the
// stats page (`stats uri`, `;csv`, `stats admin`), the stats sockets of
// the global section, and the Prometheus exporter. Its adapter
// (proxyControl) turns the proxy's atomic counters, the balancer's
// weights and the health checks' state into stats rows, and applies the
// operator's server actions (maint, drain, ready, weight) to the proxy.

func init() {
	parts = append(parts, newStatsPart)
	// The stats part answers `_getsocks` on its own sockets (through
	// serveGetsocks, process_expose.go).
	getsocksHandled = true
}

// statsVersion is the HAProxy version the stats page, `show info` and the
// Prometheus build_info report; tools compare it with HAProxy's.
const (
	statsVersion     = "2.6.12-goproxy"
	statsReleaseDate = "2026/10/17"
)

// checkSource gives the stats part the health-check state of servers.
// The health-check part registers one per proxy with registerCheckSource.
type checkSource interface {
	// CheckSnapshot returns the state of the check of backend/server; ok
	// is false when the server has no health check.
	CheckSnapshot(backend, server string) (snap checks.Snapshot, ok bool)
}

// checkSources maps a *proxy.Proxy to its checkSource.
var checkSources sync.Map

// registerCheckSource makes src the health-check state of p's servers for
// the stats page, CSV, socket and Prometheus; the returned function
// removes it.
func registerCheckSource(p *proxy.Proxy, src checkSource) (unregister func()) {
	checkSources.Store(p, src)
	return func() { checkSources.CompareAndDelete(p, src) }
}

// statsPart is the runtimePart of statistics.
type statsPart struct {
	cfg *haproxy.Config
	env *partEnv
	ctl *proxyControl

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	listeners []net.Listener
}

func newStatsPart(cfg *haproxy.Config, env *partEnv) (runtimePart, error) {
	return &statsPart{cfg: cfg, env: env}, nil
}

// Configure installs the stats page hook when a proxy enables it.
func (s *statsPart) Configure(opts *proxy.Options) error {
	s.ctl = newProxyControl(s.cfg, s.env.Pid)
	if usesPrometheus(s.cfg) {
		opts.Service = s.ctl.serveService
	}
	for _, pc := range s.cfg.Proxies {
		if pc.Stats.Enabled {
			opts.Stats = s.ctl.serveStatsPage
			break
		}
	}
	return nil
}

// Start opens the stats sockets and starts the rate sampler.
func (s *statsPart) Start(ctx context.Context, p *proxy.Proxy) error {
	s.ctl.attach(p)
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Go(func() { s.ctl.sample(ctx) })
	for _, sc := range s.cfg.Global.StatsSockets {
		ln, err := listenStatsSocket(sc)
		if err != nil {
			// HAProxy's two alerts: the socket, then the exit.
			s.env.Alert("Binding [%s] for frontend GLOBAL: %v", sc.Pos, err)
			return fmt.Errorf("[%s.main()] Some protocols failed to start their listeners! Exiting.", os.Args[0])
		}
		s.listeners = append(s.listeners, ln)
		s.ctl.mu.Lock()
		s.ctl.sockets++
		s.ctl.mu.Unlock()
		sk := &stats.Socket{Ctl: s.ctl, Level: sc.Level, Timeout: s.cfg.Global.StatsTimeout}
		if sc.ExposeFD {
			sk.GetSocks = func(c *net.UnixConn) error {
				// serveGetsocks (process_expose.go) sends the
				// listeners for a new process started with -x.
				if serveGetsocks == nil {
					return errors.New("no socket hand-over")
				}
				return serveGetsocks(c)
			}
		}
		s.wg.Go(func() {
			if err := sk.Serve(ctx, ln); err != nil {
				s.env.Alert("%v", err)
			}
		})
	}
	return nil
}

// listenStatsSocket opens a `stats socket` address: a unix socket (a
// stale file is replaced, the mode and owner applied) or a TCP address
// (`ipv4@`, `ipv6@`, host:port).
func listenStatsSocket(sc haproxy.StatsSocket) (net.Listener, error) {
	a := sc.Addr
	switch a.Net {
	case "unix":
		// As HAProxy: bind a temporary name, set its mode, then rename it
		// over the path, so that the path always answers during a reload
		// and whatever file was there (an old socket) is replaced.
		path := a.Host
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		os.Remove(tmp)
		ln, err := net.Listen("unix", tmp)
		if err != nil {
			return nil, fmt.Errorf("cannot bind UNIX socket (%s) [%s]", strerror(err), path)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		fail := func(what string, err error) (net.Listener, error) {
			ln.Close()
			os.Remove(tmp)
			return nil, fmt.Errorf("%s (%s) [%s]", what, strerror(err), path)
		}
		if sc.Mode != 0 {
			if err := os.Chmod(tmp, os.FileMode(sc.Mode)); err != nil {
				return fail("cannot change UNIX socket ownership", err)
			}
		}
		if sc.User != "" || sc.Group != "" {
			uid, gid := -1, -1
			if sc.User != "" {
				uid = lookupID(sc.User, "passwd")
			}
			if sc.Group != "" {
				gid = lookupID(sc.Group, "group")
			}
			if err := os.Chown(tmp, uid, gid); err != nil {
				return fail("cannot change UNIX socket ownership", err)
			}
		}
		if err := os.Rename(tmp, path); err != nil {
			return fail("cannot switch final and temporary UNIX sockets", err)
		}
		return ln, nil
	case "abns":
		return net.Listen("unix", "@"+a.Host)
	default:
		network := "tcp"
		if a.Net == "tcp4" || a.Net == "tcp6" {
			network = a.Net
		}
		return net.Listen(network, net.JoinHostPort(a.Host, strconv.Itoa(a.Port)))
	}
}

// strerror returns the C library's message for err's errno ("No such
// file or directory"), as HAProxy prints it.
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	msg := errno.Error()
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// lookupID resolves a user or group name (or number) from /etc/passwd or
// /etc/group; -1 when unknown.
func lookupID(name, db string) int {
	if n, err := strconv.Atoi(name); err == nil {
		return n
	}
	b, err := os.ReadFile("/etc/" + db)
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) > 2 && f[0] == name {
			if n, err := strconv.Atoi(f[2]); err == nil {
				return n
			}
		}
	}
	return -1
}

// Close stops the sockets. Like HAProxy, it leaves the unix socket files
// in place (a new process has usually replaced them already).
func (s *statsPart) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.wg.Wait()
	if s.ctl != nil {
		s.ctl.detach()
	}
	return nil
}

// serverAdmin is the operator's view of a server: its administrative
// state and user weight, which the proxy does not keep.
type serverAdmin struct {
	state      stats.AdminState
	uweight    int
	iweight    int
	lastChange time.Time
	// downs counts UP to DOWN transitions made by the operator (entering
	// maintenance while UP): HAProxy's chkdown counts them with the
	// checks' own; maintTime is the time spent in maintenance, counted
	// as downtime (maintSince: the current period).
	downs      int64
	maintTime  time.Duration
	maintSince time.Time
}

// backendHistory follows a backend's UP/DOWN state for lastchg, chkdown
// and downtime.
type backendHistory struct {
	up         bool
	lastChange time.Time
	downs      int64
	downSince  time.Time
	downtime   time.Duration
}

// rateMeter measures a counter's rate over the last second and its
// maximum, as HAProxy's rate columns do.
type rateMeter struct {
	last, rate, max int64
}

func (m *rateMeter) tick(total int64) {
	m.rate = total - m.last
	m.last = total
	m.max = max(m.max, m.rate)
}

// proxyControl is the stats.ServerControl of a running proxy.
type proxyControl struct {
	cfg   *haproxy.Config
	pid   int
	start time.Time
	// iidShift is 1 when a stats socket exists: HAProxy's CLI frontend
	// takes the first proxy id.
	iidShift  int
	maxconn   int
	fdReserve int
	sockets   int // stats sockets listening (counted in Listeners)

	mu       sync.Mutex
	p        *proxy.Proxy
	admin    map[*proxy.Server]*serverAdmin
	history  map[*proxy.Backend]*backendHistory
	feRates  map[*proxy.Frontend]*[2]rateMeter // sessions, requests
	beRates  map[*proxy.Backend]*rateMeter
	srvRates map[*proxy.Server]*rateMeter
}

func newProxyControl(cfg *haproxy.Config, pid int) *proxyControl {
	r := fdReserve(cfg)
	c := &proxyControl{cfg: cfg, pid: pid, start: time.Now(), maxconn: defaultMaxconn(cfg, r), fdReserve: r}
	if len(cfg.Global.StatsSockets) > 0 {
		c.iidShift = 1
	}
	return c
}

// defaultMaxconn is the global maxconn, or HAProxy 2.6's value derived
// from the file descriptor limit when none is configured: what is left
// after the reserved descriptors (fdReserve), two per connection.
func defaultMaxconn(cfg *haproxy.Config, reserve int) int {
	if cfg.Global.Maxconn > 0 {
		return cfg.Global.Maxconn
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > uint64(reserve)+2 {
		return int(min(rl.Cur, 1<<22)-uint64(reserve)) / 2
	}
	return 4096
}

// fdReserve is the number of descriptors HAProxy 2.6 keeps apart from
// connections: 26, one per listening socket (bind addresses and stats
// sockets) and one per health check (measured with ulimit-n 20000 over
// 1-3 binds, 1-2 sockets, 0-4 checks: maxconn = (20000 - reserve) / 2,
// maxsock = 2 * maxconn + reserve).
func fdReserve(cfg *haproxy.Config) int {
	n := 26 + len(cfg.Global.StatsSockets) + countChecks(cfg)
	for _, pc := range cfg.Proxies {
		if pc.Disabled || pc.Cap&haproxy.CapFE == 0 {
			continue
		}
		for _, b := range pc.Binds {
			for _, a := range b.Addrs {
				n += max(1, a.PortEnd-a.Port+1)
			}
		}
	}
	return n
}

// countChecks counts the servers with a health check.
func countChecks(cfg *haproxy.Config) int {
	n := 0
	for _, pc := range cfg.Proxies {
		for _, s := range pc.Servers {
			if s.Check {
				n++
			}
		}
	}
	return n
}

// attach binds the control to the running proxy.
func (c *proxyControl) attach(p *proxy.Proxy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p = p
	controls.Store(p, c)
	c.start = p.StartTime()
	c.admin = map[*proxy.Server]*serverAdmin{}
	c.history = map[*proxy.Backend]*backendHistory{}
	c.feRates = map[*proxy.Frontend]*[2]rateMeter{}
	c.beRates = map[*proxy.Backend]*rateMeter{}
	c.srvRates = map[*proxy.Server]*rateMeter{}
	for _, be := range p.Backends() {
		c.history[be] = &backendHistory{up: true, lastChange: c.start}
		c.beRates[be] = &rateMeter{}
		for _, s := range be.Servers {
			w := s.Cfg.Weight
			a := &serverAdmin{uweight: w, iweight: w, lastChange: c.start}
			if s.Cfg.Disabled {
				a.state = stats.AdminMaint // `disabled`: MAINT until enabled
			}
			c.admin[s] = a
			c.srvRates[s] = &rateMeter{}
		}
	}
	for _, fe := range p.Frontends() {
		c.feRates[fe] = &[2]rateMeter{}
	}
}

func (c *proxyControl) detach() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		controls.CompareAndDelete(c.p, c)
	}
	c.p = nil
}

// sample updates rates and backend histories every second until ctx ends.
func (c *proxyControl) sample(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.mu.Lock()
			if c.p != nil {
				for fe, m := range c.feRates {
					m[0].tick(fe.Counters.Stot.Load())
					m[1].tick(fe.Counters.ReqTot.Load())
				}
				for be, m := range c.beRates {
					m.tick(be.Counters.Stot.Load())
				}
				for s, m := range c.srvRates {
					m.tick(s.Counters.Stot.Load())
				}
				for be := range c.history {
					c.observeLocked(be, now)
				}
			}
			c.mu.Unlock()
		}
	}
}

// usable reports whether a server takes new traffic.
func (c *proxyControl) usableLocked(s *proxy.Server) bool {
	a := c.admin[s]
	return s.Up() && a != nil && a.state == stats.AdminReady && s.Weight() > 0
}

// observeLocked records a backend UP/DOWN change seen at now.
func (c *proxyControl) observeLocked(be *proxy.Backend, now time.Time) {
	h := c.history[be]
	if h == nil {
		return
	}
	up := len(be.Servers) == 0
	for _, s := range be.Servers {
		if c.usableLocked(s) {
			up = true
			break
		}
	}
	if up == h.up {
		return
	}
	h.up, h.lastChange = up, now
	if up {
		h.downtime += now.Sub(h.downSince)
	} else {
		h.downs++
		h.downSince = now
	}
}

func (c *proxyControl) check(be, srv string) (checks.Snapshot, bool) {
	src, ok := checkSources.Load(c.p)
	if !ok {
		return checks.Snapshot{}, false
	}
	return src.(checkSource).CheckSnapshot(be, srv)
}

func secondsSince(now, t time.Time) int64 {
	if t.IsZero() || now.Before(t) {
		return 0
	}
	return int64(now.Sub(t) / time.Second)
}

func copyCounters(dst *stats.Counters, src *proxy.Counters, now time.Time) {
	dst.Qcur, dst.Qmax = src.Qcur.Load(), src.Qmax.Load()
	dst.Scur, dst.Smax, dst.Stot = src.Scur.Load(), src.Smax.Load(), src.Stot.Load()
	dst.Bin, dst.Bout = src.Bin.Load(), src.Bout.Load()
	dst.Dreq, dst.Dresp, dst.Ereq = src.Dreq.Load(), src.Dresp.Load(), src.Ereq.Load()
	dst.Econ, dst.Eresp = src.Econ.Load(), src.Eresp.Load()
	dst.Wretr, dst.Wredis = src.Wretr.Load(), src.Wredis.Load()
	for i := range dst.Hrsp {
		dst.Hrsp[i] = src.Hrsp[i].Load()
	}
	dst.ReqTot = src.ReqTot.Load()
	dst.CliAbrt, dst.SrvAbrt = src.CliAbrt.Load(), src.SrvAbrt.Load()
	dst.Dcon, dst.Intercepted = src.Dcon.Load(), src.Intercepted.Load()
	dst.LastSess = -1
	if t := src.LastSess.Load(); t > 0 {
		dst.LastSess = max(0, now.Unix()-t)
	}
}

func isHTTP(pc *haproxy.Proxy) bool { return pc.Mode == haproxy.ModeHTTP }

// Snapshot returns the rows of every proxy in configuration order.
func (c *proxyControl) Snapshot() []stats.Row {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.p
	if p == nil {
		return nil
	}
	now := time.Now()
	fes := map[string]*proxy.Frontend{}
	for _, fe := range p.Frontends() {
		fes[fe.Name] = fe
	}
	// fullconn defaults to 10% of the maxconn of the frontends that can
	// reach the backend (rounded up), as HAProxy computes it.
	feSum := map[string]int{}
	for _, fe := range p.Frontends() {
		mc := c.feMaxconn(fe.Cfg)
		for _, be := range reachable(fe.Cfg) {
			feSum[be] += mc
		}
	}
	var rows []stats.Row
	for _, pc := range c.cfg.Proxies {
		iid := pc.ID + c.iidShift
		if fe := fes[pc.Name]; fe != nil && pc.Cap&haproxy.CapFE != 0 {
			f := &stats.Frontend{Name: fe.Name, IID: iid, HTTP: isHTTP(pc), Slim: int64(c.feMaxconn(pc))}
			if p.Stopping() {
				f.Status = "STOP"
			}
			copyCounters(&f.Counters, &fe.Counters, now)
			f.ConnTot = f.Stot
			if m := c.feRates[fe]; m != nil {
				f.Rate, f.RateMax = m[0].rate, m[0].max
				f.ConnRate, f.ConnRateMax = m[0].rate, m[0].max
				f.ReqRate, f.ReqRateMax = m[1].rate, m[1].max
			}
			rows = append(rows, f.Row())
		}
		be := p.Backend(pc.Name)
		if be == nil || pc.Cap&haproxy.CapBE == 0 {
			continue
		}
		c.observeLocked(be, now)
		var act, bck, wAct, wBck, uAct, uBck int
		for i, s := range be.Servers {
			rows = append(rows, c.serverRow(be, s, i, iid, now))
			if c.usableLocked(s) {
				if s.Cfg.Backup {
					bck++
					wBck += s.Weight()
					uBck += c.admin[s].uweight
				} else {
					act++
					wAct += s.Weight()
					uAct += c.admin[s].uweight
				}
			}
		}
		h := c.history[be]
		b := &stats.Backend{Name: be.Name, IID: iid, HTTP: isHTTP(pc), Up: h.up, Act: act, Bck: bck,
			Weight: wAct, UWeight: uAct, HasServers: len(be.Servers) > 0, LbTot: be.Counters.Lbtot.Load(),
			Algo: algoName(pc), ChkDown: h.downs, LastChg: secondsSince(now, h.lastChange)}
		if act == 0 {
			b.Weight, b.UWeight = wBck, uBck
		}
		b.Downtime = int64(h.downtime / time.Second)
		if !h.up {
			b.Downtime += secondsSince(now, h.downSince)
		}
		if pc.Fullconn > 0 {
			b.Slim = int64(pc.Fullconn)
		} else {
			b.Slim = int64(max(1, (feSum[pc.Name]+9)/10))
		}
		copyCounters(&b.Counters, &be.Counters, now)
		if m := c.beRates[be]; m != nil {
			b.Rate, b.RateMax = m.rate, m.max
		}
		rows = append(rows, b.Row())
	}
	return rows
}

// feMaxconn is a frontend's maxconn (slim), the global one by default.
func (c *proxyControl) feMaxconn(pc *haproxy.Proxy) int {
	if pc.Maxconn > 0 {
		return pc.Maxconn
	}
	return c.maxconn
}

// reachable lists the backends a frontend can switch to by name.
func reachable(pc *haproxy.Proxy) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if pc.Cap&haproxy.CapBE != 0 {
		add(pc.Name)
	}
	add(pc.DefaultBackend)
	for _, r := range pc.UseBackends {
		if !r.Dynamic {
			add(r.Target)
		}
	}
	return out
}

func algoName(pc *haproxy.Proxy) string {
	if pc.Balance.Algo == "" {
		return "roundrobin"
	}
	return pc.Balance.Algo
}

func (c *proxyControl) serverRow(be *proxy.Backend, s *proxy.Server, i, iid int, now time.Time) stats.Row {
	a := c.admin[s]
	sc := s.Cfg
	id := sc.ID
	if id == 0 {
		id = i + 1
	}
	st := &stats.Server{Proxy: be.Name, Name: s.Name, IID: iid, SID: id, HTTP: isHTTP(be.Cfg),
		Admin: a.state, Op: stats.OpStopped, Weight: s.Weight(), UWeight: a.uweight, Backup: sc.Backup,
		Slim: int64(sc.Maxconn), Qlimit: int64(sc.Maxqueue), LbTot: s.Counters.Lbtot.Load(),
		Addr: serverAddr(sc), Cookie: sc.Cookie}
	if a.state == stats.AdminDrain {
		st.Weight = a.uweight // HAProxy shows the weight a drained server will get back
	}
	if s.Up() {
		st.Op = stats.OpRunning
	}
	last := a.lastChange
	if snap, ok := c.check(be.Name, s.Name); ok {
		st.Check = checkOf(snap)
		st.CheckPaused = a.state == stats.AdminMaint
		st.ChkFail, st.ChkDown = int64(snap.Failed), int64(snap.Downs)+a.downs
		down := snap.Downtime + a.maintTime
		if a.state == stats.AdminMaint {
			down += now.Sub(a.maintSince)
		}
		st.Downtime = int64(down / time.Second)
		if snap.LastChange.After(last) {
			last = snap.LastChange
		}
	}
	st.LastChg = secondsSince(now, last)
	copyCounters(&st.Counters, &s.Counters, now)
	if m := c.srvRates[s]; m != nil {
		st.Rate, st.RateMax = m.rate, m.max
	}
	return st.Row()
}

// checkOf converts a check snapshot to the stats columns.
func checkOf(snap checks.Snapshot) *stats.Check {
	ck := &stats.Check{Status: snap.Last.Status.String(), Duration: -1, Desc: snap.Last.Status.Description(),
		Info: snap.Last.Info, Rise: snap.Rise, Fall: snap.Fall, Health: snap.Health}
	if snap.Last.Status.HasCode() {
		ck.Code = snap.Last.Code
	}
	if !snap.Last.Time.IsZero() {
		ck.Duration = snap.Last.Duration.Milliseconds()
	}
	return ck
}

func serverAddr(sc *haproxy.Server) string {
	a := sc.Addr
	if a.NoPort {
		return a.Host
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// Info returns the `show info` report.
func (c *proxyControl) Info() stats.Info {
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	node := c.cfg.Global.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	in := stats.Info{Version: statsVersion, ReleaseDate: statsReleaseDate, Nbthread: max(1, c.cfg.Global.Nbthread),
		Pid: c.pid, Start: c.start, Now: time.Now(), Maxconn: c.maxconn, HardMaxconn: c.maxconn, Node: node,
		// Not measured: 100 (idle) rather than 0, which monitoring
		// checks would read as a saturated process.
		IdlePct: 100}
	// HAProxy's maxsock: two descriptors per connection plus its reserve.
	in.Maxsock = 2*c.maxconn + c.fdReserve
	in.UlimitN = in.Maxsock
	if c.cfg.Global.UlimitN > 0 {
		in.UlimitN = c.cfg.Global.UlimitN
	}
	if p == nil {
		return in
	}
	in.CurrConns = p.Actconn.Load()
	in.Stopping = p.Stopping()
	for _, fe := range p.Frontends() {
		in.CumConns += fe.Counters.Stot.Load()
		in.CumReq += fe.Counters.ReqTot.Load()
		in.BytesOut += fe.Counters.Bout.Load()
		in.Listeners += len(fe.Listeners())
	}
	c.mu.Lock()
	in.Listeners += c.sockets
	c.mu.Unlock()
	in.Jobs = in.CurrConns + int64(in.Listeners)
	c.mu.Lock()
	for _, m := range c.feRates {
		in.ConnRate += m[0].rate
		in.MaxConnRate = max(in.MaxConnRate, m[0].max)
	}
	c.mu.Unlock()
	in.SessRate, in.MaxSessRate = in.ConnRate, in.MaxConnRate
	return in
}

// lookup finds a server for the socket and page commands.
func (c *proxyControl) lookupLocked(backend, server string) (*proxy.Backend, *proxy.Server, error) {
	if c.p == nil {
		return nil, nil, stats.ErrNoBackend
	}
	be := c.p.Backend(backend)
	if be == nil {
		return nil, nil, stats.ErrNoBackend
	}
	s := be.Server(server)
	if s == nil {
		return nil, nil, stats.ErrNoServer
	}
	return be, s, nil
}

// checkUp is the operational state the health check gives (UP without
// a check).
func (c *proxyControl) checkUp(be, srv string) bool {
	if snap, ok := c.check(be, srv); ok {
		return snap.Up
	}
	return true
}

// SetServerAdmin applies maint (out of service), drain (weight 0 for new
// traffic, status DRAIN) or ready.
func (c *proxyControl) SetServerAdmin(backend, server string, st stats.AdminState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, s, err := c.lookupLocked(backend, server)
	if err != nil {
		return err
	}
	a := c.admin[s]
	if a.state == st {
		return nil
	}
	now := time.Now()
	if st == stats.AdminMaint {
		if s.Up() {
			a.downs++
		}
		a.maintSince = now
	} else if a.state == stats.AdminMaint {
		a.maintTime += now.Sub(a.maintSince)
	}
	a.state = st
	a.lastChange = now
	c.applyLocked(backend, s)
	return nil
}

// applyLocked pushes a server's admin state and weight to the proxy.
func (c *proxyControl) applyLocked(backend string, s *proxy.Server) {
	a := c.admin[s]
	switch a.state {
	case stats.AdminMaint:
		c.p.SetServerState(backend, s.Name, false)
		c.p.SetServerWeight(backend, s.Name, a.uweight)
	case stats.AdminDrain:
		c.p.SetServerWeight(backend, s.Name, 0)
		c.p.SetServerState(backend, s.Name, c.checkUp(backend, s.Name))
	default:
		c.p.SetServerWeight(backend, s.Name, a.uweight)
		c.p.SetServerState(backend, s.Name, c.checkUp(backend, s.Name))
	}
}

// serverAllowedUp reports whether a server may be put in service: the
// health-check part asks before marking a server UP, so that a server in
// maintenance stays out.
func serverAllowedUp(p *proxy.Proxy, backend, server string) bool {
	c, ok := controls.Load(p)
	if !ok {
		return true
	}
	ctl := c.(*proxyControl)
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	_, s, err := ctl.lookupLocked(backend, server)
	if err != nil {
		return true
	}
	return ctl.admin[s].state != stats.AdminMaint
}

// controls maps a *proxy.Proxy to its proxyControl (serverAllowedUp).
var controls sync.Map

// SetWeight sets a server's user weight; a drained server keeps weight 0
// until it is ready again.
func (c *proxyControl) SetWeight(backend, server string, weight int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, s, err := c.lookupLocked(backend, server)
	if err != nil {
		return err
	}
	c.admin[s].uweight = weight
	if c.admin[s].state != stats.AdminDrain {
		c.p.SetServerWeight(backend, server, weight)
	}
	return nil
}

// Weight returns a server's current and configured weights.
func (c *proxyControl) Weight(backend, server string) (cur, initial int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, s, err := c.lookupLocked(backend, server)
	if err != nil {
		return 0, 0, err
	}
	return c.admin[s].uweight, c.admin[s].iweight, nil
}

// ServersState implements `show servers state`.
func (c *proxyControl) ServersState(backend string) ([]stats.ServerState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return nil, false
	}
	now := time.Now()
	var out []stats.ServerState
	found := backend == ""
	for _, pc := range c.cfg.Proxies {
		be := c.p.Backend(pc.Name)
		if be == nil || pc.Cap&haproxy.CapBE == 0 || backend != "" && backend != pc.Name {
			continue
		}
		found = true
		for i, s := range be.Servers {
			a := c.admin[s]
			id := s.Cfg.ID
			if id == 0 {
				id = i + 1
			}
			ss := stats.ServerState{BackendID: pc.ID + c.iidShift, Backend: be.Name, ID: id, Name: s.Name,
				Addr: s.Cfg.Addr.Host, Port: s.Cfg.Addr.Port, UWeight: a.uweight, IWeight: a.iweight,
				CheckStatus: "INI", CheckHealth: s.Cfg.Rise}
			if ss.CheckHealth == 0 {
				ss.CheckHealth = 2
			}
			if s.Up() {
				ss.OpState = 2
			}
			switch a.state {
			case stats.AdminMaint:
				ss.AdminFlags = stats.AdminFlagMaint
			case stats.AdminDrain:
				ss.AdminFlags = stats.AdminFlagDrain
			}
			last := a.lastChange
			if snap, ok := c.check(be.Name, s.Name); ok {
				ss.CheckStatus = snap.Last.Status.String()
				ss.CheckHealth = snap.Health
				ss.CheckState = 0x06
				if a.state == stats.AdminMaint {
					ss.CheckState |= 0x08
				}
				switch {
				case snap.Last.Time.IsZero():
				case snap.Last.OK():
					ss.CheckResult = 3
				default:
					ss.CheckResult = 2
				}
				if snap.LastChange.After(last) {
					last = snap.LastChange
				}
			}
			ss.LastChange = secondsSince(now, last)
			out = append(out, ss)
		}
	}
	return out, found
}

// pageView is the control a stats page sees: rows limited to `stats
// scope` (when given), addresses, cookies and algorithms hidden without
// `stats show-legends`.
type pageView struct {
	stats.ServerControl
	scope   map[string]bool // nil: every proxy
	legends bool
}

func (v pageView) Snapshot() []stats.Row {
	rows := v.ServerControl.Snapshot()
	if v.scope != nil {
		kept := rows[:0]
		for _, r := range rows {
			if v.scope[r[stats.FPxname]] {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	if !v.legends {
		stats.HideLegends(rows)
	}
	return rows
}

// page returns the stats page of a backend's `stats` settings.
func (c *proxyControl) page(pc *haproxy.Proxy) *stats.Page {
	st := &pc.Stats
	pg := &stats.Page{URI: st.URI, Realm: st.Realm, Refresh: st.Refresh, HideVersion: st.HideVersion,
		ShowNode: st.ShowNode, ShowDesc: st.ShowDesc, Node: c.cfg.Global.Node, Version: statsVersion, Ctl: c}
	if pg.Node == "" {
		pg.Node, _ = os.Hostname()
	}
	view := pageView{ServerControl: c, legends: st.ShowLegends}
	if len(st.Scope) > 0 {
		view.scope = map[string]bool{}
		for _, name := range st.Scope {
			if name == "." {
				name = pc.Name
			}
			view.scope[name] = true
		}
	}
	pg.Ctl = view
	for _, up := range st.Auth {
		pg.Auth = append(pg.Auth, up.User+":"+up.Pass)
	}
	return pg
}

// serveStatsPage is the proxy's Options.Stats hook: it answers a request
// for a backend's `stats uri` with a whole HTTP/1.1 response.
func (c *proxyControl) serveStatsPage(p *proxy.Proxy, fe *proxy.Frontend, req *proxy.StatsRequest) []byte {
	// The section whose `stats` settings matched: the backend's, or the
	// frontend's when it serves the page itself.
	pc := fe.Cfg
	if req.Backend != nil && req.Backend.Cfg.Stats.Enabled {
		pc = req.Backend.Cfg
	}
	pg := c.page(pc)
	r := &stats.Request{Method: req.Method, URI: req.Target}
	if req.Header != nil {
		r.Authorization = req.Header("Authorization")
	}
	r.Admin, r.Body = req.Admin(), req.Body()
	return httpResponse(pg.Handle(r))
}

// httpResponse serializes a page response for the proxy to send.
func httpResponse(res *stats.Response) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", res.Status, reasonPhrase(res.Status))
	for _, h := range res.Header {
		if h[0] == "content-length" {
			continue
		}
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	fmt.Fprintf(&b, "content-length: %d\r\n\r\n", len(res.Body))
	b.Write(res.Body)
	return []byte(b.String())
}

func reasonPhrase(code int) string {
	switch code {
	case 200:
		return "OK"
	case 303:
		return "See Other"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	}
	return "Unknown"
}

// ClearCounters implements `clear counters [all]`: the maximum values,
// or every counter.
func (c *proxyControl) ClearCounters(all bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return
	}
	clear := func(k *proxy.Counters) {
		k.Smax.Store(k.Scur.Load())
		k.Qmax.Store(k.Qcur.Load())
		if !all {
			return
		}
		for _, a := range []*atomic.Int64{&k.Stot, &k.Bin, &k.Bout, &k.Dreq, &k.Dresp, &k.Ereq, &k.Econ,
			&k.Eresp, &k.Wretr, &k.Wredis, &k.Lbtot, &k.ReqTot, &k.CliAbrt, &k.SrvAbrt, &k.Dcon, &k.Intercepted, &k.LastSess} {
			a.Store(0)
		}
		for i := range k.Hrsp {
			k.Hrsp[i].Store(0)
		}
	}
	reset := func(m *rateMeter, total int64) {
		m.max = m.rate
		if all {
			m.rate, m.max, m.last = 0, 0, total
		}
	}
	for _, fe := range c.p.Frontends() {
		clear(&fe.Counters)
		if m := c.feRates[fe]; m != nil {
			reset(&m[0], fe.Counters.Stot.Load())
			reset(&m[1], fe.Counters.ReqTot.Load())
		}
	}
	for _, be := range c.p.Backends() {
		clear(&be.Counters)
		if m := c.beRates[be]; m != nil {
			reset(m, be.Counters.Stot.Load())
		}
		for _, s := range be.Servers {
			clear(&s.Counters)
			if m := c.srvRates[s]; m != nil {
				reset(m, s.Counters.Stot.Load())
			}
		}
	}
}

// sessionWalker is implemented by a *proxy.Proxy that can list its client
// sessions (for `show sess`); the method uses standard types only so that
// the stats part does not depend on a proxy type that may change.
type sessionWalker interface {
	EachSession(fn func(id uint64, start time.Time, src net.Addr, frontend, backend, server string))
}

// Sessions implements `show sess` when the proxy can list its sessions.
func (c *proxyControl) Sessions() []stats.SessionInfo {
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	w, ok := any(p).(sessionWalker)
	if !ok {
		return nil
	}
	var out []stats.SessionInfo
	w.EachSession(func(id uint64, start time.Time, src net.Addr, fe, be, srv string) {
		proto := "tcpv4"
		if a, ok := src.(*net.TCPAddr); ok && a.IP.To4() == nil {
			proto = "tcpv6"
		}
		out = append(out, stats.SessionInfo{ID: id, Start: start, Proto: proto, Src: src, Frontend: fe, Backend: be, Server: srv})
	})
	return out
}
