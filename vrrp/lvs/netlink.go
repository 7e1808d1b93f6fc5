package lvs

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Generic netlink commands and attributes of the "IPVS" family, from
// include/uapi/linux/ip_vs.h.
const (
	ipvsGenlName    = "IPVS"
	ipvsGenlVersion = 1

	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdDelService = 3
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7
	ipvsCmdFlush      = 17

	ipvsCmdAttrService = 1
	ipvsCmdAttrDest    = 2

	ipvsSvcAttrAF        = 1
	ipvsSvcAttrProtocol  = 2
	ipvsSvcAttrAddr      = 3
	ipvsSvcAttrPort      = 4
	ipvsSvcAttrFWMark    = 5
	ipvsSvcAttrSchedName = 6
	ipvsSvcAttrFlags     = 7
	ipvsSvcAttrTimeout   = 8
	ipvsSvcAttrNetmask   = 9

	ipvsDestAttrAddr       = 1
	ipvsDestAttrPort       = 2
	ipvsDestAttrFwdMethod  = 3
	ipvsDestAttrWeight     = 4
	ipvsDestAttrUThresh    = 5
	ipvsDestAttrLThresh    = 6
	ipvsDestAttrAddrFamily = 11

	schedNameMaxLen = 16 // IP_VS_SCHEDNAME_MAXLEN, with the NUL
)

// Netlink programs IPVS through generic netlink, as keepalived's libipvs
// does when built with LIBIPVS_NETLINK. Each call is one request with
// NLM_F_ACK; the kernel's error is returned wrapped with the command.
type Netlink struct {
	family uint16
}

// NewNetlink resolves the "IPVS" generic netlink family. Without IP_VS in
// the kernel the family does not exist and the error wraps ErrNoIPVS.
func NewNetlink() (*Netlink, error) {
	f, err := netlink.GenlFamilyGet(ipvsGenlName)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIPVS, err)
	}
	return &Netlink{family: f.ID}, nil
}

// AddService sends IPVS_CMD_NEW_SERVICE.
func (n *Netlink) AddService(s Service) error {
	return n.exec("NEW_SERVICE", request(n.family, ipvsCmdNewService, &s, nil))
}

// UpdateService sends IPVS_CMD_SET_SERVICE (scheduler and persistence).
func (n *Netlink) UpdateService(s Service) error {
	return n.exec("SET_SERVICE", request(n.family, ipvsCmdSetService, &s, nil))
}

// DelService sends IPVS_CMD_DEL_SERVICE.
func (n *Netlink) DelService(s Service) error {
	return n.exec("DEL_SERVICE", request(n.family, ipvsCmdDelService, &s, nil))
}

// AddDest sends IPVS_CMD_NEW_DEST.
func (n *Netlink) AddDest(s Service, d Dest) error {
	return n.exec("NEW_DEST", request(n.family, ipvsCmdNewDest, &s, &d))
}

// UpdateDest sends IPVS_CMD_SET_DEST.
func (n *Netlink) UpdateDest(s Service, d Dest) error {
	return n.exec("SET_DEST", request(n.family, ipvsCmdSetDest, &s, &d))
}

// DelDest sends IPVS_CMD_DEL_DEST.
func (n *Netlink) DelDest(s Service, d Dest) error {
	return n.exec("DEL_DEST", request(n.family, ipvsCmdDelDest, &s, &d))
}

// Flush sends IPVS_CMD_FLUSH.
func (n *Netlink) Flush() error {
	return n.exec("FLUSH", request(n.family, ipvsCmdFlush, nil, nil))
}

func (n *Netlink) exec(what string, req *nl.NetlinkRequest) error {
	if _, err := req.Execute(unix.NETLINK_GENERIC, 0); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("IPVS %s: no such service or destination: %w", what, err)
		}
		return fmt.Errorf("IPVS %s: %w", what, err)
	}
	return nil
}

