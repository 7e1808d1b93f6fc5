package lvs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"hapair/parser/keepalived"
)

type reloadReq struct {
	cfg  *keepalived.Config
	done chan error
}

// ServiceUpdater is implemented by an IPVS that can change a service's
// scheduler and persistence in place (IPVS_CMD_SET_SERVICE). Without it a
// reload that changes them only logs.
type ServiceUpdater interface {
	UpdateService(s Service) error
}

// Reload switches a running Checker to cfg the way keepalived reloads
// (SIGHUP): virtual and real servers that stay keep their state and their
// IPVS entries (no connection is dropped), removed ones are taken out,
// new ones start as at start-up, and the kernel table is brought in line
// with the difference. The checks restart under the new settings. It
// returns once the new configuration is in force, or with ctx's error, or
// with an error when Run is not running (then build a new Checker).
func (c *Checker) Reload(ctx context.Context, cfg *keepalived.Config) error {
	if cfg == nil {
		return errors.New("lvs: reload without a configuration")
	}
	req := reloadReq{cfg: cfg, done: make(chan error, 1)}
	select {
	case c.reloads <- req:
	case <-c.stopped:
		return errors.New("lvs: reload: the checker is not running")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reload runs in Run's goroutine with the monitors stopped.
func (c *Checker) reload(cfg *keepalived.Config) {
	c.opts.Logf("Reloading: %d virtual servers", len(cfg.VirtualServers))
	oldModel, oldSvcs := c.model, c.services
	if c.scriptCred, c.scriptCredErr = scriptCredential(&cfg.Global, ""); c.scriptCredErr != nil {
		c.opts.Logf("Unable to set default user for notify scripts (%v) - not running them", c.scriptCredErr)
	}
	model, svcs, probes := c.build(cfg)
	acts := model.Reload(oldModel)
	c.mu.Lock()
	c.cfg, c.model, c.services, c.probes = cfg, model, svcs, probes
	c.mu.Unlock()
	if c.ipvs == nil { // the first configuration had no virtual_server
		if nl, err := NewNetlink(); err != nil {
			c.noIPVS, c.ipvs = err, Discard{}
			c.opts.Logf("%s", NoIPVSNotice)
		} else {
			c.ipvs = nl
		}
	}
	c.apply(slices.DeleteFunc(acts, isIPVS))
	c.reconcile(table(oldSvcs, oldModel.Table()), table(svcs, model.Table()))
}

func isIPVS(a Action) bool {
	switch a.Kind {
	case ActAddService, ActDelService, ActAddDest, ActUpdateDest, ActDelDest:
		return true
	}
	return false
}

// svcTable is a kernel table: services in order, each with its
// destinations by "addr:port".
type svcTable struct {
	order []string
	svcs  map[string]Service
	dests map[string]map[string]Dest
	dord  map[string][]string
}

func svcKey(s Service) string {
	return fmt.Sprintf("%d|%d|%s|%d|%d", s.Family, s.Protocol, s.Addr, s.Port, s.FWMark)
}

// table expands per-virtual-server destinations onto their services.
func table(services [][]Service, dests [][]Dest) svcTable {
	t := svcTable{svcs: map[string]Service{}, dests: map[string]map[string]Dest{}, dord: map[string][]string{}}
	for vi, svcs := range services {
		for _, s := range svcs {
			k := svcKey(s)
			if _, dup := t.svcs[k]; dup {
				continue
			}
			t.order = append(t.order, k)
			t.svcs[k] = s
			t.dests[k] = map[string]Dest{}
			if vi >= len(dests) {
				continue
			}
			for _, d := range dests[vi] {
				d = destFor(s, d)
				dk := destKey(d)
				if _, dup := t.dests[k][dk]; !dup {
					t.dord[k] = append(t.dord[k], dk)
				}
				t.dests[k][dk] = d
			}
		}
	}
	return t
}

func destKey(d Dest) string { return fmt.Sprintf("%s:%d", d.Addr, d.Port) }

// reconcile makes the kernel go from table a to table b with the fewest
// calls: services only in b are added with their destinations, services
// only in a are deleted, and in services of both the destinations are
// added, updated and deleted one by one.
func (c *Checker) reconcile(a, b svcTable) {
	for _, k := range b.order {
		s := b.svcs[k]
		old, had := a.svcs[k]
		switch {
		case !had:
			c.ipvsErr(s, "add service", c.ipvs.AddService(s))
		case old.Scheduler != s.Scheduler || old.Flags != s.Flags || old.Timeout != s.Timeout || old.Netmask != s.Netmask:
			if u, ok := c.ipvs.(ServiceUpdater); ok {
				c.ipvsErr(s, "update service", u.UpdateService(s))
			} else {
				c.opts.Logf("IPVS: cannot change scheduler or persistence of %s in place", s)
			}
		}
		for _, dk := range b.dord[k] {
			d := b.dests[k][dk]
			od, present := a.dests[k][dk]
			switch {
			case !had || !present:
				c.ipvsErr(s, "add "+d.String(), c.ipvs.AddDest(s, d))
			case od != d:
				c.ipvsErr(s, "update "+d.String(), c.ipvs.UpdateDest(s, d))
			}
		}
		if had {
			for _, dk := range a.dord[k] {
				if _, keep := b.dests[k][dk]; !keep {
					d := a.dests[k][dk]
					c.ipvsErr(s, "delete "+d.String(), c.ipvs.DelDest(s, d))
				}
			}
		}
	}
	for _, k := range a.order {
		if _, keep := b.svcs[k]; !keep {
			c.ipvsErr(a.svcs[k], "delete service", c.ipvs.DelService(a.svcs[k]))
		}
	}
}
