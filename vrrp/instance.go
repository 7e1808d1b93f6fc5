package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"hapair/parser/keepalived"
	"hapair/vrrp/advert"
)

// instance is one running vrrp_instance: its Machine, owned by the
// instance's goroutine, and what it needs of the system.
type instance struct {
	d      *Daemon
	cfg    *keepalived.Instance
	name   string
	vrid   int
	six    bool
	rx     chan rxPacket
	kick   chan struct{} // tracking changed
	sync   chan State    // a sync group peer's transition
	done   chan struct{}
	cancel context.CancelFunc

	// Set by resolve, before the goroutine starts; read-only afterwards.
	ifi      *net.Interface
	vmac     *net.Interface // use_vmac interface, nil without
	txIndex  int            // interface adverts leave by
	src      netip.Addr
	unicast  bool
	peers    []netip.Addr
	vips     []vipAddr
	advAddrs []netip.Addr
	expect   advert.Expect
	resolved bool
	conn     *rawConn

	stats Stats
	// notifyPrio is notify_priority_changes (else global_defs'
	// vrrp_notify_priority_changes), fixed when the instance is made.
	notifyPrio bool

	mu     sync.Mutex // guards the fields below
	deltas map[string]int
	faults map[string]bool
	state  State
	prio   int
}

func newInstance(d *Daemon, ic *keepalived.Instance, globalNotifyPrio bool) *instance {
	in := &instance{
		d: d, cfg: ic, name: ic.Name, vrid: ic.VRID, six: ic.IPv6,
		rx: make(chan rxPacket, 64), kick: make(chan struct{}, 1), sync: make(chan State, 8), done: make(chan struct{}),
		cancel: func() {}, deltas: map[string]int{}, faults: map[string]bool{}, prio: ic.Priority,
	}
	in.notifyPrio = globalNotifyPrio
	if ic.NotifyPriorityChanges != nil {
		in.notifyPrio = *ic.NotifyPriorityChanges
	}
	for _, v := range ic.VIPs {
		in.advAddrs = append(in.advAddrs, v.Prefix.Addr())
	}
	if len(in.advAddrs) > 0 && in.advAddrs[0].Is6() {
		in.six = true
	}
	return in
}

// ready reports whether the instance may receive packets.
func (in *instance) ready() bool { return in.resolved }

// resolve finds the interface, the source address and the peers.
func (in *instance) resolve() error {
	ic := in.cfg
	name := ic.Interface
	var err error
	if name == "" && ic.UnicastSrcIP.IsValid() {
		name, err = ifaceWithAddr(ic.UnicastSrcIP)
		if err != nil {
			return err
		}
	}
	if name == "" {
		return fmt.Errorf("no interface")
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %s: %w", name, err)
	}
	in.ifi = ifi
	in.unicast = len(ic.UnicastPeers) > 0
	in.peers = ic.UnicastPeers
	switch {
	case in.unicast && ic.UnicastSrcIP.IsValid():
		in.src = ic.UnicastSrcIP
	case ic.McastSrcIP.IsValid():
		in.src = ic.McastSrcIP
	default:
		in.src, err = primaryAddr(ifi, in.six, in.advAddrs)
		if err != nil {
			return err
		}
	}
	vipDev := ifi.Name
	in.txIndex = ifi.Index
	if ic.UseVMAC {
		name := vmacName(ic.VMACName, ic.VRID)
		in.vmac, err = createVMAC(name, ifi, virtualMAC(ic.VRID, in.six))
		if err != nil {
			return err
		}
		in.logf("Success creating VMAC interface %s", name)
		if err := holdARPConf(ifi.Name); err != nil {
			in.logf("%v", err)
		}
		vipDev = name
		if !ic.VMACXmitBase {
			in.txIndex = in.vmac.Index
		}
	}
	for _, v := range ic.VIPs {
		in.vips = append(in.vips, resolveVIP(v, vipDev))
	}
	for _, v := range ic.ExcludedVIPs {
		in.vips = append(in.vips, resolveVIP(v, vipDev))
	}
	version := ic.Version
	if in.six {
		version = 3
	}
	in.expect = advert.Expect{
		Version: version, VRID: ic.VRID, Interval: in.advertInt(version), Addrs: in.advAddrs,
		CheckTTL: !in.unicast, SkipAddrCheck: ic.SkipCheckAdvAddr != nil && *ic.SkipCheckAdvAddr,
	}
	if version == 2 {
		switch strings.ToUpper(ic.AuthType) {
		case "PASS":
			in.expect.AuthType = advert.AuthPass
			in.expect.Auth = advert.PasswordBytes(ic.AuthPass)
		case "AH":
			in.expect.AuthType = advert.AuthAH
		}
	}
	return nil
}

