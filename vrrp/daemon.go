package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"sort"
	"sync"
	"time"

	"hapair/parser/keepalived"
	"hapair/vrrp/advert"
)

// Options are the daemon's hooks.
type Options struct {
	// Log receives keepalived-style log lines ("(VI_1) Entering MASTER
	// STATE"); nil discards them.
	Log func(msg string)
	// OnState is called from the instance's goroutine on every state
	// change (notify scripts, FIFO, tests). It must not block for long.
	OnState func(instance string, state State, prio int)
	// OnGroupState is called when a vrrp_sync_group changes state (the
	// state of its members' latest transition).
	OnGroupState func(group string, state State)
	// OnEvent reports instance events that are not state changes:
	// "MASTER_RX_LOWER_PRI" with the advert's priority.
	OnEvent func(instance, event string, prio int)
	// Started is called once by Run when every instance has been started
	// (sockets open, goroutines running): the moment keepalived logs
	// "Startup complete" and a detached daemon may tell its parent so.
	Started func()
}

// Daemon runs the VRRP instances of a keepalived configuration.
type Daemon struct {
	opts Options

	mu    sync.Mutex
	cfg   *keepalived.Config
	insts map[string]*instance
	// groups maps an instance to its vrrp_sync_group.
	groups      map[string]*keepalived.SyncGroup
	groupStates map[string]State
	conns       map[bool]*rawConn // by family (true: IPv6)
	// joined records the (family, ifindex) pairs that joined the group.
	joined  map[[2]int]bool
	running bool
	ctx     context.Context
	wg      sync.WaitGroup // instances
	readers sync.WaitGroup
	// Unknown counts packets for no configured instance.
	unknown Counter
}

// New returns a daemon for cfg. It does not touch the network until Run.
func New(cfg *keepalived.Config, opts Options) (*Daemon, error) {
	if cfg == nil {
		return nil, errors.New("vrrp: nil configuration")
	}
	d := &Daemon{opts: opts, cfg: cfg, insts: map[string]*instance{}, conns: map[bool]*rawConn{}, joined: map[[2]int]bool{}}
	for _, ic := range cfg.Instances {
		d.insts[ic.Name] = newInstance(d, ic, cfg.Global.NotifyPriorityChanges)
	}
	d.setGroups(cfg)
	return d, nil
}

func (d *Daemon) logf(format string, a ...any) {
	if d.opts.Log != nil {
		d.opts.Log(fmt.Sprintf(format, a...))
	}
}

// Run opens the sockets, starts every instance and runs until ctx ends;
// then every instance stops (priority-0 advert from a master, VIPs
// removed) before Run returns nil. It returns an error only when it
// cannot start.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return errors.New("vrrp: Run called twice")
	}
	d.running = true
	d.ctx = ctx
	insts := d.sortedInstances()
	d.mu.Unlock()

	for _, in := range insts {
		if err := d.start(in); err != nil {
			d.logf("(%s) %v", in.name, err)
		}
	}
	if d.opts.Started != nil {
		d.opts.Started()
	}
	<-ctx.Done()
	d.mu.Lock()
	for _, in := range d.insts {
		in.cancel()
	}
	d.mu.Unlock()
	d.wg.Wait()
	d.mu.Lock()
	for _, c := range d.conns {
		c.close()
	}
	d.conns = map[bool]*rawConn{}
	d.mu.Unlock()
	d.readers.Wait()
	return nil
}

