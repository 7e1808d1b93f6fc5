package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"hapair/parser/haproxy"
	"hapair/proxy/balance"
)

// selectBackend runs use_backend rules in order, then default_backend;
// a listen section is its own backend.
func (s *session) selectBackend(t *txn) *Backend {
	fe := s.fe
	for _, r := range fe.rules.useBackends {
		if !r.cond.ok(t) {
			continue
		}
		if r.backend != nil {
			return r.backend
		}
		if be := fe.p.beByName[r.expr.String(t)]; be != nil {
			return be
		}
		// HAProxy: an unknown dynamic name falls through to default_backend.
	}
	if fe.rules.defaultBackend != nil {
		return fe.rules.defaultBackend
	}
	return fe.self
}

// serveTCP forwards bytes between the client and a server (mode tcp).
func (s *session) serveTCP() {
	fe := s.fe
	p := fe.p
	rec := &LogRecord{Client: s.src, Frontend: s.dst, Accept: s.accept, Start: s.accept,
		FrontName: fe.Name, Status: -1, Tq: 0, Tw: -1, Tc: -1, Tr: -1}
	// The session is logged last, as HAProxy does: after the backend's and
	// the server's connection slots are released (%bc/%sc do not count it).
	var logged bool
	var logSrv *Server
	defer func() {
		if logged {
			s.logTCP(rec, logSrv)
		}
	}()
	finish := func(srv *Server) { logged, logSrv = true, srv }
	defer s.cli.Close()
	t := &txn{src: s.src, dst: s.dst, frontend: fe.Name, trk: s.trk, vars: s.vars}
	first, ok := s.inspectContent(t)
	if !ok {
		rec.TermState = termState(termProxy, phaseRequest)
		finish(nil)
		return
	}
	be := s.selectBackend(t)
	if be == nil {
		rec.TermState = termState(termProxy, phaseRequest)
		finish(nil)
		return
	}
	rec.BackName = be.Name
	be.Counters.session(time.Now())
	defer be.Counters.Scur.Add(-1)

	t.backend = be.Name
	var res connectResult
	var err error
	if len(be.stick) > 0 {
		res, err = be.connectSticky(p.ctx, t, balance.Key{Src: s.src.Addr()}, s.dst)
	} else {
		res, err = be.connect(p.ctx, balance.Key{Src: s.src.Addr()}, s.dst)
	}
	rec.Tw = int(res.tw.Milliseconds())
	if errors.Is(res.queueErr, errNoServer) {
		rec.Tw = -1 // no queue was entered
	}
	rec.Retries, rec.Redispatched = res.retries, res.redisp
	if res.srv != nil {
		rec.ServerName = res.srv.Name
	}
	if err != nil {
		switch {
		case res.queueErr != nil && errors.Is(res.queueErr, errQueueTimeout):
			rec.TermState = termState(termServerTimeout, phaseQueue)
		case res.queueErr != nil:
			rec.TermState = termState(termServerAbort, phaseConnect)
			if errors.Is(res.queueErr, errNoServer) {
				rec.TermState = "SC"
			}
		case isTimeout(err):
			rec.TermState = termState(termServerTimeout, phaseConnect)
		default:
			rec.TermState = termState(termServerAbort, phaseConnect)
		}
		finish(nil)
		return
	}
	srv := res.srv
	s.st.be.Store(be)
	s.st.srv.Store(srv)
	rec.Tc = int(res.tc.Milliseconds())
	defer be.done(srv)
	defer res.conn.Close()
	if p.track(res.conn) == nil {
		return
	}
	defer p.untrack(res.conn)

	if len(first) > 0 {
		if _, err := res.conn.Write(first); err != nil {
			rec.TermState = termState(termServerAbort, phaseData)
			finish(srv)
			return
		}
	}
	in, out, term := tunnel(s.cli, res.conn, tunnelTimeouts(fe.Cfg, be.Cfg))
	in += int64(len(first))
	rec.BytesIn, rec.BytesRead = in, out
	fe.Counters.Bin.Add(in)
	fe.Counters.Bout.Add(out)
	be.Counters.Bin.Add(in)
	be.Counters.Bout.Add(out)
	srv.Counters.Bin.Add(in)
	srv.Counters.Bout.Add(out)
	rec.TermState = term
	finish(srv)
}

