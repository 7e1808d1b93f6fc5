// Package proxy is goproxy's runtime: it builds frontends, backends and
// servers from a validated haproxy.cfg (parser/haproxy) and forwards
// traffic the way HAProxy 2.6 does, in mode tcp (bytes, spliced) and mode
// http (its own HTTP/1.x engine in proxy/http1).
//
// One goroutine serves each client connection; listeners throttle accept
// by the global and frontend maxconn. Statistics are lock-free counters
// per frontend, backend and server (Counters), and each transaction ends
// with a LogRecord handed to Options.Log.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hapair/parser/haproxy"
)

// Options tune a Proxy beyond what the configuration says.
type Options struct {
	// Listen opens the listener for one address of a bind line. Nil means
	// a fresh TCP socket with SO_REUSEADDR; the process-model code passes
	// a function handing over inherited sockets on reload.
	Listen func(addr haproxy.Addr, bind *haproxy.Bind) (net.Listener, error)
	// Log receives one record per transaction (nil: none).
	Log func(*LogRecord)
	// Connect receives a record (client, frontend address and name, HTTP)
	// when HAProxy creates a connection's stream, the moment it logs
	// "Connect from" for a proxy without a log format: at accept in mode
	// tcp, when each complete request head arrives in mode http (a stream
	// per request; a connection without one logs nothing). Nil: none.
	Connect func(*LogRecord)
	// ReadFile reads files referenced at run time (maps, ACL files);
	// default os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Logf reports runtime alerts and warnings (nil: dropped).
	Logf func(format string, args ...any)
	// Stats, when set, serves the stats page for requests matching the
	// backend's `stats uri` (prefix match, as HAProxy): it returns a whole
	// HTTP/1.1 response (head and body with Content-Length) that the
	// proxy sends as is. Nil: such requests are forwarded.
	Stats func(p *Proxy, fe *Frontend, req *StatsRequest) []byte
	// Service, when set, answers `http-request use-service NAME` (such as
	// HAProxy's prometheus-exporter): it returns a whole HTTP/1.1
	// response (head and body with Content-Length) sent as is. A nil
	// response (or a nil Service) answers 503 as HAProxy does for a
	// service it cannot run.
	Service func(p *Proxy, fe *Frontend, name string, req *StatsRequest) []byte
}

// StatsRequest is what a stats handler needs of the request.
type StatsRequest struct {
	Method, Target string
	Header         func(name string) string
	// Backend is the section whose `stats` settings apply; nil when a
	// frontend serves the page itself before choosing a backend.
	Backend *Backend
	admin   bool
	body    []byte
}

// Admin reports whether the section's `stats admin if <cond>` matched:
// only then may the page change servers.
func (r *StatsRequest) Admin() bool { return r.admin }

// Body returns the request body of a POST (the page's admin form, up to
// 64 kB), nil otherwise.
func (r *StatsRequest) Body() []byte { return r.body }

// Proxy is a running (or ready to run) goproxy instance.
type Proxy struct {
	cfg  *haproxy.Config
	opts Options

	frontends []*Frontend
	backends  []*Backend
	beByName  map[string]*Backend
	env       *aclEnv
	tables    map[string]*stickTable // stick tables by section name

	// Actconn counts the connections of the whole process (actconn).
	Actconn atomic.Int64
	// work hands accepted connections to idle worker goroutines.
	work        chan connJob
	idleWorkers atomic.Int32
	sessID      atomic.Uint64
	global      *limiter

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[net.Conn]*connState
	stopping  bool
	stopped   chan struct{} // closed by Stop
	closed    chan struct{} // closed by Close
	wg        sync.WaitGroup
	errMu     sync.Mutex
	errPages  map[string][]byte // http-errors files, read on first use

	// ctx ends on Close: it cancels dials and queue waits.
	ctx       context.Context
	cancel    context.CancelFunc
	startTime time.Time
}

