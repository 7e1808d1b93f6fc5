package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is a VRRP instance state as keepalived names it.
type State int

// Instance states. Init is the state before Start; Stop after Stop.
const (
	Init State = iota
	Backup
	Master
	Fault
	Stop
)

// String returns keepalived's name of the state (MASTER, BACKUP, ...).
func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	case Stop:
		return "STOP"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MachineConfig is what the state machine needs from a vrrp_instance.
type MachineConfig struct {
	Name    string
	Version int // 2 or 3
	// Priority is the configured priority; 255 is the address owner.
	Priority int
	// AdvertInt is advert_int (v2: whole seconds).
	AdvertInt time.Duration
	// WantMaster is `state MASTER`.
	WantMaster bool
	NoPreempt  bool
	// PreemptDelay is preempt_delay: how long a backup keeps accepting
	// lower-priority adverts before it preempts.
	PreemptDelay time.Duration
	// Primary is the address this instance sends from: equal priorities
	// are broken by the higher primary address.
	Primary netip.Addr
	// GARP schedule on becoming master: GarpRepeat at once, GarpRepeat
	// more after GarpDelay (if > 0), then GarpRefreshRepeat every
	// GarpRefresh (if > 0).
	GarpDelay, GarpRefresh        time.Duration
	GarpRepeat, GarpRefreshRepeat int
	// GarpLowerPrioRepeat GARPs (and again after GarpLowerPrioDelay) are
	// sent when a master hears a lower-priority advert.
	GarpLowerPrioDelay   time.Duration
	GarpLowerPrioRepeat  int
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
}

// Event is an input of the state machine.
type Event interface{ isEvent() }

// EvStart starts the instance (leaves Init).
type EvStart struct{}

// EvAdvert is a valid advertisement received for this instance.
type EvAdvert struct {
	Src      netip.Addr
	Priority int
	// Interval is the advertised interval (v3 backups adopt it).
	Interval time.Duration
}

// EvPriority is a new effective priority (tracking weights applied).
type EvPriority struct{ Priority int }

// EvFault enters (Fault true) or leaves the Fault state.
type EvFault struct{ Fault bool }

// EvStop stops the instance for good (daemon shutdown).
type EvStop struct{}

// EvSync is a vrrp_sync_group peer's transition: a member that becomes
// MASTER takes the other members to MASTER, one that becomes BACKUP takes
// them to BACKUP (FAULT goes through EvFault).
type EvSync struct{ State State }

func (EvStart) isEvent()    {}
func (EvAdvert) isEvent()   {}
func (EvPriority) isEvent() {}
func (EvFault) isEvent()    {}
func (EvStop) isEvent()     {}
func (EvSync) isEvent()     {}

// Action is an output of the state machine, for the edge to carry out in
// order.
type Action interface{ isAction() }

// ActSendAdvert sends one advertisement with the given priority.
type ActSendAdvert struct{ Priority int }

// ActAddVIPs configures the virtual addresses.
type ActAddVIPs struct{}

// ActRemoveVIPs removes the virtual addresses.
type ActRemoveVIPs struct{}

// ActGARP sends Count gratuitous ARPs / unsolicited NAs for every VIP.
type ActGARP struct{ Count int }

// ActNotify reports a state change (notify scripts, FIFO, callbacks).
type ActNotify struct {
	State    State
	Priority int
}

// ActLog is a log line in keepalived's words.
type ActLog struct{ Msg string }

// ActRxLowerPri reports that the master heard a lower-priority advert
// (keepalived's MASTER_RX_LOWER_PRI event and notify_master_rx_lower_pri).
type ActRxLowerPri struct{ Priority int }

func (ActSendAdvert) isAction() {}
func (ActAddVIPs) isAction()    {}
func (ActRemoveVIPs) isAction() {}
func (ActGARP) isAction()       {}
func (ActNotify) isAction()     {}
func (ActLog) isAction()        {}
func (ActRxLowerPri) isAction() {}

