package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hapair/parser/haproxy"
	"hapair/proxy/balance"
)

// Backend is a backend or listen section: servers, balancer, queue and
// counters.
type Backend struct {
	p        *Proxy
	Cfg      *haproxy.Proxy
	Name     string
	Counters Counters
	Servers  []*Server

	bal   *balance.Balancer
	rules *ruleSet
	ck    *cookiePersist // `cookie` persistence, nil without
	stick []*stickRule   // stick on|match|store-request
	// statsAdmin is the compiled `stats admin if <cond>` (nil: none).
	statsAdmin *cond

	qmu     sync.Mutex
	waiters []chan struct{} // FIFO of queued requests waiting for a slot
}

// Server is one `server` line at run time.
type Server struct {
	be       *Backend
	Cfg      *haproxy.Server
	Name     string
	Index    int
	id       int // HAProxy's puid: `id`, else the position from 1 (stick tables)
	Counters Counters
	up       atomic.Bool
	ip       netip.Addr // resolved once at start, as HAProxy (invalid: dial by name)
	dialAddr string     // ip:port when the port is fixed

	poolMu sync.Mutex
	idle   []*serverConn
}

// Up reports whether the server is in service.
func (s *Server) Up() bool { return s.up.Load() }

// Backend returns the server's backend.
func (s *Server) Backend() *Backend { return s.be }

// Conns returns the server's in-flight sessions/requests.
func (s *Server) Conns() int { return s.be.bal.Conns(s.Index) }

// Weight returns the server's current weight.
func (s *Server) Weight() int { return s.be.bal.Weight(s.Index) }

func newBackend(p *Proxy, pc *haproxy.Proxy) (*Backend, error) {
	be := &Backend{p: p, Cfg: pc, Name: pc.Name}
	members := make([]balance.Member, len(pc.Servers))
	for i, sc := range pc.Servers {
		s := &Server{be: be, Cfg: sc, Name: sc.Name, Index: i, id: i + 1}
		if sc.ID > 0 {
			s.id = sc.ID
		}
		s.up.Store(!sc.Disabled)
		s.ip = resolveOnce(sc.Addr.Host)
		if s.ip.IsValid() && !sc.Addr.NoPort && !sc.Addr.PortOff {
			s.dialAddr = netip.AddrPortFrom(s.ip, uint16(sc.Addr.Port)).String()
		}
		be.Servers = append(be.Servers, s)
		id := sc.ID
		if id == 0 {
			id = i + 1
		}
		members[i] = balance.Member{Name: sc.Name, ID: id, Weight: sc.Weight, Backup: sc.Backup, Maxconn: sc.Maxconn}
	}
	bal, err := balance.New(pc.Balance, pc.HashType, members, pc.Options.AllBackups)
	if err != nil {
		return nil, err
	}
	be.bal = bal
	for i, s := range be.Servers {
		if !s.up.Load() {
			bal.SetUp(i, false)
		}
	}
	rs, err := compileRules(p, pc, false)
	if err != nil {
		return nil, err
	}
	be.rules = rs
	if pc.Stats.Admin != nil {
		if be.statsAdmin, err = compileCond(pc.Stats.Admin, p.aclEnv()); err != nil {
			return nil, err
		}
	}
	be.ck = newCookiePersist(pc)
	if be.stick, err = p.compileStickRules(pc); err != nil {
		return nil, err
	}
	return be, nil
}

