package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hapair/parser/haproxy"
)

// Frontend is a frontend or listen section: its listeners, rules and
// counters.
type Frontend struct {
	p    *Proxy
	Cfg  *haproxy.Proxy
	Name string
	// Counters: scur/smax/stot are sessions, req_tot requests...
	Counters Counters

	limit     *limiter
	listeners []net.Listener
	rules     *ruleSet
	// self is the backend of a listen section.
	self *Backend
}

func newFrontend(p *Proxy, pc *haproxy.Proxy) (*Frontend, error) {
	fe := &Frontend{p: p, Cfg: pc, Name: pc.Name}
	maxconn := pc.Maxconn
	if maxconn == 0 {
		maxconn = p.cfg.Global.Maxconn
	}
	if maxconn > 0 {
		fe.limit = newLimiter(maxconn)
	}
	if pc.Cap&haproxy.CapBE != 0 {
		fe.self = p.beByName[pc.Name]
	}
	rs, err := compileRules(p, pc, true)
	if err != nil {
		return nil, err
	}
	fe.rules = rs
	return fe, nil
}

// Listeners returns the frontend's open listeners (after Bind).
func (fe *Frontend) Listeners() []net.Listener { return fe.listeners }

// bind opens every address of every bind line.
func (fe *Frontend) bind() error {
	for _, b := range fe.Cfg.Binds {
		for _, a := range b.Addrs {
			for port := a.Port; port <= max(a.PortEnd, a.Port); port++ {
				a := a
				a.Port = port
				l, err := fe.listen(a, b)
				if err != nil {
					return fmt.Errorf("[%s:%d] : Proxy '%s': cannot bind socket [%s]: %w", b.Pos.File, b.Pos.Line, fe.Name, a.Raw, err)
				}
				fe.listeners = append(fe.listeners, l)
			}
		}
	}
	return nil
}

func (fe *Frontend) listen(a haproxy.Addr, b *haproxy.Bind) (net.Listener, error) {
	if fe.p.opts.Listen != nil {
		return fe.p.opts.Listen(a, b)
	}
	return Listen(a, b)
}

