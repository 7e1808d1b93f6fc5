package lvs

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"hapair/parser/keepalived"
)

// maxGroupRange bounds the addresses one virtual_server_group range may
// expand to, so that a typo (10.0.0.1-65535 on IPv6) cannot make the
// daemon create thousands of services.
const maxGroupRange = 256

// Services returns the IPVS services a virtual_server stands for: one for
// "IP PORT" and "fwmark N", and for "group NAME" one per address of every
// range entry ("192.0.2.11-20 80": .11 to .20) and one per "fwmark N"
// entry of the virtual_server_group. Scheduler (lb_algo), persistence and
// protocol come from the virtual_server.
func Services(vs *keepalived.VirtualServer, groups []*keepalived.VirtualServerGroup) ([]Service, error) {
	base := Service{Scheduler: vs.LBAlgo, Protocol: Protocol(vs.Protocol)}
	if base.Scheduler == "" {
		base.Scheduler = "rr"
	}
	if vs.PersistenceTimeout > 0 {
		base.Flags |= SvcPersistent
		base.Timeout = uint32(vs.PersistenceTimeout.Seconds())
	}
	withFamily := func(s Service, f uint16) Service {
		s.Family = f
		if s.Flags&SvcPersistent != 0 {
			s.Netmask = 0xffffffff
			if f == unix.AF_INET6 {
				s.Netmask = 128
			}
		}
		return s
	}
	fwmark := func(mark int) Service {
		s := base
		s.Protocol, s.FWMark = 0, uint32(mark)
		return withFamily(s, rsFamily(vs))
	}
	switch {
	case vs.FWMark != 0:
		return []Service{fwmark(vs.FWMark)}, nil
	case vs.Group != "":
		var g *keepalived.VirtualServerGroup
		for _, x := range groups {
			if x.Name == vs.Group {
				g = x
			}
		}
		if g == nil {
			return nil, fmt.Errorf("virtual_server group %s: no virtual_server_group %s", vs.Group, vs.Group)
		}
		var out []Service
		for _, e := range g.Entries {
			f := strings.Fields(e)
			if len(f) == 0 {
				continue
			}
			if f[0] == "fwmark" {
				if len(f) < 2 {
					return nil, fmt.Errorf("virtual_server_group %s: %q: fwmark needs a number", g.Name, e)
				}
				m, err := strconv.ParseUint(f[1], 10, 32)
				if err != nil || m == 0 {
					return nil, fmt.Errorf("virtual_server_group %s: %q: bad fwmark", g.Name, e)
				}
				out = append(out, fwmark(int(m)))
				continue
			}
			addrs, err := expandRange(f[0])
			if err != nil {
				return nil, fmt.Errorf("virtual_server_group %s: %q: %w", g.Name, e, err)
			}
			port := 0
			if len(f) > 1 {
				if port, err = strconv.Atoi(f[1]); err != nil || port < 0 || port > 65535 {
					return nil, fmt.Errorf("virtual_server_group %s: %q: bad port", g.Name, e)
				}
			}
			for _, a := range addrs {
				s := base
				s.Addr, s.Port = a, uint16(port)
				out = append(out, withFamily(s, family(a)))
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("virtual server group %s has no entries", g.Name)
		}
		return out, nil
	case vs.IP.IsValid():
		s := base
		s.Addr, s.Port = vs.IP.Unmap(), uint16(vs.Port)
		return []Service{withFamily(s, family(s.Addr))}, nil
	}
	return nil, fmt.Errorf("virtual_server %s: no address", vs.Addr)
}

// rsFamily is the address family of a fwmark service: its real servers'.
func rsFamily(vs *keepalived.VirtualServer) uint16 {
	for _, rs := range vs.RealServers {
		if rs.IP.IsValid() {
			return family(rs.IP)
		}
	}
	return unix.AF_INET
}

// expandRange reads "192.0.2.11-20" (the last byte of an IPv4 address, or
// the last 16-bit group of an IPv6 one in hex, runs up to the number after
// the dash) or a single address.
func expandRange(s string) ([]netip.Addr, error) {
	addr, end, isRange := strings.Cut(s, "-")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("bad address %q", addr)
	}
	a = a.Unmap()
	if !isRange {
		return []netip.Addr{a}, nil
	}
	var last uint64
	if a.Is4() {
		last, err = strconv.ParseUint(end, 10, 8)
	} else {
		last, err = strconv.ParseUint(end, 16, 16)
	}
	if err != nil {
		return nil, fmt.Errorf("bad range end %q", end)
	}
	b := a.AsSlice()
	var first uint64
	if a.Is4() {
		first = uint64(b[3])
	} else {
		first = uint64(b[14])<<8 | uint64(b[15])
	}
	if last < first {
		return nil, fmt.Errorf("range end %q is below its start", end)
	}
	if last-first+1 > maxGroupRange {
		return nil, fmt.Errorf("range of %d addresses is larger than %d", last-first+1, maxGroupRange)
	}
	out := make([]netip.Addr, 0, last-first+1)
	for i := first; i <= last; i++ {
		if a.Is4() {
			b[3] = byte(i)
		} else {
			b[14], b[15] = byte(i>>8), byte(i)
		}
		x, _ := netip.AddrFromSlice(b)
		out = append(out, x)
	}
	return out, nil
}
