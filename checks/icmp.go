package checks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

var icmpSeq atomic.Uint32

// ICMP is keepalived's PING_CHECK: one ICMP (or ICMPv6) echo request to
// Addr; an echo reply from Addr before the deadline is L4OK, none is
// L4TOUT, a send error (no route) is L4CON. It uses an unprivileged ping
// socket (SOCK_DGRAM, allowed by net.ipv4.ping_group_range) when it can
// and falls back to a raw socket (root or CAP_NET_RAW).
type ICMP struct {
	// Addr is the IPv4 or IPv6 address to ping.
	Addr string
	// Privileged forces the raw socket.
	Privileged bool
	// Payload is the echo data (default: 56 bytes like ping).
	Payload []byte
}

// Check sends one echo request and waits for its reply.
func (c *ICMP) Check(ctx context.Context) Result {
	ip, err := netip.ParseAddr(c.Addr)
	if err != nil {
		return Result{Status: StatusSockErr, Info: fmt.Sprintf("bad address %q", c.Addr)}
	}
	ip = ip.Unmap()
	conn, raw, err := listenICMP(ip.Is6(), c.Privileged)
	if err != nil {
		return Result{Status: StatusSockErr, Info: err.Error()}
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	id := int(rand.Uint32() & 0xffff)
	seq := int(icmpSeq.Add(1) & 0xffff)
	payload := c.Payload
	if payload == nil {
		payload = make([]byte, 56)
	}
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if ip.Is6() {
		typ, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}
	wb, err := msg.Marshal(nil) // the kernel computes the ICMPv6 checksum
	if err != nil {
		return Result{Status: StatusSockErr, Info: err.Error()}
	}
	var dst net.Addr = &net.UDPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}
	if raw {
		dst = &net.IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}
	}
	if _, err := conn.WriteTo(wb, dst); err != nil {
		return ioFailure(err, StatusL4TOUT, StatusL4CON)
	}
	buf := make([]byte, 1500)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			if isTimeout(err) || ctx.Err() != nil {
				return Result{Status: StatusL4TOUT}
			}
			return ioFailure(err, StatusL4TOUT, StatusL4CON)
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		// A ping socket rewrites the id and filters by it; a raw socket
		// sees every reply on the host, so the id must match too.
		if !ok || echo.Seq != seq || (raw && echo.ID != id) || !samePeer(peer, ip) {
			continue
		}
		return Result{Status: StatusL4OK}
	}
}

func samePeer(a net.Addr, ip netip.Addr) bool {
	var p net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		p = a.IP
	case *net.IPAddr:
		p = a.IP
	}
	got, ok := netip.AddrFromSlice(p)
	return ok && got.Unmap() == ip.WithZone("")
}

// listenICMP opens a ping socket, or a raw one when that is refused.
func listenICMP(v6, privileged bool) (*icmp.PacketConn, bool, error) {
	dgram, rawNet := "udp4", "ip4:icmp"
	if v6 {
		dgram, rawNet = "udp6", "ip6:ipv6-icmp"
	}
	if !privileged {
		// Refused when our gid is outside ping_group_range (EACCES) or
		// the kernel has no ping sockets: then try raw.
		if c, err := icmp.ListenPacket(dgram, ""); err == nil {
			return c, false, nil
		}
	}
	c, err := icmp.ListenPacket(rawNet, "")
	if err != nil {
		return nil, true, fmt.Errorf("opening ICMP socket (ping socket refused by net.ipv4.ping_group_range, raw socket needs CAP_NET_RAW): %w", err)
	}
	return c, true, nil
}
