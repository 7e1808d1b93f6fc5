package checks

import (
	"fmt"
	"os"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
)

func TestICMPLoopback(t *testing.T) {
	for _, priv := range []bool{false, true} {
		for _, addr := range []string{"127.0.0.1", "::1"} {
			t.Run(fmt.Sprintf("%s/raw=%v", addr, priv), func(t *testing.T) {
				if priv && os.Geteuid() != 0 {
					t.Skip("raw ICMP needs root")
				}
				r := Run(t.Context(), &ICMP{Addr: addr, Privileged: priv}, 2*time.Second)
				if r.Status == StatusSockErr && !priv {
					t.Skipf("no ICMP socket available: %s", r.Info)
				}
				if r.Status != StatusL4OK {
					t.Fatalf("ping %s: %v %q after %v", addr, r.Status, r.Info, r.Duration)
				}
			})
		}
	}
	if r := Run(t.Context(), &ICMP{Addr: "not-an-ip"}, time.Second); r.Status != StatusSockErr {
		t.Fatalf("bad address: %v", r.Status)
	}
}

// In a namespace of our own: an address on a veth answers, a neighbour
// that does not exist (no address on the peer end) times out, an unrouted one is L4CON.
func TestICMPInNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	ns := netns.New(t, "chkicmp")
	ns.Run("ip", "link", "add", "a0", "type", "veth", "peer", "name", "a1")
	ns.Run("ip", "addr", "add", "192.0.2.1/24", "dev", "a0")
	ns.Run("ip", "link", "set", "a0", "up")
	ns.Run("ip", "link", "set", "a1", "up")
	// Allow ping sockets in this namespace only (the sysctl is per
	// namespace), so the unprivileged path is the one exercised.
	ns.Run("sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647")
	if err := ns.Do(func() error {
		c, raw, err := listenICMP(false, false)
		if err != nil {
			return err
		}
		c.Close()
		if raw {
			return fmt.Errorf("ping socket not used although ping_group_range allows it")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want Status
	}{
		{"192.0.2.1", StatusL4OK},
		{"192.0.2.2", StatusL4TOUT},
		{"198.51.100.1", StatusL4CON},
	}
	for _, tt := range tests {
		var r Result
		if err := ns.Do(func() error {
			r = Run(t.Context(), &ICMP{Addr: tt.addr}, 300*time.Millisecond)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if r.Status != tt.want {
			t.Errorf("ping %s: %v %q, want %v", tt.addr, r.Status, r.Info, tt.want)
		}
	}
}