// Machine is one VRRP instance's state machine as keepalived 2.2.7 runs
// it. It does no I/O and never reads the clock: every call gets now, and
// Deadline says when Tick must be called next.
type Machine struct {
	cfg   MachineConfig
	state State
	prio  int // effective priority
	// masterInt is Master_Adver_Interval (v3 backups adopt the master's).
	masterInt time.Duration
	master    netip.Addr // current master seen by a backup
	fault     bool

	downAt, advertAt, garpAt, refreshAt, lowerGarpAt, preemptAt time.Time
	// downFrom is when the running master-down timer started (start or
	// the last accepted advert); zero while the timer is a priority-0
	// skew, or not running.
	downFrom time.Time
}

// NewMachine returns a machine in Init.
func NewMachine(cfg MachineConfig) *Machine {
	if cfg.AdvertInt <= 0 {
		cfg.AdvertInt = time.Second
	}
	return &Machine{cfg: cfg, state: Init, prio: cfg.Priority, masterInt: cfg.AdvertInt}
}

// State is the current state.
func (m *Machine) State() State { return m.state }

// Priority is the current effective priority.
func (m *Machine) Priority() int { return m.prio }

// Master is the master address a backup last accepted.
func (m *Machine) Master() netip.Addr { return m.master }

// Config returns the machine's configuration.
func (m *Machine) Config() MachineConfig { return m.cfg }

// Skew is keepalived's skew time for the current effective priority: v2
// (256-prio)/256 s, v3 (256-prio)*Master_Adver_Interval/256.
func (m *Machine) Skew() time.Duration {
	if m.cfg.Version == 3 {
		return time.Duration(256-m.prio) * m.masterInt / 256
	}
	return time.Duration(256-m.prio) * time.Second / 256
}

// MasterDown is Master_Down_Interval = 3 × Master_Adver_Interval + skew.
func (m *Machine) MasterDown() time.Duration { return 3*m.masterInt + m.Skew() }

