package proxy

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// roundTripFrom is roundTrip from a chosen loopback source address, so
// that stick tables keyed on src see different clients.
// A connection refused or reset while connecting reads as "".
func roundTripFrom(t *testing.T, src, addr, data string, wait time.Duration) string {
	return roundTripFromHalf(t, src, addr, data, wait, false)
}

// roundTripFromHalf is roundTripFrom; halfClose shuts the client's side
// after sending (mode tcp, where the server waits for the end).
func roundTripFromHalf(t *testing.T, src, addr, data string, wait time.Duration, halfClose bool) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Logf("dial %s: %v", addr, err)
		return ""
	}
	defer c.Close()
	io.WriteString(c, data)
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(c)
	return string(b)
}

// backendOf returns the x-backend-mixed name of a raw response, or the
// status when there is none.
func backendOf(r string) string {
	r = strings.ToLower(r)
	if i := strings.Index(r, "x-backend-mixed: "); i >= 0 {
		return r[i+17 : i+18]
	}
	if r == "" {
		return "-"
	}
	return r[9:12]
}

// TestStickOnSrcDifferential: `stick on src` (and match/store-request
// apart) keeps each client address on the server it first got, in HTTP
// and TCP mode, the same as HAProxy 2.6 does.
func TestStickOnSrcDifferential(t *testing.T) {
	a := echoHeadBackendNamed(t, "A")
	b := echoHeadBackendNamed(t, "B")
	c := echoHeadBackendNamed(t, "C")
	cases := []struct{ name, mode, rules string }{
		{"on_http", "http", "stick on src"},
		{"on_tcp", "tcp", "stick on src"},
		{"match_store_http", "http", "stick match src\n  stick store-request src"},
		{"store_only_http", "http", "stick store-request src"},
		{"on_cond_http", "http", "acl sticky hdr(x-stick) -m found\n  stick on src if sticky"},
	}
	srcs := []string{"127.89.0.1", "127.89.0.2", "127.89.0.1", "127.89.0.3", "127.89.0.2", "127.89.0.4", "127.89.0.1", "127.89.0.3", "127.89.0.5", "127.89.0.5"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := func(bind string) string {
				return `
defaults
  mode ` + tc.mode + `
  timeout connect 1s
  timeout client 5s
  timeout server 2s
frontend f
  bind ` + bind + `
  default_backend be
backend be
  balance roundrobin
  stick-table type ip size 200k expire 30m
  ` + tc.rules + `
  server a ` + a + `
  server b ` + b + `
  server c ` + c + `
`
			}
			hpAddr, goAddr := freeAddr(t), freeAddr(t)
			startHAProxy(t, cfg(hpAddr), hpAddr)
			gp := startProxy(t, cfg(goAddr), Options{})
			if tc.mode == "tcp" {
				// startHAProxy's probe connection took a server in mode
				// tcp: do the same here.
				c, err := net.Dial("tcp", goAddr)
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				waitFor(t, 2*time.Second, "probe balanced", func() bool { return gp.Backend("be").Counters.Lbtot.Load() == 1 })
			}
			seq := func(addr string) string {
				var out strings.Builder
				for i, src := range srcs {
					hdr := ""
					if i%3 != 2 {
						hdr = "X-Stick: 1\r\n"
					}
					out.WriteString(backendOf(roundTripFromHalf(t, src, addr, "GET / HTTP/1.1\r\nHost: x\r\n"+hdr+"Connection: close\r\n\r\n", 2*time.Second, tc.mode == "tcp")))
				}
				return out.String()
			}
			want, got := seq(hpAddr), seq(goAddr)
			t.Logf("haproxy %s", want)
			if got != want {
				t.Errorf("servers\nhaproxy: %s\ngoproxy: %s", want, got)
			}
		})
	}
}

