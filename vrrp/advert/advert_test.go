package advert

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// capture reads a packet captured from keepalived 2.2.7 (the IP packet, hex)
// and returns its VRRP payload, source, destination and TTL/hop limit.
func capture(t *testing.T, name string) (payload []byte, src, dst netip.Addr, ttl int) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vrrp", "keepalived-2.2.7", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	switch b[0] >> 4 {
	case 4:
		ihl := int(b[0]&0xf) * 4
		src = netip.AddrFrom4([4]byte(b[12:16]))
		dst = netip.AddrFrom4([4]byte(b[16:20]))
		return b[ihl:], src, dst, int(b[8])
	case 6:
		src = netip.AddrFrom16([16]byte(b[8:24]))
		dst = netip.AddrFrom16([16]byte(b[24:40]))
		return b[40:], src, dst, int(b[7])
	}
	t.Fatalf("%s: not an IP packet", name)
	return
}

func TestKeepalivedCaptures(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		want Packet
	}{
		{"v2none", Packet{Version: 2, Type: 1, VRID: 51, Priority: 255, Interval: time.Second,
			Addrs: []netip.Addr{a("192.0.2.200"), a("192.0.2.201")}}},
		{"v2pass", Packet{Version: 2, Type: 1, VRID: 51, Priority: 255, AuthType: AuthPass, Interval: time.Second,
			Addrs: []netip.Addr{a("192.0.2.200")}, Auth: PasswordBytes("secretpassword")}},
		{"v3v4", Packet{Version: 3, Type: 1, VRID: 51, Priority: 255, Interval: 100 * time.Millisecond,
			Addrs: []netip.Addr{a("192.0.2.200"), a("192.0.2.202")}}},
		{"v3v6", Packet{Version: 3, Type: 1, VRID: 51, Priority: 255, Interval: 500 * time.Millisecond,
			Addrs: []netip.Addr{a("2001:db8::200")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, src, dst, ttl := capture(t, tt.name)
			if ttl != 255 {
				t.Errorf("ttl = %d", ttl)
			}
			p, err := Parse(b, src, dst)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.want.Checksum = p.Checksum
			if !equal(p, &tt.want) {
				t.Fatalf("got %+v\nwant %+v", p, tt.want)
			}
			out, err := tt.want.Marshal(src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("Marshal:\n got %x\nwant %x", out, b)
			}
			e := Expect{Version: tt.want.Version, VRID: 51, AuthType: tt.want.AuthType, Auth: tt.want.Auth,
				Interval: tt.want.Interval, Addrs: tt.want.Addrs, CheckTTL: true}
			if err := e.Check(p, ttl); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}

func equal(a, b *Packet) bool {
	if a.Version != b.Version || a.Type != b.Type || a.VRID != b.VRID || a.Priority != b.Priority ||
		a.AuthType != b.AuthType || a.Interval != b.Interval || a.Checksum != b.Checksum || a.Auth != b.Auth ||
		len(a.Addrs) != len(b.Addrs) {
		return false
	}
	for i := range a.Addrs {
		if a.Addrs[i] != b.Addrs[i] {
			return false
		}
	}
	return true
}

// The v3 IPv4 checksum includes the pseudo-header: without it (as RFC 9568
// or keepalived >= 2.2.8 with v3_checksum_as_v2 compute it) keepalived 2.2.7
// rejects the packet, and so do we.
func TestV3PseudoHeader(t *testing.T) {
	b, src, dst, _ := capture(t, "v3v4")
	p, _ := Decode(b, false)
	plain, _ := p.MarshalBinary()
	if _, err := Parse(plain, src, dst); !errors.Is(err, ErrChecksum) {
		t.Fatalf("v3 without pseudo-header: err = %v, want ErrChecksum", err)
	}
	// A different destination (unicast) changes the checksum.
	if _, err := Parse(b, src, netip.MustParseAddr("192.0.2.2")); !errors.Is(err, ErrChecksum) {
		t.Fatalf("other dst: err = %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, src, dst, _ := capture(t, "v2none")
	mut := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"header only", good[:8], ErrTruncated},
		{"truncated auth", good[:len(good)-1], ErrTruncated},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrLength},
		{"version 1", mut(func(b []byte) []byte { b[0] = 0x11; return b }), ErrVersion},
		{"type 2", mut(func(b []byte) []byte { b[0] = 0x22; return b }), ErrType},
		{"checksum", mut(func(b []byte) []byte { b[7] ^= 1; return b }), ErrChecksum},
		{"payload bit", mut(func(b []byte) []byte { b[9] ^= 1; return b }), ErrChecksum},
		{"count too big", mut(func(b []byte) []byte { b[3] = 3; return b }), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.b, src, dst); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	a := netip.MustParseAddr
	vips := []netip.Addr{a("192.0.2.200"), a("192.0.2.201")}
	base := func() *Packet {
		return &Packet{Version: 2, Type: 1, VRID: 51, Priority: 100, AuthType: AuthPass,
			Auth: PasswordBytes("1111"), Interval: time.Second, Addrs: []netip.Addr{vips[1], vips[0]}}
	}
	e := Expect{Version: 2, VRID: 51, AuthType: AuthPass, Auth: PasswordBytes("1111"), Interval: time.Second,
		Addrs: vips, CheckTTL: true}
	tests := []struct {
		name string
		mod  func(p *Packet)
		ttl  int
		want error
	}{
		{"ok, order-insensitive", func(p *Packet) {}, 255, nil},
		{"ttl", func(p *Packet) {}, 254, ErrTTL},
		{"version", func(p *Packet) { p.Version = 3 }, 255, ErrVersion},
		{"vrid", func(p *Packet) { p.VRID = 52 }, 255, ErrVRID},
		{"auth none", func(p *Packet) { p.AuthType = AuthNone }, 255, ErrAuthType},
		{"auth AH", func(p *Packet) { p.AuthType = AuthAH }, 255, ErrAuthType},
		{"password", func(p *Packet) { p.Auth = PasswordBytes("2222") }, 255, ErrAuthPass},
		{"count", func(p *Packet) { p.Addrs = p.Addrs[:1] }, 255, ErrAddrCount},
		{"list", func(p *Packet) { p.Addrs[0] = a("192.0.2.9") }, 255, ErrAddrList},
		{"interval", func(p *Packet) { p.Interval = 2 * time.Second }, 255, ErrInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.mod(p)
			if err := e.Check(p, tt.ttl); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// v3 accepts another interval (the backup adopts it) and ignores auth.
	e3 := Expect{Version: 3, VRID: 51, Interval: time.Second, Addrs: vips}
	p := &Packet{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond, Addrs: vips}
	if err := e3.Check(p, 255); err != nil {
		t.Fatalf("v3 interval: %v", err)
	}
}

func TestMarshalErrors(t *testing.T) {
	a := netip.MustParseAddr
	for _, p := range []*Packet{
		{Version: 4},
		{Version: 2, Addrs: []netip.Addr{a("2001:db8::1")}},
		{Version: 3, Addrs: []netip.Addr{a("192.0.2.1"), a("2001:db8::1")}},
		{Version: 2, Interval: 300 * time.Second},
		{Version: 3, Interval: 41 * time.Second},
		{Version: 3, Priority: 256},
	} {
		if _, err := p.MarshalBinary(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}
