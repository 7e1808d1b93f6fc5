package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"hapair/parser/keepalived"
)

var errAddrInUse = syscall.EADDRINUSE

// vipAddr is a virtual address resolved for netlink.
type vipAddr struct {
	dev  string
	addr netlink.Addr
	ip   netip.Addr
}

func scopeOf(s string) int {
	switch strings.ToLower(s) {
	case "host":
		return unix.RT_SCOPE_HOST
	case "link":
		return unix.RT_SCOPE_LINK
	case "site":
		return unix.RT_SCOPE_SITE
	case "nowhere":
		return unix.RT_SCOPE_NOWHERE
	}
	return unix.RT_SCOPE_UNIVERSE
}

// resolveVIP turns a virtual_ipaddress line into the netlink address
// keepalived would add (dev, label, scope, broadcast; IPv6 without DAD).
func resolveVIP(v keepalived.VIP, defDev string) vipAddr {
	p := v.Prefix
	dev := v.Dev
	if dev == "" {
		dev = defDev
	}
	a := netlink.Addr{
		IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Label: v.Label,
		Scope: scopeOf(v.Scope),
	}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	switch b := v.Broadcast; b {
	case "", "-":
		if p.Addr().Is4() {
			// keepalived 2.2.7 adds a VIP without `brd` with no
			// broadcast address (measured with `ip addr`); netlink's
			// AddrAdd would compute one for a nil Broadcast, and the
			// kernel reports none for 0.0.0.0.
			a.Broadcast = net.IPv4zero.To4()
		}
	case "+":
		ip := p.Addr().As4()
		m := net.CIDRMask(p.Bits(), 32)
		for i := range ip {
			ip[i] |= ^m[i]
		}
		a.Broadcast = net.IP(ip[:])
	default:
		if ip, err := netip.ParseAddr(b); err == nil {
			a.Broadcast = ip.AsSlice()
		}
	}
	return vipAddr{dev: dev, addr: a, ip: p.Addr()}
}

// addVIP configures v; an address already present is not an error.
func addVIP(v vipAddr) error {
	link, err := netlink.LinkByName(v.dev)
	if err != nil {
		return fmt.Errorf("adding %s: %w", v.ip, err)
	}
	a := v.addr
	if err := netlink.AddrAdd(link, &a); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding %s to %s: %w", v.ip, v.dev, err)
	}
	return nil
}

// delVIP removes v; an address already gone is not an error.
func delVIP(v vipAddr) error {
	link, err := netlink.LinkByName(v.dev)
	if err != nil {
		return fmt.Errorf("removing %s: %w", v.ip, err)
	}
	a := v.addr
	if err := netlink.AddrDel(link, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("removing %s from %s: %w", v.ip, v.dev, err)
	}
	return nil
}
