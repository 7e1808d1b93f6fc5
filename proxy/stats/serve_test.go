package stats

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestServeTCP runs the socket on a TCP listener (`stats socket
// ipv4@127.0.0.1:port`), checks a command, and that cancelling the context
// ends Serve and closes an interactive session.
func TestServeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, newFakeCtl()) }()
	addr := ln.Addr().String()

	out := socketCmd(t, "tcp", addr, "show stat")
	rows, err := ParseCSV(strings.NewReader(out))
	if err != nil || len(rows) != 4 || rows[1][FSvname] != "s1" || rows[2][FStatus] != "DOWN" || rows[3][FSvname] != "BACKEND" {
		t.Fatalf("show stat over TCP: %v %q", err, out)
	}
	if got := socketCmd(t, "tcp", addr, "show stat -1 4 2"); !strings.Contains(got, "\nbe,s2,") || strings.Contains(got, "\nbe,s1,") || strings.Contains(got, "FRONTEND") {
		t.Errorf("show stat filter: %q", got)
	}
	if got := socketCmd(t, "tcp", addr, "show backend"); got != "# name\nbe\n\n" {
		t.Errorf("show backend: %q", got)
	}
	if got := socketCmd(t, "tcp", addr, "show info"); !strings.HasPrefix(got, "Name: HAProxy\nVersion: 2.6.12\n") {
		t.Errorf("show info: %q", got)
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "prompt\n")
	r := bufio.NewReader(c)
	if s, err := r.ReadString('>'); err != nil || s != "\n>" {
		t.Fatalf("prompt: %q %v", s, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("session not closed cleanly: %v", err)
	}
}

// TestSocketTimeout: an interactive session idle longer than the socket's
// timeout (`stats timeout`) is closed by the server.
func TestSocketTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sk := &Socket{Ctl: newFakeCtl(), Timeout: 100 * time.Millisecond}
	go sk.Serve(ctx, ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "prompt\n")
	start := time.Now()
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "\n> " {
		t.Fatalf("read %q %v", rest, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Errorf("closed after %v, want about 100ms", d)
	}
}
