package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"hapair/parser/haproxy"
	"hapair/proxy/balance"
	"hapair/proxy/http1"
)

// httpTimeouts returns timeout http-request and http-keep-alive with
// HAProxy's fallbacks (http-keep-alive → http-request → client).
func (fe *Frontend) httpTimeouts() (req, ka time.Duration) {
	t := fe.Cfg.Timeouts
	req = t.HTTPRequest
	if req == 0 {
		req = t.Client
	}
	ka = t.HTTPKeepAlive
	if ka == 0 {
		ka = req
	}
	return req, ka
}

// serveHTTP runs the HTTP/1 request loop of one client connection.
func (s *session) serveHTTP() {
	fe := s.fe
	p := fe.p
	c := s.cli
	defer c.Close()
	rw := newRawIO(c)
	s.pr.c = rw
	br := getReader(&s.pr)
	var bw *bufio.Writer
	defer func() {
		if sc := s.srvConn; sc != nil {
			s.srvConn = nil
			if sc.used {
				sc.srv.putIdle(sc)
			} else {
				sc.close()
			}
		}
		if br != nil {
			putReader(br)
		}
		if bw != nil {
			putWriter(bw)
		}
	}()
	reqTO, kaTO := fe.httpTimeouts()
	var req http1.Request
	var start time.Time
	for {
		start = time.Now()
		if s.nreq > 0 && br.Buffered() == 0 {
			// Between requests: timeout http-keep-alive, and a soft stop
			// may close us here. After a short grace the buffers go back
			// to their pools so that idle connections cost little memory.
			idleStart := time.Now()
			grace := idleGrace
			if kaTO > 0 && kaTO < grace {
				grace = kaTO
			}
			c.SetReadDeadline(idleStart.Add(grace))
			if !p.setIdle(s.st) {
				return
			}
			_, err := br.Peek(1)
			if err != nil && isTimeout(err) && (kaTO == 0 || kaTO > grace) {
				putReader(br)
				br = nil
				if bw != nil {
					putWriter(bw)
					bw = nil
				}
				if sc := s.srvConn; sc != nil {
					// The server connection goes back to the pool.
					s.srvConn = nil
					if sc.used {
						sc.srv.putIdle(sc)
					} else {
						sc.close()
					}
				}
				if kaTO > 0 {
					c.SetReadDeadline(idleStart.Add(kaTO))
				} else {
					c.SetReadDeadline(time.Time{})
				}
				// Drop the exchange's references to the pooled buffers.
				s.x = exchange{resp: s.x.resp}
				if err = s.pr.wait(); err == nil {
					br = getReader(&s.pr)
				}
			}
			if !setBusy(s.st) || err != nil {
				return
			}
			start = time.Now()
			if reqTO > 0 {
				c.SetReadDeadline(start.Add(reqTO))
			} else {
				c.SetReadDeadline(time.Time{})
			}
		} else if s.nreq > 0 && p.Stopping() {
			return
		} else if reqTO > 0 {
			c.SetReadDeadline(start.Add(reqTO))
		} else {
			c.SetReadDeadline(time.Time{})
		}
		if bw == nil {
			bw = getWriter(rw)
		}
		err := req.Read(br, p.cfg.Global.TuneBufsize-p.cfg.Global.TuneMaxrewrite)
		if err != nil {
			s.requestError(bw, err, req.HeadLen, start)
			return
		}
		if to := fe.Cfg.Timeouts.Client; to > 0 && (req.Body.Chunked || req.Body.Length > 0) {
			// The body is read under timeout client.
			c.SetReadDeadline(time.Now().Add(to))
		}
		s.nreq++
		s.connectEvent(true) // HAProxy: a stream per request
		if !s.handle(&req, br, bw, start) {
			return
		}
	}
}

// idleGrace is how long an idle keep-alive connection keeps its buffers.
const idleGrace = 500 * time.Millisecond

// prefixReader reads from the client connection, first returning the
// byte read while the connection was idle. It lets an idle connection
// wait with a 1-byte buffer instead of a pooled bufio.Reader.
type prefixReader struct {
	c    io.Reader
	one  [1]byte
	have bool
}

