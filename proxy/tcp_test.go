package proxy

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoServer echoes until the client half-closes, then writes "bye" and
// closes.
func echoServer(t *testing.T) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		io.Copy(c, c)
		io.WriteString(c, "bye")
	})
}

func TestTCPHalfClose(t *testing.T) {
	srv := echoServer(t)
	fe := freeAddr(t)
	startProxy(t, `
defaults
  mode tcp
  timeout connect 1s
  timeout client 5s
  timeout server 5s
listen l
  bind `+fe+`
  server s1 `+srv+`
`, Options{})
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hello ")
	io.WriteString(c, "world")
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "hello worldbye" {
		t.Fatalf("got %q", b)
	}
}

func TestTCPRetriesRedispatch(t *testing.T) {
	srv := echoServer(t)
	dead := freeAddr(t) // nothing listens there
	fe := freeAddr(t)
	p := startProxy(t, `
defaults
  mode tcp
  timeout connect 200ms
  timeout client 5s
  timeout server 5s
  retries 1
  option redispatch
listen l
  bind `+fe+`
  balance first
  server dead `+dead+`
  server good `+srv+`
`, Options{})
	got := roundTripHalfClose(t, fe, "x")
	if got != "xbye" {
		t.Fatalf("got %q", got)
	}
	be := p.Backend("l")
	if be.Counters.Wretr.Load() != 1 || be.Counters.Wredis.Load() != 1 {
		t.Fatalf("wretr %d wredis %d, want 1 1", be.Counters.Wretr.Load(), be.Counters.Wredis.Load())
	}
}

func roundTripHalfClose(t *testing.T, addr, data string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, data)
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestTCPTimeoutClient(t *testing.T) {
	srv := echoServer(t)
	fe := freeAddr(t)
	var rec *LogRecord
	recs := make(chan *LogRecord, 1)
	startProxy(t, `
defaults
  mode tcp
  timeout connect 1s
  timeout client 200ms
  timeout server 5s
listen l
  bind `+fe+`
  server s1 `+srv+`
`, Options{Log: func(r *LogRecord) { recs <- r }})
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c) // idle: the proxy must close after 200-400ms
	el := time.Since(start)
	if el < 150*time.Millisecond || el > 2*time.Second || strings.Contains(string(b), "x") {
		t.Fatalf("closed after %v with %q", el, b)
	}
	select {
	case rec = <-recs:
	case <-time.After(2 * time.Second):
		t.Fatal("no log record")
	}
	if rec.TermState != "cD" || rec.ServerName != "s1" || rec.BackName != "l" {
		t.Fatalf("record %+v", rec)
	}
}

func TestTCPNoServer503Close(t *testing.T) {
	srv := echoServer(t)
	fe := freeAddr(t)
	p := startProxy(t, `
defaults
  mode tcp
  timeout connect 1s
  timeout client 5s
  timeout server 5s
listen l
  bind `+fe+`
  server s1 `+srv+`
`, Options{})
	if !p.SetServerState("l", "s1", false) {
		t.Fatal("SetServerState")
	}
	if got := roundTripHalfClose(t, fe, "x"); got != "" {
		t.Fatalf("got %q with the only server down", got)
	}
	p.SetServerState("l", "s1", true)
	if got := roundTripHalfClose(t, fe, "x"); got != "xbye" {
		t.Fatalf("got %q after server up", got)
	}
}
