package checks

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// captureServer accepts connections on 127.0.0.1, records each request
// (head plus content-length body) and answers with reply. Requests arrive
// on the returned channel.
func captureServer(t *testing.T, reply string) (addr string, reqs <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				req, err := readRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				select {
				case ch <- req:
				default:
				}
				io.WriteString(c, reply)
			}()
		}
	}()
	return ln.Addr().String(), ch
}

// readRequest reads one request head and its content-length body verbatim.
func readRequest(br *bufio.Reader) (string, error) {
	var b strings.Builder
	n := 0
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "content-length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	body := make([]byte, n)
	_, err := io.ReadFull(br, body)
	b.Write(body)
	return b.String(), err
}

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no request received within 10s")
		return ""
	}
}

func TestLegacyHTTPCheckBytes(t *testing.T) {
	tests := []struct {
		method, uri, version string
		want                 string
	}{
		{"HEAD", "/haproxy.txt", "HTTP/1.1\r\nHost:192.168.1.187",
			"HEAD /haproxy.txt HTTP/1.1\r\nhost: 192.168.1.187\r\nconnection: close\r\n\r\n"},
		{"HEAD", "/haproxy.txt", `HTTP/1.1\r\nHost:192.168.1.187`,
			"HEAD /haproxy.txt HTTP/1.1\r\nhost: 192.168.1.187\r\nconnection: close\r\n\r\n"},
		{"", "", "", "OPTIONS / HTTP/1.0\r\n\r\n"},
		{"GET", "/x", "", "GET /x HTTP/1.0\r\n\r\n"},
		{"POST", "/p", "HTTP/1.1\r\nHost: a.b\r\nX-Y:z\r\n\r\nBODY",
			"POST /p HTTP/1.1\r\nhost: a.b\r\nx-y: z\r\ncontent-length: 4\r\nconnection: close\r\n\r\nBODY"},
		{"GET", "/p", "HTTP/1.0\r\nConnection: keep-alive", "GET /p HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"},
	}
	for _, tt := range tests {
		if got := string(LegacyHTTPCheck(tt.method, tt.uri, tt.version).Bytes()); got != tt.want {
			t.Errorf("LegacyHTTPCheck(%q,%q,%q) sends\n%q\nwant\n%q", tt.method, tt.uri, tt.version, got, tt.want)
		}
	}
	r, err := HTTPCheckSend(LegacyHTTPCheck("", "", ""), strings.Fields("meth GET uri /h ver HTTP/1.1 hdr Host foo hdr X-A b body hello"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.Bytes()), "GET /h HTTP/1.1\r\nhost: foo\r\nx-a: b\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"; got != want {
		t.Errorf("http-check send: %q, want %q", got, want)
	}
	for _, bad := range [][]string{{"meth"}, {"hdr", "a"}, {"bogus", "x"}} {
		if _, err := HTTPCheckSend(HTTPRequest{}, bad); err == nil {
			t.Errorf("HTTPCheckSend(%q) accepted", bad)
		}
	}
}

func expects(t *testing.T, rules ...string) []HTTPExpect {
	var out []HTTPExpect
	for _, r := range rules {
		e, err := ParseHTTPExpect(strings.Fields(r))
		if err != nil {
			t.Fatalf("ParseHTTPExpect(%q): %v", r, err)
		}
		out = append(out, e)
	}
	return out
}

func TestParseHTTPExpectErrors(t *testing.T) {
	for _, bad := range []string{"", "status", "status abc", "status 300-200", "rstatus (", "hdr name x", "! string"} {
		if _, err := ParseHTTPExpect(strings.Fields(bad)); err == nil {
			t.Errorf("ParseHTTPExpect(%q) accepted", bad)
		}
	}
}

func TestHTTPCheck(t *testing.T) {
	resp := func(code int, reason, body string) string {
		return fmt.Sprintf("HTTP/1.1 %d %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s", code, reason, len(body), body)
	}
	sum := md5.Sum([]byte("hello world"))
	digest := hex.EncodeToString(sum[:])
	tests := []struct {
		name   string
		reply  string
		expect []string
		digest string
		method string
		status Status
		code   int
		info   string
	}{
		{"200 passes", resp(200, "OK", ""), nil, "", "GET", StatusL7OK, 200, ""},
		{"302 passes", resp(302, "Found", ""), nil, "", "GET", StatusL7OK, 302, ""},
		{"404 is L7STS", resp(404, "File not found", "nope"), nil, "", "GET", StatusL7STS, 404, "File not found"},
		{"503 is L7STS", resp(503, "Service Unavailable", ""), nil, "", "HEAD", StatusL7STS, 503, "Service Unavailable"},
		{"HEAD response with length but no body", "HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n", nil, "", "HEAD", StatusL7OK, 200, ""},
		{"expect status list", resp(201, "Created", ""), []string{"status 200,201"}, "", "GET", StatusL7OK, 201, ""},
		{"expect status range miss", resp(302, "Found", ""), []string{"status 200-299"}, "", "GET", StatusL7STS, 302, "Found"},
		{"expect rstatus", resp(204, "No Content", ""), []string{"rstatus ^2"}, "", "GET", StatusL7OK, 204, ""},
		{"expect ! status", resp(500, "Err", ""), []string{"! status 200"}, "", "GET", StatusL7OK, 500, ""},
		{"expect string", resp(200, "OK", "role: master"), []string{"string master"}, "", "GET", StatusL7OK, 200, ""},
		{"expect string miss", resp(200, "OK", "role: replica"), []string{"string master"}, "", "GET", StatusL7RSP, 0, "HTTP content check did not match"},
		{"expect ! string", resp(200, "OK", "maintenance"), []string{"! string maintenance"}, "", "GET", StatusL7RSP, 0, "HTTP check matched unwanted content"},
		{"expect rstring", resp(200, "OK", "up=1"), []string{"rstring up=[0-9]"}, "", "GET", StatusL7OK, 200, ""},
		{"digest ok", resp(200, "OK", "hello world"), nil, digest, "GET", StatusL7OK, 200, ""},
		{"digest mismatch", resp(200, "OK", "hello there"), nil, digest, "GET", StatusL7RSP, 200, "*"},
		{"not http", "SSH-2.0-OpenSSH\r\n", nil, "", "GET", StatusL7RSP, 0, ""},
		{"closed without reply", "", nil, "", "GET", StatusL7RSP, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := captureServer(t, tt.reply)
			c := &HTTP{Addr: addr, Request: LegacyHTTPCheck(tt.method, "/", "HTTP/1.1"), Expect: expects(t, tt.expect...), Digest: tt.digest}
			r := Run(t.Context(), c, 5*time.Second)
			if r.Status != tt.status || r.Code != tt.code || (tt.info != "*" && r.Info != tt.info) {
				t.Fatalf("got %v code %d info %q, want %v %d %q", r.Status, r.Code, r.Info, tt.status, tt.code, tt.info)
			}
		})
	}
}

