package advert

import (
	"fmt"
	"net/netip"
	"time"
)

// Expect is what an instance accepts: a received advertisement that
// differs is dropped, as keepalived 2.2.7 drops it.
type Expect struct {
	Version  int
	VRID     int
	AuthType int // v2 only
	Auth     [AuthLen]byte
	// Interval is the configured advert_int; v2 drops a mismatch, v3
	// accepts it (the backup adopts the master's interval).
	Interval time.Duration
	// Addrs are the instance's virtual addresses (order is irrelevant).
	Addrs []netip.Addr
	// CheckTTL is set for multicast instances: the TTL must be 255.
	CheckTTL bool
	// SkipAddrCheck is skip_check_adv_addr.
	SkipAddrCheck bool
}

// Check validates p, received with the given TTL (or hop limit; -1 when
// unknown), against e. It returns one of the package's sentinel errors,
// wrapped with details.
func (e *Expect) Check(p *Packet, ttl int) error {
	if e.CheckTTL && ttl >= 0 && ttl != 255 {
		return fmt.Errorf("%w: %d", ErrTTL, ttl)
	}
	if p.Version != e.Version {
		return fmt.Errorf("%w: got %d, want %d", ErrVersion, p.Version, e.Version)
	}
	if p.VRID != e.VRID {
		return fmt.Errorf("%w: got %d, want %d", ErrVRID, p.VRID, e.VRID)
	}
	if p.Version == 2 {
		if p.AuthType != e.AuthType {
			return fmt.Errorf("%w: received a %d auth, expecting %d", ErrAuthType, p.AuthType, e.AuthType)
		}
		if e.AuthType == AuthPass && p.Auth != e.Auth {
			return ErrAuthPass
		}
	}
	if len(p.Addrs) != len(e.Addrs) {
		return fmt.Errorf("%w: got %d, want %d", ErrAddrCount, len(p.Addrs), len(e.Addrs))
	}
	if !e.SkipAddrCheck {
		for _, want := range e.Addrs {
			found := false
			for _, a := range p.Addrs {
				if a == want.Unmap() {
					found = true
					break
				}
			}
			if !found {
				return fmt.Errorf("%w: %s", ErrAddrList, want)
			}
		}
	}
	if p.Version == 2 && p.Interval != e.Interval.Truncate(time.Second) {
		return fmt.Errorf("%w: mine=%d sec rcv'd=%d sec", ErrInterval, int(e.Interval/time.Second), int(p.Interval/time.Second))
	}
	return nil
}
