package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// Tests use 127.88.0.0/16 so they do not collide with other packages'
// tests running in parallel.
var ipSeq atomic.Int32

// freeAddr returns a free loopback address with a distinct IP per call.
func freeAddr(t testing.TB) string {
	t.Helper()
	n := ipSeq.Add(1)
	ip := fmt.Sprintf("127.88.%d.%d", (n/250)%250, n%250+1)
	l, err := net.Listen("tcp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// seenRequest is what a test backend received.
type seenRequest struct {
	Method, Target string
	Header         http1.Header
	Body           string
	Raw            string // head as received
	Conn           int    // connection number on the backend
}

// backend is a small HTTP/1.1 server for tests. It answers each request
// with 200, a body naming the server and an X-Server header, keeping the
// connection alive unless asked otherwise.
type backend struct {
	name  string
	addr  string
	l     net.Listener
	mu    sync.Mutex
	reqs  []seenRequest
	conns atomic.Int32
	// handler, if set, writes the response itself.
	handler func(c net.Conn, br *bufio.Reader, req *http1.Request) bool
	wg      sync.WaitGroup
}

func startBackend(t testing.TB, name string, handler func(c net.Conn, br *bufio.Reader, req *http1.Request) bool) *backend {
	t.Helper()
	addr := freeAddr(t)
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: addr, l: l, handler: handler}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n := int(b.conns.Add(1))
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				b.serve(c, n)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
	})
	return b
}

func (b *backend) serve(c net.Conn, n int) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		req, err := http1.ReadRequest(br, 0)
		if err != nil {
			return
		}
		raw := req.Method + " " + req.Target
		h := append(http1.Header(nil), req.Header...)
		for i := range h {
			h[i].Name = strings.Clone(h[i].Name)
			h[i].Value = strings.Clone(h[i].Value)
		}
		sr := seenRequest{Method: strings.Clone(req.Method), Target: strings.Clone(req.Target), Header: h, Raw: raw, Conn: n}
		if b.handler != nil {
			b.record(sr)
			if !b.handler(c, br, req) {
				return
			}
			continue
		}
		var body strings.Builder
		bw := bufio.NewWriter(&body)
		if _, err := http1.CopyBody(bw, br, req.Body); err != nil {
			return
		}
		sr.Body = body.String()
		b.record(sr)
		resp := "HTTP/1.1 200 OK\r\nX-Server: " + b.name + "\r\nContent-Length: " + fmt.Sprint(len(b.name)) + "\r\n"
		if req.Close {
			resp += "Connection: close\r\n"
		}
		resp += "\r\n" + b.name
		if _, err := io.WriteString(c, resp); err != nil || req.Close {
			return
		}
	}
}

func (b *backend) record(r seenRequest) {
	b.mu.Lock()
	b.reqs = append(b.reqs, r)
	b.mu.Unlock()
}

func (b *backend) requests() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seenRequest(nil), b.reqs...)
}

// loadConfig compiles cfg text (with {{name}} placeholders already
// substituted) through the real parser.
func loadConfig(t testing.TB, text string) *haproxy.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := haproxy.Load([]string{path}, haproxy.LoadOptions{})
	if cfg == nil {
		var b strings.Builder
		for _, d := range diags.List {
			b.WriteString(d.Format(0) + "\n")
		}
		t.Fatalf("config:\n%s\n%s", text, b.String())
	}
	return cfg
}

// startProxy builds and runs a proxy for cfg text; it is closed at the end
// of the test.
func startProxy(t testing.TB, text string, opts Options) *Proxy {
	t.Helper()
	p, err := New(loadConfig(t, text), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Bind(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(context.Background())
	}()
	t.Cleanup(func() {
		p.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("proxy did not stop within 10s")
		}
	})
	return p
}

// roundTrip sends raw bytes on a new connection and reads until the peer
// closes or wait passes.
func roundTrip(t testing.TB, addr, data string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if data != "" {
		if _, err := io.WriteString(c, data); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(c)
	return string(b)
}

// readResponse reads one response (head and body) from br.
func readResponse(t testing.TB, br *bufio.Reader, method string) (*http1.Response, string) {
	t.Helper()
	resp, err := http1.ReadResponse(br, 0, method)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	var body strings.Builder
	bw := bufio.NewWriter(&body)
	if _, err := http1.CopyBody(bw, br, resp.Body); err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, body.String()
}

// statusOf returns the status code of a raw response, or 0.
func statusOf(s string) int {
	var st int
	if len(s) >= 12 {
		fmt.Sscanf(s[9:12], "%d", &st)
	}
	return st
}

// waitFor polls cond every 10ms up to d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveConns listens on a fresh loopback port and runs handle for each
// accepted connection in its own goroutine (the connection is closed when
// handle returns); the listener closes with the test.
func serveConns(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	addr := freeAddr(t)
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return addr
}

// oneServerProxy starts a proxy with httpDefaults, frontend f on a fresh
// loopback address and backend be with the single server s1 at server; it
// returns the frontend's address and the proxy.
func oneServerProxy(t *testing.T, server string) (string, *Proxy) {
	t.Helper()
	fe := freeAddr(t)
	p := startProxy(t, httpDefaults+`
frontend f
  bind `+fe+`
  default_backend be
backend be
  server s1 `+server+`
`, Options{})
	return fe, p
}

// readHead reads a request or response head up to and including its
// blank line; ok is false when the connection ends first.
func readHead(br *bufio.Reader) (head string, ok bool) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return b.String(), false
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String(), true
		}
	}
}
