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
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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

func TestServeSoftStopSIGUSR1(t *testing.T) {
	addr, code := startGoproxy(t)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "xff=127.") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// An in-flight request (head sent, not finished) completes after SIGUSR1.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(50 * time.Millisecond)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still open after SIGUSR1")
		}
		time.Sleep(10 * time.Millisecond)
	}
	io.WriteString(c, "\r\n")
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
	addr, code := startGoproxy(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // never finished
	time.Sleep(50 * time.Millisecond)
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case rc := <-code:
		if rc != 0 {
			t.Fatalf("exit code %d", rc)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("goproxy did not exit on SIGTERM")
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("connection still open after hard stop (%d, %v)", n, err)
	}
}