// advertInt is advert_int as it goes on the wire: v2 whole seconds (at
// least 1), v3 centiseconds.
func (in *instance) advertInt(version int) time.Duration {
	a := in.cfg.AdvertInt
	if a <= 0 {
		a = time.Second
	}
	if version == 2 {
		a = a.Round(time.Second)
		if a < time.Second {
			a = time.Second
		}
		return a
	}
	a = a.Truncate(10 * time.Millisecond)
	if a < 10*time.Millisecond {
		a = 10 * time.Millisecond
	}
	return a
}

func ifaceWithAddr(ip netip.Addr) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if x, ok := netip.AddrFromSlice(ipn.IP); ok && x.Unmap() == ip {
					return ifi.Name, nil
				}
			}
		}
	}
	return "", fmt.Errorf("no interface has %s", ip)
}

func (in *instance) machineConfig() MachineConfig {
	ic, g := in.cfg, in.d.cfg.Global
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	picki := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	boolOr := func(p *bool, def bool) bool {
		if p != nil {
			return *p
		}
		return def
	}
	garpDelay := pick(ic.GarpMasterDelay, pick(g.VRRPGarpMasterDelay, 5*time.Second))
	garpRep := picki(ic.GarpMasterRepeat, picki(g.VRRPGarpMasterRepeat, 5))
	return MachineConfig{
		Name: in.name, Version: in.expect.Version, Priority: ic.Priority, AdvertInt: in.expect.Interval,
		WantMaster: strings.EqualFold(ic.State, "MASTER"), NoPreempt: ic.NoPreempt, PreemptDelay: ic.PreemptDelay,
		Primary: in.src, GarpDelay: garpDelay, GarpRepeat: garpRep,
		GarpRefresh: pick(ic.GarpMasterRefresh, g.VRRPGarpMasterRefresh), GarpRefreshRepeat: picki(ic.GarpRefreshRepeat, picki(g.VRRPGarpRefreshRepeat, 1)),
		GarpLowerPrioDelay: pick(ic.GarpLowerPrioDelay, garpDelay), GarpLowerPrioRepeat: picki(ic.GarpLowerPrioRepeat, garpRep),
		LowerPrioNoAdvert:    boolOr(ic.LowerPrioNoAdvert, g.VRRPLowerPrioNoAdvert),
		HigherPrioSendAdvert: boolOr(ic.HigherPrioSendAdvert, g.VRRPHigherPrioSendAdvert),
	}
}

// effective returns the tracked priority and fault. Called with in.mu.
func (in *instance) effective() (int, bool) {
	base := in.cfg.Priority
	fault := false
	for _, f := range in.faults {
		fault = fault || f
	}
	if base >= 255 {
		return 255, fault
	}
	p := base
	for _, d := range in.deltas {
		p += d
	}
	return min(max(p, 1), 254), fault
}

func (in *instance) setDelta(source string, delta int) {
	in.mu.Lock()
	in.deltas[source] = delta
	in.mu.Unlock()
	in.poke()
}

