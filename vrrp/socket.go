package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"hapair/vrrp/advert"
)

// rxPacket is one VRRP packet read from a raw socket, with what the
// control messages said about it.
type rxPacket struct {
	six      bool
	ifindex  int
	src, dst netip.Addr
	ttl      int // TTL or hop limit; -1 when unknown
	payload  []byte
}

// rawConn is a raw IP protocol 112 socket of one family: it receives every
// VRRP packet for the host (the daemon demultiplexes them) and sends
// adverts out of a chosen interface with TTL/hop limit 255.
type rawConn struct {
	six bool
	c   net.PacketConn
	p4  *ipv4.PacketConn
	p6  *ipv6.PacketConn
}

func listenRaw(six bool) (*rawConn, error) {
	if !six {
		c, err := net.ListenPacket("ip4:112", "0.0.0.0")
		if err != nil {
			return nil, fmt.Errorf("opening raw IPv4 VRRP socket: %w", err)
		}
		p := ipv4.NewPacketConn(c)
		for _, f := range []func() error{
			func() error { return p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true) },
			func() error { return p.SetMulticastTTL(255) },
			func() error { return p.SetTTL(255) },
			func() error { return p.SetMulticastLoopback(false) },
			func() error { return p.SetTOS(0xc0) },
		} {
			if err := f(); err != nil {
				c.Close()
				return nil, fmt.Errorf("setting up raw IPv4 VRRP socket: %w", err)
			}
		}
		return &rawConn{c: c, p4: p}, nil
	}
	c, err := net.ListenPacket("ip6:112", "::")
	if err != nil {
		return nil, fmt.Errorf("opening raw IPv6 VRRP socket: %w", err)
	}
	p := ipv6.NewPacketConn(c)
	for _, f := range []func() error{
		func() error {
			return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		},
		func() error { return p.SetMulticastHopLimit(255) },
		func() error { return p.SetHopLimit(255) },
		func() error { return p.SetMulticastLoopback(false) },
		func() error { return p.SetTrafficClass(0xc0) },
	} {
		if err := f(); err != nil {
			c.Close()
			return nil, fmt.Errorf("setting up raw IPv6 VRRP socket: %w", err)
		}
	}
	return &rawConn{six: true, c: c, p6: p}, nil
}

// join joins the VRRP multicast group on ifi.
func (r *rawConn) join(ifi *net.Interface, group netip.Addr) error {
	var err error
	if r.six {
		err = r.p6.JoinGroup(ifi, &net.IPAddr{IP: group.AsSlice()})
	} else {
		err = r.p4.JoinGroup(ifi, &net.IPAddr{IP: group.AsSlice()})
	}
	if err != nil && !errors.Is(err, errAddrInUse) {
		return fmt.Errorf("joining %s on %s: %w", group, ifi.Name, err)
	}
	return nil
}

// read returns the next packet; the error is final (socket closed).
func (r *rawConn) read(buf []byte) (rxPacket, error) {
	for {
		var pk rxPacket
		pk.six, pk.ttl = r.six, -1
		var n int
		var from net.Addr
		var err error
		if r.six {
			var cm *ipv6.ControlMessage
			n, cm, from, err = r.p6.ReadFrom(buf)
			if cm != nil {
				pk.ifindex, pk.ttl = cm.IfIndex, cm.HopLimit
				pk.dst, _ = netip.AddrFromSlice(cm.Dst)
			}
		} else {
			var cm *ipv4.ControlMessage
			n, cm, from, err = r.p4.ReadFrom(buf)
			if cm != nil {
				pk.ifindex, pk.ttl = cm.IfIndex, cm.TTL
				pk.dst, _ = netip.AddrFromSlice(cm.Dst)
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return pk, err
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return pk, err
			}
			continue // transient receive errors are skipped
		}
		if ia, ok := from.(*net.IPAddr); ok {
			pk.src, _ = netip.AddrFromSlice(ia.IP)
		}
		pk.src, pk.dst = pk.src.Unmap(), pk.dst.Unmap()
		pk.payload = append([]byte(nil), buf[:n]...)
		return pk, nil
	}
}

// send writes an advert from src out of ifindex to dst.
func (r *rawConn) send(b []byte, ifindex int, src, dst netip.Addr) error {
	to := &net.IPAddr{IP: dst.AsSlice()}
	var err error
	if r.six {
		cm := &ipv6.ControlMessage{IfIndex: ifindex, HopLimit: 255}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		_, err = r.p6.WriteTo(b, cm, to)
	} else {
		cm := &ipv4.ControlMessage{IfIndex: ifindex}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		_, err = r.p4.WriteTo(b, cm, to)
	}
	if err != nil {
		return fmt.Errorf("sending VRRP advert to %s: %w", dst, err)
	}
	return nil
}

func (r *rawConn) close() error { return r.c.Close() }

// groupFor returns the multicast group of a family.
func groupFor(six bool) netip.Addr {
	if six {
		return advert.Group6
	}
	return advert.Group4
}