// TestTrackRateLimitDifferential: http-request track-sc0 src with
// sc_http_req_rate / sc0_conn_rate / src_http_req_rate (conn_cur races
// in haproxy when the previous connection closes), a 429 deny above a
// rate, on new connections and on one keep-alive connection, compared
// with HAProxy 2.6 (the counters are echoed in request headers).
func TestTrackRateLimitDifferential(t *testing.T) {
	echo := echoHeadBackend(t)
	cfg := func(bind string) string {
		return `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
frontend f
  bind ` + bind + `
  stick-table type ip size 200k expire 30m store http_req_rate(10s),conn_cur,conn_rate(10s),http_err_rate(10s)
  http-request track-sc0 src
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 4 }
  http-request set-header X-Rate %[sc_http_req_rate(0)]
  http-request set-header X-Conn-Rate %[sc0_conn_rate]
  http-request set-header X-Src-Rate %[src_http_req_rate]
  http-request set-header X-Err-Rate %[src_http_err_rate]
  http-request set-var(txn.host) req.hdr(host),lower
  http-request set-header X-Host %[var(txn.host)]
  http-request deny if { var(txn.host) -m str bad.example }
  default_backend be
backend be
  server s ` + echo + `
`
	}
	hpAddr, goAddr := freeAddr(t), freeAddr(t)
	startHAProxy(t, cfg(hpAddr), hpAddr)
	startProxy(t, cfg(goAddr), Options{})
	run := func(addr, src string) []string {
		var out []string
		reqs := []string{"GET /1 HTTP/1.1\r\nHost: A.example\r\n", "GET /2 HTTP/1.1\r\nHost: bad.example\r\n", "GET /3 HTTP/1.1\r\nHost: x\r\n",
			"GET /4 HTTP/1.1\r\nHost: x\r\n", "GET /5 HTTP/1.1\r\nHost: x\r\n", "GET /6 HTTP/1.1\r\nHost: x\r\n"}
		for _, r := range reqs {
			out = append(out, roundTripFrom(t, src, addr, r+"Connection: close\r\n\r\n", 2*time.Second))
		}
		// The same on one keep-alive connection from another address.
		var all strings.Builder
		for _, r := range reqs[2:] {
			all.WriteString(r + "\r\n")
		}
		out = append(out, roundTripFrom(t, src[:len(src)-1]+"9", addr, all.String()+"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second))
		return out
	}
	want, got := run(hpAddr, "127.89.1.1"), run(goAddr, "127.89.2.1")
	for i := range want {
		t.Logf("haproxy %d: %q", i, want[i])
		if got[i] != want[i] {
			t.Errorf("request %d\nhaproxy: %q\ngoproxy: %q", i, want[i], got[i])
		}
	}
}

// TestTCPRequestTrackConnCurDifferential: tcp-request connection
// track-sc0 src with a reject above two concurrent connections, and
// tcp-request content rules with inspect-delay reading the payload in
// mode tcp, compared with HAProxy 2.6.
func TestTCPRequestTrackConnCurDifferential(t *testing.T) {
	echo := echoHeadBackend(t)
	srv := echoServer(t)
	cfg := func(bind, bind2 string) string {
		return `
defaults
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend f
  mode http
  bind ` + bind + `
  stick-table type ip size 1k expire 30s store conn_cur
  tcp-request connection track-sc0 src
  tcp-request connection reject if { sc0_conn_cur gt 2 }
  default_backend be
backend be
  mode http
  server s ` + echo + `
listen l
  mode tcp
  bind ` + bind2 + `
  tcp-request inspect-delay 2s
  tcp-request content accept if { req.payload(0,4) -m str PING }
  tcp-request content reject
  server s ` + srv + `
`
	}
	hp1, hp2, go1, go2 := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	startHAProxy(t, cfg(hp1, hp2), hp1)
	startProxy(t, cfg(go1, go2), Options{})
	run := func(addr, addr2 string) string {
		var res []string
		var idle []net.Conn
		for i := 0; i < 2; i++ {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.89.3.1")}}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// A whole exchange proves the connection is counted.
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			readResponse(t, bufio.NewReader(c), "GET")
			idle = append(idle, c)
		}
		res = append(res, statusText(roundTripFrom(t, "127.89.3.1", addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", time.Second)))
		res = append(res, statusText(roundTripFrom(t, "127.89.3.2", addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", time.Second)))
		idle[0].Close()
		// Poll until the proxy has seen the close (bounded).
		st := "closed"
		for i := 0; i < 40 && st == "closed"; i++ {
			time.Sleep(25 * time.Millisecond)
			st = statusText(roundTripFrom(t, "127.89.3.1", addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", time.Second))
		}
		res = append(res, st)
		res = append(res, roundTripHalfClose(t, addr2, "PING 1"))
		res = append(res, roundTripHalfClose(t, addr2, "XXXX 1"))
		return strings.Join(res, "|")
	}
	want := run(hp1, hp2)
	got := run(go1, go2)
	t.Logf("haproxy %q", want)
	if got != want {
		t.Errorf("haproxy: %q\ngoproxy: %q", want, got)
	}
}

func statusText(r string) string {
	if len(r) < 12 {
		return "closed"
	}
	return r[9:12]
}

// TestTimeoutServerFinDifferential: once the client has shut its side,
// a silent server is given timeout server-fin instead of timeout server
// (mode tcp), like HAProxy: both proxies close within server-fin.
func TestTimeoutServerFinDifferential(t *testing.T) {
	// A server that reads to EOF and then neither answers nor closes.
	addr := freeAddr(t)
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	quit := make(chan struct{})
	t.Cleanup(func() { l.Close(); close(quit) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(io.Discard, c)
				select {
				case <-quit:
				case <-time.After(10 * time.Second):
				}
			}()
		}
	}()
	cfg := func(bind string) string {
		return `
defaults
  mode tcp
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  timeout server-fin 300ms
  timeout client-fin 300ms
listen l
  bind ` + bind + `
  server s ` + addr + `
`
	}
	hpAddr, goAddr := freeAddr(t), freeAddr(t)
	startHAProxy(t, cfg(hpAddr), hpAddr)
	startProxy(t, cfg(goAddr), Options{})
	for name, a := range map[string]string{"haproxy": hpAddr, "goproxy": goAddr} {
		start := time.Now()
		got := roundTripHalfClose(t, a, "hello")
		if d := time.Since(start); got != "" || d < 250*time.Millisecond || d > 3*time.Second {
			t.Errorf("%s: closed after %v with %q, want about 300ms (server-fin)", name, d, got)
		}
	}
}

// TestConnectMethodDifferential: CONNECT is forwarded to the server;
// a 2xx answer turns the exchange into a tunnel both ways (half-close
// included), any other answer is an ordinary response, like HAProxy 2.6.
func TestConnectMethodDifferential(t *testing.T) {
	addr := serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, ok := readHead(br)
		if !ok {
			return
		}
		if strings.Contains(head, "deny.example") {
			io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")
			return
		}
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\nX-Seen: "+strings.ReplaceAll(strings.TrimSpace(head), "\r\n", "|")+"\r\n\r\n")
		io.Copy(c, br)
		io.WriteString(c, "bye")
	})
	cfg := func(bind string) string {
		return `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend f
  bind ` + bind + `
  default_backend be
backend be
  server s ` + addr + `
`
	}
	hpAddr, goAddr := freeAddr(t), freeAddr(t)
	startHAProxy(t, cfg(hpAddr), hpAddr)
	startProxy(t, cfg(goAddr), Options{})
	for _, target := range []string{"tunnel.example:443", "tunnel.example:8443", "tunnel.example:80", "deny.example:443"} {
		req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"
		exchange := func(a string) string {
			c, err := net.Dial("tcp", a)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, req)
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			head, _ := readHead(br) // a cut head is compared as it is
			io.WriteString(c, "ping")
			c.(*net.TCPConn).CloseWrite()
			rest, _ := io.ReadAll(br)
			return head + "|" + string(rest)
		}
		want, got := exchange(hpAddr), exchange(goAddr)
		t.Logf("haproxy %q", want)
		if got != want {
			t.Errorf("%s\nhaproxy: %q\ngoproxy: %q", target, want, got)
		}
	}
}
