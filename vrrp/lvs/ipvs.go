package lvs

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"
)

// IPVS is the kernel's virtual server table, as keepalived's ipvswrapper
// drives it. Services are keyed by (family, protocol, address, port) or by
// (family, fwmark); destinations by address and port within a service.
type IPVS interface {
	// AddService creates a virtual service (IPVS_CMD_NEW_SERVICE).
	AddService(s Service) error
	// DelService removes a virtual service and its destinations
	// (IPVS_CMD_DEL_SERVICE).
	DelService(s Service) error
	// AddDest adds a real server to a service (IPVS_CMD_NEW_DEST).
	AddDest(s Service, d Dest) error
	// UpdateDest changes a real server's weight or forwarding method
	// (IPVS_CMD_SET_DEST).
	UpdateDest(s Service, d Dest) error
	// DelDest removes a real server from a service (IPVS_CMD_DEL_DEST).
	DelDest(s Service, d Dest) error
	// Flush removes every service (IPVS_CMD_FLUSH, keepalived's lvs_flush).
	Flush() error
}

// ErrNoIPVS is returned by NewNetlink when the kernel has no IPVS
// (CONFIG_IP_VS unset or the ip_vs module not loaded).
var ErrNoIPVS = errors.New("IPVS not available in this kernel (no genetlink family IPVS)")

// Flags of a virtual service (IP_VS_SVC_F_* in ip_vs.h).
const (
	SvcPersistent = 0x0001 // IP_VS_SVC_F_PERSISTENT
	SvcHashed     = 0x0002 // IP_VS_SVC_F_HASHED
	SvcOnePacket  = 0x0004 // IP_VS_SVC_F_ONEPACKET
)

// Service is one IPVS virtual service.
type Service struct {
	// Family is unix.AF_INET or unix.AF_INET6.
	Family uint16
	// Protocol is unix.IPPROTO_TCP, _UDP or _SCTP (0 for fwmark services).
	Protocol uint16
	// Addr and Port identify an address service; FWMark a fwmark one.
	Addr   netip.Addr
	Port   uint16
	FWMark uint32
	// Scheduler is the lb_algo ("rr", "wlc", ...).
	Scheduler string
	// Flags are IP_VS_SVC_F_* (SvcPersistent with persistence_timeout).
	Flags uint32
	// Timeout is the persistence timeout in seconds.
	Timeout uint32
	// Netmask is the persistence granularity: a mask for IPv4
	// (0xffffffff by default), a prefix length for IPv6 (128).
	Netmask uint32
}

// String names the service as ipvsadm lists it: "TCP 192.0.2.1:80",
// "FWM 7".
func (s Service) String() string {
	if s.FWMark != 0 {
		return fmt.Sprintf("FWM %d", s.FWMark)
	}
	return fmt.Sprintf("%s %s", protoName(s.Protocol), netip.AddrPortFrom(s.Addr, s.Port))
}

// Forwarding methods of a destination (IP_VS_CONN_F_* in ip_vs.h).
const (
	FwdMasq   = 0x0000 // IP_VS_CONN_F_MASQ: lb_kind NAT
	FwdTunnel = 0x0002 // IP_VS_CONN_F_TUNNEL: lb_kind TUN
	FwdRoute  = 0x0003 // IP_VS_CONN_F_DROUTE: lb_kind DR
)

// Dest is one IPVS destination (real server) of a service.
type Dest struct {
	Addr   netip.Addr
	Port   uint16
	Weight int
	// Method is FwdMasq, FwdRoute or FwdTunnel.
	Method uint32
	// UThreshold and LThreshold are uthreshold and lthreshold.
	UThreshold, LThreshold uint32
}

// String is "192.0.2.21:80 weight 1 masq".
func (d Dest) String() string {
	return fmt.Sprintf("%s weight %d %s", netip.AddrPortFrom(d.Addr, d.Port), d.Weight, methodName(d.Method))
}

// ForwardingMethod maps lb_kind (lvs_method) to the IPVS forwarding
// method: NAT (and the default) is masquerading, DR direct routing, TUN
// IP-in-IP tunnelling.
func ForwardingMethod(lbKind string) uint32 {
	switch strings.ToUpper(lbKind) {
	case "DR":
		return FwdRoute
	case "TUN":
		return FwdTunnel
	}
	return FwdMasq
}

// Protocol maps the virtual_server protocol keyword to its IP protocol
// number (TCP when unset, like keepalived).
func Protocol(p string) uint16 {
	switch strings.ToUpper(p) {
	case "UDP":
		return unix.IPPROTO_UDP
	case "SCTP":
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

func protoName(p uint16) string {
	switch p {
	case unix.IPPROTO_UDP:
		return "UDP"
	case unix.IPPROTO_SCTP:
		return "SCTP"
	}
	return "TCP"
}

func methodName(m uint32) string {
	switch m {
	case FwdRoute:
		return "route"
	case FwdTunnel:
		return "tunnel"
	}
	return "masq"
}

func family(a netip.Addr) uint16 {
	if a.Is4() || a.Is4In6() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// Discard is an IPVS that accepts and drops every call: the checker uses
// it when the kernel has no IPVS, so that the checks still run.
type Discard struct{}

// AddService does nothing.
func (Discard) AddService(Service) error { return nil }

// DelService does nothing.
func (Discard) DelService(Service) error { return nil }

// AddDest does nothing.
func (Discard) AddDest(Service, Dest) error { return nil }

// UpdateDest does nothing.
func (Discard) UpdateDest(Service, Dest) error { return nil }

// DelDest does nothing.
func (Discard) DelDest(Service, Dest) error { return nil }

// Flush does nothing.
func (Discard) Flush() error { return nil }