// wait blocks until the client sends a byte (or the deadline passes).
func (r *prefixReader) wait() error {
	n, err := r.c.Read(r.one[:])
	if n == 1 {
		r.have = true
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (r *prefixReader) Read(b []byte) (int, error) {
	if r.have && len(b) > 0 {
		b[0] = r.one[0]
		r.have = false
		return 1, nil
	}
	return r.c.Read(b)
}

// requestError answers a request that could not be read: 400/422 for a
// malformed head, 408 on timeout http-request, 400 when the client
// closed within a head or, on its first request, before sending any byte
// (HAProxy 2.6, measured: answered, counted in ereq/req_tot/4xx and
// logged "<BADREQ>" CR--, unless option dontlognull and no byte came).
// Between keep-alive requests a close or a timeout ends the connection
// silently. partial is how many bytes of the head arrived.
func (s *session) requestError(bw *bufio.Writer, err error, partial int, start time.Time) {
	fe := s.fe
	var he *http1.Error
	status := 0
	term := termState(termClientAbort, phaseRequest)
	switch {
	case errors.As(err, &he):
		status = he.Status
		term = termState(termProxy, phaseRequest)
	case isTimeout(err):
		if partial == 0 && s.nreq > 0 {
			return
		}
		status = 408
		term = termState(termClientTimeout, phaseRequest)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The client shut its side within a request head: HAProxy
		// answers 400 (measured: bytes after a refused CONNECT).
		status = 400
	case errors.Is(err, net.ErrClosed):
		return
	case errors.Is(err, io.EOF):
		if s.nreq > 0 {
			return
		}
		status = 400
	}
	if status != 0 {
		fe.Counters.Ereq.Add(1)
		fe.Counters.ReqTot.Add(1)
		fe.Counters.status(status)
		msg := fe.Cfg.ErrorFiles[status]
		if msg != "" {
			bw.WriteString(msg)
		} else {
			bw.Write(http1.ParseErrorMessage(status))
		}
		bw.Flush()
	}
	if s.fe.p.opts.Log != nil {
		rec := s.newRecord(start)
		rec.Status = status
		if status == 0 {
			rec.Status = -1
		}
		rec.Tq = -1
		rec.TermState = term
		rec.RequestLine = "<BADREQ>"
		rec.BytesIn = int64(partial)
		s.finishHTTP(rec, nil, nil)
	}
}

func (s *session) newRecord(start time.Time) *LogRecord {
	return &LogRecord{Client: s.src, Frontend: s.dst, Accept: s.accept, Start: start,
		FrontName: s.fe.Name, HTTP: true, Tq: -1, Tw: -1, Tc: -1, Tr: -1, TermState: "--"}
}

func (s *session) finishHTTP(rec *LogRecord, be *Backend, srv *Server) {
	p := s.fe.p
	rec.Tt = int(time.Since(rec.Start).Milliseconds())
	rec.Actconn = p.Actconn.Load()
	rec.Feconn = s.fe.Counters.Scur.Load()
	if be != nil {
		rec.BackName = be.Name
		rec.Beconn = be.Counters.Scur.Load()
		rec.BackendQueue = be.Counters.Qcur.Load()
	} else if rec.BackName == "" {
		rec.BackName = s.fe.Name
	}
	if srv != nil {
		rec.ServerName = srv.Name
		rec.SrvConn = srv.Counters.Scur.Load()
	}
	if p.opts.Log != nil {
		p.opts.Log(rec)
	}
}

// exchange is one request/response transaction.
type exchange struct {
	s      *session
	req    *http1.Request
	br     *bufio.Reader // client side
	bw     *bufio.Writer
	t      txn
	rec    *LogRecord
	be     *Backend
	srv    *Server
	start  time.Time
	ck     cookieState    // persistence cookie of the request
	status int            // status sent to the client (0: none)
	resp   http1.Response // reused between requests of the session
}

// handle runs one request; it reports whether the client connection stays
// open.
func (s *session) handle(req *http1.Request, br *bufio.Reader, bw *bufio.Writer, start time.Time) bool {
	fe := s.fe
	fe.Counters.ReqTot.Add(1)
	x := &s.x
	*x = exchange{s: s, req: req, br: br, bw: bw, start: start, resp: x.resp}
	x.t = txn{src: s.src, dst: s.dst, req: req, frontend: fe.Name, trk: s.trk, vars: s.vars}
	if s.trk != nil {
		s.trk.countRequest(start)
	}
	if s.fe.p.opts.Log != nil || len(fe.Cfg.Captures) > 0 {
		x.rec = s.newRecord(start)
		x.rec.Tq = int(time.Since(start).Milliseconds())
		x.rec.RequestLine = req.Method + " " + req.Target + " HTTP/1." + strconv.Itoa(req.Minor)
		x.rec.ReqCaptures = captures(fe.Cfg.Captures, "request header", req.Header)
	}
	keep := x.run()
	if x.rec != nil {
		s.finishHTTP(x.rec, x.be, x.srv)
	}
	if s.trk != nil || s.vars != nil {
		s.endRequest(x.status)
	}
	return keep
}

func (x *exchange) setTerm(who, phase byte) {
	if x.rec != nil {
		x.rec.TermState = termState(who, phase)
	}
}

func (x *exchange) run() bool {
	s, fe, req := x.s, x.s.fe, x.req
	if fe.Cfg.MonitorURI != "" && req.Target == fe.Cfg.MonitorURI {
		fe.Counters.Intercepted.Add(1)
		return x.reply(http1.ErrorMessage(200), 200, false)
	}
	// tcp-request content rules run for each request in mode http.
	if len(fe.rules.tcpContent) > 0 && !s.contentRules(&x.t) {
		x.setTerm(termProxy, phaseRequest)
		return false
	}
	// Frontend rules: http-request, then redirect lines, then switching.
	if done, keep := x.applyRequestRules(fe.rules, fe.Cfg); done {
		return keep
	}
	// A frontend with its own `stats` settings serves the page before
	// choosing a backend, as HAProxy does; a listen section serves it on
	// its backend side, below.
	if st := fe.Cfg.Stats; fe.self == nil && st.Enabled && fe.p.opts.Stats != nil && strings.HasPrefix(req.Target, st.URI) {
		return x.statsPage(nil)
	}
	be := s.selectBackend(&x.t)
	if be == nil {
		x.setTerm(termProxy, phaseRequest)
		return x.errorReply(503, nil)
	}
	x.be = be
	s.st.be.Store(be)
	x.t.backend = be.Name
	if be.Cfg != fe.Cfg {
		be.Counters.session(time.Now())
		defer be.Counters.Scur.Add(-1)
		if done, keep := x.applyRequestRules(be.rules, be.Cfg); done {
			return keep
		}
	}
	be.Counters.ReqTot.Add(1)
	if st := be.Cfg.Stats; st.Enabled && fe.p.opts.Stats != nil && strings.HasPrefix(req.Target, st.URI) {
		return x.statsPage(be)
	}
	x.forwardFor(fe.Cfg.Options.Forwardfor, be.Cfg.Options.Forwardfor)
	if req.Method == "CONNECT" {
		connectHost(&req.Header)
	}
	return x.forward()
}

// statsPage answers the request with the stats handler's response; be is
// the section whose stats settings apply (nil: the frontend's own). A
// POST's form (up to 64 kB, not chunked) is read for the admin actions,
// which need `stats admin if <cond>` to match.
func (x *exchange) statsPage(be *Backend) bool {
	fe, req := x.s.fe, x.req
	fe.Counters.Intercepted.Add(1)
	sr := &StatsRequest{Method: req.Method, Target: req.Target, Header: req.Header.Get, Backend: be}
	if be != nil {
		sr.admin = be.statsAdmin != nil && be.statsAdmin.ok(&x.t)
	}
	if req.Method == "POST" && !req.Body.Chunked && req.Body.Length > 0 && req.Body.Length <= 64<<10 {
		buf := make([]byte, req.Body.Length)
		if _, err := io.ReadFull(x.br, buf); err == nil {
			sr.body = buf
			req.Body.Length = 0
		}
	}
	resp := fe.p.opts.Stats(fe.p, fe, sr)
	st := 200
	if len(resp) >= 12 {
		st, _ = strconv.Atoi(string(resp[9:12]))
	}
	return x.reply(resp, st, false)
}

// applyRequestRules runs http-request rules then redirect lines of one
// section. done reports that the request was answered.
func (x *exchange) applyRequestRules(rs *ruleSet, pc *haproxy.Proxy) (done, keep bool) {
	for _, a := range rs.httpReq {
		if !a.cond.ok(&x.t) {
			continue
		}
		r := a.rule
		switch r.Action {
		case "allow":
			goto redirects
		case "deny", "tarpit":
			x.s.fe.Counters.Dreq.Add(1)
			if x.be != nil {
				x.be.Counters.Dreq.Add(1)
			}
			x.setTerm(termProxy, phaseRequest)
			if r.Action == "tarpit" {
				x.tarpit()
				x.setTerm(termProxy, phaseTarpit)
			}
			if a.body != nil {
				return true, x.reply(a.body, r.Status, true)
			}
			return true, x.errorReply(r.Status, pc)
		case "return":
			x.s.fe.Counters.Intercepted.Add(1)
			return true, x.reply(a.body, r.Status, false)
		case "auth":
			realm := r.Realm
			if realm == "" {
				realm = pc.Name
			}
			msg := http1.ErrorMessage(401)
			msg = insertHeader(msg, "www-authenticate: Basic realm=\""+realm+"\"")
			x.setTerm(termProxy, phaseRequest)
			return true, x.reply(msg, 401, false)
		case "redirect":
			return true, x.redirect(a)
		case "use-service":
			return true, x.useService(r)
		default:
			if !x.s.commonAction(a, &x.t, true) {
				rewrite(a, &x.t, &x.req.Header, x.req)
			}
		}
	}
redirects:
	for _, a := range rs.redirects {
		if a.cond.ok(&x.t) {
			return true, x.redirect(a)
		}
	}
	return false, false
}

// useService answers the request with an applet's response
// (Options.Service), like HAProxy's use-service.
func (x *exchange) useService(r *haproxy.Rule) bool {
	fe := x.s.fe
	var resp []byte
	if svc := fe.p.opts.Service; svc != nil && len(r.Args) > 0 {
		req := x.req
		resp = svc(fe.p, fe, r.Args[0], &StatsRequest{Method: req.Method, Target: req.Target, Header: req.Header.Get, Backend: x.be})
	}
	if resp == nil {
		x.setTerm(termProxy, phaseRequest)
		return x.errorReply(503, nil)
	}
	fe.Counters.Intercepted.Add(1)
	st := 200
	if len(resp) >= 12 {
		st, _ = strconv.Atoi(string(resp[9:12]))
	}
	return x.reply(resp, st, false)
}

// connectHost drops a default port (:80, :443) from the Host header of a
// CONNECT request, as HAProxy 2.6 normalises it (measured; the target
// itself is kept).
func connectHost(h *http1.Header) {
	for i, f := range *h {
		if strings.EqualFold(f.Name, "host") {
			if v, ok := strings.CutSuffix(f.Value, ":443"); ok {
				(*h)[i].Value = v
			} else if v, ok := strings.CutSuffix(f.Value, ":80"); ok {
				(*h)[i].Value = v
			}
		}
	}
}

// tarpit holds the request for timeout tarpit (or timeout connect).
func (x *exchange) tarpit() {
	d := x.s.fe.Cfg.Timeouts.Tarpit
	if d == 0 {
		d = x.s.fe.Cfg.Timeouts.Connect
	}
	if d > 0 {
		select {
		case <-time.After(d):
		case <-x.s.fe.p.closed:
		}
	}
}

// redirect answers with HAProxy's redirect response.
func (x *exchange) redirect(a *action) bool {
	rd := a.rule.Redirect
	if rd == nil {
		return x.errorReply(500, nil)
	}
	target := a.value.String(&x.t)
	path := x.req.Target
	switch rd.Type {
	case "prefix":
		if rd.DropQuery {
			if i := strings.IndexByte(path, '?'); i >= 0 {
				path = path[:i]
			}
		}
		if target == "/" {
			target = ""
		}
		target += path
	case "scheme":
		host := x.req.Header.Get("Host")
		if rd.DropQuery {
			if i := strings.IndexByte(path, '?'); i >= 0 {
				path = path[:i]
			}
		}
		target = target + "://" + host + path
	}
	if rd.AppendSlash && !strings.HasSuffix(target, "/") {
		target += "/"
	}
	code := rd.Code
	if code == 0 {
		code = 302
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http1.ReasonPhrase(code) + "\r\n")
	b.WriteString("content-length: 0\r\nlocation: " + target + "\r\n")
	if code != 301 && code != 308 {
		// Temporary redirects are not cacheable (measured on 2.6).
		b.WriteString("cache-control: no-cache\r\n")
	}
	if rd.SetCookie != "" {
		b.WriteString("set-cookie: " + rd.SetCookie + "; path=/\r\n")
	}
	if rd.ClearCookie != "" {
		b.WriteString("set-cookie: " + rd.ClearCookie + "; path=/; Max-Age=0\r\n")
	}
	b.WriteString("\r\n")
	x.s.fe.Counters.Intercepted.Add(1)
	return x.reply([]byte(b.String()), code, false)
}

// insertHeader adds a header line just before the end of msg's head.
func insertHeader(msg []byte, line string) []byte {
	i := strings.Index(string(msg), "\r\n\r\n")
	if i < 0 {
		return msg
	}
	out := make([]byte, 0, len(msg)+len(line)+2)
	out = append(out, msg[:i+2]...)
	out = append(out, line...)
	out = append(out, "\r\n"...)
	return append(out, msg[i+2:]...)
}

// errorReply sends HAProxy's error page for status (or the errorfile of
// the backend, else of the frontend). Errors close the connection for
// 400/408 and 5xx; a deny keeps it when the request allows.
func (x *exchange) errorReply(status int, pc *haproxy.Proxy) bool {
	var msg []byte
	for _, p := range []*haproxy.Proxy{pc, x.beCfg(), x.s.fe.Cfg} {
		if p == nil {
			continue
		}
		if f, ok := p.ErrorFiles[status]; ok {
			msg = errorfileMessage(f)
			break
		}
		if f := x.s.fe.p.httpErrors(p, status); f != nil {
			msg = f
			break
		}
	}
	if msg == nil {
		msg = http1.ErrorMessage(status)
	}
	if msg == nil {
		msg = []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + http1.ReasonPhrase(status) + "\r\ncontent-length: 0\r\n\r\n")
	}
	closeAfter := status == 400 || status == 408 || status >= 500
	return x.reply(msg, status, closeAfter)
}

func (x *exchange) beCfg() *haproxy.Proxy {
	if x.be != nil {
		return x.be.Cfg
	}
	return nil
}

// reply writes a whole response produced by the proxy. The request body,
// if any, is drained so the connection can serve the next request.
func (x *exchange) reply(msg []byte, status int, closeAfter bool) bool {
	fe := x.s.fe
	fe.Counters.status(status)
	x.status = status
	if x.be != nil {
		x.be.Counters.status(status)
	}
	keep := !closeAfter && !x.req.Close && !x.s.fe.p.Stopping()
	if keep && (x.req.Body.Chunked || x.req.Body.Length > 0) {
		// Drain a small body; a large one closes the connection.
		if x.req.Body.Chunked || x.req.Body.Length > 64<<10 {
			keep = false
		} else if _, err := x.br.Discard(int(x.req.Body.Length)); err != nil {
			keep = false
		}
	}
	hasConn := strings.Contains(strings.ToLower(string(msg[:headEnd(msg)])), "\r\nconnection:")
	switch {
	case hasConn:
	case x.req.Close && !keep:
		msg = insertHeader(msg, "connection: close")
	case keep && x.req.Minor == 0:
		msg = insertHeader(msg, "connection: keep-alive")
	}
	n, _ := x.bw.Write(msg)
	x.bw.Flush()
	fe.Counters.Bout.Add(int64(n))
	fe.Counters.Bin.Add(int64(x.req.HeadLen))
	if x.rec != nil {
		x.rec.Status = status
		x.rec.BytesRead = int64(n)
		x.rec.BytesIn = int64(x.req.HeadLen)
	}
	return keep
}

func headEnd(msg []byte) int {
	if i := strings.Index(string(msg), "\r\n\r\n"); i >= 0 {
		return i + 2
	}
	return len(msg)
}

// forwardFor adds X-Forwarded-For (option forwardfor on the frontend or
// the backend; the backend's header name wins, as in HAProxy) unless the
// client is in an except network or if-none finds the header there.
func (x *exchange) forwardFor(fe, be *haproxy.Forwardfor) {
	ff := be
	if ff == nil {
		ff = fe
	}
	if ff == nil {
		return
	}
	src := x.s.src.Addr()
	for _, f := range []*haproxy.Forwardfor{fe, be} {
		if f != nil && f.Except != nil && f.Except.Contains(src) {
			return
		}
	}
	name := ff.Header
	if name == "" {
		name = "X-Forwarded-For"
	}
	if ff.IfNone && x.req.Header.Has(name) {
		return
	}
	if x.s.srcStr == "" {
		x.s.srcStr = src.String()
	}
	x.req.Header.Add(name, x.s.srcStr)
}

// connMode returns whether the server side and the client side close
// after this exchange, per option httpclose / http-server-close /
// http-keep-alive of the frontend and backend.
func (x *exchange) connMode() (srvClose, cliClose bool) {
	fo, bo := x.s.fe.Cfg.Options, x.be.Cfg.Options
	if fo.HTTPClose || bo.HTTPClose {
		return true, true
	}
	if fo.HTTPServerClose || bo.HTTPServerClose {
		return true, false
	}
	return false, false
}

// forward sends the request to a server and relays the response.
func (x *exchange) forward() bool {
	s, be, req := x.s, x.be, x.req
	p := s.fe.p
	srvClose, cliClose := x.connMode()
	key := balance.Key{Src: s.src.Addr(), Target: req.Target, Header: req.Header}
	var forced *Server
	for _, us := range be.rules.useServers {
		if us.cond.ok(&x.t) {
			forced = be.Server(us.name)
			break
		}
	}
	var srv *Server
	var tw time.Duration
	var err error
	if forced == nil && be.ck != nil {
		x.ck = be.ck.request(be, &req.Header)
		forced = x.ck.srv
	}
	persist := forced != nil && x.ck.srv == forced
	if forced == nil && len(be.stick) > 0 {
		forced = be.stickMatch(&x.t)
		persist = forced != nil
	}
	// option persist: the cookie's (or stick table's) server even when
	// it is down.
	srv, tw, err = be.pickDirect(p.ctx, key, nil, forced, persist)
	if x.rec != nil {
		x.rec.Tw = int(tw.Milliseconds())
		if errors.Is(err, errNoServer) {
			// No queue was entered: HAProxy logs Tw -1.
			x.rec.Tw = -1
		}
	}
	if err != nil {
		if errors.Is(err, errQueueTimeout) {
			x.setTerm(termServerTimeout, phaseQueue)
		} else {
			x.setTerm(termServerAbort, phaseConnect)
		}
		return x.errorReply(503, nil)
	}
	x.srv = srv
	s.st.srv.Store(srv)
	defer func() {
		if x.srv != nil {
			be.done(x.srv)
		}
	}()

	connHdr := ""
	switch {
	case req.Upgrade:
		// The Connection field is forwarded as received.
	case srvClose && req.Minor == 0:
		// HTTP/1.0 closes by default: nothing to say.
	case srvClose:
		connHdr = "close"
	case req.Minor == 0:
		connHdr = "keep-alive"
	}
	hasBody := req.Body.Chunked || req.Body.Length > 0
	for attempt := 0; ; attempt++ {
		sc, reused, ok := x.serverConn(srv, key)
		if !ok {
			return x.errorReply(503, nil)
		}
		if srv != x.srv || attempt == 0 {
			srv = x.srv
			if len(be.stick) > 0 {
				be.stickStore(&x.t, srv)
			}
		}
		req.WriteHead(sc.bw, connHdr)
		var bodyDone chan error
		if hasBody {
			if err := sc.bw.Flush(); err != nil && reused && attempt == 0 {
				sc.close()
				s.srvConn = nil
				continue
			}
			bodyDone = make(chan error, 1)
			go func() {
				_, err := http1.CopyBody(sc.bw, x.br, req.Body)
				if err != nil {
					// Unblock the response reader.
					sc.conn.Close()
				}
				bodyDone <- err
			}()
		} else if err := sc.bw.Flush(); err != nil {
			sc.close()
			s.srvConn = nil
			if reused && attempt == 0 {
				continue
			}
			srv.Counters.Eresp.Add(1)
			x.setTerm(termServerAbort, phaseHeaders)
			return x.errorReply(502, nil)
		}
		keep, retry := x.relayResponse(sc, bodyDone, reused && attempt == 0 && !hasBody, srvClose, cliClose)
		if retry {
			continue
		}
		return keep
	}
}

// serverConn returns the connection for this request: the one attached to
// the session when it goes to the same server, else an idle one (reuse),
// else a new one with retries and redispatch. ok is false after a
// connection failure (the caller answers 503).
func (x *exchange) serverConn(srv *Server, key balance.Key) (sc *serverConn, reused, ok bool) {
	s, be := x.s, x.be
	if s.srvConn != nil {
		if s.srvConn.srv == srv {
			return s.srvConn, true, true
		}
		s.srvConn.srv.putIdle(s.srvConn)
		s.srvConn = nil
	}
	reuse := be.Cfg.HTTPReuse
	if reuse != "never" && (s.nreq > 1 || reuse == "always" || reuse == "aggressive") {
		if sc := srv.getIdle(); sc != nil {
			s.srvConn = sc
			return sc, true, true
		}
	}
	res, err := be.connectFrom(s.fe.p.ctx, srv, key, s.dst)
	if x.rec != nil {
		x.rec.Tc = int(res.tc.Milliseconds())
		x.rec.Retries, x.rec.Redispatched = res.retries, res.redisp
	}
	if err != nil {
		// connectFrom released the server slot.
		x.srv = nil
		x.setTerm(termServerAbort, phaseConnect)
		if isTimeout(err) {
			x.setTerm(termServerTimeout, phaseConnect)
		}
		return nil, false, false
	}
	x.srv = res.srv
	s.st.srv.Store(res.srv)
	rw := newRawIO(res.conn)
	sc = &serverConn{srv: res.srv, conn: res.conn, rw: rw, br: getReader(rw), bw: getWriter(rw)}
	s.srvConn = sc
	return sc, false, true
}

// relayResponse reads the server's response (relaying 1xx), applies
// http-response rules and streams it to the client.
func (x *exchange) relayResponse(sc *serverConn, bodyDone chan error, canRetry, srvClose, cliClose bool) (keep, retry bool) {
	s, be, srv, req := x.s, x.be, x.srv, x.req
	fe := s.fe
	t0 := time.Now()
	srvTO := be.Cfg.Timeouts.Server
	resp := &x.resp
	var bodyErr error
	abort := func() {
		// Stop the body copier (it uses sc's writer) before the
		// buffers go back to their pools.
		sc.conn.Close()
		if bodyDone != nil {
			s.cli.SetReadDeadline(time.Now())
			bodyErr = <-bodyDone
			bodyDone = nil
		}
		sc.close()
		s.srvConn = nil
	}
	for {
		if srvTO > 0 {
			sc.conn.SetReadDeadline(time.Now().Add(srvTO))
		}
		err := resp.Read(sc.br, 0, req.Method)
		if err != nil {
			if canRetry && resp.HeadLen == 0 && sc.br.Buffered() == 0 && !isTimeout(err) {
				// A reused connection the server had closed: retry once
				// on a fresh one.
				abort()
				return false, true
			}
			abort()
			var he *http1.Error
			if errors.Is(bodyErr, http1.ErrBadChunk) || errors.As(bodyErr, &he) {
				// A malformed request body: HAProxy's 400.
				fe.Counters.Ereq.Add(1)
				fe.Counters.status(400)
				x.status = 400
				x.bw.Write(http1.ParseErrorMessage(400))
				x.bw.Flush()
				x.setTerm(termProxy, phaseData)
				if x.rec != nil {
					x.rec.Status = 400
				}
				return false, false
			}
			srv.Counters.Eresp.Add(1)
			be.Counters.Eresp.Add(1)
			if isTimeout(err) {
				x.setTerm(termServerTimeout, phaseHeaders)
				return x.errorReply(504, nil), false
			}
			x.setTerm(termServerAbort, phaseHeaders)
			return x.errorReply(502, nil), false
		}
		if resp.Status >= 100 && resp.Status < 200 && resp.Status != 101 {
			resp.WriteHead(x.bw, "")
			x.bw.Flush()
			continue
		}
		break
	}
	if x.rec != nil {
		x.rec.Tr = int(time.Since(t0).Milliseconds())
	}
	// http-response rules of the backend, then the frontend.
	for _, rs := range []*ruleSet{be.rules, fe.rules} {
		if rs == fe.rules && be.Cfg == fe.Cfg {
			break
		}
		for _, a := range rs.httpResp {
			if !a.cond.ok(&x.t) {
				continue
			}
			switch a.rule.Action {
			case "allow":
				goto done
			case "deny":
				fe.Counters.Dresp.Add(1)
				be.Counters.Dresp.Add(1)
				srv.Counters.Dresp.Add(1)
				abort()
				x.setTerm(termProxy, phaseHeaders)
				return x.errorReply(502, nil), false
			default:
				if !s.commonAction(a, &x.t, false) {
					rewrite(a, &x.t, &resp.Header, nil)
				}
			}
		}
	}
done:
	if be.ck != nil {
		be.ck.response(resp, srv, x.ck.srv == srv && x.ck.direct, req.Method)
	}
	// A 101 to an upgrade request, or a 2xx to CONNECT, turns the
	// exchange into a tunnel.
	upgrade := resp.Status == 101 && req.Upgrade || req.Method == "CONNECT" && resp.Status/100 == 2
	untilClose := !resp.Body.Chunked && resp.Body.Length < 0
	cliKeep := !cliClose && !req.Close && !untilClose && !fe.p.Stopping() && !upgrade
	srvKeep := !srvClose && !resp.Close && !untilClose && !upgrade
	connHdr := ""
	switch {
	case upgrade:
		// The Connection field is forwarded as received.
	case !cliKeep:
		connHdr = "close"
	case req.Minor == 0:
		connHdr = "keep-alive"
	}
	fe.Counters.status(resp.Status)
	x.status = resp.Status
	be.Counters.status(resp.Status)
	srv.Counters.status(resp.Status)
	if x.rec != nil {
		x.rec.ResCaptures = captures(fe.Cfg.Captures, "response header", resp.Header)
	}
	resp.WriteHead(x.bw, connHdr)
	if srvTO > 0 && (resp.Body.Chunked || resp.Body.Length < 0 || resp.Body.Length > int64(sc.br.Buffered())) {
		// The body is still coming: timeout server counts from here.
		sc.conn.SetReadDeadline(time.Now().Add(srvTO))
	}
	var n int64
	var err error
	if upgrade {
		err = x.bw.Flush()
	} else {
		n, err = http1.CopyBody(x.bw, sc.br, resp.Body)
	}
	out := int64(resp.HeadLen) + n
	in := int64(req.HeadLen)
	fe.Counters.Bout.Add(out)
	be.Counters.Bout.Add(out)
	srv.Counters.Bout.Add(out)
	if x.rec != nil {
		x.rec.Status = resp.Status
		x.rec.BytesRead = out
	}
	if err != nil {
		abort()
		x.setTerm(termServerAbort, phaseData)
		return false, false
	}
	if bodyDone != nil {
		if err := <-bodyDone; err != nil {
			cliKeep, srvKeep = false, false
		}
		if req.Body.Length > 0 {
			in += req.Body.Length
		}
	}
	fe.Counters.Bin.Add(in)
	be.Counters.Bin.Add(in)
	srv.Counters.Bin.Add(in)
	if x.rec != nil {
		x.rec.BytesIn = in
	}
	if upgrade {
		x.tunnel(sc)
		return false, false
	}
	if !srvKeep {
		sc.close()
		s.srvConn = nil
	} else {
		sc.used = true
	}
	return cliKeep, false
}

// tunnel switches to byte forwarding after a 101 response (WebSocket),
// with timeout tunnel (else client/server) on inactivity.
func (x *exchange) tunnel(sc *serverConn) {
	s := x.s
	// Bytes already buffered on either side go first.
	if n := x.br.Buffered(); n > 0 {
		b, _ := x.br.Peek(n)
		sc.conn.Write(b)
	}
	if n := sc.br.Buffered(); n > 0 {
		b, _ := sc.br.Peek(n)
		s.cli.Write(b)
	}
	s.cli.SetDeadline(time.Time{})
	sc.conn.SetDeadline(time.Time{})
	in, out, term := tunnel(s.cli, sc.conn, tunnelTimeouts(s.fe.Cfg, x.be.Cfg))
	s.fe.Counters.Bin.Add(in)
	s.fe.Counters.Bout.Add(out)
	if x.rec != nil {
		x.rec.BytesRead += out
		x.rec.TermState = term
	}
	sc.close()
	s.srvConn = nil
}

// captures returns the values of `capture request|response header`
// lines of kind, truncated to their length, "" when absent.
func captures(cs []haproxy.Capture, kind string, h http1.Header) []string {
	var out []string
	for _, c := range cs {
		if c.Kind != kind {
			continue
		}
		v := h.Get(c.Name)
		if c.Len > 0 && len(v) > c.Len {
			v = v[:c.Len]
		}
		out = append(out, strings.Clone(v))
	}
	return out
}

// errorfileMessage returns an errorfile's response as HAProxy 2.6 sends
// it: it parses the file into its internal form and writes it back, so
// the status line stays as written, header names are lower-cased and
// Connection is dropped (measured).
func errorfileMessage(f string) []byte {
	head, body, ok := strings.Cut(f, "\r\n\r\n")
	if !ok {
		head, body, ok = strings.Cut(f, "\n\n")
		if !ok {
			return []byte(f)
		}
	}
	lines := strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n")
	var b strings.Builder
	b.WriteString(lines[0] + "\r\n")
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(l, ":")
		if !ok || strings.EqualFold(strings.TrimSpace(name), "connection") {
			continue
		}
		b.WriteString(strings.ToLower(strings.TrimSpace(name)) + ": " + strings.TrimSpace(val) + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}
