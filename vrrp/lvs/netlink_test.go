package lvs

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func requireLittleEndian(t *testing.T) {
	t.Helper()
	if nl.NativeEndian() != binary.LittleEndian {
		t.Skip("expected bytes are written for a little-endian host")
	}
}

// unhex reads a hex dump with spaces, newlines and # comments.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		b.WriteString(strings.Join(strings.Fields(line), ""))
	}
	out, err := hex.DecodeString(b.String())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// body is a serialized request without its nlmsghdr sequence number and
// port id, which the netlink package assigns.
func serialize(t testing.TB, cmd uint8, s *Service, d *Dest) []byte {
	t.Helper()
	return rawRequest(cmd, s, d)
}

func rawRequest(cmd uint8, s *Service, d *Dest) []byte {
	b := request(0x1234, cmd, s, d).Serialize()
	binary.LittleEndian.PutUint32(b[8:12], 0)  // nlmsg_seq
	binary.LittleEndian.PutUint32(b[12:16], 0) // nlmsg_pid
	return b
}

var svcTCP = Service{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80,
	Scheduler: "wrr", Flags: SvcPersistent, Timeout: 300, Netmask: 0xffffffff}

// TestNewServiceBytes pins the whole IPVS_CMD_NEW_SERVICE message, byte by
// byte, against the layout of include/uapi/linux/ip_vs.h and
// linux/netlink.h / genetlink.h.
func TestNewServiceBytes(t *testing.T) {
	requireLittleEndian(t)
	want := unhex(t, `
		68000000 3412 0500 00000000 00000000  # nlmsghdr: len 104, type = family id, NLM_F_REQUEST|NLM_F_ACK
		01 01 0000                            # genlmsghdr: IPVS_CMD_NEW_SERVICE, version 1
		5400 0100                             # IPVS_CMD_ATTR_SERVICE, 84 bytes
		  0600 0100 0200 0000                 # IPVS_SVC_ATTR_AF AF_INET (u16) + pad
		  0600 0200 0600 0000                 # IPVS_SVC_ATTR_PROTOCOL IPPROTO_TCP
		  1400 0300 c0000201 00000000 00000000 00000000 # IPVS_SVC_ATTR_ADDR: union nf_inet_addr
		  0600 0400 0050 0000                 # IPVS_SVC_ATTR_PORT 80, network order
		  0800 0600 77727200                  # IPVS_SVC_ATTR_SCHED_NAME "wrr\0"
		  0c00 0700 01000000 ffffffff         # IPVS_SVC_ATTR_FLAGS struct ip_vs_flags {PERSISTENT, ~0}
		  0800 0800 2c010000                  # IPVS_SVC_ATTR_TIMEOUT 300
		  0800 0900 ffffffff                  # IPVS_SVC_ATTR_NETMASK
	`)
	if got := serialize(t, ipvsCmdNewService, &svcTCP, nil); !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
	}
}

func TestNewDestBytes(t *testing.T) {
	requireLittleEndian(t)
	d := Dest{Addr: netip.MustParseAddr("192.0.2.21"), Port: 8080, Weight: 3, Method: FwdRoute}
	want := unhex(t, `
		8c000000 3412 0500 00000000 00000000  # len 140
		05 01 0000                            # IPVS_CMD_NEW_DEST
		3000 0100                             # IPVS_CMD_ATTR_SERVICE: only the key for dest commands (48 bytes)
		  0600 0100 0200 0000
		  0600 0200 0600 0000
		  1400 0300 c0000201 00000000 00000000 00000000
		  0600 0400 0050 0000
		4800 0200                             # IPVS_CMD_ATTR_DEST, 72 bytes
		  1400 0100 c0000215 00000000 00000000 00000000 # IPVS_DEST_ATTR_ADDR
		  0600 0200 1f90 0000                 # IPVS_DEST_ATTR_PORT 8080, network order
		  0800 0300 03000000                  # IPVS_DEST_ATTR_FWD_METHOD IP_VS_CONN_F_DROUTE
		  0800 0400 03000000                  # IPVS_DEST_ATTR_WEIGHT 3
		  0800 0500 00000000                  # IPVS_DEST_ATTR_U_THRESH
		  0800 0600 00000000                  # IPVS_DEST_ATTR_L_THRESH
		  0600 0b00 0200 0000                 # IPVS_DEST_ATTR_ADDR_FAMILY AF_INET
	`)
	if got := serialize(t, ipvsCmdNewDest, &svcTCP, &d); !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
	}
}

// attr is a decoded netlink attribute.
type attr struct {
	typ   uint16
	value []byte
}