// Server returns the server called name, or nil.
func (be *Backend) Server(name string) *Server {
	for _, s := range be.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Balancer exposes the backend's balancer (weights, in-flight counts).
func (be *Backend) Balancer() *balance.Balancer { return be.bal }

// ActiveServers counts servers that are up (nbsrv).
func (be *Backend) ActiveServers() int {
	n := 0
	for _, s := range be.Servers {
		if s.up.Load() && !s.Cfg.Backup {
			n++
		}
	}
	return n
}

func (be *Backend) setUp(s *Server, up bool) {
	if s.up.Swap(up) == up {
		return
	}
	be.bal.SetUp(s.Index, up)
	if !up {
		s.closeIdle()
	}
	be.wake()
}

func (be *Backend) setWeight(s *Server, w int) {
	be.bal.SetWeight(s.Index, w)
	be.wake()
}

// errNoServer: no server is usable (503); errQueueTimeout: timeout queue
// expired (503 sQ); errQueueFull: maxqueue reached.
var (
	errNoServer     = errors.New("no server available")
	errQueueTimeout = errors.New("queue timeout")
	errQueueFull    = errors.New("queue full")
)

// queueFull reports that the backend queue holds as many requests as the
// usable servers' maxqueue allow (only when every usable server has a
// maxqueue; HAProxy then sends the request elsewhere or answers 503).
func (be *Backend) queueFull() bool {
	limit := int64(0)
	for i, s := range be.Servers {
		if !be.bal.Usable(i) {
			continue
		}
		if s.Cfg.Maxqueue <= 0 {
			return false
		}
		limit += int64(s.Cfg.Maxqueue)
	}
	return be.Counters.Qcur.Load() >= limit
}

// pick chooses a server, queueing when every usable server is at its
// maxconn, as HAProxy's backend queue. It returns the server with one
// in-flight slot taken (release with done) and the time spent queued.
func (be *Backend) pick(ctx context.Context, k balance.Key, avoid *Server) (*Server, time.Duration, error) {
	return be.pickFrom(ctx, k, avoid, nil)
}

// pickFrom is pick with an optional forced server (use-server, a
// persistence cookie): when it is up (or persist says so) it is taken
// directly without moving the balancer, queueing while it is full;
// otherwise the balancer chooses.
func (be *Backend) pickFrom(ctx context.Context, k balance.Key, avoid, forced *Server) (*Server, time.Duration, error) {
	return be.pickDirect(ctx, k, avoid, forced, false)
}

// pickDirect is pickFrom; evenDown takes a down forced server too
// (option persist).
func (be *Backend) pickDirect(ctx context.Context, k balance.Key, avoid, forced *Server, evenDown bool) (*Server, time.Duration, error) {
	if forced != nil && !forced.up.Load() && !evenDown {
		forced = nil
	}
	var skip func(i int) bool
	if avoid != nil {
		skip = func(i int) bool { return i == avoid.Index }
	}
	start := time.Time{}
	var deadline <-chan time.Time
	for {
		i := -1
		if forced != nil {
			if be.bal.Take(forced.Index) {
				i = forced.Index
			}
		} else {
			i = be.bal.Pick(k, skip)
			if i < 0 && avoid != nil {
				// Redispatch: nothing else usable, take the same one again.
				i = be.bal.Pick(k, nil)
			}
		}
		if i >= 0 {
			s := be.Servers[i]
			s.Counters.session(time.Now())
			s.Counters.Lbtot.Add(1)
			be.Counters.Lbtot.Add(1)
			var waited time.Duration
			if !start.IsZero() {
				waited = time.Since(start)
			}
			return s, waited, nil
		}
		if forced != nil && !forced.up.Load() && !evenDown {
			// The forced server went down while we waited.
			forced = nil
			continue
		}
		if forced == nil && !be.anyUsable() {
			return nil, 0, errNoServer
		}
		if start.IsZero() && be.queueFull() {
			return nil, 0, errQueueFull
		}
		// Every usable server is full: wait in the backend queue.
		if start.IsZero() {
			start = time.Now()
			if t := be.Cfg.Timeouts.Queue; t > 0 {
				deadline = time.After(t)
			} else if t := be.Cfg.Timeouts.Connect; t > 0 {
				// HAProxy uses timeout connect when timeout queue is unset.
				deadline = time.After(t)
			}
		}
		ch := make(chan struct{}, 1)
		be.qmu.Lock()
		be.waiters = append(be.waiters, ch)
		be.qmu.Unlock()
		incCur(&be.Counters.Qcur, &be.Counters.Qmax)
		var err error
		select {
		case <-ch:
		case <-deadline:
			err = errQueueTimeout
		case <-ctx.Done():
			err = ctx.Err()
		}
		be.Counters.Qcur.Add(-1)
		if err != nil {
			be.dropWaiter(ch)
			return nil, time.Since(start), err
		}
	}
}

func (be *Backend) anyUsable() bool {
	for i := range be.Servers {
		if be.bal.Usable(i) {
			return true
		}
	}
	return false
}

func (be *Backend) dropWaiter(ch chan struct{}) {
	be.qmu.Lock()
	defer be.qmu.Unlock()
	for i, w := range be.waiters {
		if w == ch {
			be.waiters = append(be.waiters[:i], be.waiters[i+1:]...)
			return
		}
	}
	// Already woken: pass the wake-up on.
	if len(be.waiters) > 0 {
		w := be.waiters[0]
		be.waiters = be.waiters[1:]
		w <- struct{}{}
	}
}

// done releases a server slot taken by pick and wakes the first queued
// request.
func (be *Backend) done(s *Server) {
	be.bal.Done(s.Index)
	s.Counters.Scur.Add(-1)
	be.wake()
}

func (be *Backend) wake() {
	be.qmu.Lock()
	if len(be.waiters) > 0 {
		w := be.waiters[0]
		be.waiters = be.waiters[1:]
		w <- struct{}{}
	}
	be.qmu.Unlock()
}

// resolveOnce turns a server host into an address at start-up (the
// parser already checked that it resolves); an invalid result makes dial
// resolve by name each time.
func resolveOnce(host string) netip.Addr {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}
	}
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap()
		}
	}
	return ips[0]
}

