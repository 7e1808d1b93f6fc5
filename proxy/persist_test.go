package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// replyBackend answers every request with a body echoing the request
// head, naming itself in X-Backend-Mixed; each `X-Reply: Name: value`
// request header becomes a response header and `X-Status: N` sets the
// status, so tests can make the server send Set-Cookie or Cache-Control.
func replyBackend(t *testing.T, name string) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			var head strings.Builder
			var extra []string
			status, n := 200, 0
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
				k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
				v = strings.TrimSpace(v)
				switch strings.ToLower(k) {
				case "x-reply":
					extra = append(extra, v)
				case "x-status":
					status, _ = strconv.Atoi(v)
				case "content-length":
					n, _ = strconv.Atoi(v)
				}
			}
			if n > 0 {
				io.CopyN(io.Discard, br, int64(n))
			}
			body := head.String()
			fmt.Fprintf(c, "HTTP/1.1 %d X\r\nX-Backend-Mixed: %s\r\n", status, name)
			for _, h := range extra {
				fmt.Fprintf(c, "%s\r\n", h)
			}
			fmt.Fprintf(c, "Content-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
}

// cookieRequests are sent in order, each on a new connection, through
// both proxies.
var cookieRequests = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=b\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: x=1; SERVERID=a; y=2\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=a; y=2\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: y=2;SERVERID=b\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=zz\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: SERVERID=b\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=d\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=c\r\n",
	"POST /p HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=a\r\nContent-Length: 2\r\n\r\nok",
	"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Reply: Set-Cookie: SERVERID=fromsrv; path=/x\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=a\r\nX-Reply: Set-Cookie: SERVERID=fromsrv; Path=/\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Reply: Set-Cookie: JSESSIONID=abc; Path=/; HttpOnly\r\nX-Reply: Set-Cookie: other=1\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: JSESSIONID=a~abc\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: o=1; JSESSIONID=b~abc; p=2\r\nX-Reply: Set-Cookie: JSESSIONID=new\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCookie: JSESSIONID=abc\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Reply: Cache-Control: no-cache\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Reply: Cache-Control: public, max-age=60\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Status: 302\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Status: 404\r\n",
	"HEAD / HTTP/1.1\r\nHost: x\r\n",
	"GET / HTTP/1.0\r\nHost: x\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nCache-Control: no-cache\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp5\r\n",
}

// TestCookieDifferential runs the same cookie persistence settings and
// requests through HAProxy 2.6 and goproxy and compares the whole
// responses: the server chosen, the Set-Cookie and Cache-Control the
// proxy adds or rewrites, and the Cookie header the server received.
func TestCookieDifferential(t *testing.T) {
	a := replyBackend(t, "A")
	b := replyBackend(t, "B")
	c := replyBackend(t, "C")
	cases := []struct{ name, cookie, extra, servers string }{
		{"insert_indirect_nocache", "cookie SERVERID insert indirect nocache", "", ""},
		{"insert", "cookie SERVERID insert", "", ""},
		{"insert_nocache_preserve", "cookie SERVERID insert nocache preserve", "", ""},
		{"insert_indirect_attrs", "cookie SERVERID insert indirect httponly secure domain .x.com attr SameSite=Lax", "", ""},
		{"insert_postonly", "cookie SERVERID insert indirect postonly", "", ""},
		{"rewrite", "cookie SERVERID rewrite", "", ""},
		{"prefix", "cookie JSESSIONID prefix", "", ""},
		{"prefix_indirect_nocache", "cookie JSESSIONID prefix indirect nocache", "", ""},
		{"passive", "cookie SERVERID", "", ""},
		{"passive_indirect", "cookie SERVERID indirect", "", ""},
		{"disabled_server", "cookie SERVERID insert indirect nocache", "", "b_disabled"},
		{"disabled_server_persist", "cookie SERVERID insert indirect nocache", "option persist\n  option redispatch", "b_disabled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bOpts := "cookie b"
			if tc.servers == "b_disabled" {
				bOpts += " disabled"
			}
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
  ` + tc.cookie + `
  ` + tc.extra + `
  server a ` + a + ` cookie a
  server b ` + b + ` ` + bOpts + `
  server c ` + c + `
`
			}
			hpAddr, goAddr := freeAddr(t), freeAddr(t)
			startHAProxy(t, cfg(hpAddr), hpAddr)
			startProxy(t, cfg(goAddr), Options{})
			for i, r := range cookieRequests {
				req := r
				if strings.HasSuffix(req, "\r\n") && !strings.Contains(req, "\r\n\r\n") {
					req += "Connection: close\r\n\r\n"
				} else {
					req = strings.Replace(req, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)
				}
				want := roundTrip(t, hpAddr, req, 2*time.Second)
				got := roundTrip(t, goAddr, req, 2*time.Second)
				if testing.Verbose() {
					t.Logf("request %d: haproxy %q", i, want)
				}
				if got != want {
					t.Errorf("request %d %q\nhaproxy: %q\ngoproxy: %q", i, req, want, got)
				}
			}
		})
	}
}

// TestCookieRedispatchDifferential: a persistence cookie naming a server
// that refuses connections (not known down: no check) is retried and,
// with option redispatch, sent to another server which then gets its
// own cookie, like HAProxy 2.6; without redispatch it is a 503.
func TestCookieRedispatchDifferential(t *testing.T) {
	a := replyBackend(t, "A")
	dead := freeAddr(t)
	for _, redispatch := range []string{"option redispatch", "no option redispatch"} {
		t.Run(strings.ReplaceAll(redispatch, " ", "_"), func(t *testing.T) {
			cfg := func(bind string) string {
				return `
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
  retries 1
frontend f
  bind ` + bind + `
  default_backend be
backend be
  cookie SERVERID insert indirect nocache
  option persist
  ` + redispatch + `
  server a ` + a + ` cookie a
  server b ` + dead + ` cookie b
`
			}
			hpAddr, goAddr := freeAddr(t), freeAddr(t)
			startHAProxy(t, cfg(hpAddr), hpAddr)
			startProxy(t, cfg(goAddr), Options{})
			req := "GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=b\r\nConnection: close\r\n\r\n"
			want := roundTrip(t, hpAddr, req, 4*time.Second)
			got := roundTrip(t, goAddr, req, 4*time.Second)
			t.Logf("haproxy: %q", want)
			if got != want {
				t.Errorf("haproxy: %q\ngoproxy: %q", want, got)
			}
		})
	}
}
