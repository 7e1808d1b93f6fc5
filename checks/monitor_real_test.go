package checks

import (
	"context"
	"net"
	"testing"
	"time"
)

// With real sockets and real time: a server that stops listening is
// reported DOWN after fall checks, and UP after rise checks once it
// listens again, like HAProxy's `check inter 50 fall 2 rise 2`.
func TestMonitorRealServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go acceptAll(ln)
	inter := 50 * time.Millisecond
	events := make(chan Event, 4)
	m := NewMonitor("be/s1", &TCP{Addr: addr}, Config{Rise: 2, Fall: 2, Start: StartFullyUp, Intervals: Intervals{Inter: inter}}, events)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not stop within 5s of cancel")
		}
	}()
	waitEvent := func(up bool, within time.Duration) Event {
		t.Helper()
		select {
		case e := <-events:
			if e.Up != up {
				t.Fatalf("event %+v, want up=%v", e, up)
			}
			return e
		case <-time.After(within):
			t.Fatalf("no up=%v event within %v; snapshot %+v", up, within, m.Snapshot())
			return Event{}
		}
	}
	time.Sleep(3 * inter) // a few passing checks: no event
	select {
	case e := <-events:
		t.Fatalf("unexpected event while up: %+v", e)
	default:
	}
	ln.Close()
	start := time.Now()
	e := waitEvent(false, 40*inter)
	if e.Result.Status != StatusL4CON || e.Result.Info != "Connection refused" {
		t.Fatalf("down event %+v", e)
	}
	if d := time.Since(start); d > 2*inter+time.Second {
		t.Fatalf("DOWN after %v, want about fall*inter", d)
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot re-listen on %s: %v", addr, err)
	}
	defer ln2.Close()
	go acceptAll(ln2)
	e = waitEvent(true, 40*inter)
	if e.Result.Status != StatusL4OK || e.Health != 3 {
		t.Fatalf("up event %+v", e)
	}
	if s := m.Snapshot(); !s.Up || s.Downs != 1 || s.Last.Status != StatusL4OK {
		t.Fatalf("snapshot %+v", s)
	}
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