// Listen opens a TCP listener for one bind address with SO_REUSEADDR, as
// HAProxy does. An empty host binds all IPv4 addresses (HAProxy's `:80`);
// `::` binds IPv6 and IPv4 unless the bind says v6only or the system
// binds IPv6 only by default (then v4v6 brings IPv4 back).
func Listen(a haproxy.Addr, b *haproxy.Bind) (net.Listener, error) {
	network := "tcp4"
	host := a.Host
	if host == "*" {
		host = ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() && !ip.Is4In6() {
		network = "tcp6"
	}
	switch a.Net {
	case "tcp4", "tcp6":
		network = a.Net
	case "unix":
		return net.Listen("unix", a.Host)
	}
	if network == "tcp6" && (host == "::" || host == "") {
		// The IPv6 wildcard: v6only forces IPv6 only, v4v6 forces both,
		// otherwise the system default (net.ipv6.bindv6only) decides,
		// as with HAProxy. Go's "tcp" network binds [::] dual-stack,
		// "tcp6" sets IPV6_V6ONLY.
		v6only := b != nil && b.V6Only
		if !v6only && (b == nil || !b.V4V6) {
			if v, err := os.ReadFile("/proc/sys/net/ipv6/bindv6only"); err == nil && strings.TrimSpace(string(v)) == "1" {
				v6only = true
			}
		}
		if !v6only {
			network = "tcp"
		}
	}
	lc := net.ListenConfig{
		// No Go default TCP keep-alive on accepted connections (four
		// setsockopt calls each): HAProxy enables it only with
		// option clitcpka/tcpka.
		KeepAlive: -1,
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	return lc.Listen(context.Background(), network, net.JoinHostPort(host, strconv.Itoa(a.Port)))
}

// acceptLoop accepts while the frontend and the process have free slots,
// like HAProxy which stops polling a listener at maxconn.
func (fe *Frontend) acceptLoop(l net.Listener) {
	p := fe.p
	for {
		if !p.global.acquire(p.stopped) {
			return
		}
		if !fe.limit.acquire(p.stopped) {
			p.global.release()
			return
		}
		c, err := l.Accept()
		if err != nil {
			fe.limit.release()
			p.global.release()
			if isClosed(err) || p.Stopping() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) {
				// EMFILE and friends: back off briefly like HAProxy's
				// listener pause, then retry.
				select {
				case <-time.After(100 * time.Millisecond):
				case <-p.stopped:
					return
				}
				continue
			}
			p.logf("Proxy %s: accept: %v", fe.Name, err)
			return
		}
		st := p.trackClient(c, fe)
		if st == nil {
			c.Close()
			fe.limit.release()
			p.global.release()
			return
		}
		p.dispatch(connJob{fe: fe, c: c, st: st})
	}
}

// connJob is an accepted connection waiting for a goroutine.
type connJob struct {
	fe *Frontend
	c  net.Conn
	st *connState
}

// run serves the connection and releases what accepting it took.
func (j connJob) run() {
	p := j.fe.p
	defer p.global.release()
	defer j.fe.limit.release()
	defer p.untrack(j.c)
	j.fe.serve(j.c, j.st)
}

// Idle connection goroutines are kept for new connections: a fresh
// goroutine per connection grows its stack through the dial path each
// time (morestack/copystack were 6% of the proxy's CPU with a new
// connection per request). At most maxIdleWorkers wait, each up to
// workerIdle.
const (
	maxIdleWorkers = 256
	workerIdle     = 10 * time.Second
)

// dispatch hands j to an idle worker goroutine, or starts one.
func (p *Proxy) dispatch(j connJob) {
	select {
	case p.work <- j:
		return
	default:
	}
	p.wg.Add(1)
	go p.worker(j)
}

// worker serves connections until it has been idle for workerIdle, too
// many workers are idle, or the proxy stops.
func (p *Proxy) worker(j connJob) {
	defer p.wg.Done()
	var t *time.Timer
	for {
		j.run()
		if p.idleWorkers.Add(1) > maxIdleWorkers {
			p.idleWorkers.Add(-1)
			return
		}
		if t == nil {
			t = time.NewTimer(workerIdle)
		} else {
			t.Reset(workerIdle)
		}
		select {
		case j = <-p.work:
			p.idleWorkers.Add(-1)
		case <-t.C:
			p.idleWorkers.Add(-1)
			return
		case <-p.stopped:
			p.idleWorkers.Add(-1)
			return
		}
	}
}

// serve runs one client connection to its end.
func (fe *Frontend) serve(c net.Conn, st *connState) {
	p := fe.p
	now := time.Now()
	incCurAlone(&p.Actconn)
	defer p.Actconn.Add(-1)
	fe.Counters.session(now)
	defer fe.Counters.Scur.Add(-1)
	if tc, ok := c.(*net.TCPConn); ok && (fe.Cfg.Options.ClientTCPKA || fe.Cfg.Options.TCPKA) {
		tc.SetKeepAlive(true)
	}
	s := &session{fe: fe, cli: c, accept: now, st: st}
	defer func() {
		if s.trk != nil {
			s.trk.release(true)
		}
	}()
	s.initAddrs()
	if !s.connectionRules() {
		c.Close()
		return
	}
	if fe.Cfg.Mode == haproxy.ModeHTTP {
		s.serveHTTP()
		return
	}
	s.connectEvent(false)
	s.serveTCP()
}

// connectEvent hands the connection to Options.Connect.
func (s *session) connectEvent(http bool) {
	if f := s.fe.p.opts.Connect; f != nil {
		f(&LogRecord{Client: s.src, Frontend: s.dst, Accept: s.accept, Start: s.accept,
			FrontName: s.fe.Name, HTTP: http, Status: -1, Tq: -1, Tw: -1, Tc: -1, Tr: -1})
	}
}

func incCurAlone(c interface{ Add(int64) int64 }) { c.Add(1) }

// session is one client connection's state.
type session struct {
	fe      *Frontend
	cli     net.Conn
	accept  time.Time
	src     netip.AddrPort
	dst     netip.AddrPort
	st      *connState
	pr      prefixReader // idle HTTP connections keep no bufio.Reader
	srvConn *serverConn  // HTTP: the server connection attached to the session
	nreq    int
	srcStr  string            // client address as text (X-Forwarded-For)
	x       exchange          // the current HTTP exchange, reused
	trk     *trackers         // stick counters (nil until a track-sc rule)
	vars    map[string]string // set-var variables (nil until set-var)
}

func (s *session) initAddrs() {
	if a, ok := s.cli.RemoteAddr().(*net.TCPAddr); ok {
		s.src = a.AddrPort()
		s.src = netip.AddrPortFrom(s.src.Addr().Unmap(), s.src.Port())
	}
	if a, ok := s.cli.LocalAddr().(*net.TCPAddr); ok {
		s.dst = a.AddrPort()
		s.dst = netip.AddrPortFrom(s.dst.Addr().Unmap(), s.dst.Port())
	}
}

// connectionRules runs `tcp-request connection` (and session) rules on
// the new connection; false means it was rejected (closed at once,
// counted in dcon as HAProxy's denied connections).
func (s *session) connectionRules() bool {
	rules := s.fe.rules.tcpConn
	if len(rules) == 0 {
		return true
	}
	t := &txn{src: s.src, dst: s.dst, frontend: s.fe.Name}
	ok, _ := s.tcpRules(rules, t, true, true)
	return ok
}

// contentRules runs `tcp-request content` rules on what the request
// holds (t.payload in mode tcp, the request in mode http); false means
// rejected.
func (s *session) contentRules(t *txn) bool {
	ok, _ := s.tcpRules(s.fe.rules.tcpContent, t, false, true)
	return ok
}

// tcpRules evaluates tcp-request rules in order. ok is false when a
// reject matched; decided is true when an accept or reject matched or
// final is set (the default is to accept).
func (s *session) tcpRules(rules []*action, t *txn, conn, final bool) (ok, decided bool) {
	for _, a := range rules {
		if !a.cond.ok(t) {
			continue
		}
		switch a.rule.Action {
		case "accept":
			return true, true
		case "reject", "silent-drop":
			if conn {
				s.fe.Counters.Dcon.Add(1)
			} else {
				s.fe.Counters.Dreq.Add(1)
			}
			if tc, ok := s.cli.(*net.TCPConn); ok && a.rule.Action == "silent-drop" {
				tc.SetLinger(0)
			}
			return false, true
		default:
			s.commonAction(a, t, false)
		}
	}
	return true, final
}

// inspectContent runs tcp-request content rules in mode tcp: when a rule
// reads the payload and inspect-delay is set, it reads the client's first
// bytes until a rule accepts or rejects, the buffer is full, the client
// stops sending or the delay passes. It returns the bytes read (to be
// sent to the server first).
func (s *session) inspectContent(t *txn) ([]byte, bool) {
	rs := s.fe.rules
	if len(rs.tcpContent) == 0 {
		return nil, true
	}
	if !rs.contentPayload || rs.inspectDelay <= 0 {
		ok, _ := s.tcpRules(rs.tcpContent, t, false, true)
		return nil, ok
	}
	deadline := time.Now().Add(rs.inspectDelay)
	buf := make([]byte, 0, 16384)
	defer s.cli.SetReadDeadline(time.Time{})
	for {
		s.cli.SetReadDeadline(deadline)
		n, err := s.cli.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		t.payload = buf
		final := err != nil || len(buf) == cap(buf)
		if ok, decided := s.tcpRules(rs.tcpContent, t, false, final); decided {
			return buf, ok
		}
	}
}
