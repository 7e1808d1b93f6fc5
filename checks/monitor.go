package checks

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Config schedules a Monitor. Field names follow HAProxy's server keywords.
type Config struct {
	// Rise and Fall are the consecutive successes and failures that change
	// the state (HAProxy defaults 2 and 3; keepalived 1 and 1).
	Rise, Fall int
	// Start is the state before the first check (StartUp like HAProxy).
	Start Start
	// Intervals are inter, fastinter and downinter. Inter must be > 0.
	Intervals
	// Timeout bounds one whole check; 0 means Inter (HAProxy without
	// `timeout check`, keepalived's vrrp_script `timeout 0`). Use Timeouts
	// to derive it from HAProxy's settings.
	Timeout time.Duration
	// Delay is when the first check runs after Run starts. HAProxy
	// spreads the first checks of n servers over inter: server i waits
	// inter*i/n. Callers compute that, as only they know i and n.
	Delay time.Duration
	// Spread is HAProxy's global spread-checks, 0..50 percent: every
	// interval is moved at random by up to ±Spread% of itself.
	Spread int
	// FixedRate starts checks on a fixed grid, one interval after the
	// previous check STARTED, as keepalived's vrrp_script does (its timer
	// is re-armed before the script is spawned). A tick that comes while a
	// check still runs is skipped, as keepalived skips it ("already
	// running"); a check that timed out at or before the tick counts as
	// ended, so a script that always times out runs every interval
	// (keepalived 2.2.7 measured: 0, 2, 4, 6 s with interval 2). False is
	// HAProxy's schedule: the next check starts an interval after the
	// previous one ended.
	FixedRate bool
	// Rand returns a number in [0,1) for the jitter; nil means math/rand.
	Rand func() float64
	// OnHealth, when set, is called from Run with every check result that
	// moved the health counter (HAProxy's `option log-health-checks`
	// logs those), before the transition it may cause is sent.
	OnHealth func(Event)
}

// Event reports a change between UP and DOWN.
type Event struct {
	// Name is the Monitor's name (for example "be/s1"), so that several
	// monitors can share one channel.
	Name string
	// Up is the new state.
	Up bool
	// Result is the check that caused the change.
	Result Result
	// Health is the counter after the change.
	Health int
}

// Snapshot is the current state of a Monitor, for the stats page and CSV.
type Snapshot struct {
	Up         bool
	Known      bool // false before the first result with StartUnknown
	Health     int  // check_health
	Rise, Fall int
	Last       Result // check_status, check_code, check_duration, last_chk
	LastChange time.Time
	Failed     int           // chkfail
	Downs      int           // chkdown
	Downtime   time.Duration // downtime
	Checks     int           // checks run so far
}

// Monitor runs one Checker on a schedule and applies rise/fall. Create
// it with NewMonitor, start Run in its own goroutine, read transitions from
// the channel given to NewMonitor and the state with Snapshot.
type Monitor struct {
	name    string
	checker Checker
	cfg     Config
	out     chan<- Event

	mu     sync.Mutex
	health *Health
	last   Result
	checks int
}

// NewMonitor returns a Monitor named name that runs c as cfg says and
// sends each transition on out (nil: no events). Sends block until they
// are received or Run's context ends, so transitions are never dropped and
// never reordered: the reader must keep reading.
func NewMonitor(name string, c Checker, cfg Config, out chan<- Event) *Monitor {
	if cfg.Inter <= 0 {
		cfg.Inter = 2 * time.Second
	}
	if cfg.Spread < 0 {
		cfg.Spread = 0
	}
	if cfg.Spread > 50 {
		cfg.Spread = 50
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	m := &Monitor{name: name, checker: c, cfg: cfg, out: out}
	m.health = NewHealth(cfg.Rise, cfg.Fall, cfg.Start, time.Now())
	m.last = Result{Status: StatusInit}
	return m
}

// Name returns the name given to NewMonitor.
func (m *Monitor) Name() string { return m.name }

// Snapshot returns the current state.
func (m *Monitor) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Snapshot{
		Up: m.health.Up(), Known: m.health.Known(), Health: m.health.Value(),
		Rise: m.health.Rise(), Fall: m.health.Fall(),
		Last: m.last, LastChange: m.health.LastChange(),
		Failed: m.health.Failed(), Downs: m.health.Downs(),
		Downtime: m.health.Downtime(time.Now()), Checks: m.checks,
	}
}

