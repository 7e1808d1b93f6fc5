package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// startHAProxy runs the real haproxy on cfg and stops it (by PID) at the
// end of the test. It waits until addr accepts connections.
func startHAProxy(t *testing.T, cfg, addr string) {
	t.Helper()
	bin := testenv.LookPath(t, "haproxy")
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not listen on %s: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// echoHeadBackend answers every request with 200 and, as body, the
// request head exactly as received, followed by the request body as
// received (raw chunks included), so that the bytes a proxy forwards can
// be compared.
func echoHeadBackend(t *testing.T) string { return echoHeadBackendNamed(t, "echo") }

func echoHeadBackendNamed(t *testing.T, name string) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			var head bytes.Buffer
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" || line == "\n" {
					break
				}
			}
			h := strings.ToLower(head.String())
			var body []byte
			switch {
			case strings.Contains(h, "transfer-encoding: chunked"):
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					body = append(body, line...)
					if line == "0\r\n" {
						for {
							tl, err := br.ReadString('\n')
							if err != nil {
								return
							}
							body = append(body, tl...)
							if tl == "\r\n" {
								break
							}
						}
						break
					}
					var n int
					fmt.Sscanf(line, "%x", &n)
					chunk := make([]byte, n+2)
					if _, err := io.ReadFull(br, chunk); err != nil {
						return
					}
					body = append(body, chunk...)
				}
			case strings.Contains(h, "content-length: "):
				var n int
				i := strings.Index(h, "content-length: ")
				fmt.Sscanf(h[i+16:], "%d", &n)
				body = make([]byte, n)
				if _, err := io.ReadFull(br, body); err != nil {
					return
				}
			}
			payload := head.String() + "----\r\n" + string(body)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nX-Backend-Mixed: %s\r\nContent-Length: %d\r\n\r\n%s", name, len(payload), payload)
		}
	})
}

