package vrrp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/packet"
)

const (
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// garpFrame builds a gratuitous ARP request for ip from mac, as keepalived
// sends it: broadcast, sender and target protocol address both ip.
func garpFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 42)
	copy(b[0:6], broadcastMAC)
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:], etherTypeARP)
	a := b[14:]
	binary.BigEndian.PutUint16(a[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1) // request
	copy(a[8:14], mac)
	ip4 := ip.As4()
	copy(a[14:18], ip4[:])
	copy(a[18:24], broadcastMAC)
	copy(a[24:28], ip4[:])
	return b
}

// naFrame builds an unsolicited neighbour advertisement for ip (override
// flag, target link-layer address option) to all-nodes, from ip itself.
func naFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	const icmpLen = 32
	b := make([]byte, 14+40+icmpLen)
	copy(b[0:6], []byte{0x33, 0x33, 0, 0, 0, 1})
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:], etherTypeIPv6)
	h := b[14:54]
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], icmpLen)
	h[6] = 58 // ICMPv6
	h[7] = 255
	src := ip.As16()
	dst := netip.MustParseAddr("ff02::1").As16()
	copy(h[8:24], src[:])
	copy(h[24:40], dst[:])
	m := b[54:]
	m[0] = 136            // neighbour advertisement
	m[4] = 0x20           // override
	copy(m[8:24], src[:]) // target
	m[24], m[25] = 2, 1   // target link-layer address, 8 bytes
	copy(m[26:32], mac)
	var sum uint32
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
	}
	add(src[:])
	add(dst[:])
	sum += icmpLen + 58
	add(m)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(m[2:], ^uint16(sum))
	return b
}

// sendGratuitous sends count GARPs (IPv4) or unsolicited NAs (IPv6) for
// each address out of ifi.
func sendGratuitous(ifi *net.Interface, addrs []netip.Addr, count int) error {
	if len(ifi.HardwareAddr) != 6 || count <= 0 {
		return nil
	}
	c, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		return fmt.Errorf("gratuitous ARP on %s: %w", ifi.Name, err)
	}
	defer c.Close()
	for i := 0; i < count; i++ {
		for _, a := range addrs {
			var f []byte
			var to net.HardwareAddr
			if a.Is4() {
				f, to = garpFrame(ifi.HardwareAddr, a), broadcastMAC
			} else {
				f, to = naFrame(ifi.HardwareAddr, a), net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
			}
			if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: to}); err != nil {
				return fmt.Errorf("gratuitous ARP on %s: %w", ifi.Name, err)
			}
		}
	}
	return nil
}
