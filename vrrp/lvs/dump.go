package lvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

const (
	ipvsCmdGetService = 4
	ipvsCmdGetDest    = 8
)

// Services lists the kernel's virtual services (an IPVS_CMD_GET_SERVICE
// dump), as `ipvsadm -Ln` does: for status output, and to see what a
// previous run left behind.
func (n *Netlink) Services() ([]Service, error) {
	req := nl.NewNetlinkRequest(int(n.family), unix.NLM_F_DUMP)
	req.AddData(genlHeader{cmd: ipvsCmdGetService, version: ipvsGenlVersion})
	msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
	if err != nil {
		return nil, fmt.Errorf("IPVS GET_SERVICE: %w", err)
	}
	var out []Service
	for _, m := range msgs {
		s, _, err := decodeReply(m)
		if err != nil {
			return nil, err
		}
		if s != nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

// Dests lists the destinations of service s (an IPVS_CMD_GET_DEST dump).
func (n *Netlink) Dests(s Service) ([]Dest, error) {
	req := nl.NewNetlinkRequest(int(n.family), unix.NLM_F_DUMP)
	req.AddData(genlHeader{cmd: ipvsCmdGetDest, version: ipvsGenlVersion})
	req.AddData(serviceAttr(&s, false))
	msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
	if err != nil {
		return nil, fmt.Errorf("IPVS GET_DEST %s: %w", s, err)
	}
	var out []Dest
	for _, m := range msgs {
		_, d, err := decodeReply(m)
		if err != nil {
			return nil, err
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}

// errShort reports a truncated or malformed attribute.
var errShort = errors.New("malformed IPVS netlink attribute")

// attrs splits a run of netlink attributes (struct nlattr: u16 length
// including the 4-byte header, u16 type, value padded to 4 bytes) into a
// map by type, without the NLA_F_NESTED and NLA_F_NET_BYTEORDER flags. A
// length that does not fit is an error; a missing final pad is accepted.
func attrs(b []byte) (map[uint16][]byte, error) {
	out := map[uint16][]byte{}
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errShort
		}
		l := int(nl.NativeEndian().Uint16(b[0:2]))
		typ := nl.NativeEndian().Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < 4 || l > len(b) {
			return nil, errShort
		}
		out[typ] = b[4:l]
		b = b[min((l+3)&^3, len(b)):]
	}
	return out, nil
}

// decodeReply decodes one IPVS generic netlink message (the payload after
// the nlmsghdr: genlmsghdr then attributes), as the kernel sends for
// GET_SERVICE and GET_DEST and as request builds them: the service and
// the destination it carries, if any. Statistics and other attributes
// are skipped.
func decodeReply(msg []byte) (*Service, *Dest, error) {
	if len(msg) < 4 {
		return nil, nil, fmt.Errorf("IPVS message of %d bytes: %w", len(msg), errShort)
	}
	top, err := attrs(msg[4:])
	if err != nil {
		return nil, nil, err
	}
	var s *Service
	var d *Dest
	if v, ok := top[ipvsCmdAttrService]; ok {
		if s, err = decodeService(v); err != nil {
			return nil, nil, err
		}
	}
	if v, ok := top[ipvsCmdAttrDest]; ok {
		if d, err = decodeDest(v); err != nil {
			return nil, nil, err
		}
	}
	return s, d, nil
}

func u16(v []byte, err *error) uint16 {
	if len(v) != 2 {
		*err = errShort
		return 0
	}
	return nl.NativeEndian().Uint16(v)
}

func be16(v []byte, err *error) uint16 {
	if len(v) != 2 {
		*err = errShort
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func u32(v []byte, err *error) uint32 {
	if len(v) != 4 {
		*err = errShort
		return 0
	}
	return nl.NativeEndian().Uint32(v)
}

// inetAddrOf reads union nf_inet_addr (16 bytes; the kernel may send only
// the 4 bytes of an IPv4 address).
func inetAddrOf(fam uint16, v []byte, err *error) netip.Addr {
	switch {
	case fam == unix.AF_INET && len(v) >= 4:
		return netip.AddrFrom4([4]byte(v[:4]))
	case fam == unix.AF_INET6 && len(v) == 16:
		return netip.AddrFrom16([16]byte(v))
	}
	*err = errShort
	return netip.Addr{}
}

func decodeService(b []byte) (*Service, error) {
	a, err := attrs(b)
	if err != nil {
		return nil, err
	}
	s := &Service{Family: u16(a[ipvsSvcAttrAF], &err)}
	if m, ok := a[ipvsSvcAttrFWMark]; ok {
		s.FWMark = u32(m, &err)
	} else {
		s.Protocol = u16(a[ipvsSvcAttrProtocol], &err)
		s.Addr = inetAddrOf(s.Family, a[ipvsSvcAttrAddr], &err)
		s.Port = be16(a[ipvsSvcAttrPort], &err)
	}
	if n, ok := a[ipvsSvcAttrSchedName]; ok {
		for i, c := range n {
			if c == 0 {
				n = n[:i]
				break
			}
		}
		s.Scheduler = string(n)
	}
	if f, ok := a[ipvsSvcAttrFlags]; ok {
		if len(f) != 8 {
			return nil, errShort
		}
		s.Flags = nl.NativeEndian().Uint32(f[:4])
	}
	if v, ok := a[ipvsSvcAttrTimeout]; ok {
		s.Timeout = u32(v, &err)
	}
	if v, ok := a[ipvsSvcAttrNetmask]; ok {
		s.Netmask = u32(v, &err)
	}
	if err != nil {
		return nil, fmt.Errorf("IPVS service attribute: %w", err)
	}
	return s, nil
}

func decodeDest(b []byte) (*Dest, error) {
	a, err := attrs(b)
	if err != nil {
		return nil, err
	}
	fam := uint16(unix.AF_INET)
	if v, ok := a[ipvsDestAttrAddrFamily]; ok {
		fam = u16(v, &err)
	} else if len(a[ipvsDestAttrAddr]) == 16 && !allZero(a[ipvsDestAttrAddr][4:]) {
		fam = unix.AF_INET6
	}
	d := &Dest{
		Addr:   inetAddrOf(fam, a[ipvsDestAttrAddr], &err),
		Port:   be16(a[ipvsDestAttrPort], &err),
		Method: u32(a[ipvsDestAttrFwdMethod], &err) & 0x7, // IP_VS_CONN_F_FWD_MASK
		Weight: int(u32(a[ipvsDestAttrWeight], &err)),
	}
	if v, ok := a[ipvsDestAttrUThresh]; ok {
		d.UThreshold = u32(v, &err)
	}
	if v, ok := a[ipvsDestAttrLThresh]; ok {
		d.LThreshold = u32(v, &err)
	}
	if err != nil {
		return nil, fmt.Errorf("IPVS destination attribute: %w", err)
	}
	return d, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
