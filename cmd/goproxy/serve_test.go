package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startGoproxy runs goproxy's run() in-process on a config with one HTTP
// frontend on a free loopback address and returns that address and the
// channel receiving run's exit code.
func startGoproxy(t *testing.T) (string, chan int) {
	return startGoproxyWith(t, nil)
}

// startGoproxyWith is startGoproxy whose server reports each request's
// arrival (head received, body not yet read) on started.
func startGoproxyWith(t *testing.T, started chan<- struct{}) (string, chan int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if started != nil {
			started <- struct{}{}
		}
		io.ReadAll(r.Body)
		fmt.Fprintf(w, "xff=%s", r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(srv.Close)
	l, err := net.Listen("tcp4", "127.88.250.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := `global
  maxconn 100
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
  option forwardfor
frontend f
  bind ` + addr + `
  default_backend b
backend b
  server s ` + strings.TrimPrefix(srv.URL, "http://") + `
`
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(path, []byte(cfg), 0o644)
	code := make(chan int, 1)
	var out bytes.Buffer
	go func() { code <- run([]string{"-db", "-f", path}, &out, &out) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goproxy did not listen: %s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return addr, code
}

// inFlight opens a connection and sends a request whose body is still to
// come, and returns once the server has the request: the request is in
// flight in the proxy, with no sleep needed to know it.
func inFlight(t *testing.T, addr string, started <-chan struct{}) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the server")
	}
	return c
}

func TestServeSoftStopSIGUSR1(t *testing.T) {
	started := make(chan struct{}, 4)
	addr, code := startGoproxyWith(t, started)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	<-started
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "xff=127.") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// An in-flight request (body not sent yet) completes after SIGUSR1.
	c := inFlight(t, addr, started)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	// New connections are refused once the listener is closed.
	if !waitFor(5*time.Second, func() bool {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		nc.Close()
		return false
	}) {
		t.Fatal("listener still open after SIGUSR1")
	}
	io.WriteString(c, "hello")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.1 200") || !strings.Contains(string(got), "connection: close") {
		t.Fatalf("in-flight request got %q", got)
	}
	select {
	case rc := <-code:
		if rc != 0 {
			t.Fatalf("exit code %d", rc)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("goproxy did not exit after soft stop")
	}
}

func TestServeHardStopSIGTERM(t *testing.T) {
	started := make(chan struct{}, 4)
	addr, code := startGoproxyWith(t, started)
	c := inFlight(t, addr, started) // never finished
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case rc := <-code:
		if rc != 143 {
			t.Fatalf("exit code %d, want 143 as haproxy 2.6", rc)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("goproxy did not exit on SIGTERM")
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("connection still open after hard stop (%d, %v)", n, err)
	}
}