// diffRequests are sent unchanged through HAProxy 2.6 and goproxy; the
// full responses (which echo what the server received) must be equal.
var diffRequests = []struct{ name, req string }{
	{"get", "GET /a?b=c HTTP/1.1\r\nHost: test.com\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n"},
	{"get_close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
	{"http10", "GET / HTTP/1.0\r\nHost: x\r\n\r\n"},
	{"http10_ka", "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"},
	{"mixed_case", "GET / HTTP/1.1\r\nHOST: x\r\nX-MiXeD: Value With Spaces  \r\nx-dup: 1\r\nX-Dup: 2\r\n\r\n"},
	{"post_cl", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
	{"post_chunked", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"},
	{"cl_te", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{"cl_list", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc"},
	{"obs_fold", "GET /ok HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n"},
	{"bare_lf", "GET /ok HTTP/1.1\nHost: x\n\n"},
	{"version_2_0", "GET /ok HTTP/2.0\r\nHost: x\r\n\r\n"},
	{"no_host", "GET /ok HTTP/1.1\r\n\r\n"},
	{"xff_existing", "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"},
	{"abs_uri", "GET http://x/ok HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"leading_crlf", "\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n"},
	// Timeouts (timeout http-request 400ms): nothing sent, a partial head.
	{"idle_timeout", ""},
	{"partial_timeout", "GET / HTTP/1.1\r\nHost: x"},
	// Malformed: HAProxy's own answer.
	{"cl_dup_diff", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
	{"cl_bad", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc"},
	{"te_gzip", "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"},
	{"te_gzip_chunked", "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{"bad_name", "GET /ok HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n"},
	{"no_colon", "GET /ok HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"},
	{"bad_version", "GET /ok HTXP/1.1\r\nHost: x\r\n\r\n"},
	{"http09", "GET /ok\r\n\r\n"},
	{"two_hosts", "GET /ok HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
	{"space_uri", "GET /o k HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"ctl_uri", "GET /o\x01k HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"big_head", "GET /ok HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 20000) + "\r\n\r\n"},
	{"ws_bad_key", "GET /c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n"},
	{"bad_chunk", "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
}

// TestDifferentialHAProxy sends the same bytes through HAProxy 2.6 and
// goproxy running the same configuration in front of the same echo
// backend, and compares the whole responses.
func TestDifferentialHAProxy(t *testing.T) {
	echo := echoHeadBackend(t)
	cfg := func(bind string) string {
		return `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
  timeout http-request 400ms
  option forwardfor
frontend f
  bind ` + bind + `
  default_backend echo
backend echo
  server s ` + echo + `
`
	}
	hpAddr, goAddr := freeAddr(t), freeAddr(t)
	startHAProxy(t, cfg(hpAddr), hpAddr)
	startProxy(t, cfg(goAddr), Options{})
	for _, c := range diffRequests {
		t.Run(c.name, func(t *testing.T) {
			want := roundTrip(t, hpAddr, c.req, 1200*time.Millisecond)
			got := roundTrip(t, goAddr, c.req, 1200*time.Millisecond)
			if got != want {
				t.Errorf("request %q\nhaproxy: %q\ngoproxy: %q", c.req, want, got)
			}
		})
	}
}

// TestSeedRoutingDifferential runs the seed's haproxy.cfg (1.4 syntax,
// as goproxy reads it unchanged) and its modernised form under HAProxy
// 2.6, with the listen port and the two servers moved to loopback, and
// checks that Host test.com goes to the :80 server, test.domain.com to
// the :8000 one, with identical bytes on both proxies.
func TestSeedRoutingDifferential(t *testing.T) {
	seed, err := os.ReadFile("../testdata/haproxy/seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	inst2 := echoHeadBackendNamed(t, "inst2")
	inst1 := echoHeadBackendNamed(t, "inst1")
	rewrite := func(bind string, modern bool) string {
		var out []string
		for _, line := range strings.Split(string(seed), "\n") {
			w := strings.Fields(line)
			switch {
			case len(w) == 0:
			case w[0] == "user" || w[0] == "group" || w[0] == "daemon" || w[0] == "pidfile" || w[0] == "log":
				continue
			case w[0] == "nbproc" && modern:
				continue
			case w[0] == "bind":
				line = "bind " + bind
			case w[0] == "server" && strings.HasSuffix(w[2], ":80"):
				line = "server inst2 " + inst2 + " check inter 5000 fall 3"
			case w[0] == "server" && strings.HasSuffix(w[2], ":8000"):
				line = "server inst1 " + inst1 + " check inter 5000 fall 3"
			case modern && w[0] == "contimeout":
				line = "timeout connect " + w[1]
			case modern && w[0] == "clitimeout":
				line = "timeout client " + w[1]
			case modern && w[0] == "srvtimeout":
				line = "timeout server " + w[1]
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n") + "\n"
	}
	hpAddr, goAddr := freeAddr(t), freeAddr(t)
	startHAProxy(t, rewrite(hpAddr, true), hpAddr)
	startProxy(t, rewrite(goAddr, false), Options{})
	cases := []struct{ host, server string }{
		{"test.com", "inst2"},
		{"test.domain.com", "inst1"},
		{"TEST.Domain.com:80", "inst1"},
		{"www.test.domain.com", "inst1"},
		{"test.domain.com.evil.org", "inst1"},
		{"domain.com", "inst2"},
		{"", "inst2"},
	}
	for _, c := range cases {
		req := "GET /index.html HTTP/1.1\r\nHost: " + c.host + "\r\nConnection: close\r\n\r\n"
		want := roundTrip(t, hpAddr, req, 3*time.Second)
		got := roundTrip(t, goAddr, req, 3*time.Second)
		if !strings.Contains(got, "x-backend-mixed: "+c.server+"\r\n") {
			t.Errorf("Host %q: goproxy did not route to %s: %q", c.host, c.server, got)
		}
		if got != want {
			t.Errorf("Host %q:\nhaproxy: %q\ngoproxy: %q", c.host, want, got)
		}
	}
}

// TestRulesDifferential compares HAProxy 2.6 and goproxy on the common
// http-request/http-response actions, redirect lines, monitor-uri and
// use_backend with ACLs.
func TestRulesDifferential(t *testing.T) {
	b1 := echoHeadBackendNamed(t, "b1")
	b2 := echoHeadBackendNamed(t, "b2")
	errfile := filepath.Join(t.TempDir(), "503.http")
	os.WriteFile(errfile, []byte("HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>Sorry</h1></body></html>\n"), 0o644)
	errfile403 := filepath.Join(t.TempDir(), "403.http")
	os.WriteFile(errfile403, []byte("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nno\n"), 0o644)
	cfg := func(bind, bind2 string) string {
		return `
http-errors myerrs
  errorfile 403 ` + errfile403 + `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
  timeout http-request 400ms
  timeout tarpit 200ms
frontend f2
  bind ` + bind2 + `
  errorfiles myerrs
  http-request deny
frontend f
  bind ` + bind + `
  option forwardfor except 10.0.0.0/8
  http-request tarpit if { path /tarpit }
  http-request replace-path /rp/(.*) /new/\1 if { path_beg /rp/ }
  http-request set-query q=2 if { path /sq }
  http-request set-path /setp if { path /sp }
  http-request replace-header User-Agent (.*)bot(.*) \1BOT\2
  http-request replace-value X-List ^a$ A
  use_backend nosrv if { path /nosrv }
  monitor-uri /health
  http-request deny if { path /deny }
  http-request deny deny_status 404 if { path /deny404 }
  http-request return status 200 content-type text/plain string "hello" if { path /ret }
  http-request redirect location /new code 301 if { path /old }
  http-request redirect prefix /pfx if { path_beg /p/ }
  http-request redirect scheme https if { path /s }
  http-request auth realm Secret if { path /auth }
  http-request set-header X-Set %[req.hdr(host),lower]
  http-request add-header X-Add added
  http-request del-header X-Del
  http-response set-header X-Resp yes
  http-response add-header X-Resp2 two
  redirect location /legacy if { path /leg }
  use_backend b2 if { hdr(host) -i b2.example }
  default_backend b1
backend b1
  http-request set-header X-Backend b1
  use-server s2 if { path /us }
  server s ` + b1 + `
  server s2 ` + b2 + ` weight 0
backend nosrv
  errorfile 503 ` + errfile + `
  server s ` + b1 + ` disabled
backend b2
  option forwardfor header X-Real-IP
  http-response replace-header X-Resp2 t(.)o T\1O
  http-response del-header X-Backend-Mixed
  server s ` + b2 + `
`
	}
	hpAddr, goAddr, hpAddr2, goAddr2 := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	startHAProxy(t, cfg(hpAddr, hpAddr2), hpAddr)
	startProxy(t, cfg(goAddr, goAddr2), Options{})
	reqs := []string{
		"GET / HTTP/1.1\r\nHost: Example.COM\r\nX-Del: gone\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: b2.example\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /deny HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /deny404 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /ret HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /old HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /p/a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /s HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		"GET /auth HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /leg HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /deny HTTP/1.0\r\nHost: x\r\n\r\n",
		"GET /old HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /rp/a/b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /sq?a=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /sp?a=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: b2.example\r\nUser-Agent: googlebot/2\r\nX-List: a, b,a\r\n\r\n",
		"GET /nosrv HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /us HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /tarpit HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	for _, r := range reqs {
		want := roundTrip(t, hpAddr, r, 1200*time.Millisecond)
		got := roundTrip(t, goAddr, r, 1200*time.Millisecond)
		if got != want {
			t.Errorf("request %q\nhaproxy: %q\ngoproxy: %q", r, want, got)
		}
	}
	// errorfiles from an http-errors section (frontend f2).
	r := "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	want := roundTrip(t, hpAddr2, r, 1200*time.Millisecond)
	got := roundTrip(t, goAddr2, r, 1200*time.Millisecond)
	if got != want || !strings.Contains(got, "no\n") {
		t.Errorf("errorfiles:\nhaproxy: %q\ngoproxy: %q", want, got)
	}
}

// TestConnModesDifferential compares the connection headers and closes
// of option http-server-close, httpclose and http-keep-alive with HAProxy
// 2.6, two requests per connection.
func TestConnModesDifferential(t *testing.T) {
	echo := echoHeadBackend(t)
	for _, opt := range []string{"option http-server-close", "option httpclose", "option http-keep-alive"} {
		t.Run(strings.ReplaceAll(opt, " ", "_"), func(t *testing.T) {
			cfg := func(bind string) string {
				return `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
  timeout http-request 400ms
  ` + opt + `
frontend f
  bind ` + bind + `
  default_backend echo
backend echo
  server s ` + echo + `
`
			}
			hpAddr, goAddr := freeAddr(t), freeAddr(t)
			startHAProxy(t, cfg(hpAddr), hpAddr)
			startProxy(t, cfg(goAddr), Options{})
			for _, r := range []string{
				"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
				"GET /1 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
				"GET /1 HTTP/1.0\r\nHost: x\r\n\r\n",
			} {
				want := roundTrip(t, hpAddr, r, 1200*time.Millisecond)
				got := roundTrip(t, goAddr, r, 1200*time.Millisecond)
				if got != want {
					t.Errorf("request %q\nhaproxy: %q\ngoproxy: %q", r, want, got)
				}
			}
		})
	}
}

// TestUpgradeDifferential compares a WebSocket upgrade through HAProxy
// 2.6 and goproxy: the request the server receives (echoed back in the
// tunnel) and the 101 response the client gets.
func TestUpgradeDifferential(t *testing.T) {
	addr := serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, ok := readHead(br)
		if !ok {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
		io.WriteString(c, head)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		io.Copy(c, br)
	})
	cfg := func(bind string) string {
		return `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
  timeout tunnel 1s
frontend f
  bind ` + bind + `
  default_backend ws
backend ws
  server s ` + addr + `
`
	}
	hpAddr, goAddr := freeAddr(t), freeAddr(t)
	startHAProxy(t, cfg(hpAddr), hpAddr)
	startProxy(t, cfg(goAddr), Options{})
	req := "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	exchange := func(addr string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, req)
		var out []byte
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			n, err := c.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				break
			}
		}
		io.WriteString(c, "frame")
		c.SetReadDeadline(time.Now().Add(2500 * time.Millisecond))
		rest, _ := io.ReadAll(c)
		return string(out) + "|" + string(rest)
	}
	want := exchange(hpAddr)
	got := exchange(goAddr)
	if got != want {
		t.Errorf("haproxy: %q\ngoproxy: %q", want, got)
	}
}

// TestBalanceSequenceDifferential compares the servers HAProxy 2.6 and
// goproxy pick for the same request sequence (weighted roundrobin, and
// balance source for one client address).
func TestBalanceSequenceDifferential(t *testing.T) {
	a := echoHeadBackendNamed(t, "A")
	b := echoHeadBackendNamed(t, "B")
	c := echoHeadBackendNamed(t, "C")
	for _, algo := range []string{"roundrobin", "source", "static-rr", "first"} {
		t.Run(algo, func(t *testing.T) {
			cfg := func(bind string) string {
				return `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
frontend f
  bind ` + bind + `
  default_backend be
backend be
  balance ` + algo + `
  server a ` + a + ` weight 3
  server b ` + b + ` weight 2
  server c ` + c + ` weight 1
`
			}
			hpAddr, goAddr := freeAddr(t), freeAddr(t)
			startHAProxy(t, cfg(hpAddr), hpAddr)
			startProxy(t, cfg(goAddr), Options{})
			seq := func(addr string) string {
				var out strings.Builder
				for i := 0; i < 12; i++ {
					r := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second)
					if i := strings.Index(r, "x-backend-mixed: "); i >= 0 {
						out.WriteByte(r[i+17])
					} else {
						out.WriteByte('?')
					}
				}
				return out.String()
			}
			want, got := seq(hpAddr), seq(goAddr)
			if got != want {
				t.Errorf("servers picked\nhaproxy: %s\ngoproxy: %s", want, got)
			}
		})
	}
}

// TestTCPModeDifferential: mode tcp forwards bytes unchanged in both
// directions, half-close included, like HAProxy 2.6.
func TestTCPModeDifferential(t *testing.T) {
	srv := echoServer(t)
	cfg := func(bind string) string {
		return `
defaults
  mode tcp
  timeout connect 1s
  timeout client 5s
  timeout server 5s
listen l
  bind ` + bind + `
  server s ` + srv + `
`
	}
	hpAddr, goAddr := freeAddr(t), freeAddr(t)
	startHAProxy(t, cfg(hpAddr), hpAddr)
	startProxy(t, cfg(goAddr), Options{})
	payload := "GET / HTTP/1.1\r\nHost: not parsed in tcp mode\r\n\r\n" + strings.Repeat("\x00\xff binary ", 10000)
	want := roundTripHalfClose(t, hpAddr, payload)
	got := roundTripHalfClose(t, goAddr, payload)
	if got != want || got != payload+"bye" {
		t.Errorf("tcp mode: haproxy %d bytes, goproxy %d bytes, equal %v", len(want), len(got), got == want)
	}
}