// parseAttrs decodes a run of netlink attributes (struct nlattr: u16
// length including the 4-byte header, u16 type, value padded to 4).
func parseAttrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	out := map[uint16][]byte{}
	for len(b) > 0 {
		if len(b) < 4 {
			t.Fatalf("truncated attribute header: % x", b)
		}
		l := int(binary.LittleEndian.Uint16(b[0:2]))
		typ := binary.LittleEndian.Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < 4 || l > len(b) {
			t.Fatalf("bad attribute length %d of %d", l, len(b))
		}
		if _, dup := out[typ]; dup {
			t.Fatalf("attribute %d twice", typ)
		}
		out[typ] = b[4:l]
		b = b[min((l+3)&^3, len(b)):]
	}
	return out
}

// decodeRequest checks the headers and decodes the service and dest
// attributes back into the package's types, independently of the encoder.
func decodeRequest(t *testing.T, b []byte) (cmd uint8, s *Service, d *Dest) {
	t.Helper()
	if int(binary.LittleEndian.Uint32(b[0:4])) != len(b) {
		t.Fatalf("nlmsg_len %d, message %d bytes", binary.LittleEndian.Uint32(b[0:4]), len(b))
	}
	if typ := binary.LittleEndian.Uint16(b[4:6]); typ != 0x1234 {
		t.Fatalf("nlmsg_type %#x", typ)
	}
	if fl := binary.LittleEndian.Uint16(b[6:8]); fl != unix.NLM_F_REQUEST|unix.NLM_F_ACK {
		t.Fatalf("nlmsg_flags %#x", fl)
	}
	if b[17] != ipvsGenlVersion || b[18] != 0 || b[19] != 0 {
		t.Fatalf("genlmsghdr version %d reserved % x", b[17], b[18:20])
	}
	cmd = b[16]
	top := parseAttrs(t, b[20:])
	u16 := func(v []byte) uint16 {
		if len(v) != 2 {
			t.Fatalf("u16 attribute of %d bytes", len(v))
		}
		return binary.LittleEndian.Uint16(v)
	}
	be16 := func(v []byte) uint16 {
		if len(v) != 2 {
			t.Fatalf("be16 attribute of %d bytes", len(v))
		}
		return binary.BigEndian.Uint16(v)
	}
	u32 := func(v []byte) uint32 {
		if len(v) != 4 {
			t.Fatalf("u32 attribute of %d bytes", len(v))
		}
		return binary.LittleEndian.Uint32(v)
	}
	addr := func(fam uint16, v []byte) netip.Addr {
		if len(v) != 16 {
			t.Fatalf("address attribute of %d bytes, want sizeof(union nf_inet_addr)", len(v))
		}
		if fam == unix.AF_INET {
			if !bytes.Equal(v[4:], make([]byte, 12)) {
				t.Fatalf("IPv4 address with trailing bytes: % x", v)
			}
			return netip.AddrFrom4([4]byte(v[:4]))
		}
		return netip.AddrFrom16([16]byte(v))
	}
	if v, ok := top[ipvsCmdAttrService]; ok {
		sa := parseAttrs(t, v)
		s = &Service{Family: u16(sa[ipvsSvcAttrAF])}
		if m, ok := sa[ipvsSvcAttrFWMark]; ok {
			s.FWMark = u32(m)
		} else {
			s.Protocol = u16(sa[ipvsSvcAttrProtocol])
			s.Addr = addr(s.Family, sa[ipvsSvcAttrAddr])
			s.Port = be16(sa[ipvsSvcAttrPort])
		}
		if n, ok := sa[ipvsSvcAttrSchedName]; ok {
			if len(n) == 0 || n[len(n)-1] != 0 || len(n) > schedNameMaxLen {
				t.Fatalf("sched name % x", n)
			}
			s.Scheduler = string(n[:len(n)-1])
			f := sa[ipvsSvcAttrFlags]
			if len(f) != 8 {
				t.Fatalf("flags of %d bytes, want sizeof(struct ip_vs_flags)", len(f))
			}
			s.Flags = binary.LittleEndian.Uint32(f[:4])
			if mask := binary.LittleEndian.Uint32(f[4:]); mask != ^uint32(0) {
				t.Fatalf("flags mask %#x", mask)
			}
			s.Timeout = u32(sa[ipvsSvcAttrTimeout])
			s.Netmask = u32(sa[ipvsSvcAttrNetmask])
		}
	}
	if v, ok := top[ipvsCmdAttrDest]; ok {
		da := parseAttrs(t, v)
		fam := u16(da[ipvsDestAttrAddrFamily])
		d = &Dest{
			Addr:       addr(fam, da[ipvsDestAttrAddr]),
			Port:       be16(da[ipvsDestAttrPort]),
			Method:     u32(da[ipvsDestAttrFwdMethod]),
			Weight:     int(u32(da[ipvsDestAttrWeight])),
			UThreshold: u32(da[ipvsDestAttrUThresh]),
			LThreshold: u32(da[ipvsDestAttrLThresh]),
		}
	}
	return cmd, s, d
}

