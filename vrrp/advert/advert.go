// Package advert encodes and decodes VRRP advertisements: version 2
// (RFC 3768, with keepalived's authentication field) and version 3
// (RFC 5798) over IPv4 and IPv6, with the checksums keepalived 2.2.7
// computes. Everything here is a pure function of its input so that it can
// be tested against captured packets and fuzzed.
package advert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol is the IP protocol number of VRRP.
const Protocol = 112

// TypeAdvertisement is the only VRRP packet type.
const TypeAdvertisement = 1

// Auth types of VRRPv2 (RFC 2338); keepalived still implements them.
const (
	AuthNone = 0 // no authentication
	AuthPass = 1 // simple text password, 8 bytes NUL padded
	AuthAH   = 2 // IP Authentication Header (parsed only)
)

// Multicast groups VRRP advertisements are sent to.
var (
	Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	Group6 = netip.MustParseAddr("ff02::12")
)

// HeaderLen is the fixed part of an advertisement; v2 adds AuthLen bytes of
// authentication data after the addresses.
const (
	HeaderLen = 8
	AuthLen   = 8
)

// Errors returned by decoding and validation. They are distinct values so
// that the daemon can count drops by reason as keepalived does.
var (
	ErrTruncated    = errors.New("vrrp: packet too short")
	ErrLength       = errors.New("vrrp: packet length does not match the address count")
	ErrVersion      = errors.New("vrrp: bad version")
	ErrType         = errors.New("vrrp: bad packet type")
	ErrChecksum     = errors.New("vrrp: bad checksum")
	ErrTTL          = errors.New("vrrp: TTL/hop limit is not 255")
	ErrVRID         = errors.New("vrrp: VRID mismatch")
	ErrAuthType     = errors.New("vrrp: authentication type mismatch")
	ErrAuthPass     = errors.New("vrrp: invalid password")
	ErrAddrCount    = errors.New("vrrp: unexpected address count")
	ErrAddrList     = errors.New("vrrp: virtual address missing from advert")
	ErrInterval     = errors.New("vrrp: advertisement interval mismatch")
	ErrFamily       = errors.New("vrrp: address family mismatch")
	ErrInvalidField = errors.New("vrrp: field out of range")
)

// Packet is one VRRP advertisement, without the IP header.
type Packet struct {
	// Version is 2 or 3.
	Version int
	// Type is TypeAdvertisement for every valid packet.
	Type int
	// VRID is the virtual router identifier, 1..255.
	VRID int
	// Priority: 255 address owner, 0 master resigning.
	Priority int
	// AuthType (v2 only): AuthNone, AuthPass or AuthAH.
	AuthType int
	// Interval is the advertisement interval: whole seconds on the wire in
	// v2, centiseconds (12 bits) in v3.
	Interval time.Duration
	// Checksum is the value read by UnmarshalBinary (informational).
	Checksum uint16
	// Addrs are the virtual addresses, all of one family.
	Addrs []netip.Addr
	// Auth is v2's authentication data (the password for AuthPass).
	Auth [AuthLen]byte
}

// Len is the encoded length of p.
func (p *Packet) Len() int {
	n := HeaderLen
	for _, a := range p.Addrs {
		if a.Is4() {
			n += 4
		} else {
			n += 16
		}
	}
	if p.Version == 2 {
		n += AuthLen
	}
	return n
}

// Marshal encodes p with its checksum. For v3 the checksum covers the
// pseudo-header built from src and dst (IPv4 as keepalived 2.2.7 does it,
// IPv6 as RFC 5798); v2 ignores src and dst.
func (p *Packet) Marshal(src, dst netip.Addr) ([]byte, error) {
	if p.Version != 2 && p.Version != 3 {
		return nil, fmt.Errorf("%w: %d", ErrVersion, p.Version)
	}
	if p.VRID < 0 || p.VRID > 255 || p.Priority < 0 || p.Priority > 255 || len(p.Addrs) > 255 {
		return nil, ErrInvalidField
	}
	typ := p.Type
	if typ == 0 {
		typ = TypeAdvertisement
	}
	b := make([]byte, p.Len())
	b[0] = byte(p.Version<<4) | byte(typ&0xf)
	b[1] = byte(p.VRID)
	b[2] = byte(p.Priority)
	b[3] = byte(len(p.Addrs))
	if p.Version == 2 {
		s := p.Interval / time.Second
		if s < 0 || s > 255 {
			return nil, fmt.Errorf("%w: v2 interval %v", ErrInvalidField, p.Interval)
		}
		b[4] = byte(p.AuthType)
		b[5] = byte(s)
	} else {
		cs := p.Interval / (10 * time.Millisecond)
		if cs < 0 || cs > 0xfff {
			return nil, fmt.Errorf("%w: v3 interval %v", ErrInvalidField, p.Interval)
		}
		binary.BigEndian.PutUint16(b[4:], uint16(cs))
	}
	off := HeaderLen
	six := false
	for i, a := range p.Addrs {
		if i > 0 && a.Is6() != six {
			return nil, ErrFamily
		}
		six = a.Is6()
		if p.Version == 2 && six {
			return nil, ErrFamily
		}
		off += copy(b[off:], a.AsSlice())
	}
	if p.Version == 2 {
		copy(b[off:], p.Auth[:])
	}
	cs := Checksum(b, p.Version, src, dst)
	binary.BigEndian.PutUint16(b[6:], cs)
	return b, nil
}