// Deadline is when Tick must next be called; zero when no timer runs.
func (m *Machine) Deadline() time.Time {
	var d time.Time
	for _, t := range []time.Time{m.downAt, m.advertAt, m.garpAt, m.refreshAt, m.lowerGarpAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

func (m *Machine) logf(acts []Action, format string, a ...any) []Action {
	return append(acts, ActLog{fmt.Sprintf("(%s) ", m.cfg.Name) + fmt.Sprintf(format, a...)})
}

// Handle applies ev at time now and returns the actions to carry out.
func (m *Machine) Handle(ev Event, now time.Time) []Action {
	switch ev := ev.(type) {
	case EvStart:
		return m.start(now)
	case EvAdvert:
		return m.advert(ev, now)
	case EvPriority:
		return m.setPriority(ev.Priority, now)
	case EvFault:
		return m.setFault(ev.Fault, now)
	case EvStop:
		return m.stop()
	case EvSync:
		switch {
		case ev.State == Master && m.state == Backup:
			return m.enterMaster(m.logf(nil, "sync group peer became MASTER"), now)
		case ev.State == Backup && m.state == Master:
			return m.enterBackup(m.logf(nil, "sync group peer became BACKUP"), now)
		}
	}
	return nil
}

func (m *Machine) start(now time.Time) []Action {
	if m.state != Init {
		return nil
	}
	var acts []Action
	acts = m.logf(acts, "Entering BACKUP STATE (init)")
	if m.fault {
		return m.enterFault(acts)
	}
	if m.cfg.WantMaster && m.prio == 255 {
		return m.enterMaster(acts, now)
	}
	// Measured on keepalived 2.2.7 (TestStartupMatchesKeepalived):
	// `state MASTER` below priority 255 waits the full master-down
	// interval like `state BACKUP`.
	m.state = Backup
	m.downAt, m.downFrom = now.Add(m.MasterDown()), now
	return append(acts, ActNotify{Backup, m.prio})
}

func (m *Machine) enterMaster(acts []Action, now time.Time) []Action {
	m.state = Master
	m.masterInt = m.cfg.AdvertInt
	m.master = netip.Addr{}
	m.downAt = time.Time{}
	m.lowerGarpAt = time.Time{}
	acts = m.logf(acts, "Entering MASTER STATE")
	acts = append(acts, ActSendAdvert{m.prio}, ActAddVIPs{})
	if m.cfg.GarpRepeat > 0 {
		acts = append(acts, ActGARP{m.cfg.GarpRepeat})
	}
	m.advertAt = now.Add(m.cfg.AdvertInt)
	m.garpAt = time.Time{}
	if m.cfg.GarpDelay > 0 && m.cfg.GarpRepeat > 0 {
		m.garpAt = now.Add(m.cfg.GarpDelay)
	}
	m.refreshAt = time.Time{}
	if m.cfg.GarpRefresh > 0 {
		m.refreshAt = now.Add(m.cfg.GarpRefresh)
	}
	return append(acts, ActNotify{Master, m.prio})
}

// leaveMaster stops the master's timers and removes the VIPs.
func (m *Machine) leaveMaster(acts []Action) []Action {
	m.advertAt, m.garpAt, m.refreshAt, m.lowerGarpAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return append(acts, ActRemoveVIPs{})
}

func (m *Machine) enterBackup(acts []Action, now time.Time) []Action {
	if m.state == Master {
		acts = m.leaveMaster(acts)
	}
	m.state = Backup
	m.downAt, m.downFrom = now.Add(m.MasterDown()), now
	acts = m.logf(acts, "Entering BACKUP STATE")
	return append(acts, ActNotify{Backup, m.prio})
}

func (m *Machine) enterFault(acts []Action) []Action {
	if m.state == Master {
		acts = append(acts, ActSendAdvert{0})
		acts = m.leaveMaster(acts)
	}
	m.state = Fault
	m.downAt = time.Time{}
	m.master = netip.Addr{}
	acts = m.logf(acts, "Entering FAULT STATE")
	return append(acts, ActNotify{Fault, m.prio})
}

func (m *Machine) advert(ev EvAdvert, now time.Time) []Action {
	var acts []Action
	switch m.state {
	case Backup:
		switch {
		case ev.Priority == 0:
			m.downAt, m.downFrom = now.Add(m.Skew()), time.Time{}
		case m.cfg.NoPreempt || ev.Priority >= m.prio || m.preemptDelayRunning(ev.Priority, now):
			if m.cfg.Version == 3 && ev.Interval > 0 && ev.Interval != m.masterInt {
				acts = m.logf(acts, "advertisement interval changed: mine=%d milli-sec, rcved=%d milli-sec",
					m.masterInt.Milliseconds(), ev.Interval.Milliseconds())
				m.masterInt = ev.Interval
			}
			if ev.Priority > m.prio {
				m.preemptAt = time.Time{}
			}
			m.master = ev.Src
			m.downAt, m.downFrom = now.Add(m.MasterDown()), now
		default:
			acts = m.logf(acts, "received lower priority (%d) advert from %s - discarding", ev.Priority, ev.Src)
		}
	case Master:
		switch {
		case ev.Priority == 0:
			acts = append(acts, ActSendAdvert{m.prio})
			m.advertAt = now.Add(m.cfg.AdvertInt)
		case ev.Priority == 255 && m.prio == 255:
			// Two address owners: keepalived logs a configuration error
			// and lowers its own priority to 254 (and so goes backup).
			acts = m.logf(acts, "CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority")
			m.prio = 254
			m.master = ev.Src
			acts = m.enterBackup(acts, now)
		case ev.Priority > m.prio || (ev.Priority == m.prio && higher(ev.Src, m.cfg.Primary)):
			if ev.Priority == m.prio {
				acts = m.logf(acts, "Master received advert from %s with same priority %d but higher IP address than ours", ev.Src, ev.Priority)
			} else {
				acts = m.logf(acts, "Master received advert from %s with higher priority %d, ours %d", ev.Src, ev.Priority, m.prio)
			}
			if m.cfg.HigherPrioSendAdvert {
				acts = append(acts, ActSendAdvert{m.prio})
			}
			if m.cfg.Version == 3 && ev.Interval > 0 {
				m.masterInt = ev.Interval
			}
			m.master = ev.Src
			acts = m.enterBackup(acts, now)
		default:
			acts = m.logf(acts, "Received advert from %s with lower priority %d, ours %d, forcing new election", ev.Src, ev.Priority, m.prio)
			acts = append(acts, ActRxLowerPri{ev.Priority})
			if !m.cfg.LowerPrioNoAdvert {
				acts = append(acts, ActSendAdvert{m.prio})
				m.advertAt = now.Add(m.cfg.AdvertInt)
			}
			if m.cfg.GarpLowerPrioRepeat > 0 {
				acts = append(acts, ActGARP{m.cfg.GarpLowerPrioRepeat})
				if m.cfg.GarpLowerPrioDelay > 0 {
					m.lowerGarpAt = now.Add(m.cfg.GarpLowerPrioDelay)
				}
			}
		}
	}
	return acts
}

// preemptDelayRunning implements preempt_delay for a lower-priority
// advert: the first one starts the delay, and until it ends the backup
// accepts such adverts as from a legitimate master.
func (m *Machine) preemptDelayRunning(prio int, now time.Time) bool {
	if m.cfg.PreemptDelay <= 0 {
		return false
	}
	if m.preemptAt.IsZero() {
		m.preemptAt = now.Add(m.cfg.PreemptDelay)
	}
	return now.Before(m.preemptAt)
}

// higher reports whether a is a higher address than b (the equal priority
// tie-break on the primary address).
func higher(a, b netip.Addr) bool { return a.Compare(b) > 0 }

func (m *Machine) setPriority(p int, now time.Time) []Action {
	if p == m.prio {
		return nil
	}
	acts := m.logf(nil, "Changing effective priority from %d to %d", m.prio, p)
	m.prio = p
	// keepalived's master-down timer follows the new skew: a backup
	// whose priority rises times out earlier (measured: track_back).
	if m.state == Backup && !m.downFrom.IsZero() {
		m.downAt = m.downFrom.Add(m.MasterDown())
	}
	return acts
}

func (m *Machine) setFault(fault bool, now time.Time) []Action {
	if fault == m.fault {
		return nil
	}
	m.fault = fault
	switch {
	case fault && (m.state == Backup || m.state == Master):
		return m.enterFault(nil)
	case !fault && m.state == Fault:
		m.masterInt = m.cfg.AdvertInt
		return m.enterBackup(nil, now)
	}
	return nil
}

func (m *Machine) stop() []Action {
	if m.state == Stop {
		return nil
	}
	var acts []Action
	if m.state == Master {
		acts = append(acts, ActSendAdvert{0})
		acts = m.leaveMaster(acts)
	}
	m.state = Stop
	m.downAt = time.Time{}
	acts = m.logf(acts, "Entering STOP STATE")
	return append(acts, ActNotify{Stop, m.prio})
}

// Tick fires the timers due at now.
func (m *Machine) Tick(now time.Time) []Action {
	var acts []Action
	due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	if due(m.downAt) && m.state == Backup {
		m.downAt = time.Time{}
		acts = m.logf(acts, "Receive advertisement timeout")
		acts = m.enterMaster(acts, now)
		return acts
	}
	if m.state != Master {
		return acts
	}
	if due(m.advertAt) {
		acts = append(acts, ActSendAdvert{m.prio})
		// Keep the cadence; skip beats missed by a slow caller.
		for !m.advertAt.After(now) {
			m.advertAt = m.advertAt.Add(m.cfg.AdvertInt)
		}
	}
	if due(m.garpAt) {
		m.garpAt = time.Time{}
		acts = append(acts, ActGARP{m.cfg.GarpRepeat})
	}
	if due(m.lowerGarpAt) {
		m.lowerGarpAt = time.Time{}
		acts = append(acts, ActGARP{m.cfg.GarpLowerPrioRepeat})
	}
	if due(m.refreshAt) {
		n := m.cfg.GarpRefreshRepeat
		if n <= 0 {
			n = 1
		}
		acts = append(acts, ActGARP{n})
		m.refreshAt = now.Add(m.cfg.GarpRefresh)
	}
	return acts
}