// Force sets the state as an operator command does (`set server be/s
// health up|down`, see Health.Force) and reports whether UP/DOWN changed.
// No event is sent: the caller knows.
func (m *Monitor) Force(up bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health.Force(up, time.Now())
}

// Up reports whether the target is UP now.
func (m *Monitor) Up() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health.Up()
}

// Run checks until ctx ends, then returns ctx's error; call it once per
// Monitor. One check runs at a time; a check never outlives its timeout by
// more than its checker takes to notice the cancelled context (a Script
// waits up to KillGrace for its process group). A check cut short by ctx
// is not recorded.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTimer(m.cfg.Delay)
	defer t.Stop()
	var grid time.Time // FixedRate: when the current check was due
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		timeout := m.cfg.Timeout
		if timeout <= 0 {
			timeout = m.cfg.Inter
		}
		if grid.IsZero() {
			grid = time.Now()
		}
		r := Run(ctx, m.checker, timeout)
		if ctx.Err() != nil {
			return ctx.Err() // a check cut short by shutdown is not a result
		}
		ev, moved, changed, next := m.record(r)
		if moved && m.cfg.OnHealth != nil {
			m.cfg.OnHealth(ev)
		}
		if changed && m.out != nil {
			select {
			case m.out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if m.cfg.FixedRate {
			grid, next = nextTick(grid, time.Now(), next, r.Duration >= timeout)
		}
		t.Reset(next)
	}
}

// nextTick is FixedRate's schedule. tick is the grid time at which the
// check that just ended at now was due, every the grid's period and timedOut
// whether that check hit its timeout. It returns the grid time of the next
// check and the delay until it: the next tick when it is still ahead; at
// once (keeping the grid) when the check ran past the tick only because it
// was being timed out, as keepalived's timeout handling runs before its
// tick; otherwise the first tick after now (the ticks passed while the check
// ran are skipped, keepalived's "already running - skipping run").
func nextTick(tick, now time.Time, every time.Duration, timedOut bool) (time.Time, time.Duration) {
	if every <= 0 {
		return now, 0
	}
	tick = tick.Add(every)
	if !now.After(tick) {
		return tick, tick.Sub(now)
	}
	if timedOut && now.Sub(tick) < every {
		return tick, 0
	}
	for !tick.After(now) {
		tick = tick.Add(every)
	}
	return tick, tick.Sub(now)
}

// record applies r and returns the event, whether it moved the health
// counter, whether it is a transition, and the delay before the next
// check.
func (m *Monitor) record(r Result) (Event, bool, bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks++
	m.last = r
	before, known := m.health.Value(), m.health.Known()
	changed := m.health.Observe(r.OK(), r.Time)
	ev := Event{Name: m.name, Up: m.health.Up(), Result: r, Health: m.health.Value()}
	moved := changed || !known || ev.Health != before
	return ev, moved, changed, m.jitter(m.cfg.For(m.health.Phase()))
}

// jitter moves d by up to ±Spread% of d, as HAProxy's spread-checks does.
func (m *Monitor) jitter(d time.Duration) time.Duration {
	if m.cfg.Spread == 0 {
		return d
	}
	rv := d * time.Duration(m.cfg.Spread) / 100
	return d + rv - time.Duration(2*float64(rv)*m.cfg.Rand())
}

// FirstCheckDelay is HAProxy's start-up spread: the first check of the
// pos-th (from 0) of n checked servers runs minInter*pos/n after start,
// minInter being the smallest interval among them, so that the checks do
// not all fire at once (observed on HAProxy 2.6: with inter 60s, the 2nd
// of 6 servers is first checked after 10 s). Use it as Config.Delay.
func FirstCheckDelay(minInter time.Duration, pos, n int) time.Duration {
	if n <= 0 || pos <= 0 {
		return 0
	}
	return minInter * time.Duration(pos) / time.Duration(n)
}