func (in *instance) setFaultSource(source string, fault bool) {
	in.mu.Lock()
	in.faults[source] = fault
	own := false
	for s, f := range in.faults {
		own = own || (f && !strings.HasPrefix(s, syncSource))
	}
	in.mu.Unlock()
	in.poke()
	if !strings.HasPrefix(source, syncSource) {
		// A fault of a sync group member puts the whole group in FAULT.
		for _, peer := range in.d.syncPeers(in.name) {
			peer.setFaultSource(syncSource+in.name, own)
		}
	}
}

// syncSource prefixes the fault sources set by sync group peers.
const syncSource = "sync:"

func (in *instance) poke() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

func (in *instance) logf(format string, a ...any) {
	in.d.logf("(%s) "+format, append([]any{in.name}, a...)...)
}

// run is the instance's goroutine: one select over the context, the
// machine's timer, received adverts and tracking changes.
func (in *instance) run(ctx context.Context) {
	defer close(in.done)
	defer func() {
		if in.vmac != nil {
			releaseARPConf(in.ifi.Name)
			if err := deleteVMAC(in.vmac.Name); err != nil {
				in.logf("%v", err)
			} else {
				in.logf("Success removing VMAC interface %s", in.vmac.Name)
			}
		}
	}()
	var m *Machine
	if in.resolved {
		m = NewMachine(in.machineConfig())
	} else {
		m = NewMachine(MachineConfig{Name: in.name, Priority: in.cfg.Priority, AdvertInt: time.Second, Version: 2})
	}
	in.mu.Lock()
	prio, fault := in.effective()
	in.mu.Unlock()
	now := timeNow()
	in.apply(m, m.Handle(EvPriority{prio}, now))
	in.apply(m, m.Handle(EvFault{fault}, now))
	if in.resolved {
		// keepalived removes VIPs left over by a previous run at start.
		for _, v := range in.vips {
			delVIP(v)
		}
	}
	in.apply(m, m.Handle(EvStart{}, now))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var tc <-chan time.Time
		if dl := m.Deadline(); !dl.IsZero() {
			timer.Reset(max(dl.Sub(timeNow()), 0))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			in.apply(m, m.Handle(EvStop{}, timeNow()))
			return
		case <-tc:
			in.apply(m, m.Tick(timeNow()))
		case pk := <-in.rx:
			in.receive(m, pk)
		case st := <-in.sync:
			in.apply(m, m.Handle(EvSync{st}, timeNow()))
		case <-in.kick:
			in.mu.Lock()
			prio, fault := in.effective()
			in.mu.Unlock()
			now := timeNow()
			before := m.Priority()
			in.apply(m, m.Handle(EvPriority{prio}, now))
			in.apply(m, m.Handle(EvFault{fault}, now))
			in.priorityChanged(m, before)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// receive validates a packet for this instance and feeds the machine.
func (in *instance) receive(m *Machine, pk rxPacket) {
	if pk.src == in.src || len(pk.payload) == 0 {
		return // our own
	}
	var p *advert.Packet
	var err error
	if v := int(pk.payload[0] >> 4); v != in.expect.Version {
		err = fmt.Errorf("%w: got %d, want %d", advert.ErrVersion, v, in.expect.Version)
	} else {
		p, err = advert.Parse(pk.payload, pk.src, pk.dst)
	}
	if err == nil {
		if pk.dst.IsMulticast() == in.unicast {
			err = fmt.Errorf("%s packet on a %s instance", castName(!in.unicast), castName(in.unicast))
		} else {
			err = in.expect.Check(p, pk.ttl)
		}
	}
	if err != nil {
		in.stats.countDrop(err)
		in.logf("dropping advert from %s: %v", pk.src, err)
		return
	}
	in.stats.AdvertRcvd.Inc()
	if p.Priority == 0 {
		in.stats.PriZeroRcvd.Inc()
	}
	in.apply(m, m.Handle(EvAdvert{Src: pk.src, Priority: p.Priority, Interval: p.Interval}, timeNow()))
}

func castName(unicast bool) string {
	if unicast {
		return "unicast"
	}
	return "multicast"
}

// apply carries out the machine's actions in order.
func (in *instance) apply(m *Machine, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case ActLog:
			in.d.logf("%s", a.Msg)
		case ActSendAdvert:
			in.sendAdvert(m, a.Priority)
		case ActAddVIPs:
			in.logf("setting VIPs.")
			for _, v := range in.vips {
				if err := addVIP(v); err != nil {
					in.logf("%v", err)
				}
			}
			in.setRoutes(true)
		case ActRemoveVIPs:
			in.logf("removing VIPs.")
			in.setRoutes(false)
			for _, v := range in.vips {
				if err := delVIP(v); err != nil {
					in.logf("%v", err)
				}
			}
		case ActGARP:
			in.garp(a.Count)
		case ActRxLowerPri:
			if in.d.opts.OnEvent != nil {
				in.d.opts.OnEvent(in.name, "MASTER_RX_LOWER_PRI", a.Priority)
			}
		case ActNotify:
			in.mu.Lock()
			prev := in.state
			in.state, in.prio = a.State, a.Priority
			in.mu.Unlock()
			if a.State == Master {
				in.stats.BecomeMaster.Inc()
			} else if prev == Master {
				in.stats.ReleaseMaster.Inc()
			}
			if in.d.opts.OnState != nil {
				in.d.opts.OnState(in.name, a.State, a.Priority)
			}
			if a.State == Master || a.State == Backup {
				for _, peer := range in.d.syncPeers(in.name) {
					select {
					case peer.sync <- a.State:
					default:
					}
				}
			}
			in.d.groupState(in.name, a.State)
		}
	}
	in.mu.Lock()
	in.prio = m.Priority()
	in.mu.Unlock()
}