// port returns the port to connect to; a server without port uses the
// client's destination port, as in HAProxy.
func (s *Server) port(dst netip.AddrPort) int {
	a := s.Cfg.Addr
	switch {
	case a.NoPort:
		return int(dst.Port())
	case a.PortOff:
		return int(dst.Port()) + a.Port
	}
	return a.Port
}

// dial connects to the server within timeout connect.
func (s *Server) dial(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	// KeepAlive -1: no Go default keep-alive (option srvtcpka sets it).
	// No SO_REUSEADDR: HAProxy 2.6 sets it only with a `source` address
	// (strace: socket, TCP_NODELAY, connect), and each setsockopt is a
	// system call per connection.
	d := net.Dialer{Timeout: s.be.Cfg.Timeouts.Connect, KeepAlive: -1}
	// Dial by address string: Dialer.DialTCP with a zero local address
	// binds explicitly, and bind(2)'s port search is far slower than
	// connect(2)'s when many ports are in TIME_WAIT.
	host := s.Cfg.Addr.Host
	if s.ip.IsValid() {
		host = s.ip.String()
	}
	addr := s.dialAddr
	if addr == "" {
		addr = net.JoinHostPort(host, strconv.Itoa(s.port(dst)))
	}
	// A background parent: deriving the connect deadline from the
	// proxy's context would register every dial in it (a shared lock);
	// a dial in flight at Close ends within timeout connect.
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	dctx := context.Background()
	if d.Timeout == 0 {
		dctx = ctx // no timeout connect: Close must be able to cancel
	}
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := nc.(*net.TCPConn)
	if s.be.Cfg.Options.ServerTCPKA || s.be.Cfg.Options.TCPKA {
		c.SetKeepAlive(true)
	}
	return c, nil
}

// connectResult is the outcome of connectWithRetries.
type connectResult struct {
	srv      *Server
	conn     net.Conn
	retries  int
	redisp   bool
	tw, tc   time.Duration
	queueErr error
}

// connect picks a server and connects, retrying `retries` times on
// failure with HAProxy's 1 s turn-around after a fast failure, and
// redispatching to another server on the last retry when option
// redispatch is set. On failure the server slot is released.
func (be *Backend) connect(ctx context.Context, k balance.Key, dst netip.AddrPort) (connectResult, error) {
	srv, tw, err := be.pick(ctx, k, nil)
	if err != nil {
		return connectResult{tw: tw, queueErr: err}, err
	}
	r, err := be.connectFrom(ctx, srv, k, dst)
	r.tw = tw
	return r, err
}

