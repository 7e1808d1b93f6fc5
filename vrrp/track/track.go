// Package track computes what keepalived 2.2.7's tracking does to a VRRP
// instance: vrrp_script results, track_interface link states and
// track_file values each add a weight to the instance's priority or put
// it in FAULT. The pure part (State) turns observations into per-instance
// changes; Runner feeds it from real scripts (checks.Monitor), netlink
// link events and watched files, and reports each change to a callback.
//
// The package does not import the VRRP core: the daemon builds a Config
// (usually with FromKeepalived) and applies the Changes it receives.
//
// Rules, as keepalived 2.2.7 applies them (vrrp_track.c, checked by
// running keepalived in a network namespace, see keepalived_diff_test.go):
//
//   - A tracked object with weight w and reverse multiplier m (1, or -1
//     with `reverse`) contributes, when it is OK (script succeeded,
//     interface up): w*m if w > 0, else 0; when it is failed: w*m if
//     w < 0, else 0. With `reverse` and w = 10 an OK script lowers the
//     priority by 10.
//   - Weight 0 means no priority change: a failed object (an OK one with
//     reverse) puts the instance in FAULT.
//   - A script with no result yet contributes nothing; a weight-0 script
//     with no result keeps the instance out of service (Pending:
//     keepalived shows it in FAULT in its data dump, without a log line
//     or a notification). init_fail changes neither (measured).
//   - track_file: the file holds an integer v; with weight w the
//     contribution is v*w*m, capped at 253; a result <= -254 is FAULT.
//     With weight 0, a non-zero value is FAULT (a zero one with reverse).
//   - The effective priority is base + sum of contributions, clamped to
//     1..254; an address owner (priority 255) is never adjusted, and
//     keepalived drops its weighted trackers ("ignoring tracked script
//     chk with weights due to address_owner"), as it does for members of
//     a vrrp_sync_group ("... due to SYNC group").
package track

import "fmt"

// Kind says what a tracked object is.
type Kind int

const (
	// KindScript is a vrrp_script referenced by track_script.
	KindScript Kind = iota
	// KindInterface is a track_interface entry (or the instance's own
	// interface, which keepalived tracks unless dont_track_primary).
	KindInterface
	// KindFile is a track_file referenced by an instance's track_file.
	KindFile
)

func (k Kind) String() string {
	switch k {
	case KindScript:
		return "script"
	case KindInterface:
		return "interface"
	case KindFile:
		return "file"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Tracker is one object an instance tracks, with the weight the
// instance uses for it (the instance's override or the object's own).
type Tracker struct {
	Kind    Kind
	Name    string // vrrp_script name, interface name or track_file name
	Weight  int
	Reverse bool
}

// Status is the last observation of a tracked object.
type Status struct {
	// Known is false for a script that has not returned a result yet
	// (and was not declared init_fail).
	Known bool
	// OK is a script's success or an interface's link being up.
	OK bool
	// Value is a track_file's integer.
	Value int
}

// Contribution is what one tracked object in status s does to an
// instance: the priority delta, whether the instance must be in FAULT,
// and whether it is still waiting for the object's first result.
func Contribution(t Tracker, s Status) (delta int, fault, pending bool) {
	m := 1
	if t.Reverse {
		m = -1
	}
	if t.Kind == KindFile {
		if t.Weight == 0 {
			if (s.Value != 0) == (m == 1) {
				return 0, true, false
			}
			return 0, false, false
		}
		v := int64(s.Value) * int64(t.Weight) * int64(m)
		switch {
		case v <= -254:
			return 0, true, false
		case v > 253:
			return 253, false, false
		}
		return int(v), false, false
	}
	if !s.Known {
		return 0, false, t.Weight == 0
	}
	if t.Weight == 0 {
		return 0, s.OK != (m == 1), false
	}
	if s.OK == (t.Weight > 0) {
		return t.Weight * m, false, false
	}
	return 0, false, false
}

// Instance is the tracking part of one vrrp_instance.
type Instance struct {
	Name     string
	Priority int // configured (base) priority
	Trackers []Tracker
}

// Change is the tracking outcome for an instance, reported whenever one
// of its fields changes.
type Change struct {
	Instance string
	// Delta is the sum of the contributions (before clamping).
	Delta int
	// Priority is the effective priority: base + Delta clamped to
	// 1..254, or 255 unchanged for an address owner.
	Priority int
	// Fault is set while a weight-0 object (or a track_file result
	// <= -254) fails: keepalived puts the instance in FAULT.
	Fault bool
	// Pending is set while a weight-0 script has not returned its first
	// result: keepalived keeps the instance in FAULT until then, but
	// silently (no log line, no notify): the daemon should hold the
	// instance down without announcing FAULT.
	Pending bool
	// Reason names the objects that cause Fault, for the log
	// ("script chk", "interface eth1", "file f1").
	Reason []string
}

// Effective clamps base+delta as keepalived's vrrp_set_effective_priority
// does: an owner (255) keeps 255, others stay within 1..254.
func Effective(base, delta int) int {
	if base >= 255 {
		return 255
	}
	p := base + delta
	if p < 1 {
		return 1
	}
	if p > 254 {
		return 254
	}
	return p
}

type key struct {
	kind Kind
	name string
}

// State is the pure tracking state: the last status of every object and
// the resulting Change of every instance. It is not safe for concurrent
// use; Runner serialises access.
type State struct {
	insts  []Instance
	status map[key]Status
	last   map[string]Change
}

// NewState returns the state for insts. initial holds the statuses
// known at start; an object missing from it starts as keepalived assumes
// before its first observation: a script unknown, an interface up, a
// file 0.
func NewState(insts []Instance, initial map[Kind]map[string]Status) *State {
	s := &State{insts: insts, status: map[key]Status{}, last: map[string]Change{}}
	for k, m := range initial {
		for n, st := range m {
			s.status[key{k, n}] = st
		}
	}
	for _, in := range insts {
		s.last[in.Name] = s.compute(in)
	}
	return s
}

func (s *State) get(t Tracker) Status {
	if st, ok := s.status[key{t.Kind, t.Name}]; ok {
		return st
	}
	switch t.Kind {
	case KindInterface:
		return Status{Known: true, OK: true}
	case KindFile:
		return Status{Known: true}
	}
	return Status{}
}

func (s *State) compute(in Instance) Change {
	c := Change{Instance: in.Name}
	for _, t := range in.Trackers {
		d, f, p := Contribution(t, s.get(t))
		c.Delta += d
		if f {
			c.Fault = true
			c.Reason = append(c.Reason, t.Kind.String()+" "+t.Name)
		}
		c.Pending = c.Pending || p
	}
	c.Priority = Effective(in.Priority, c.Delta)
	return c
}

// Set records a new status for an object and returns the changes of the
// instances whose outcome moved, in configuration order.
func (s *State) Set(kind Kind, name string, st Status) []Change {
	s.status[key{kind, name}] = st
	var out []Change
	for _, in := range s.insts {
		uses := false
		for _, t := range in.Trackers {
			if t.Kind == kind && t.Name == name {
				uses = true
				break
			}
		}
		if !uses {
			continue
		}
		c := s.compute(in)
		if !sameChange(c, s.last[in.Name]) {
			s.last[in.Name] = c
			out = append(out, c)
		}
	}
	return out
}

// Current returns the present outcome for an instance (false if unknown).
func (s *State) Current(instance string) (Change, bool) {
	c, ok := s.last[instance]
	return c, ok
}

func sameChange(a, b Change) bool {
	return a.Delta == b.Delta && a.Priority == b.Priority && a.Fault == b.Fault && a.Pending == b.Pending
}
