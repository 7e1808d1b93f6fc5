package vrrp

import (
	"errors"
	"sync/atomic"

	"hapair/vrrp/advert"
)

// Counter is a lock-free event counter.
type Counter struct{ n atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Load returns the count.
func (c *Counter) Load() uint64 { return c.n.Load() }

// Stats are an instance's counters, named after keepalived's
// /tmp/keepalived.stats fields.
type Stats struct {
	AdvertRcvd, AdvertSent, BecomeMaster, ReleaseMaster Counter
	PriZeroRcvd, PriZeroSent                            Counter
	PacketLenErr, ChecksumErr, IPTTLErr, VersionErr     Counter
	InvalidType, AuthTypeMismatch, AuthFailure          Counter
	AddrListErr, AdvertIntervalErr, RxDropped, OtherErr Counter
}

// StatsSnapshot is a copy of Stats.
type StatsSnapshot struct {
	AdvertRcvd, AdvertSent, BecomeMaster, ReleaseMaster uint64
	PriZeroRcvd, PriZeroSent                            uint64
	PacketLenErr, ChecksumErr, IPTTLErr, VersionErr     uint64
	InvalidType, AuthTypeMismatch, AuthFailure          uint64
	AddrListErr, AdvertIntervalErr, RxDropped, OtherErr uint64
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		s.AdvertRcvd.Load(), s.AdvertSent.Load(), s.BecomeMaster.Load(), s.ReleaseMaster.Load(),
		s.PriZeroRcvd.Load(), s.PriZeroSent.Load(),
		s.PacketLenErr.Load(), s.ChecksumErr.Load(), s.IPTTLErr.Load(), s.VersionErr.Load(),
		s.InvalidType.Load(), s.AuthTypeMismatch.Load(), s.AuthFailure.Load(),
		s.AddrListErr.Load(), s.AdvertIntervalErr.Load(), s.RxDropped.Load(), s.OtherErr.Load(),
	}
}

// countDrop counts a validation error by its reason.
func (s *Stats) countDrop(err error) {
	switch {
	case errors.Is(err, advert.ErrTruncated), errors.Is(err, advert.ErrLength):
		s.PacketLenErr.Inc()
	case errors.Is(err, advert.ErrChecksum):
		s.ChecksumErr.Inc()
	case errors.Is(err, advert.ErrTTL):
		s.IPTTLErr.Inc()
	case errors.Is(err, advert.ErrVersion):
		s.VersionErr.Inc()
	case errors.Is(err, advert.ErrType):
		s.InvalidType.Inc()
	case errors.Is(err, advert.ErrAuthType):
		s.AuthTypeMismatch.Inc()
	case errors.Is(err, advert.ErrAuthPass):
		s.AuthFailure.Inc()
	case errors.Is(err, advert.ErrAddrCount), errors.Is(err, advert.ErrAddrList):
		s.AddrListErr.Inc()
	case errors.Is(err, advert.ErrInterval):
		s.AdvertIntervalErr.Inc()
	default:
		s.OtherErr.Inc()
	}
}