// connectFrom connects to srv (already picked), with retries and
// redispatch like connect.
func (be *Backend) connectFrom(ctx context.Context, srv *Server, k balance.Key, dst netip.AddrPort) (connectResult, error) {
	var r connectResult
	retries := be.Cfg.Retries
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		c, err := srv.dial(ctx, dst)
		r.tc = time.Since(t0)
		if err == nil {
			r.srv, r.conn = srv, c
			return r, nil
		}
		srv.Counters.Econ.Add(1)
		if attempt >= retries || ctx.Err() != nil {
			be.Counters.Econ.Add(1)
			be.done(srv)
			r.srv = srv
			return r, err
		}
		r.retries++
		srv.Counters.Wretr.Add(1)
		be.Counters.Wretr.Add(1)
		// Turn-around: wait up to 1 s after a fast failure.
		if wait := time.Second - time.Since(t0); wait > 0 && !isTimeout(err) {
			if to := be.Cfg.Timeouts.Connect; to > 0 && to < wait {
				wait = to
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				be.done(srv)
				return r, ctx.Err()
			}
		}
		if be.Cfg.Options.Redispatch && len(be.Servers) > 1 && be.redispatchNow(attempt+1, retries) {
			old := srv
			be.done(old)
			srv, _, err = be.pick(ctx, k, old)
			if err != nil {
				r.queueErr = err
				return r, err
			}
			if srv != old {
				r.redisp = true
				srv.Counters.Wredis.Add(1)
				be.Counters.Wredis.Add(1)
			}
		}
	}
}

// redispatchNow says whether retry number n (1-based) of max goes to
// another server: the last one by default, every Nth with `option
// redispatch N`.
func (be *Backend) redispatchNow(n, maxRetries int) bool {
	iv := be.Cfg.Options.RedispatchInterval
	switch {
	case iv > 0:
		return n%iv == 0
	case iv < 0:
		return n == maxRetries+iv+1
	}
	return n == maxRetries
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// serverConn is a connection to a server with its buffers, kept alive
// between requests.
type serverConn struct {
	srv  *Server
	conn net.Conn
	rw   io.ReadWriter // conn's raw reads and writes (rawIO)
	br   *bufio.Reader
	bw   *bufio.Writer
	used bool // at least one request was sent on it
	idle time.Time
}

// maxIdlePerServer bounds each server's idle pool.
const maxIdlePerServer = 256

// putIdle returns a reusable connection to the server's pool.
func (s *Server) putIdle(sc *serverConn) {
	if !s.up.Load() || s.be.Cfg.HTTPReuse == "never" {
		sc.close()
		return
	}
	sc.idle = time.Now()
	if sc.br != nil && sc.br.Buffered() == 0 {
		// Idle connections keep no buffers.
		putReader(sc.br)
		putWriter(sc.bw)
		sc.br, sc.bw = nil, nil
	}
	s.poolMu.Lock()
	if len(s.idle) >= maxIdlePerServer {
		s.poolMu.Unlock()
		sc.close()
		return
	}
	s.idle = append(s.idle, sc)
	s.poolMu.Unlock()
}

// getIdle takes the most recently used idle connection younger than 5 s
// (HAProxy's default pool-purge-delay), or nil.
func (s *Server) getIdle() *serverConn {
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	for len(s.idle) > 0 {
		sc := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(sc.idle) < 5*time.Second {
			if sc.br == nil {
				sc.br, sc.bw = getReader(sc.rw), getWriter(sc.rw)
			}
			return sc
		}
		sc.close()
	}
	return nil
}

func (s *Server) closeIdle() {
	s.poolMu.Lock()
	idle := s.idle
	s.idle = nil
	s.poolMu.Unlock()
	for _, sc := range idle {
		sc.close()
	}
}

func (sc *serverConn) close() {
	sc.conn.Close()
	if sc.br != nil {
		putReader(sc.br)
		sc.br = nil
	}
	if sc.bw != nil {
		putWriter(sc.bw)
		sc.bw = nil
	}
}

var readerPool, writerPool sync.Pool

func getReader(c io.Reader) *bufio.Reader {
	if v := readerPool.Get(); v != nil {
		br := v.(*bufio.Reader)
		br.Reset(c)
		return br
	}
	return bufio.NewReaderSize(c, 8192)
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

func getWriter(c io.Writer) *bufio.Writer {
	if v := writerPool.Get(); v != nil {
		bw := v.(*bufio.Writer)
		bw.Reset(c)
		return bw
	}
	return bufio.NewWriterSize(c, 8192)
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writerPool.Put(bw)
}
