package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hapair/proxy/http1"
)

func TestHTTPWebSocketUpgrade(t *testing.T) {
	ws := startBackend(t, "ws", func(c net.Conn, br *bufio.Reader, req *http1.Request) bool {
		if !req.Upgrade {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return false
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		// Echo frames (opaque bytes here) until the client closes.
		c.SetReadDeadline(time.Time{})
		io.Copy(c, br)
		return false
	})
	fe := freeAddr(t)
	startProxy(t, httpDefaults+`
  timeout tunnel 5s
frontend f
  bind `+fe+`
  default_backend be
backend be
  server s1 `+ws.addr+`
`, Options{})
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http1.ReadResponse(br, 0, "GET")
	if err != nil || resp.Status != 101 {
		t.Fatalf("upgrade: %v %+v", err, resp)
	}
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("frame-%d", i)
		io.WriteString(c, msg)
		buf := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("tunnel echo %q: %q %v", msg, buf, err)
		}
	}
	if got := ws.requests()[0].Header.Get("Upgrade"); got != "websocket" {
		t.Fatalf("backend saw Upgrade %q", got)
	}
}

func TestHTTPExpect100Continue(t *testing.T) {
	b := startBackend(t, "b", func(c net.Conn, br *bufio.Reader, req *http1.Request) bool {
		if req.Expect100 {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		var body strings.Builder
		bw := bufio.NewWriter(&body)
		if _, err := http1.CopyBody(bw, br, req.Body); err != nil {
			return false
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", body.Len(), body.String())
		return true
	})
	fe, _ := oneServerProxy(t, b.addr)
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http1.ReadResponse(br, 0, "PUT")
	if err != nil || resp.Status != 100 {
		t.Fatalf("want 100 Continue before the body: %v %+v", err, resp)
	}
	io.WriteString(c, "hello")
	resp, body := readResponse(t, br, "PUT")
	if resp.Status != 200 || body != "hello" {
		t.Fatalf("%d %q", resp.Status, body)
	}
}

func TestHTTPChunkedUploadStreams(t *testing.T) {
	b := startBackend(t, "b", nil)
	fe, _ := oneServerProxy(t, b.addr)
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	// Chunks sent over time: the proxy must stream them.
	for i := 0; i < 3; i++ {
		fmt.Fprintf(c, "4\r\npart\r\n")
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(c, "0\r\n\r\n")
	resp, _ := readResponse(t, bufio.NewReader(c), "POST")
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	// The backend re-chunks what it received; each part arrived alone.
	if got := b.requests()[0].Body; strings.Count(got, "4\r\npart\r\n") != 3 {
		t.Fatalf("backend body %q: the proxy did not stream chunk by chunk", got)
	}
}

// TestServerMaxconnQueue: with server maxconn 1, a second concurrent
// request waits in the queue and is served when the first ends; with
// timeout queue exceeded it gets 503.
func TestServerMaxconnQueue(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	b := startBackend(t, "b", func(c net.Conn, br *bufio.Reader, req *http1.Request) bool {
		if req.Target == "/slow" {
			<-release
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		return false
	})
	defer once.Do(func() { close(release) })
	fe := freeAddr(t)
	p := startProxy(t, httpDefaults+`
  timeout queue 300ms
frontend f
  bind `+fe+`
  default_backend be
backend be
  server s1 `+b.addr+` maxconn 1
`, Options{})
	slowDone := make(chan string, 1)
	go func() { slowDone <- roundTrip(t, fe, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second) }()
	be := p.Backend("be")
	waitFor(t, 3*time.Second, "slow request at the server", func() bool { return be.Servers[0].Conns() == 1 })
	// Queue timeout: 503.
	if got := roundTrip(t, fe, "GET /q HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second); statusOf(got) != 503 {
		t.Fatalf("queued request past timeout queue: %q", got)
	}
	if be.Counters.Qmax.Load() != 1 {
		t.Errorf("qmax %d", be.Counters.Qmax.Load())
	}
	// Queued then served when the slot frees.
	queued := make(chan string, 1)
	go func() { queued <- roundTrip(t, fe, "GET /q2 HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second) }()
	waitFor(t, 3*time.Second, "request queued", func() bool { return be.Counters.Qcur.Load() == 1 })
	once.Do(func() { close(release) })
	if got := <-queued; statusOf(got) != 200 {
		t.Fatalf("queued request: %q", got)
	}
	if got := <-slowDone; statusOf(got) != 200 {
		t.Fatalf("slow request: %q", got)
	}
}

func TestBindIPv6AndV4V6(t *testing.T) {
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback")
	} else {
		l.Close()
	}
	b := startBackend(t, "b", nil)
	l, _ := net.Listen("tcp6", "[::1]:0")
	p6 := l.Addr().(*net.TCPAddr).Port
	l.Close()
	l, _ = net.Listen("tcp6", "[::]:0")
	pdual := l.Addr().(*net.TCPAddr).Port
	l.Close()
	l, _ = net.Listen("tcp6", "[::]:0")
	ponly := l.Addr().(*net.TCPAddr).Port
	l.Close()
	startProxy(t, httpDefaults+fmt.Sprintf(`
frontend f
  bind [::1]:%d
  bind :::%d v4v6
  bind :::%d v6only
  default_backend be
backend be
  server s1 %s
`, p6, pdual, ponly, b.addr), Options{})
	for _, addr := range []string{fmt.Sprintf("[::1]:%d", p6), fmt.Sprintf("[::1]:%d", pdual), fmt.Sprintf("127.0.0.1:%d", pdual), fmt.Sprintf("[::1]:%d", ponly)} {
		got := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3*time.Second)
		if statusOf(got) != 200 {
			t.Errorf("%s: %q", addr, got)
		}
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ponly), time.Second); err == nil {
		c.Close()
		t.Errorf("v6only bind accepted IPv4")
	}
	if xff := b.requests()[0].Header.Get("X-Forwarded-For"); xff != "" {
		t.Logf("xff %q", xff)
	}
}

func TestSoftStopFinishesInFlight(t *testing.T) {
	b := startBackend(t, "b", func(c net.Conn, br *bufio.Reader, req *http1.Request) bool {
		time.Sleep(200 * time.Millisecond)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	fe, p := oneServerProxy(t, b.addr)
	// An idle keep-alive connection is closed by the soft stop.
	idle, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	ibr := bufio.NewReader(idle)
	readResponse(t, ibr, "GET")
	got := make(chan string, 1)
	go func() { got <- roundTrip(t, fe, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second) }()
	waitFor(t, 3*time.Second, "request in flight", func() bool { return len(b.requests()) == 2 })
	p.Stop()
	if r := <-got; statusOf(r) != 200 || !strings.Contains(r, "connection: close") {
		t.Fatalf("in-flight request: %q", r)
	}
	idle.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection not closed: %v", err)
	}
	if _, err := net.DialTimeout("tcp", fe, time.Second); err == nil {
		t.Fatal("listener still accepting after Stop")
	}
}

func TestRoundRobinAndLogRecord(t *testing.T) {
	b1 := startBackend(t, "b1", nil)
	b2 := startBackend(t, "b2", nil)
	fe := freeAddr(t)
	var mu sync.Mutex
	var recs []LogRecord
	p := startProxy(t, httpDefaults+`
frontend f
  bind `+fe+`
  default_backend be
backend be
  balance roundrobin
  server s1 `+b1.addr+` weight 2
  server s2 `+b2.addr+` weight 1
`, Options{Log: func(r *LogRecord) {
		mu.Lock()
		recs = append(recs, *r)
		mu.Unlock()
	}})
	counts := map[string]int{}
	for i := 0; i < 30; i++ {
		got := roundTrip(t, fe, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3*time.Second)
		counts[got[len(got)-2:]]++
	}
	if counts["b1"] != 20 || counts["b2"] != 10 {
		t.Fatalf("distribution %v, want b1:20 b2:10", counts)
	}
	waitFor(t, 2*time.Second, "30 log records", func() bool { mu.Lock(); defer mu.Unlock(); return len(recs) == 30 })
	r := recs[0]
	if r.FrontName != "f" || r.BackName != "be" || r.Status != 200 || r.RequestLine != "GET /x HTTP/1.1" ||
		r.TermState != "--" || r.Tq < 0 || r.Tc < 0 || r.Tr < 0 || r.Tt < 0 || r.BytesRead == 0 || !r.HTTP {
		t.Fatalf("record %+v", r)
	}
	fc := &p.Frontends()[0].Counters
	if fc.ReqTot.Load() != 30 || fc.Hrsp[1].Load() != 30 || fc.Stot.Load() != 30 || fc.Bout.Load() == 0 {
		t.Fatalf("frontend counters req_tot %d hrsp_2xx %d stot %d", fc.ReqTot.Load(), fc.Hrsp[1].Load(), fc.Stot.Load())
	}
	be := p.Backend("be")
	if be.Servers[0].Counters.Lbtot.Load() != 20 || be.Counters.Lbtot.Load() != 30 {
		t.Fatalf("lbtot s1 %d be %d", be.Servers[0].Counters.Lbtot.Load(), be.Counters.Lbtot.Load())
	}
	// Server down: all traffic to the other; both down: 503.
	p.SetServerState("be", "s1", false)
	for i := 0; i < 3; i++ {
		if got := roundTrip(t, fe, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3*time.Second); !strings.HasSuffix(got, "b2") {
			t.Fatalf("with s1 down: %q", got)
		}
	}
	p.SetServerState("be", "s2", false)
	if got := roundTrip(t, fe, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second); statusOf(got) != 503 {
		t.Fatalf("all down: %q", got)
	}
}

// TestFrontendMaxconnThrottlesAccept: with maxconn 1 a second client is
// not served while the first connection is open, and is served as soon
// as it closes (HAProxy stops accepting at maxconn).
func TestFrontendMaxconnThrottlesAccept(t *testing.T) {
	b := startBackend(t, "b", nil)
	fe := freeAddr(t)
	p := startProxy(t, httpDefaults+`
frontend f
  bind `+fe+`
  maxconn 1
  default_backend be
backend be
  server s1 `+b.addr+`
`, Options{})
	first, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(first, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, bufio.NewReader(first), "GET")
	second, err := net.Dial("tcp", fe) // queued in the kernel backlog
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	io.WriteString(second, "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
	second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _ := second.Read(make([]byte, 1)); n != 0 {
		t.Fatal("second connection served while the first holds the only slot")
	}
	if got := p.Frontends()[0].Counters.Scur.Load(); got != 1 {
		t.Fatalf("scur %d", got)
	}
	first.Close()
	second.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, _ := readResponse(t, bufio.NewReader(second), "GET")
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	if got := p.Frontends()[0].Counters.Smax.Load(); got != 1 {
		t.Fatalf("smax %d, want 1", got)
	}
}

// TestServerMaxqueue: with maxconn 1 and maxqueue 1, a third concurrent
// request is refused at once with 503 instead of waiting.
func TestServerMaxqueue(t *testing.T) {
	release := make(chan struct{})
	b := startBackend(t, "b", func(c net.Conn, br *bufio.Reader, req *http1.Request) bool {
		<-release
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		return false
	})
	fe := freeAddr(t)
	p := startProxy(t, httpDefaults+`
  timeout queue 5s
frontend f
  bind `+fe+`
  default_backend be
backend be
  server s1 `+b.addr+` maxconn 1 maxqueue 1
`, Options{})
	be := p.Backend("be")
	results := make(chan string, 2)
	go func() {
		results <- roundTrip(t, fe, "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	}()
	waitFor(t, 3*time.Second, "first request at the server", func() bool { return be.Servers[0].Conns() == 1 })
	go func() {
		results <- roundTrip(t, fe, "GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	}()
	waitFor(t, 3*time.Second, "second request queued", func() bool { return be.Counters.Qcur.Load() == 1 })
	start := time.Now()
	if got := roundTrip(t, fe, "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second); statusOf(got) != 503 || time.Since(start) > time.Second {
		t.Fatalf("third request: %q after %v", got, time.Since(start))
	}
	close(release)
	for i := 0; i < 2; i++ {
		if got := <-results; statusOf(got) != 200 {
			t.Fatalf("request: %q", got)
		}
	}
}

func TestTCPRequestConnectionReject(t *testing.T) {
	b := startBackend(t, "b", nil)
	fe := freeAddr(t)
	p := startProxy(t, httpDefaults+`
frontend f
  bind `+fe+`
  tcp-request connection reject if { src 127.0.0.0/8 }
  default_backend be
backend be
  server s1 `+b.addr+`
`, Options{})
	if got := roundTrip(t, fe, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2*time.Second); got != "" {
		t.Fatalf("rejected connection got %q", got)
	}
	if n := p.Frontends()[0].Counters.Dcon.Load(); n != 1 {
		t.Fatalf("dcon %d", n)
	}
}

// TestStatsHook: the stats page is answered by Options.Stats, never
// forwarded. Settings inherited from defaults make the frontend serve it
// itself before a backend is chosen (Backend nil), as HAProxy does; a
// backend's own settings serve it there, with `stats admin if <cond>` and
// a POST's form passed along.
func TestStatsHook(t *testing.T) {
	cases := []struct {
		name, defaults, backend string
		wantBackend             string
		wantAdmin               bool
	}{
		{"frontend via defaults", "  stats uri /admin?stats\n", "", "", false},
		{"backend with admin", "", "  stats enable\n  stats uri /admin?stats\n  stats admin if TRUE\n", "be", true},
		{"backend without admin", "", "  stats uri /admin?stats\n", "be", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := startBackend(t, "b", nil)
			fe := freeAddr(t)
			var mu sync.Mutex
			var seen *StatsRequest
			startProxy(t, httpDefaults+c.defaults+`
frontend f
  bind `+fe+`
  default_backend be
backend be
`+c.backend+`  server s1 `+b.addr+`
`, Options{Stats: func(p *Proxy, f *Frontend, r *StatsRequest) []byte {
				mu.Lock()
				seen = r
				mu.Unlock()
				return []byte("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstats")
			}})
			got := roundTrip(t, fe, "POST /admin?stats HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nConnection: close\r\n\r\ns=s1&action=x", 2*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if !strings.HasSuffix(got, "stats") || seen == nil || seen.Target != "/admin?stats" {
				t.Fatalf("got %q, request %+v", got, seen)
			}
			if name := ""; seen.Backend != nil {
				name = seen.Backend.Name
				if name != c.wantBackend {
					t.Errorf("backend %q, want %q", name, c.wantBackend)
				}
			} else if c.wantBackend != "" {
				t.Errorf("no backend, want %q", c.wantBackend)
			}
			if seen.Admin() != c.wantAdmin || string(seen.Body()) != "s=s1&action=x" {
				t.Errorf("admin %v body %q", seen.Admin(), seen.Body())
			}
			if len(b.requests()) != 0 {
				t.Fatal("stats request forwarded to the server")
			}
		})
	}
}

// TestServiceHook: `http-request use-service NAME` is answered by
// Options.Service (the prometheus exporter lives in cmd/goproxy), only
// when its condition matches; without an answer it is a 503.
func TestServiceHook(t *testing.T) {
	b := startBackend(t, "b", nil)
	fe := freeAddr(t)
	var name string
	startProxy(t, httpDefaults+`
frontend f
  bind `+fe+`
  http-request use-service prometheus-exporter if { path /metrics }
  http-request use-service nothing if { path /none }
  default_backend be
backend be
  server s1 `+b.addr+`
`, Options{Service: func(p *Proxy, f *Frontend, n string, r *StatsRequest) []byte {
		name = n
		if n != "prometheus-exporter" {
			return nil
		}
		return []byte("HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nmetrics")
	}})
	got := roundTrip(t, fe, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second)
	if !strings.HasSuffix(got, "metrics") || name != "prometheus-exporter" {
		t.Fatalf("got %q (service %q)", got, name)
	}
	if got := roundTrip(t, fe, "GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second); statusOf(got) != 503 {
		t.Fatalf("unknown service: %q", got)
	}
	if got := roundTrip(t, fe, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second); statusOf(got) != 200 || len(b.requests()) != 1 {
		t.Fatalf("plain request: %q", got)
	}
}

// TestEachSession: the client connections are listed with their number,
// frontend, and the backend and server of their last exchange (show sess).
func TestEachSession(t *testing.T) {
	b := startBackend(t, "b", nil)
	fe, p := oneServerProxy(t, b.addr)
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, bufio.NewReader(c), "GET")
	var got []string
	p.EachSession(func(id uint64, start time.Time, src net.Addr, f, be, srv string) {
		got = append(got, fmt.Sprintf("%d %s %s %s %s", id, src, f, be, srv))
	})
	want := fmt.Sprintf("1 %s f be s1", c.LocalAddr())
	if len(got) != 1 || got[0] != want {
		t.Fatalf("sessions %q, want [%q]", got, want)
	}
}
