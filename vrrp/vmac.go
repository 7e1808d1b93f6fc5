package vrrp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// virtualMAC is RFC 5798's virtual router MAC address:
// 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
func virtualMAC(vrid int, six bool) net.HardwareAddr {
	fam := byte(1)
	if six {
		fam = 2
	}
	return net.HardwareAddr{0, 0, 0x5e, 0, fam, byte(vrid)}
}

// vmacName is the name keepalived gives a use_vmac interface.
func vmacName(name string, vrid int) string {
	if name != "" {
		return name
	}
	return "vrrp." + strconv.Itoa(vrid)
}

// createVMAC creates (or re-creates, after a crash) the macvlan interface
// of use_vmac on base, in private mode with the virtual MAC, and brings it
// up, as keepalived 2.2.7 does at start.
func createVMAC(name string, base *net.Interface, mac net.HardwareAddr) (*net.Interface, error) {
	if old, err := netlink.LinkByName(name); err == nil {
		netlink.LinkDel(old)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	attrs.ParentIndex = base.Index
	attrs.HardwareAddr = mac
	mv := &netlink.Macvlan{LinkAttrs: attrs, Mode: netlink.MACVLAN_MODE_PRIVATE}
	if err := netlink.LinkAdd(mv); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("creating VMAC interface %s: %w", name, err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("creating VMAC interface %s: %w", name, err)
	}
	// As keepalived sets them on its VMAC interfaces.
	for k, v := range map[string]string{"accept_local": "1", "arp_ignore": "1", "rp_filter": "0", "promote_secondaries": "1"} {
		writeSysctl(name, k, v)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		netlink.LinkDel(link)
		return nil, fmt.Errorf("bringing VMAC interface %s up: %w", name, err)
	}
	return net.InterfaceByName(name)
}

// deleteVMAC removes the use_vmac interface.
func deleteVMAC(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("removing VMAC interface %s: %w", name, err)
	}
	return nil
}

// arpConf is the base interface's ARP settings that use_vmac changes so
// that only the VMAC interface answers ARP for the VIPs (keepalived sets
// arp_ignore 1 and arp_filter 1 and restores them afterwards). Counted
// per base interface: the last VMAC user restores the originals.
var arpConf = struct {
	sync.Mutex
	users map[string]int
	orig  map[string][2]string
}{users: map[string]int{}, orig: map[string][2]string{}}

func sysctlPath(ifname, key string) string {
	return filepath.Join("/proc/sys/net/ipv4/conf", ifname, key)
}

func readSysctl(ifname, key string) string {
	b, _ := os.ReadFile(sysctlPath(ifname, key))
	return strings.TrimSpace(string(b))
}

func writeSysctl(ifname, key, v string) error {
	return os.WriteFile(sysctlPath(ifname, key), []byte(v+"\n"), 0o644)
}

// holdARPConf sets arp_ignore=1 and arp_filter=1 on base.
func holdARPConf(base string) error {
	arpConf.Lock()
	defer arpConf.Unlock()
	if arpConf.users[base] == 0 {
		arpConf.orig[base] = [2]string{readSysctl(base, "arp_ignore"), readSysctl(base, "arp_filter")}
		if err := writeSysctl(base, "arp_ignore", "1"); err != nil {
			return fmt.Errorf("use_vmac: %w", err)
		}
		if err := writeSysctl(base, "arp_filter", "1"); err != nil {
			return fmt.Errorf("use_vmac: %w", err)
		}
	}
	arpConf.users[base]++
	return nil
}

// releaseARPConf restores base's ARP settings when its last VMAC goes.
func releaseARPConf(base string) {
	arpConf.Lock()
	defer arpConf.Unlock()
	if arpConf.users[base] == 0 {
		return
	}
	arpConf.users[base]--
	if arpConf.users[base] == 0 {
		o := arpConf.orig[base]
		if o[0] != "" {
			writeSysctl(base, "arp_ignore", o[0])
		}
		if o[1] != "" {
			writeSysctl(base, "arp_filter", o[1])
		}
	}
}
