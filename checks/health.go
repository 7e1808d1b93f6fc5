package checks

import "time"

// Start says in which state a Health begins, before any check ran.
type Start int

const (
	// StartUp is HAProxy's default: the server is UP with health = rise,
	// so the very first failure marks it DOWN and the first success makes
	// it fully UP (measured on HAProxy 2.6: a server with `check fall 3`
	// against a closed port is DOWN after one check).
	StartUp Start = iota
	// StartDown starts DOWN with health 0: rise successes are needed
	// (keepalived's `init_fail`).
	StartDown
	// StartFullyUp starts fully UP: fall failures are needed to go DOWN.
	StartFullyUp
	// StartUnknown is keepalived's vrrp_script: no state until the first
	// result, which sets fully UP or fully DOWN at once whatever rise and
	// fall are; counting applies from then on. Measured on keepalived
	// 2.2.7: with rise 2 fall 2 the first failing run logs "failed" and
	// the first succeeding one "succeeded", with or without init_fail
	// (init_fail only says how the caller weighs the unknown state: as
	// failed). Up is false and Known false until then, and the first
	// Observe reports a change.
	StartUnknown
)

// Phase is where a Health stands between fully down and fully up; it
// selects the check interval.
type Phase int

const (
	// PhaseUp is UP 100% (health = rise+fall-1): `inter` applies.
	PhaseUp Phase = iota
	// PhaseGoingDown is UP but after failures: `fastinter` applies.
	PhaseGoingDown
	// PhaseGoingUp is DOWN but after successes: `fastinter` applies.
	PhaseGoingUp
	// PhaseDown is DOWN 100% (health 0): `downinter` applies.
	PhaseDown
)

// Intervals are HAProxy's three check intervals. Zero FastInter or
// DownInter fall back to Inter, like HAProxy.
type Intervals struct {
	Inter, FastInter, DownInter time.Duration
}

// For returns the interval that applies in phase p.
func (iv Intervals) For(p Phase) time.Duration {
	switch p {
	case PhaseGoingDown, PhaseGoingUp:
		if iv.FastInter > 0 {
			return iv.FastInter
		}
	case PhaseDown:
		if iv.DownInter > 0 {
			return iv.DownInter
		}
	}
	return iv.Inter
}

// Health is HAProxy's rise/fall counter as a pure value: health runs from
// 0 to rise+fall-1, the target is UP while health >= rise. A success
// raises health by one and, on reaching rise, jumps to fully up; a failure
// lowers it by one and, on dropping below rise, falls to 0. keepalived's
// vrrp_script result counter follows the same rule. The clock is passed in,
// so every transition is a table test.
type Health struct {
	rise, fall int
	health     int
	up         bool
	unknown    bool
	lastChange time.Time
	downSince  time.Time
	downtime   time.Duration
	failed     int
	downs      int
}

// NewHealth returns a Health for rise/fall (values below 1 become 1, as
// both HAProxy and keepalived require at least 1) starting as start at now.
func NewHealth(rise, fall int, start Start, now time.Time) *Health {
	rise, fall = max(rise, 1), max(fall, 1)
	h := &Health{rise: rise, fall: fall, lastChange: now}
	switch start {
	case StartDown:
		h.health, h.up, h.downSince = 0, false, now
	case StartFullyUp:
		h.health, h.up = rise+fall-1, true
	case StartUnknown:
		h.health, h.up, h.unknown, h.downSince = 0, false, true, now
	default:
		h.health, h.up = rise, true
	}
	return h
}

// Observe records one check result at now and reports whether it changed
// the UP/DOWN state.
func (h *Health) Observe(ok bool, now time.Time) (changed bool) {
	top := h.rise + h.fall - 1
	if h.unknown {
		h.unknown, h.up, h.lastChange = false, ok, now
		if ok {
			h.health = top
			h.downtime += now.Sub(h.downSince)
		} else {
			h.health, h.downSince = 0, now
		}
		return true
	}
	if ok {
		if h.health >= top {
			return false
		}
		h.health++
		if h.health >= h.rise {
			h.health = top
		}
	} else {
		if h.health <= 0 {
			return false
		}
		h.failed++
		h.health--
		if h.health < h.rise {
			h.health = 0
		}
	}
	up := h.health >= h.rise
	if up == h.up {
		return false
	}
	h.up = up
	h.lastChange = now
	if up {
		h.downtime += now.Sub(h.downSince)
	} else {
		h.downs++
		h.downSince = now
	}
	return true
}

// Known reports whether a state is established (false only for
// StartUnknown before the first result).
func (h *Health) Known() bool { return !h.unknown }

// Force sets the state as an operator command does (HAProxy's `set server
// be/s health up|down`): fully up (health rise+fall-1) or fully down
// (health 0). It reports whether UP/DOWN changed.
func (h *Health) Force(up bool, now time.Time) (changed bool) {
	was, known := h.up, !h.unknown
	h.unknown = false
	if up {
		h.health = h.rise + h.fall - 1
	} else {
		h.health = 0
	}
	if was == up && known {
		return false
	}
	h.up, h.lastChange = up, now
	if up {
		h.downtime += now.Sub(h.downSince)
	} else {
		h.downs++
		h.downSince = now
	}
	return true
}

// Up reports whether the target is considered UP.
func (h *Health) Up() bool { return h.up }

// Value is HAProxy's check_health (CSV column 69): 0..rise+fall-1.
func (h *Health) Value() int { return h.health }

// Rise returns the configured rise.
func (h *Health) Rise() int { return h.rise }

// Fall returns the configured fall.
func (h *Health) Fall() int { return h.fall }

// Phase returns where the counter stands, which selects the interval.
func (h *Health) Phase() Phase {
	switch {
	case h.unknown:
		return PhaseGoingUp
	case h.health >= h.rise+h.fall-1:
		return PhaseUp
	case h.health == 0:
		return PhaseDown
	case h.up:
		return PhaseGoingDown
	default:
		return PhaseGoingUp
	}
}

// LastChange is when UP/DOWN last changed (or the start time): the stats
// lastchg column is now minus this.
func (h *Health) LastChange() time.Time { return h.lastChange }

// Failed counts failed checks that lowered health (CSV chkfail).
func (h *Health) Failed() int { return h.failed }

// Downs counts UP to DOWN transitions (CSV chkdown).
func (h *Health) Downs() int { return h.downs }

// Downtime is the total time spent DOWN up to now (CSV downtime).
func (h *Health) Downtime(now time.Time) time.Duration {
	if h.up {
		return h.downtime
	}
	return h.downtime + now.Sub(h.downSince)
}