func TestHTTPCheckTimeoutsAndRefused(t *testing.T) {
	// A server that accepts and never answers: L7TOUT at the check timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := &HTTP{Addr: ln.Addr().String(), Request: LegacyHTTPCheck("GET", "/", "")}
	r := Run(t.Context(), c, 200*time.Millisecond)
	if r.Status != StatusL7TOUT || r.Duration < 200*time.Millisecond || r.Duration > 2*time.Second {
		t.Fatalf("silent server: %v after %v, want L7TOUT after 200ms", r.Status, r.Duration)
	}
	// A closed port: L4CON "Connection refused", like HAProxy's log line.
	closed := closedPort(t)
	r = Run(t.Context(), &HTTP{Addr: closed, Request: c.Request}, time.Second)
	if r.Status != StatusL4CON || r.Info != "Connection refused" {
		t.Fatalf("closed port: %v %q, want L4CON \"Connection refused\"", r.Status, r.Info)
	}
	r = Run(t.Context(), &TCP{Addr: closed}, time.Second)
	if r.Status != StatusL4CON || r.Info != "Connection refused" {
		t.Fatalf("tcp closed port: %v %q", r.Status, r.Info)
	}
	r = Run(t.Context(), &TCP{Addr: ln.Addr().String()}, time.Second)
	if r.Status != StatusL4OK {
		t.Fatalf("tcp open port: %v %q", r.Status, r.Info)
	}
}

// closedPort returns 127.0.0.1:P where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fullBacklog returns the address of a listener whose accept queue is
// full and never drained: further SYNs are dropped, so connects time out.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 8 { // fill the accept queue
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

