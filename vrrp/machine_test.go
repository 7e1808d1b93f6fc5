package vrrp

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func cfg(prio int) MachineConfig {
	return MachineConfig{Name: "VI_1", Version: 2, Priority: prio, AdvertInt: time.Second,
		Primary: netip.MustParseAddr("192.0.2.1"), GarpDelay: 5 * time.Second, GarpRepeat: 5,
		GarpLowerPrioDelay: 5 * time.Second, GarpLowerPrioRepeat: 5}
}

// strip drops log actions.
func strip(acts []Action) []Action {
	var out []Action
	for _, a := range acts {
		if _, ok := a.(ActLog); !ok {
			out = append(out, a)
		}
	}
	return out
}

func wantActs(t *testing.T, got []Action, want ...Action) {
	t.Helper()
	got = strip(got)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("actions\n got %#v\nwant %#v", got, want)
	}
}

// runUntil ticks m at each deadline up to end and returns the time of the
// first transition to state s (zero if none).
func runUntil(m *Machine, from, end time.Time, s State) time.Time {
	for i := 0; i < 10000; i++ {
		d := m.Deadline()
		if d.IsZero() || d.After(end) {
			return time.Time{}
		}
		if d.Before(from) {
			d = from
		}
		m.Tick(d)
		if m.State() == s {
			return d
		}
	}
	return time.Time{}
}

func TestTimers(t *testing.T) {
	tests := []struct {
		version    int
		prio       int
		adv        time.Duration
		skew, down time.Duration
	}{
		{2, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{2, 150, time.Second, 414062500, 3414062500},
		{2, 50, time.Second, 804687500, 3804687500},
		{2, 100, 3 * time.Second, 609375 * time.Microsecond, 9609375 * time.Microsecond}, // v2 skew ignores advert_int
		{3, 100, ms(100), 60937500, 360937500},
	}
	for _, tt := range tests {
		c := cfg(tt.prio)
		c.Version, c.AdvertInt = tt.version, tt.adv
		m := NewMachine(c)
		if m.Skew() != tt.skew || m.MasterDown() != tt.down {
			t.Errorf("v%d prio %d adv %v: skew %v down %v, want %v %v", tt.version, tt.prio, tt.adv, m.Skew(), m.MasterDown(), tt.skew, tt.down)
		}
	}
}

func TestStartup(t *testing.T) {
	// state BACKUP: master after the full master-down interval.
	m := NewMachine(cfg(150))
	wantActs(t, m.Handle(EvStart{}, t0), ActNotify{Backup, 150})
	if got := m.Deadline().Sub(t0); got != m.MasterDown() {
		t.Fatalf("backup deadline %v", got)
	}
	if m.Tick(t0.Add(3 * time.Second)); m.State() != Backup {
		t.Fatal("became master early")
	}
	acts := m.Tick(t0.Add(m.MasterDown()))
	wantActs(t, acts, ActSendAdvert{150}, ActAddVIPs{}, ActGARP{5}, ActNotify{Master, 150})

	// state MASTER, priority < 255: like BACKUP, the full master-down
	// interval (keepalived 2.2.7, measured).
	c := cfg(100)
	c.WantMaster = true
	m = NewMachine(c)
	m.Handle(EvStart{}, t0)
	if m.State() != Backup || m.Deadline().Sub(t0) != m.MasterDown() {
		t.Fatalf("state MASTER prio 100: %v deadline %v", m.State(), m.Deadline().Sub(t0))
	}

	// Address owner with state MASTER: master at once.
	c = cfg(255)
	c.WantMaster = true
	m = NewMachine(c)
	wantActs(t, m.Handle(EvStart{}, t0), ActSendAdvert{255}, ActAddVIPs{}, ActGARP{5}, ActNotify{Master, 255})
}

func master(t *testing.T, c MachineConfig) *Machine {
	t.Helper()
	c.WantMaster = true
	c.Priority = 255
	m := NewMachine(c)
	m.Handle(EvStart{}, t0)
	if m.State() != Master {
		t.Fatal("not master")
	}
	return m
}

func TestMasterCadenceAndGARP(t *testing.T) {
	m := master(t, cfg(255))
	wantActs(t, m.Tick(t0.Add(time.Second)), ActSendAdvert{255})
	wantActs(t, m.Tick(t0.Add(2*time.Second)), ActSendAdvert{255})
	// The second GARP burst comes garp_master_delay (5 s) later.
	wantActs(t, m.Tick(t0.Add(5*time.Second)), ActSendAdvert{255}, ActGARP{5})
	wantActs(t, m.Tick(t0.Add(6*time.Second)), ActSendAdvert{255})
}

func TestBackupReceives(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.2")
	tests := []struct {
		name      string
		mod       func(c *MachineConfig)
		advPrio   int
		wantTimer time.Duration // from the advert; 0: unchanged
	}{
		{"higher: accept", nil, 150, 3609375 * time.Microsecond},
		{"equal: accept", nil, 100, 3609375 * time.Microsecond},
		{"lower, preempt: discard", nil, 50, 0},
		{"lower, nopreempt: accept", func(c *MachineConfig) { c.NoPreempt = true }, 50, 3609375 * time.Microsecond},
		{"priority 0: skew", nil, 0, 609375 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(100)
			if tt.mod != nil {
				tt.mod(&c)
			}
			m := NewMachine(c)
			m.Handle(EvStart{}, t0)
			before := m.Deadline()
			at := t0.Add(time.Second)
			wantActs(t, m.Handle(EvAdvert{Src: src, Priority: tt.advPrio, Interval: time.Second}, at))
			if tt.wantTimer == 0 {
				if m.Deadline() != before {
					t.Fatalf("timer changed")
				}
				return
			}
			if got := m.Deadline().Sub(at); got != tt.wantTimer {
				t.Fatalf("timer %v, want %v", got, tt.wantTimer)
			}
		})
	}
}