// New builds the runtime from cfg. It opens nothing yet; Run binds.
func New(cfg *haproxy.Config, opts Options) (*Proxy, error) {
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	p := &Proxy{
		cfg:       cfg,
		opts:      opts,
		beByName:  map[string]*Backend{},
		conns:     map[net.Conn]*connState{},
		stopped:   make(chan struct{}),
		closed:    make(chan struct{}),
		work:      make(chan connJob),
		startTime: time.Now(),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if cfg.Global.Maxconn > 0 {
		p.global = newLimiter(cfg.Global.Maxconn)
	}
	p.tables = map[string]*stickTable{}
	for _, pc := range cfg.Proxies {
		if pc.StickTable != nil {
			p.tables[pc.Name] = newStickTable(pc.Name, pc.StickTable)
		}
	}
	for _, pc := range cfg.Proxies {
		if pc.Disabled || pc.Cap&haproxy.CapBE == 0 {
			continue
		}
		be, err := newBackend(p, pc)
		if err != nil {
			return nil, fmt.Errorf("backend '%s': %w", pc.Name, err)
		}
		p.backends = append(p.backends, be)
		p.beByName[pc.Name] = be
	}
	for _, pc := range cfg.Proxies {
		if pc.Disabled || pc.Cap&haproxy.CapFE == 0 {
			continue
		}
		fe, err := newFrontend(p, pc)
		if err != nil {
			return nil, fmt.Errorf("frontend '%s': %w", pc.Name, err)
		}
		p.frontends = append(p.frontends, fe)
	}
	return p, nil
}

// Frontends returns the frontends (and listen sections) in file order.
func (p *Proxy) Frontends() []*Frontend { return p.frontends }

// Backends returns the backends (and listen sections) in file order.
func (p *Proxy) Backends() []*Backend { return p.backends }

// Backend returns the backend called name, or nil.
func (p *Proxy) Backend(name string) *Backend { return p.beByName[name] }

// Config returns the configuration the proxy was built from.
func (p *Proxy) Config() *haproxy.Config { return p.cfg }

// StartTime is when the proxy was built (for the stats page's uptime).
func (p *Proxy) StartTime() time.Time { return p.startTime }

// SetServerState marks a server up or down (health checks, the stats
// socket). It reports false when the backend or server does not exist.
func (p *Proxy) SetServerState(backend, server string, up bool) bool {
	be := p.beByName[backend]
	if be == nil {
		return false
	}
	s := be.Server(server)
	if s == nil {
		return false
	}
	be.setUp(s, up)
	return true
}

// SetServerWeight changes a server's weight at run time.
func (p *Proxy) SetServerWeight(backend, server string, w int) bool {
	be := p.beByName[backend]
	if be == nil {
		return false
	}
	s := be.Server(server)
	if s == nil {
		return false
	}
	be.setWeight(s, w)
	return true
}

// Bind opens every listener; Run calls it when it has not been called.
// Calling it first lets a caller learn bind errors (and the addresses of
// port-0 binds) before serving.
func (p *Proxy) Bind() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.listeners) > 0 {
		return nil
	}
	for _, fe := range p.frontends {
		if err := fe.bind(); err != nil {
			for _, fe := range p.frontends {
				for _, l := range fe.listeners {
					l.Close()
				}
				fe.listeners = nil
			}
			return err
		}
		p.listeners = append(p.listeners, fe.listeners...)
	}
	return nil
}

// Run binds (if needed) and serves until ctx ends (hard stop, like
// SIGTERM), Stop is called and the in-flight connections finished, or
// Close is called.
func (p *Proxy) Run(ctx context.Context) error {
	if err := p.Bind(); err != nil {
		return err
	}
	if len(p.listeners) == 0 {
		// HAProxy refuses to start without any listener.
		return errors.New("config : no <listen> line. Nothing to do !")
	}
	for _, fe := range p.frontends {
		for _, l := range fe.listeners {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				fe.acceptLoop(l)
			}()
		}
	}
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-ctx.Done():
		p.Close()
		<-done
		return nil
	case <-p.closed:
		<-done
		return nil
	case <-done:
		return nil
	}
}

// Stop stops accepting (closes the listeners) and lets the connections in
// flight finish: HAProxy's soft stop (SIGUSR1). Idle keep-alive
// connections are closed at their next request boundary.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return
	}
	p.stopping = true
	close(p.stopped)
	for _, l := range p.listeners {
		l.Close()
	}
	for c, st := range p.conns {
		if st.idle.CompareAndSwap(connIdle, connStopped) {
			c.Close()
		}
	}
}

// connState says whether an HTTP client connection waits between
// requests; a soft stop closes those (and only those). For client
// connections it also says what `show sess` lists.
type connState struct {
	idle  atomic.Int32
	id    uint64    // session number (client connections only, from 1)
	start time.Time // accept time
	fe    *Frontend
	be    atomic.Pointer[Backend] // backend and server of the current exchange
	srv   atomic.Pointer[Server]
}

