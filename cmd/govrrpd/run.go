package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"hapair/internal/daemon"
	"hapair/internal/mail"
	"hapair/parser/keepalived"
	"hapair/vrrp"
	"hapair/vrrp/lvs"
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

// runDaemon runs cfg until ctx ends: the VRRP instances (unless -C) with
// tracking (vrrp/track) feeding the daemon's priority and fault hooks and
// state changes going to notify scripts (vrrp/notify), and the LVS
// checkers (vrrp/lvs, unless -P) when the file has virtual_server blocks.
// SIGHUP reloads the configuration; SIGUSR1/SIGUSR2 write the dumps.
func runDaemon(ctx context.Context, cfg *keepalived.Config, lg *logger, opts daemonOptions) error {
	if opts.VRRPPidFile != "" && !opts.CheckOnly {
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
	// ready is closed once the daemon has told a waiting parent that it
	// runs. No script (track, notify, LVS) starts before that: until then
	// the environment still carries internal/daemon's readiness variable
	// and pipe, and a daemon that a script starts (the seed's
	// check_haproxy.sh starts goproxy) would take them for its own and
	// stay in the foreground, in the script's process group.
	ready := make(chan struct{})
	markReady := sync.OnceFunc(func() {
		lg.log("Startup complete")
		if opts.Ready != nil {
			opts.Ready()
		}
		close(ready)
	})
	nctx, ncancel := context.WithCancel(context.Background())
	ndone := make(chan struct{})
	go func() {
		defer close(ndone)
		select {
		case <-ready:
			n.Run(nctx) // events queued meanwhile are delivered now
		case <-nctx.Done():
		}
	}()
	defer func() { ncancel(); <-ndone }()

	// The LVS part: keepalived's checker process.
	lv := &lvsPart{lg: lg, pidFile: opts.CheckPidFile}
	defer lv.stop()

	if opts.CheckOnly {
		markReady()
		lv.start(ctx, cfg)
		return signalLoop(ctx, lg, opts, nil, lv, nil)
	}

	states := map[vrrp.State]string{vrrp.Master: notify.Master, vrrp.Backup: notify.Backup, vrrp.Fault: notify.Fault, vrrp.Stop: notify.Stop}
	d, err := vrrp.New(cfg, vrrp.Options{
		Log: lg.log,
		OnState: func(instance string, st vrrp.State, prio int) {
			if s, ok := states[st]; ok {
				n.StateChanged(notify.Instance, instance, s, prio)
			}
		},
		OnEvent: func(instance, ev string, prio int) { n.Event(instance, ev, prio) },
		Started: markReady,
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
			select {
			case <-ready:
			case <-tctx.Done():
				return
			}
			if err := r.Run(tctx); err != nil && tctx.Err() == nil {
				lg.log(err.Error())
			}
		}()
	}
	stopTrack := func() {
		tmu.Lock()
		tcancel()
		tmu.Unlock()
		twg.Wait()
	}
	startTrack(cfg)
	defer stopTrack()

	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-runErr:
		return err
	}
	if !opts.VRRPOnly {
		lv.start(ctx, cfg)
	}
	return signalLoop(ctx, lg, opts, d, lv, func(nc *keepalived.Config) bool {
		if err := d.Reload(nc); err != nil {
			lg.log(err.Error())
			return false
		}
		stopTrack()
		startTrack(nc)
		return true
	}, runErr)
}

// signalLoop serves SIGHUP (reload), SIGUSR1 (data dump) and SIGUSR2
// (stats dump) until ctx ends or the VRRP daemon's Run returns on runErr.
// reloadVRRP swaps a new configuration into the VRRP part (nil with -C).
func signalLoop(ctx context.Context, lg *logger, opts daemonOptions, d *vrrp.Daemon, lv *lvsPart, reloadVRRP func(*keepalived.Config) bool, runErr ...chan error) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(usr)
	var rerr chan error
	if len(runErr) > 0 {
		rerr = runErr[0]
	}
	for {
		select {
		case <-ctx.Done():
			if rerr != nil {
				return <-rerr
			}
			return nil
		case err := <-rerr:
			return err
		case sig := <-usr:
			if d == nil {
				continue
			}
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
			if reloadVRRP != nil && !reloadVRRP(nc) {
				continue
			}
			if !opts.VRRPOnly {
				lv.reload(ctx, nc)
			}
		}
	}
}

// lvsPart runs the LVS checkers (keepalived's checker child) and writes
// the checkers pid file while they run, as keepalived does only when the
// configuration has virtual servers.
type lvsPart struct {
	lg      *logger
	pidFile string

	chk    *lvs.Checker
	cancel context.CancelFunc
	done   chan struct{}
}

// start builds and runs a Checker for cfg when it has virtual servers.
func (p *lvsPart) start(ctx context.Context, cfg *keepalived.Config) {
	if len(cfg.VirtualServers) == 0 {
		return
	}
	lo := lvs.Options{Logf: func(format string, a ...any) { p.lg.log(fmt.Sprintf(format, a...)) }}
	ncfg := notify.FromKeepalived(cfg)
	if ncfg.Mail != nil && len(ncfg.To) > 0 {
		srv, to := *ncfg.Mail, ncfg.To
		lo.Alert = func(subject, body string) error {
			t := srv.Timeout
			if t <= 0 {
				t = 30 * time.Second // mail.Server's default
			}
			mctx, cancel := context.WithTimeout(context.Background(), 2*t)
			defer cancel()
			return srv.Send(mctx, mail.Message{To: to, Subject: subject, Body: body, Date: time.Now()})
		}
	}
	chk, err := lvs.New(cfg, lo)
	if err != nil {
		p.lg.log(err.Error())
		return
	}
	if p.pidFile != "" {
		if err := daemon.WritePidFile(p.pidFile, os.Getpid()); err != nil {
			p.lg.log(err.Error())
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	p.chk, p.cancel, p.done = chk, cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		if err := chk.Run(cctx); err != nil {
			p.lg.log(err.Error())
		}
	}()
}

// reload hands a new configuration to the running Checker, or starts one
// when the old configuration had no virtual server.
func (p *lvsPart) reload(ctx context.Context, cfg *keepalived.Config) {
	if p.chk != nil {
		if err := p.chk.Reload(ctx, cfg); err == nil {
			return
		}
		p.stop()
	}
	p.start(ctx, cfg)
}

// stop ends the Checker (it removes what it programmed) and its pid file.
func (p *lvsPart) stop() {
	if p.chk == nil {
		return
	}
	p.cancel()
	<-p.done
	p.chk = nil
	if p.pidFile != "" {
		removePidFile(p.pidFile)
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