// connectSticky is connect with the backend's stick rules: a stored
// server is used directly (even down with option persist), and the
// server connected to is stored.
func (be *Backend) connectSticky(ctx context.Context, t *txn, k balance.Key, dst netip.AddrPort) (connectResult, error) {
	forced := be.stickMatch(t)
	srv, tw, err := be.pickDirect(ctx, k, nil, forced, forced != nil)
	if err != nil {
		return connectResult{tw: tw, queueErr: err}, err
	}
	r, err := be.connectFrom(ctx, srv, k, dst)
	r.tw = tw
	if err == nil {
		be.stickStore(t, r.srv)
	}
	return r, err
}

// tunnelTimeouts are the inactivity timeouts of a tunnel: timeout
// client/server, or timeout tunnel, and once a direction is shut, timeout
// client-fin/server-fin when set.
func tunnelTimeouts(fe, be *haproxy.Proxy) tunnelTO {
	to := tunnelTO{cli: fe.Timeouts.Client, srv: be.Timeouts.Server, cliFin: fe.Timeouts.ClientFin, srvFin: be.Timeouts.ServerFin}
	if be.Timeouts.Tunnel > 0 {
		to.cli, to.srv = be.Timeouts.Tunnel, be.Timeouts.Tunnel
	}
	return to
}

// tunnelTO holds the timeouts of both sides of a tunnel.
type tunnelTO struct{ cli, srv, cliFin, srvFin time.Duration }

// logTCP completes a TCP session's record (total time, connection
// counters) and hands it to the log hook.
func (s *session) logTCP(rec *LogRecord, srv *Server) {
	p := s.fe.p
	rec.Tt = int(time.Since(s.accept).Milliseconds())
	rec.Actconn = p.Actconn.Load()
	rec.Feconn = s.fe.Counters.Scur.Load()
	if be := p.beByName[rec.BackName]; be != nil {
		rec.Beconn = be.Counters.Scur.Load()
		rec.BackendQueue = be.Counters.Qcur.Load()
	}
	if srv != nil {
		rec.SrvConn = srv.Counters.Scur.Load()
	}
	if p.opts.Log != nil {
		p.opts.Log(rec)
	}
}

// spliceChunk bounds each io.Copy so that inactivity timeouts are
// re-armed while data flows; io.Copy between *net.TCPConn with an
// *io.LimitedReader source keeps using splice(2).
const spliceChunk = 1 << 20

// tunnel copies both ways until both directions ended, propagating
// half-closes. A direction idle for its timeout (client side: timeout
// client, server side: timeout server, or timeout tunnel; client-fin and
// server-fin once the other direction is shut) ends the whole tunnel. It
// returns the bytes from the client, the bytes to the client and
// HAProxy's termination state.
func tunnel(cli, srv net.Conn, to tunnelTO) (in, out int64, term string) {
	var wg sync.WaitGroup
	var cliErr, srvErr error
	var cliTO, srvTO atomic.Int64
	cliTO.Store(int64(to.cli))
	srvTO.Store(int64(to.srv))
	wg.Add(1)
	go func() {
		defer wg.Done()
		in, cliErr = pump(srv, cli, &cliTO)
		if cliErr != nil {
			// Abort: wake the other direction.
			srv.Close()
			cli.Close()
		} else if to.srvFin > 0 {
			// The client shut its side: the server now has server-fin.
			srvTO.Store(int64(to.srvFin))
			srv.SetReadDeadline(time.Now().Add(to.srvFin))
		}
	}()
	out, srvErr = pump(cli, srv, &srvTO)
	if srvErr != nil {
		srv.Close()
		cli.Close()
	} else if to.cliFin > 0 {
		cliTO.Store(int64(to.cliFin))
		cli.SetReadDeadline(time.Now().Add(to.cliFin))
	}
	wg.Wait()
	term = "--"
	switch {
	case cliErr != nil && isTimeout(cliErr):
		term = termState(termClientTimeout, phaseData)
	case srvErr != nil && isTimeout(srvErr):
		term = termState(termServerTimeout, phaseData)
	case cliErr != nil && !isClosed(cliErr):
		term = termState(termClientAbort, phaseData)
	case srvErr != nil && !isClosed(srvErr):
		term = termState(termServerAbort, phaseData)
	}
	return in, out, term
}