// MarshalBinary encodes p without a pseudo-header: right for v2 (and for
// v3 peers that checksum v3 like v2).
func (p *Packet) MarshalBinary() ([]byte, error) {
	return p.Marshal(netip.Addr{}, netip.Addr{})
}

// UnmarshalBinary decodes b without checking the checksum (which needs the
// IP addresses for v3: see Parse). A v3 packet's address family is
// inferred from its length; v2 is IPv4 only.
func (p *Packet) UnmarshalBinary(b []byte) error {
	if len(b) < HeaderLen {
		return ErrTruncated
	}
	six := false
	if b[0]>>4 == 3 {
		n := int(b[3])
		six = n > 0 && len(b)-HeaderLen == 16*n
	}
	return p.decode(b, six)
}

// Decode decodes b as an advertisement received over IPv6 (ipv6) or IPv4,
// without verifying the checksum.
func Decode(b []byte, ipv6 bool) (*Packet, error) {
	p := new(Packet)
	if err := p.decode(b, ipv6); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Packet) decode(b []byte, ipv6 bool) error {
	if len(b) < HeaderLen {
		return ErrTruncated
	}
	*p = Packet{
		Version:  int(b[0] >> 4),
		Type:     int(b[0] & 0xf),
		VRID:     int(b[1]),
		Priority: int(b[2]),
		Checksum: binary.BigEndian.Uint16(b[6:]),
	}
	if p.Version != 2 && p.Version != 3 {
		return fmt.Errorf("%w: %d", ErrVersion, p.Version)
	}
	if p.Type != TypeAdvertisement {
		return fmt.Errorf("%w: %d", ErrType, p.Type)
	}
	n := int(b[3])
	size := 4
	if ipv6 {
		if p.Version == 2 {
			return fmt.Errorf("%w: VRRPv2 over IPv6", ErrVersion)
		}
		size = 16
	}
	want := HeaderLen + n*size
	if p.Version == 2 {
		want += AuthLen
		p.AuthType = int(b[4])
		p.Interval = time.Duration(b[5]) * time.Second
	} else {
		p.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0xfff) * 10 * time.Millisecond
	}
	if len(b) < want {
		return fmt.Errorf("%w: %d bytes for %d addresses", ErrTruncated, len(b), n)
	}
	if len(b) != want {
		return fmt.Errorf("%w: %d bytes for %d addresses", ErrLength, len(b), n)
	}
	p.Addrs = make([]netip.Addr, n)
	off := HeaderLen
	for i := range p.Addrs {
		if ipv6 {
			p.Addrs[i] = netip.AddrFrom16([16]byte(b[off : off+16]))
		} else {
			p.Addrs[i] = netip.AddrFrom4([4]byte(b[off : off+4]))
		}
		off += size
	}
	if p.Version == 2 {
		copy(p.Auth[:], b[off:])
	}
	return nil
}

// Parse decodes an advertisement received from src to dst and verifies its
// checksum (v2: over the message; v3: with the IP pseudo-header).
func Parse(b []byte, src, dst netip.Addr) (*Packet, error) {
	p, err := Decode(b, src.Is6() && !src.Is4In6())
	if err != nil {
		return nil, err
	}
	if Checksum(b, p.Version, src, dst) != p.Checksum {
		return p, ErrChecksum
	}
	return p, nil
}

// Checksum returns the checksum b should carry in bytes 6..7 (which are
// treated as zero). v2 sums the message only; v3 adds the pseudo-header of
// src and dst when both are valid.
func Checksum(b []byte, version int, src, dst netip.Addr) uint16 {
	var sum uint32
	if version == 3 && src.IsValid() && dst.IsValid() {
		sum = sumBytes(sum, src.AsSlice())
		sum = sumBytes(sum, dst.AsSlice())
		if src.Is4() {
			sum += Protocol + uint32(len(b))
		} else {
			sum += uint32(len(b)>>16) + uint32(len(b)&0xffff) + Protocol
		}
	}
	if len(b) >= 8 {
		sum = sumBytes(sum, b[:6])
		sum = sumBytes(sum, b[8:])
	} else {
		sum = sumBytes(sum, b)
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// PasswordBytes returns auth_pass as it goes on the wire: the first 8
// bytes, NUL padded.
func PasswordBytes(pass string) [AuthLen]byte {
	var a [AuthLen]byte
	copy(a[:], pass)
	return a
}
