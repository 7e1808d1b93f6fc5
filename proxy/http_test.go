package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"hapair/proxy/http1"
)

const httpDefaults = `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
`

func TestHTTPKeepAliveAndReuse(t *testing.T) {
	b := startBackend(t, "b1", nil)
	fe := freeAddr(t)
	startProxy(t, httpDefaults+`
  option forwardfor
frontend f
  bind `+fe+`
  default_backend be
backend be
  server s1 `+b.addr+`
`, Options{})
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		fmt.Fprintf(c, "GET /r%d HTTP/1.1\r\nHost: Example.com\r\nX-Mixed-Case: A\r\n\r\n", i)
		resp, body := readResponse(t, br, "GET")
		if resp.Status != 200 || body != "b1" || resp.Close {
			t.Fatalf("req %d: status %d body %q close %v", i, resp.Status, body, resp.Close)
		}
	}
	// Pipelining: two requests in one write.
	io.WriteString(c, "GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 0; i < 2; i++ {
		if resp, body := readResponse(t, br, "GET"); resp.Status != 200 || body != "b1" {
			t.Fatalf("pipelined %d: %d %q", i, resp.Status, body)
		}
	}
	reqs := b.requests()
	if len(reqs) != 5 {
		t.Fatalf("backend saw %d requests", len(reqs))
	}
	if n := b.conns.Load(); n != 1 {
		t.Errorf("backend saw %d connections, want 1 (keep-alive on the server side)", n)
	}
	r := reqs[0]
	if r.Target != "/r0" || r.Header.Get("X-Forwarded-For") != "127.0.0.1" && !strings.HasPrefix(r.Header.Get("X-Forwarded-For"), "127.") {
		t.Errorf("request %+v", r)
	}
	for _, f := range r.Header {
		if f.Name != strings.ToLower(f.Name) {
			t.Errorf("header name %q not lower-cased", f.Name)
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	garbage := startBackend(t, "garbage", func(c net.Conn, br *bufio.Reader, req *http1.Request) bool {
		io.WriteString(c, "garbage\r\n\r\n")
		return false
	})
	slow := startBackend(t, "slow", func(c net.Conn, br *bufio.Reader, req *http1.Request) bool {
		time.Sleep(1500 * time.Millisecond)
		return false
	})
	ok := startBackend(t, "ok", nil)
	fes := map[string]string{}
	cfg := `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 500ms
  timeout http-request 300ms
  retries 0
`
	for _, n := range []string{"deny", "429", "bad", "slow", "down", "ok"} {
		fes[n] = freeAddr(t)
		cfg += "frontend f_" + n + "\n  bind " + fes[n] + "\n  default_backend b_" + n + "\n"
	}
	cfg += "  http-request deny\n" // on f_ok: replaced below
	cfg = strings.Replace(cfg, "  default_backend b_ok\n  http-request deny\n", "  default_backend b_ok\n", 1)
	cfg = strings.Replace(cfg, "default_backend b_deny\n", "default_backend b_ok\n  http-request deny\n", 1)
	cfg = strings.Replace(cfg, "default_backend b_429\n", "default_backend b_ok\n  http-request deny deny_status 429\n", 1)
	cfg += "backend b_bad\n  server s " + garbage.addr + "\nbackend b_slow\n  server s " + slow.addr +
		"\nbackend b_down\n  server s " + ok.addr + "\nbackend b_ok\n  server s " + ok.addr + "\n"
	p := startProxy(t, cfg, Options{})
	p.SetServerState("b_down", "s", false)
	cases := []struct {
		fe, req string
		status  int
		exact   bool
	}{
		{"deny", "GET /deny HTTP/1.1\r\nHost: x\r\n\r\n", 403, true},
		{"429", "GET /429 HTTP/1.1\r\nHost: x\r\n\r\n", 429, true},
		{"bad", "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n", 502, true},
		{"slow", "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 504, true},
		{"down", "GET /down HTTP/1.1\r\nHost: x\r\n\r\n", 503, true},
		{"ok", "GET / HTTP/1.1\r\nHost: x", 408, false},
		{"ok", "GARBAGE\r\n\r\n", 400, false},
	}
	for _, c := range cases {
		got := roundTrip(t, fes[c.fe], c.req, 3*time.Second)
		if statusOf(got) != c.status {
			t.Errorf("%q: got %q, want %d", c.req, got, c.status)
			continue
		}
		want := string(http1.ErrorMessage(c.status))
		if !c.exact {
			want = string(http1.ParseErrorMessage(c.status))
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", c.req, got, want)
		}
	}
}