func (in *instance) sendAdvert(m *Machine, prio int) {
	if !in.resolved || in.conn == nil {
		return
	}
	p := advert.Packet{
		Version: in.expect.Version, VRID: in.vrid, Priority: prio, AuthType: in.expect.AuthType,
		Auth: in.expect.Auth, Interval: in.expect.Interval, Addrs: in.advAddrs,
	}
	dsts := in.peers
	if !in.unicast {
		dsts = []netip.Addr{groupFor(in.six)}
	}
	for _, dst := range dsts {
		b, err := p.Marshal(in.src, dst)
		if err != nil {
			in.logf("building advert: %v", err)
			return
		}
		if err := in.conn.send(b, in.txIndex, in.src, dst); err != nil {
			in.stats.OtherErr.Inc()
			in.logf("%v", err)
			continue
		}
		in.stats.AdvertSent.Inc()
		if prio == 0 {
			in.stats.PriZeroSent.Inc()
		}
	}
}

// garp sends count gratuitous ARPs / NAs for every VIP, per device.
func (in *instance) garp(count int) {
	byDev := map[string][]netip.Addr{}
	var devs []string
	for _, v := range in.vips {
		if byDev[v.dev] == nil {
			devs = append(devs, v.dev)
		}
		byDev[v.dev] = append(byDev[v.dev], v.ip)
	}
	for _, dev := range devs {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			in.logf("gratuitous ARP: %v", err)
			continue
		}
		for _, a := range byDev[dev] {
			in.logf("Sending/queueing gratuitous ARPs on %s for %s", dev, a)
		}
		if err := sendGratuitous(ifi, byDev[dev], count); err != nil {
			in.logf("%v", err)
		}
	}
}

// priorityChanged reports a changed effective priority as keepalived's
// notify_priority_changes does (FIFO events MASTER_PRIORITY and
// BACKUP_PRIORITY), when the instance or global_defs asks for it.
func (in *instance) priorityChanged(m *Machine, before int) {
	if m.Priority() == before || in.d.opts.OnEvent == nil {
		return
	}
	if !in.notifyPrio {
		return
	}
	switch m.State() {
	case Master:
		in.d.opts.OnEvent(in.name, "MASTER_PRIORITY", m.Priority())
	case Backup:
		in.d.opts.OnEvent(in.name, "BACKUP_PRIORITY", m.Priority())
	}
}