func TestMasterReceives(t *testing.T) {
	lowIP, highIP := netip.MustParseAddr("192.0.2.0"), netip.MustParseAddr("192.0.2.9")
	tests := []struct {
		name  string
		src   netip.Addr
		prio  int
		state State
		acts  []Action
	}{
		{"priority 0: advert at once", highIP, 0, Master, []Action{ActSendAdvert{100}}},
		{"lower: re-assert", highIP, 50, Master, []Action{ActRxLowerPri{50}, ActSendAdvert{100}, ActGARP{5}}},
		{"equal, lower IP: re-assert", lowIP, 100, Master, []Action{ActRxLowerPri{100}, ActSendAdvert{100}, ActGARP{5}}},
		{"equal, higher IP: backup", highIP, 100, Backup, []Action{ActRemoveVIPs{}, ActNotify{Backup, 100}}},
		{"higher: backup", lowIP, 101, Backup, []Action{ActRemoveVIPs{}, ActNotify{Backup, 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(cfg(100))
			m.Handle(EvStart{}, t0)
			m.Tick(m.Deadline())
			if m.State() != Master {
				t.Fatal("not master")
			}
			now := m.Deadline().Add(-ms(10))
			wantActs(t, m.Handle(EvAdvert{Src: tt.src, Priority: tt.prio, Interval: time.Second}, now), tt.acts...)
			if m.State() != tt.state {
				t.Fatalf("state %v, want %v", m.State(), tt.state)
			}
		})
	}
}

func TestStopAndFault(t *testing.T) {
	m := master(t, cfg(255))
	wantActs(t, m.Handle(EvStop{}, t0.Add(ms(500))), ActSendAdvert{0}, ActRemoveVIPs{}, ActNotify{Stop, 255})
	if !m.Deadline().IsZero() {
		t.Fatal("timers still run after stop")
	}
	m = master(t, cfg(255))
	wantActs(t, m.Handle(EvFault{true}, t0), ActSendAdvert{0}, ActRemoveVIPs{}, ActNotify{Fault, 255})
	if m.Tick(t0.Add(time.Hour)); m.State() != Fault {
		t.Fatal("left fault on a timer")
	}
	wantActs(t, m.Handle(EvFault{false}, t0.Add(time.Hour)), ActNotify{Backup, 255})
	// A backup stopping sends nothing.
	b := NewMachine(cfg(100))
	b.Handle(EvStart{}, t0)
	wantActs(t, b.Handle(EvStop{}, t0), ActNotify{Stop, 100})
	// Fault before start: the instance starts in FAULT.
	f := NewMachine(cfg(100))
	f.Handle(EvFault{true}, t0)
	wantActs(t, f.Handle(EvStart{}, t0), ActNotify{Fault, 100})
}

// Two machines exchanging adverts through a perfect link: the one with
// the higher priority wins, an equal pair elects the higher address, and
// a graceful stop hands over after the skew time.
func TestPairElection(t *testing.T) {
	type node struct {
		m   *Machine
		src netip.Addr
	}
	mk := func(prio int, ip string) *node {
		c := cfg(prio)
		c.Primary = netip.MustParseAddr(ip)
		return &node{NewMachine(c), c.Primary}
	}
	// Priority 150 vs 100, both BACKUP: 150 wins after its mdi.
	a, b := mk(150, "192.0.2.1"), mk(100, "192.0.2.2")
	a.m.Handle(EvStart{}, t0)
	b.m.Handle(EvStart{}, t0)
	runNodes([]*Machine{a.m, b.m}, []netip.Addr{a.src, b.src}, t0, t0.Add(10*time.Second))
	if a.m.State() != Master || b.m.State() != Backup {
		t.Fatalf("150/100: %v %v", a.m.State(), b.m.State())
	}
	// Graceful stop of the master: the backup takes over after skew(100).
	stopAt := t0.Add(10*time.Second + ms(300))
	acts := a.m.Handle(EvStop{}, stopAt)
	for _, x := range acts {
		if s, ok := x.(ActSendAdvert); ok {
			b.m.Handle(EvAdvert{Src: a.src, Priority: s.Priority, Interval: time.Second}, stopAt)
		}
	}
	took := runUntil(b.m, stopAt, stopAt.Add(10*time.Second), Master)
	if took.Sub(stopAt) != b.m.Skew() {
		t.Fatalf("takeover after %v, want skew %v", took.Sub(stopAt), b.m.Skew())
	}
	// Equal priorities: the higher primary address wins.
	a, b = mk(100, "192.0.2.1"), mk(100, "192.0.2.2")
	a.m.Handle(EvStart{}, t0)
	b.m.Handle(EvStart{}, t0)
	runNodes([]*Machine{a.m, b.m}, []netip.Addr{a.src, b.src}, t0, t0.Add(10*time.Second))
	if a.m.State() != Backup || b.m.State() != Master {
		t.Fatalf("equal: %v %v", a.m.State(), b.m.State())
	}
	// Crash of the master: the backup takes over after its mdi.
	crash := t0.Add(10*time.Second + ms(100))
	took = runUntil(a.m, crash, crash.Add(10*time.Second), Master)
	if took.IsZero() || took.Sub(crash) > a.m.MasterDown() {
		t.Fatalf("crash takeover %v", took.Sub(crash))
	}
}

// runNodes runs machines over a lossless link from now to until.
func runNodes(ms []*Machine, srcs []netip.Addr, now, until time.Time) {
	for i := 0; i < 100000; i++ {
		next := time.Time{}
		for _, m := range ms {
			if d := m.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
		if next.IsZero() || next.After(until) {
			return
		}
		type pending struct {
			from int
			acts []Action
		}
		queue := []pending{}
		for k, m := range ms {
			if d := m.Deadline(); !d.IsZero() && !d.After(next) {
				queue = append(queue, pending{k, m.Tick(next)})
			}
		}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, a := range p.acts {
				s, ok := a.(ActSendAdvert)
				if !ok {
					continue
				}
				for k, m := range ms {
					if k != p.from {
						queue = append(queue, pending{k, m.Handle(EvAdvert{Src: srcs[p.from], Priority: s.Priority, Interval: time.Second}, next)})
					}
				}
			}
		}
	}
}

func TestPreemptDelay(t *testing.T) {
	c := cfg(150)
	c.PreemptDelay = 5 * time.Second
	m := NewMachine(c)
	m.Handle(EvStart{}, t0)
	low := netip.MustParseAddr("192.0.2.2")
	// Lower-priority adverts are accepted for 5 s, then discarded.
	now := t0
	for i := 0; i < 20 && m.State() == Backup; i++ {
		now = now.Add(time.Second)
		m.Handle(EvAdvert{Src: low, Priority: 100, Interval: time.Second}, now)
		if d := m.Deadline(); !d.After(now.Add(time.Second)) {
			m.Tick(d)
		}
	}
	took := runUntil(m, now, now.Add(10*time.Second), Master)
	if m.State() != Master {
		t.Fatal("never preempted")
	}
	if e := took.Sub(t0); e < 5*time.Second {
		t.Fatalf("preempted after %v, before preempt_delay", e)
	}
}

func TestV3AdoptsInterval(t *testing.T) {
	c := cfg(100)
	c.Version, c.AdvertInt = 3, time.Second
	m := NewMachine(c)
	m.Handle(EvStart{}, t0)
	m.Handle(EvAdvert{Src: netip.MustParseAddr("192.0.2.2"), Priority: 200, Interval: ms(100)}, t0)
	if got := m.Deadline().Sub(t0); got != 3*ms(100)+ms(100)*156/256 {
		t.Fatalf("v3 mdi with the master's interval: %v", got)
	}
}

func TestSyncGroupEvents(t *testing.T) {
	b := NewMachine(cfg(100))
	b.Handle(EvStart{}, t0)
	wantActs(t, b.Handle(EvSync{Master}, t0.Add(time.Second)), ActSendAdvert{100}, ActAddVIPs{}, ActGARP{5}, ActNotify{Master, 100})
	wantActs(t, b.Handle(EvSync{Master}, t0.Add(time.Second)))
	wantActs(t, b.Handle(EvSync{Backup}, t0.Add(2*time.Second)), ActRemoveVIPs{}, ActNotify{Backup, 100})
	f := NewMachine(cfg(100))
	f.Handle(EvFault{true}, t0)
	f.Handle(EvStart{}, t0)
	wantActs(t, f.Handle(EvSync{Master}, t0))
}

func TestTwoOwners(t *testing.T) {
	m := master(t, cfg(255))
	wantActs(t, m.Handle(EvAdvert{Src: netip.MustParseAddr("192.0.2.9"), Priority: 255, Interval: time.Second}, t0),
		ActRemoveVIPs{}, ActNotify{Backup, 254})
	if m.Priority() != 254 {
		t.Fatalf("priority %d", m.Priority())
	}
}

// A backup's master-down timer follows a priority change: it keeps its
// start (the last accepted advert) and takes the new skew.
func TestBackupPriorityChangeRecomputesTimer(t *testing.T) {
	m := NewMachine(cfg(90))
	m.Handle(EvStart{}, t0)
	at := t0.Add(time.Second)
	m.Handle(EvAdvert{Src: netip.MustParseAddr("192.0.2.2"), Priority: 100, Interval: time.Second}, at)
	m.Handle(EvPriority{150}, at.Add(ms(10)))
	if got := m.Deadline().Sub(at); got != 3*time.Second+time.Duration(106)*time.Second/256 {
		t.Fatalf("timer %v after the advert, want mdi(150)", got)
	}
}