func TestTCPConnectTimeout(t *testing.T) {
	addr := fullBacklog(t)
	r := Run(t.Context(), &TCP{Addr: addr, ConnectTimeout: 300 * time.Millisecond}, 5*time.Second)
	if r.Status != StatusL4TOUT {
		t.Fatalf("got %v %q after %v, want L4TOUT", r.Status, r.Info, r.Duration)
	}
	if r.Duration < 300*time.Millisecond || r.Duration > 2*time.Second {
		t.Fatalf("connect timeout took %v, want 300ms", r.Duration)
	}
}

func TestCheckAddr(t *testing.T) {
	for _, tt := range []struct {
		srv, addr string
		port      int
		want      string
	}{
		{"10.0.0.1:80", "", 0, "10.0.0.1:80"},
		{"10.0.0.1:80", "", 8080, "10.0.0.1:8080"},
		{"10.0.0.1:80", "10.0.0.2", 0, "10.0.0.2:80"},
		{"[2001:db8::1]:80", "", 81, "[2001:db8::1]:81"},
	} {
		if got, err := CheckAddr(tt.srv, tt.addr, tt.port); err != nil || got != tt.want {
			t.Errorf("CheckAddr(%q,%q,%d) = %q, %v", tt.srv, tt.addr, tt.port, got, err)
		}
	}
}

// TestHTTPCheckBytesMatchHAProxy runs the real HAProxy 2.6 with the same
// httpchk lines and compares, byte for byte, what it sends with what our
// checker sends.
func TestHTTPCheckBytesMatchHAProxy(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	cases := []struct {
		cfg string // backend lines
		req HTTPRequest
	}{
		{`option httpchk HEAD /haproxy.txt HTTP/1.1\r\nHost:192.168.1.187`,
			LegacyHTTPCheck("HEAD", "/haproxy.txt", "HTTP/1.1\r\nHost:192.168.1.187")},
		{`option httpchk`, LegacyHTTPCheck("", "", "")},
		{`option httpchk GET /x`, LegacyHTTPCheck("GET", "/x", "")},
		{`option httpchk POST /p HTTP/1.1\r\nHost:\ a.b\r\nX-Y:z\r\n\r\nBODY`,
			LegacyHTTPCheck("POST", "/p", "HTTP/1.1\r\nHost: a.b\r\nX-Y:z\r\n\r\nBODY")},
		{"option httpchk\n    http-check send meth GET uri /h ver HTTP/1.1 hdr Host foo hdr X-A b body hello",
			must(HTTPCheckSend(LegacyHTTPCheck("", "", ""), strings.Fields("meth GET uri /h ver HTTP/1.1 hdr Host foo hdr X-A b body hello")))},
	}
	cases = append(cases, []struct {
		cfg string
		req HTTPRequest
	}{
		{"option httpchk\n    http-check send hdr Host x",
			must(HTTPCheckSend(LegacyHTTPCheck("", "", ""), []string{"hdr", "Host", "x"}))},
		{"option httpchk GET /x HTTP/1.1\n    http-check send hdr Host y",
			must(HTTPCheckSend(LegacyHTTPCheck("GET", "/x", "HTTP/1.1"), []string{"hdr", "Host", "y"}))},
		{"option httpchk GET /x HTTP/1.0\n    http-check send body abc",
			must(HTTPCheckSend(LegacyHTTPCheck("GET", "/x", "HTTP/1.0"), []string{"body", "abc"}))},
	}...)
	reply := "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n")
	fmt.Fprintf(&cfg, "frontend fe\n    bind %s\n    default_backend b0\n", closedPort(t))
	chans := make([]<-chan string, len(cases))
	for i, c := range cases {
		addr, ch := captureServer(t, reply)
		chans[i] = ch
		fmt.Fprintf(&cfg, "backend b%d\n    %s\n    server s %s check inter 200\n", i, c.cfg, addr)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxy, "-db", "-f", path)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) } // by PID
	defer stop()
	for i, c := range cases {
		theirs := recv(t, chans[i])
		addr, ours := captureServer(t, reply)
		r := Run(context.Background(), &HTTP{Addr: addr, Request: c.req}, 5*time.Second)
		if r.Status != StatusL7OK {
			t.Errorf("case %d: our check %v %q", i, r.Status, r.Info)
		}
		if got := recv(t, ours); got != theirs {
			t.Errorf("case %d (%s):\nhaproxy sent %q\nwe sent      %q", i, c.cfg, theirs, got)
		}
	}
	if t.Failed() {
		stop()
		t.Logf("haproxy output:\n%s", out.String())
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