// smallBufs are pumpSmall's buffers.
var smallBufs = sync.Pool{New: func() any { return new([smallBuf]byte) }}

// smallBuf is the read size of pumpSmall; a read that fills it means a
// bulk transfer, which goes on with splice.
const smallBuf = 16 << 10

// pumpSmall copies src to dst with raw read/write through a pooled
// buffer while the transfer looks like small messages (each read returns
// less than smallBuf): for those, splice(2) costs as many system calls
// plus a pipe, and Go's splice goes through the scheduler's syscall
// path. bulk reports that a read filled the buffer: the caller goes on
// with splice (zero copy) for the rest. At EOF dst is half-closed.
func pumpSmall(dst, src net.Conn, timeout *atomic.Int64) (total int64, bulk bool, err error) {
	r, w := newRawIO(src), newRawIO(dst)
	if _, ok := r.(*rawIO); !ok {
		return 0, true, nil // race builds: splice path only
	}
	buf := smallBufs.Get().(*[smallBuf]byte)
	defer smallBufs.Put(buf)
	// The read deadline is re-armed at most every quarter of the timeout
	// (a timer change per read costs more than the read's bookkeeping);
	// when it fires early, the time since the last data decides.
	var armed, active time.Time
	for {
		to := time.Duration(timeout.Load())
		if to > 0 {
			now := time.Now()
			if active.IsZero() {
				active = now
			}
			if now.Sub(armed) > to/4 {
				src.SetReadDeadline(now.Add(to))
				armed = now
			}
		}
		n, rerr := r.Read(buf[:])
		if n > 0 && to > 0 {
			active = time.Now()
		}
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, false, werr
			}
			total += int64(n)
			if n == len(buf) {
				return total, true, nil
			}
		}
		if rerr == io.EOF {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return total, false, nil
		}
		if rerr != nil {
			if to := time.Duration(timeout.Load()); to > 0 && isTimeout(rerr) {
				if rest := to - time.Since(active); rest > 0 {
					// Fired before a whole timeout of silence.
					src.SetReadDeadline(time.Now().Add(rest))
					armed = time.Now()
					continue
				}
			}
			return total, false, rerr
		}
	}
}

// pump copies src to dst until EOF, then half-closes dst. The read
// deadline (timeout, which the other direction may shorten) is re-armed
// for every chunk and on a deadline with progress, so a direction times
// out after between timeout and twice timeout of inactivity.
func pump(dst, src net.Conn, timeout *atomic.Int64) (int64, error) {
	total, bulk, err := pumpSmall(dst, src, timeout)
	if !bulk {
		return total, err
	}
	lr := &io.LimitedReader{R: src}
	for {
		if to := time.Duration(timeout.Load()); to > 0 {
			src.SetReadDeadline(time.Now().Add(to))
		}
		lr.N = spliceChunk
		n, err := io.Copy(dst, lr)
		total += n
		if err != nil {
			if isTimeout(err) && n > 0 {
				continue
			}
			return total, err
		}
		if lr.N > 0 {
			// EOF from src: pass the half-close on.
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return total, nil
		}
	}
}
