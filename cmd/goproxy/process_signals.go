package main

import (
	"hapair/proxy"
)

// dumpServerStates writes what HAProxy logs on SIGHUP: one line per server
// with its state and connections, and one per proxy with its totals.
func dumpServerStates(p *proxy.Proxy, env *partEnv) {
	env.Warn("SIGHUP received, dumping servers states.")
	fes := map[string]*proxy.Frontend{}
	for _, fe := range p.Frontends() {
		fes[fe.Name] = fe
	}
	done := map[string]bool{}
	line := func(name string, fe *proxy.Frontend, be *proxy.Backend) {
		var feAct, feTot, beAct, beTot, pend int64
		if fe != nil {
			feAct, feTot = fe.Counters.Scur.Load(), fe.Counters.Stot.Load()
		}
		if be == nil {
			env.Warn("SIGHUP: Proxy %s has no servers. Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.",
				name, feAct, beAct, pend, pend, feTot, beTot)
			return
		}
		beAct, beTot, pend = be.Counters.Scur.Load(), be.Counters.Stot.Load(), be.Counters.Qcur.Load()
		active, backup := 0, 0
		var srvPend int64
		for _, s := range be.Servers {
			state := "DOWN"
			if s.Up() {
				state = "UP"
				if s.Cfg != nil && s.Cfg.Backup {
					backup++
				} else {
					active++
				}
			}
			sp := s.Counters.Qcur.Load()
			srvPend += sp
			env.Warn("SIGHUP: Server %s/%s is %s. Conn: %d act, %d pend, %d tot.",
				be.Name, s.Name, state, s.Conns(), sp, s.Counters.Stot.Load())
		}
		if active+backup == 0 {
			env.Warn("SIGHUP: Proxy %s has no server available ! Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.",
				name, feAct, beAct, pend+srvPend, pend, feTot, beTot)
			return
		}
		env.Warn("SIGHUP: Proxy %s has %d active servers and %d backup servers available. Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.",
			name, active, backup, feAct, beAct, pend+srvPend, pend, feTot, beTot)
	}
	for _, pc := range p.Config().Proxies {
		if done[pc.Name] || pc.Disabled {
			continue
		}
		fe, be := fes[pc.Name], p.Backend(pc.Name)
		if fe == nil && be == nil {
			continue
		}
		done[pc.Name] = true
		line(pc.Name, fe, be)
	}
}
