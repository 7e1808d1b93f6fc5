package netns

import (
	"net"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
)

func TestTwoHostsOnASwitch(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.LookPath(t, "ip")
	sw := NewSwitch(t, "tsw")
	a := New(t, "ta")
	b := New(t, "tb")
	sw.Attach(t, a, "eth0", "192.0.2.1/24", "2001:db8::1/64")
	sw.Attach(t, b, "eth0", "192.0.2.2/24", "2001:db8::2/64")

	out := a.Run("ping", "-c", "1", "-W", "2", "192.0.2.2")
	if !strings.Contains(out, "1 received") {
		t.Fatalf("ping: %s", out)
	}
	// In-process sockets inside a namespace.
	var ln net.Listener
	if err := b.Do(func() (err error) {
		ln, err = net.Listen("tcp", "192.0.2.2:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	var got string
	if err := a.Do(func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 2)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = c.Read(buf)
		got = string(buf)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got != "ok" {
		t.Errorf("got %q", got)
	}
}