func TestRequestRoundTrip(t *testing.T) {
	requireLittleEndian(t)
	v6 := Service{Family: unix.AF_INET6, Protocol: unix.IPPROTO_UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53, Scheduler: "sh", Flags: SvcPersistent, Timeout: 360, Netmask: 128}
	fwm := Service{Family: unix.AF_INET, FWMark: 7, Scheduler: "lblcr"}
	d4 := Dest{Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Weight: 65535, Method: FwdTunnel, UThreshold: 100, LThreshold: 10}
	d6 := Dest{Addr: netip.MustParseAddr("2001:db8::20"), Port: 53, Weight: 0, Method: FwdMasq}
	cases := []struct {
		name   string
		cmd    uint8
		s      *Service
		d      *Dest
		wantS  *Service // what decodes back (key-only for non-service commands)
		wantD  *Dest
		noAttr bool
	}{
		{"new service v4", ipvsCmdNewService, &svcTCP, nil, &svcTCP, nil, false},
		{"new service v6", ipvsCmdNewService, &v6, nil, &v6, nil, false},
		{"set service fwmark", ipvsCmdSetService, &fwm, nil, &fwm, nil, false},
		{"del service", ipvsCmdDelService, &svcTCP, nil, &Service{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Addr: svcTCP.Addr, Port: 80}, nil, false},
		{"del service fwmark", ipvsCmdDelService, &fwm, nil, &Service{Family: unix.AF_INET, FWMark: 7}, nil, false},
		{"new dest", ipvsCmdNewDest, &svcTCP, &d4, &Service{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Addr: svcTCP.Addr, Port: 80}, &d4, false},
		{"set dest v6", ipvsCmdSetDest, &v6, &d6, &Service{Family: unix.AF_INET6, Protocol: unix.IPPROTO_UDP, Addr: v6.Addr, Port: 53}, &d6, false},
		{"del dest fwmark", ipvsCmdDelDest, &fwm, &d4, &Service{Family: unix.AF_INET, FWMark: 7}, &d4, false},
		{"flush", ipvsCmdFlush, nil, nil, nil, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := serialize(t, c.cmd, c.s, c.d)
			cmd, s, d := decodeRequest(t, b)
			if cmd != c.cmd {
				t.Fatalf("cmd %d want %d", cmd, c.cmd)
			}
			if (s == nil) != (c.wantS == nil) || (s != nil && *s != *c.wantS) {
				t.Fatalf("service\n got %+v\nwant %+v", s, c.wantS)
			}
			if (d == nil) != (c.wantD == nil) || (d != nil && *d != *c.wantD) {
				t.Fatalf("dest\n got %+v\nwant %+v", d, c.wantD)
			}
			if c.noAttr && len(b) != 20 {
				t.Fatalf("flush carries attributes: % x", b)
			}
		})
	}
}

func TestSchedulerNameTruncated(t *testing.T) {
	requireLittleEndian(t)
	s := svcTCP
	s.Scheduler = "a-very-long-scheduler-name"
	_, got, _ := decodeRequest(t, serialize(t, ipvsCmdNewService, &s, nil))
	if got.Scheduler != "a-very-long-sch" { // 15 bytes + NUL = IP_VS_SCHEDNAME_MAXLEN
		t.Fatalf("scheduler %q", got.Scheduler)
	}
}

// TestNewNetlinkWithoutIPVS runs against this machine's kernel: without
// IP_VS the family lookup fails and the error says so; with it, the
// family resolves.
func TestNewNetlinkWithoutIPVS(t *testing.T) {
	n, err := NewNetlink()
	if err != nil {
		if !errors.Is(err, ErrNoIPVS) {
			t.Fatalf("error %v does not wrap ErrNoIPVS", err)
		}
		t.Logf("kernel without IPVS: %v", err)
		return
	}
	if n.family == 0 {
		t.Fatal("IPVS family id 0")
	}
}

func TestServiceAndDestStrings(t *testing.T) {
	if got := svcTCP.String(); got != "TCP 192.0.2.1:80" {
		t.Fatal(got)
	}
	if got := (Service{FWMark: 9}).String(); got != "FWM 9" {
		t.Fatal(got)
	}
	if got := (Dest{Addr: netip.MustParseAddr("2001:db8::2"), Port: 80, Weight: 2, Method: FwdRoute}).String(); got != "[2001:db8::2]:80 weight 2 route" {
		t.Fatal(got)
	}
	for kind, want := range map[string]uint32{"NAT": FwdMasq, "": FwdMasq, "dr": FwdRoute, "TUN": FwdTunnel} {
		if got := ForwardingMethod(kind); got != want {
			t.Fatalf("%q: %d want %d", kind, got, want)
		}
	}
}