// request builds one IPVS generic netlink request: the genl header, then
// a nested IPVS_CMD_ATTR_SERVICE (full for NEW/SET_SERVICE, the key
// otherwise) and a nested IPVS_CMD_ATTR_DEST when d is set.
func request(familyID uint16, cmd uint8, s *Service, d *Dest) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(int(familyID), unix.NLM_F_ACK)
	req.AddData(genlHeader{cmd: cmd, version: ipvsGenlVersion})
	if s != nil {
		req.AddData(serviceAttr(s, cmd == ipvsCmdNewService || cmd == ipvsCmdSetService))
	}
	if d != nil {
		req.AddData(destAttr(d))
	}
	return req
}

// genlHeader is struct genlmsghdr {u8 cmd; u8 version; u16 reserved}.
// (nl.Genlmsg declares only the first two fields but serializes four
// bytes, so its reserved bytes are whatever follows it in memory.)
type genlHeader struct{ cmd, version uint8 }

func (h genlHeader) Len() int          { return 4 }
func (h genlHeader) Serialize() []byte { return []byte{h.cmd, h.version, 0, 0} }

// serviceAttr encodes a service as libipvs does (a nest without
// NLA_F_NESTED, like libnl's nla_nest_start): the address always as a
// 16-byte union nf_inet_addr, the port in network order, flags as struct
// ip_vs_flags {flags, mask = ~0}.
func serviceAttr(s *Service, full bool) *nl.RtAttr {
	a := nl.NewRtAttr(ipvsCmdAttrService, nil)
	a.AddRtAttr(ipvsSvcAttrAF, nl.Uint16Attr(s.Family))
	if s.FWMark != 0 {
		a.AddRtAttr(ipvsSvcAttrFWMark, nl.Uint32Attr(s.FWMark))
	} else {
		a.AddRtAttr(ipvsSvcAttrProtocol, nl.Uint16Attr(s.Protocol))
		a.AddRtAttr(ipvsSvcAttrAddr, inetAddr(s.Addr))
		a.AddRtAttr(ipvsSvcAttrPort, nl.BEUint16Attr(s.Port))
	}
	if full {
		name := s.Scheduler
		if len(name) > schedNameMaxLen-1 {
			name = name[:schedNameMaxLen-1]
		}
		a.AddRtAttr(ipvsSvcAttrSchedName, nl.ZeroTerminated(name))
		flags := make([]byte, 8)
		nl.NativeEndian().PutUint32(flags[0:4], s.Flags)
		nl.NativeEndian().PutUint32(flags[4:8], ^uint32(0))
		a.AddRtAttr(ipvsSvcAttrFlags, flags)
		a.AddRtAttr(ipvsSvcAttrTimeout, nl.Uint32Attr(s.Timeout))
		a.AddRtAttr(ipvsSvcAttrNetmask, nl.Uint32Attr(s.Netmask))
	}
	return a
}

func destAttr(d *Dest) *nl.RtAttr {
	a := nl.NewRtAttr(ipvsCmdAttrDest, nil)
	a.AddRtAttr(ipvsDestAttrAddr, inetAddr(d.Addr))
	a.AddRtAttr(ipvsDestAttrPort, nl.BEUint16Attr(d.Port))
	a.AddRtAttr(ipvsDestAttrFwdMethod, nl.Uint32Attr(d.Method))
	w := max(d.Weight, 0)
	a.AddRtAttr(ipvsDestAttrWeight, nl.Uint32Attr(uint32(w)))
	a.AddRtAttr(ipvsDestAttrUThresh, nl.Uint32Attr(d.UThreshold))
	a.AddRtAttr(ipvsDestAttrLThresh, nl.Uint32Attr(d.LThreshold))
	a.AddRtAttr(ipvsDestAttrAddrFamily, nl.Uint16Attr(family(d.Addr)))
	return a
}

// inetAddr is union nf_inet_addr: 16 bytes, an IPv4 address in the first 4.
func inetAddr(a netip.Addr) []byte {
	b := make([]byte, 16)
	if a.Is4() || a.Is4In6() {
		v := a.Unmap().As4()
		copy(b, v[:])
	} else if a.IsValid() {
		v := a.As16()
		copy(b, v[:])
	}
	return b
}

var (
	_ IPVS           = (*Netlink)(nil)
	_ ServiceUpdater = (*Netlink)(nil)
	_ IPVS           = Discard{}
)