func (d *Daemon) sortedInstances() []*instance {
	var out []*instance
	for _, in := range d.insts {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// conn returns the raw socket of a family, opening it and its reader on
// first use. Called with d.mu held.
func (d *Daemon) conn(six bool) (*rawConn, error) {
	if c := d.conns[six]; c != nil {
		return c, nil
	}
	c, err := listenRaw(six)
	if err != nil {
		return nil, err
	}
	d.conns[six] = c
	d.readers.Add(1)
	go func() {
		defer d.readers.Done()
		d.readLoop(c)
	}()
	return c, nil
}

// start resolves an instance against the system and starts its goroutine.
func (d *Daemon) start(in *instance) error {
	ctx, cancel := context.WithCancel(d.ctx)
	in.cancel = cancel
	err := in.resolve()
	d.mu.Lock()
	var c *rawConn
	if err == nil {
		c, err = d.conn(in.six)
	}
	if err == nil && !in.unicast {
		key := [2]int{b2i(in.six), in.ifi.Index}
		if !d.joined[key] {
			if err = c.join(in.ifi, groupFor(in.six)); err == nil {
				d.joined[key] = true
			}
		}
	}
	in.conn = c
	in.resolved = err == nil
	d.mu.Unlock()
	if err != nil {
		// keepalived keeps such an instance in FAULT.
		in.setFaultSource("config", true)
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		in.run(ctx)
	}()
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readLoop reads one raw socket and hands valid packets to instances.
func (d *Daemon) readLoop(c *rawConn) {
	buf := make([]byte, 65536)
	for {
		pk, err := c.read(buf)
		if err != nil {
			return
		}
		d.dispatch(pk)
	}
}

// dispatch finds the instance a packet is for and queues it; bad packets
// are counted and dropped.
func (d *Daemon) dispatch(pk rxPacket) {
	if len(pk.payload) < advert.HeaderLen {
		d.unknown.Inc()
		return
	}
	vrid := int(pk.payload[1])
	d.mu.Lock()
	var target *instance
	for _, in := range d.insts {
		if in.ready() && in.six == pk.six && in.vrid == vrid && (in.ifi.Index == pk.ifindex || (in.vmac != nil && in.vmac.Index == pk.ifindex)) {
			target = in
			break
		}
	}
	d.mu.Unlock()
	if target == nil {
		d.unknown.Inc()
		return
	}
	select {
	case target.rx <- pk:
	default:
		target.stats.RxDropped.Inc()
	}
}

// SetTrackDelta sets the priority contribution of one tracking source
// (e.g. "track" for the vrrp/track Runner's Delta) to an instance; the
// effective priority is the configured one plus the sum of all sources,
// clamped to 1..254 (an address owner stays 255). Safe from any goroutine.
func (d *Daemon) SetTrackDelta(instance, source string, delta int) {
	d.mu.Lock()
	in := d.insts[instance]
	d.mu.Unlock()
	if in != nil {
		in.setDelta(source, delta)
	}
}

// SetFault puts an instance in FAULT while any source reports a fault
// (tracked interface down, weight-0 script failing), and back to BACKUP
// when none does. Safe from any goroutine.
func (d *Daemon) SetFault(instance, source string, fault bool) {
	d.mu.Lock()
	in := d.insts[instance]
	d.mu.Unlock()
	if in != nil {
		in.setFaultSource(source, fault)
	}
}

// State returns an instance's current state and effective priority.
func (d *Daemon) State(instance string) (State, int, bool) {
	d.mu.Lock()
	in := d.insts[instance]
	d.mu.Unlock()
	if in == nil {
		return Init, 0, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.state, in.prio, true
}

// Stats returns a snapshot of an instance's counters.
func (d *Daemon) Stats(instance string) (StatsSnapshot, bool) {
	d.mu.Lock()
	in := d.insts[instance]
	d.mu.Unlock()
	if in == nil {
		return StatsSnapshot{}, false
	}
	return in.stats.Snapshot(), true
}

// Reload swaps in a new configuration: instances whose configuration is
// unchanged keep running (state, VIPs and timers untouched); changed or
// removed ones stop (priority-0 advert, VIPs removed) and changed or new
// ones start. It must be called while Run runs.
func (d *Daemon) Reload(cfg *keepalived.Config) error {
	if cfg == nil {
		return errors.New("vrrp: nil configuration")
	}
	d.mu.Lock()
	if !d.running {
		d.mu.Unlock()
		return errors.New("vrrp: Reload before Run")
	}
	old := d.insts
	next := map[string]*instance{}
	var stop, start []*instance
	for _, ic := range cfg.Instances {
		if o := old[ic.Name]; o != nil && sameInstance(o.cfg, ic) {
			next[ic.Name] = o
			continue
		}
		in := newInstance(d, ic, cfg.Global.NotifyPriorityChanges)
		next[ic.Name] = in
		start = append(start, in)
	}
	for name, o := range old {
		if next[name] != o {
			stop = append(stop, o)
		}
	}
	d.mu.Unlock()
	for _, o := range stop {
		o.cancel()
		<-o.done
	}
	d.mu.Lock()
	d.insts = next
	d.cfg = cfg
	d.setGroups(cfg)
	d.mu.Unlock()
	for _, in := range start {
		if err := d.start(in); err != nil {
			d.logf("(%s) %v", in.name, err)
		}
	}
	d.logf("Reloaded: %d kept, %d stopped, %d started", len(next)-len(start), len(stop), len(start))
	return nil
}

// sameInstance compares two instance configurations, ignoring positions.
func sameInstance(a, b *keepalived.Instance) bool {
	x, y := *a, *b
	x.Pos, y.Pos = keepalived.Pos{}, keepalived.Pos{}
	x.InterfacePos, y.InterfacePos = keepalived.Pos{}, keepalived.Pos{}
	strip := func(v []keepalived.VIP) []keepalived.VIP {
		out := make([]keepalived.VIP, len(v))
		for i, e := range v {
			e.Pos = keepalived.Pos{}
			out[i] = e
		}
		return out
	}
	x.VIPs, y.VIPs = strip(x.VIPs), strip(y.VIPs)
	x.ExcludedVIPs, y.ExcludedVIPs = strip(x.ExcludedVIPs), strip(y.ExcludedVIPs)
	x.TrackScripts, y.TrackScripts = nil, nil
	x.TrackFiles, y.TrackFiles = nil, nil
	stripR := func(v []keepalived.Route) []keepalived.Route {
		out := make([]keepalived.Route, len(v))
		for i, e := range v {
			e.Pos = keepalived.Pos{}
			out[i] = e
		}
		return out
	}
	x.Routes, y.Routes = stripR(x.Routes), stripR(y.Routes)
	x.Rules, y.Rules = stripR(x.Rules), stripR(y.Rules)
	return reflect.DeepEqual(x, y)
}

// primaryAddr returns the first address of ifi in the family that is not
// one of skip (the VIPs): IPv4's primary address, IPv6's link-local.
func primaryAddr(ifi *net.Interface, six bool, skip []netip.Addr) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
next:
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.Is6() != six || (six && !ip.IsLinkLocalUnicast()) {
			continue
		}
		for _, s := range skip {
			if s == ip {
				continue next
			}
		}
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("no usable %s address on %s", map[bool]string{false: "IPv4", true: "IPv6 link-local"}[six], ifi.Name)
}

// timeNow is the clock; instances read it only through here.
var timeNow = time.Now

// setGroups indexes the sync groups of cfg. Called with d.mu held or
// before Run.
func (d *Daemon) setGroups(cfg *keepalived.Config) {
	d.groups = map[string]*keepalived.SyncGroup{}
	if d.groupStates == nil {
		d.groupStates = map[string]State{}
	}
	for _, g := range cfg.SyncGroups {
		for _, m := range g.Group {
			d.groups[m] = g
		}
	}
}

// syncPeers returns the other members of name's sync group.
func (d *Daemon) syncPeers(name string) []*instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.groups[name]
	if g == nil {
		return nil
	}
	var out []*instance
	for _, m := range g.Group {
		if in := d.insts[m]; m != name && in != nil {
			out = append(out, in)
		}
	}
	return out
}

// groupState records a member's transition as its group's state and
// reports a change of the group's state.
func (d *Daemon) groupState(name string, st State) {
	d.mu.Lock()
	g := d.groups[name]
	changed := g != nil && d.groupStates[g.Name] != st
	if changed {
		d.groupStates[g.Name] = st
	}
	d.mu.Unlock()
	if changed {
		d.logf("VRRP_Group(%s) Syncing instances to %s state", g.Name, st)
		if d.opts.OnGroupState != nil {
			d.opts.OnGroupState(g.Name, st)
		}
	}
}