// EachSession calls fn for every client connection (HAProxy's `show
// sess`): its number, accept time, client address, frontend, and the
// backend and server of its current exchange ("" when none).
func (p *Proxy) EachSession(fn func(id uint64, start time.Time, src net.Addr, frontend, backend, server string)) {
	type row struct {
		c  net.Conn
		st *connState
	}
	p.mu.Lock()
	rows := make([]row, 0, len(p.conns))
	for c, st := range p.conns {
		if st.id != 0 {
			rows = append(rows, row{c, st})
		}
	}
	p.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].st.id < rows[j].st.id })
	for _, r := range rows {
		be, srv := "", ""
		if b := r.st.be.Load(); b != nil {
			be = b.Name
		}
		if s := r.st.srv.Load(); s != nil {
			srv = s.Name
		}
		fn(r.st.id, r.st.start, r.c.RemoteAddr(), r.st.fe.Name, be, srv)
	}
}

const (
	connBusy int32 = iota
	connIdle
	connStopped
)

// setIdle marks the connection idle; false when stopping.
func (p *Proxy) setIdle(st *connState) bool {
	if !st.idle.CompareAndSwap(connBusy, connIdle) {
		return false
	}
	if p.Stopping() {
		st.idle.Store(connStopped)
		return false
	}
	return true
}

// setBusy marks the connection busy again; false when a soft stop
// claimed it meanwhile.
func setBusy(st *connState) bool { return st.idle.CompareAndSwap(connIdle, connBusy) }

// Close stops at once: listeners and every connection are closed
// (HAProxy's hard stop, SIGTERM).
func (p *Proxy) Close() {
	p.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		return
	default:
	}
	close(p.closed)
	p.cancel()
	for c := range p.conns {
		c.Close()
	}
}

// Stopping reports whether Stop or Close was called.
func (p *Proxy) Stopping() bool {
	select {
	case <-p.stopped:
		return true
	default:
		return false
	}
}

// track registers a connection so Close can end it; it returns nil when
// the proxy is closing.
func (p *Proxy) track(c net.Conn) *connState { return p.trackClient(c, nil) }

// trackClient is track for a client connection of fe (listed by
// EachSession).
func (p *Proxy) trackClient(c net.Conn, fe *Frontend) *connState {
	st := &connState{fe: fe}
	if fe != nil {
		st.id = p.sessID.Add(1)
		st.start = time.Now()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		return nil
	default:
	}
	p.conns[c] = st
	return st
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) logf(format string, args ...any) {
	if p.opts.Logf != nil {
		p.opts.Logf(format, args...)
	}
}

// limiter is a counting semaphore for maxconn.
type limiter struct {
	slots chan struct{}
}

func newLimiter(n int) *limiter { return &limiter{slots: make(chan struct{}, n)} }

// acquire blocks until a slot is free or stop is closed.
func (l *limiter) acquire(stop <-chan struct{}) bool {
	if l == nil {
		return true
	}
	select {
	case l.slots <- struct{}{}:
		return true
	case <-stop:
		return false
	}
}

func (l *limiter) release() {
	if l != nil {
		<-l.slots
	}
}

// isClosed reports errors caused by a closed connection or listener.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// httpErrors returns the page of an `errorfiles <section>` reference of pc
// for status (the http-errors section's errorfile lines), or nil.
func (p *Proxy) httpErrors(pc *haproxy.Proxy, status int) []byte {
	for _, name := range pc.ErrorFilesFrom {
		for _, sec := range p.cfg.Sections {
			if sec.Kind != "http-errors" || sec.Name != name {
				continue
			}
			for _, ln := range sec.Lines {
				if len(ln.Words) < 3 || ln.Words[0] != "errorfile" || ln.Words[1] != strconv.Itoa(status) {
					continue
				}
				p.errMu.Lock()
				page, ok := p.errPages[ln.Words[2]]
				if !ok {
					if b, err := p.opts.ReadFile(ln.Words[2]); err == nil {
						page = errorfileMessage(string(b))
					}
					if p.errPages == nil {
						p.errPages = map[string][]byte{}
					}
					p.errPages[ln.Words[2]] = page
				}
				p.errMu.Unlock()
				if page != nil {
					return page
				}
			}
		}
	}
	return nil
}
