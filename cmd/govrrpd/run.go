package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"hapair/internal/daemon"
	"hapair/parser/keepalived"
	"hapair/vrrp"
	"hapair/vrrp/notify"
	"hapair/vrrp/track"
)

// daemonOptions are the command-line settings the daemon needs.
type daemonOptions struct {
	// VRRPOnly (-P) runs no LVS checkers; CheckOnly (-C) runs only them.
	VRRPOnly, CheckOnly       bool
	VRRPPidFile, CheckPidFile string
	ConfigID                  string
	ConfigPath                string
	// Ready is called once everything has started (a detached child
	// then releases its waiting parent).
	Ready func()
}

// runDaemon runs the VRRP instances of cfg until ctx ends: tracking
// (vrrp/track) feeds the daemon's priority and fault hooks, state changes
// go to notify scripts (vrrp/notify), SIGHUP reloads the configuration.
func runDaemon(ctx context.Context, cfg *keepalived.Config, lg *logger, opts daemonOptions) error {
	if opts.VRRPPidFile != "" {
		// There is no separate VRRP child: this process is it.
		if err := daemon.WritePidFile(opts.VRRPPidFile, os.Getpid()); err != nil {
			lg.log(err.Error())
		} else {
			defer removePidFile(opts.VRRPPidFile)
		}
	}

	ncfg := notify.FromKeepalived(cfg)
	ncfg.Log = lg.log
	n, err := notify.New(ncfg)
	if err != nil {
		lg.log(err.Error())
	}
	nctx, ncancel := context.WithCancel(context.Background())
	ndone := make(chan struct{})
	go func() { defer close(ndone); n.Run(nctx) }()
	defer func() { ncancel(); <-ndone }()

	states := map[vrrp.State]string{vrrp.Master: notify.Master, vrrp.Backup: notify.Backup, vrrp.Fault: notify.Fault, vrrp.Stop: notify.Stop}
	d, err := vrrp.New(cfg, vrrp.Options{
		Log: lg.log,
		OnState: func(instance string, st vrrp.State, prio int) {
			if s, ok := states[st]; ok {
				n.StateChanged(notify.Instance, instance, s, prio)
			}
		},
		OnEvent: func(instance, ev string, prio int) { n.Event(instance, ev, prio) },
		Started: func() {
			lg.log("Startup complete")
			if opts.Ready != nil {
				opts.Ready()
			}
		},
		OnGroupState: func(group string, st vrrp.State) {
			if s, ok := states[st]; ok {
				n.StateChanged(notify.Group, group, s, 0)
			}
		},
	})
	if err != nil {
		return err
	}

	// Tracking runs under its own context so that a reload can restart it.
	var tmu sync.Mutex
	var tcancel context.CancelFunc
	var twg sync.WaitGroup
	startTrack := func(c *keepalived.Config) {
		tcfg, warns := track.FromKeepalived(c)
		for _, w := range warns {
			lg.log(w)
		}
		apply := func(ch track.Change) {
			d.SetTrackDelta(ch.Instance, "track", ch.Delta)
			d.SetFault(ch.Instance, "track", ch.Fault || ch.Pending)
		}
		r := track.NewRunner(tcfg, apply)
		r.Log = lg.log
		for _, in := range tcfg.Instances {
			if ch, ok := r.Current(in.Name); ok {
				apply(ch)
			}
		}
		tctx, cancel := context.WithCancel(ctx)
		tmu.Lock()
		tcancel = cancel
		tmu.Unlock()
		twg.Add(1)
		go func() {
			defer twg.Done()
			if err := r.Run(tctx); err != nil && tctx.Err() == nil {
				lg.log(err.Error())
			}
		}()
	}
	startTrack(cfg)
	defer func() {
		tmu.Lock()
		tcancel()
		tmu.Unlock()
		twg.Wait()
	}()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(usr)
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()
	for {
		select {
		case err := <-runErr:
			return err
		case sig := <-usr:
			// keepalived's dumps: SIGUSR1 data, SIGUSR2 stats.
			path, write := "/tmp/keepalived.data", d.WriteData
			if sig == syscall.SIGUSR2 {
				path, write = "/tmp/keepalived.stats", d.WriteStats
			}
			if err := dumpTo(path, write); err != nil {
				lg.log(err.Error())
			}
		case <-hup:
			lg.log("Reloading")
			nc, diags := keepalived.Load(opts.ConfigPath, keepalived.Options{ConfigID: opts.ConfigID})
			for _, dg := range diags.List {
				lg.log(dg.String())
			}
			if nc == nil {
				lg.log("reload: configuration not loaded, keeping the running one")
				continue
			}
			if err := d.Reload(nc); err != nil {
				lg.log(err.Error())
				continue
			}
			tmu.Lock()
			tcancel()
			tmu.Unlock()
			twg.Wait()
			startTrack(nc)
		}
	}
}

// dumpTo writes a dump to path (mode 0644, replaced each time).
func dumpTo(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("dump %s: %w", path, err)
	}
	return f.Close()
}
