package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"hapair/internal/daemon"
	"hapair/internal/fdpass"
	"hapair/parser/haproxy"
	"hapair/proxy"
)

// serveOptions are the command-line settings the runtime needs.
type serveOptions struct {
	Foreground bool
	PidFile    string // written with this pid once the listeners are bound
	Quiet      bool
	SoftStop   []int  // -sf: old processes told to finish (SIGUSR1)
	HardStop   []int  // -st: old processes told to stop (SIGTERM)
	XferSocket string // -x: where to fetch the old listeners
	// Ready is called once the process serves (listeners bound, pid file
	// written, privileges dropped): the daemon parent or master waits
	// for it.
	Ready func()
	// Program is argv[0], for HAProxy's "[prog.main()]" messages.
	Program string
}

// runtimePart is one optional piece of the running process (logging,
// health checks, stats page and socket). Each part adds its hooks to the
// proxy options before the proxy is built, then runs beside the proxy
// until ctx ends. Parts live in their own files (log.go, checks.go,
// stats.go) so that serve stays a short list of steps.
type runtimePart interface {
	// Configure adds the part's hooks to opts.
	Configure(opts *proxy.Options) error
	// Start begins the part's background work for p; it returns at once.
	Start(ctx context.Context, p *proxy.Proxy) error
	// Close releases what Configure and Start opened.
	Close() error
}

// parts lists the constructors of the runtime parts, in start order. Files
// register theirs in init functions.
var parts []func(cfg *haproxy.Config, env *partEnv) (runtimePart, error)

// partEnv is what the parts share of the process.
type partEnv struct {
	Pid   int
	Alert func(format string, args ...any)
	Warn  func(format string, args ...any)
}

// serve runs the proxy for cfg until ctx ends or a stop signal arrives,
// as HAProxy does: SIGTERM/SIGINT hard stop (every connection closed),
// SIGUSR1 soft stop (listeners closed, connections in flight finish, then
// serve returns; `hard-stop-after` bounds the wait), SIGTTOU/SIGTTIN pause
// and resume the listeners, SIGHUP dumps the servers' states.
//
// The steps follow HAProxy's start: raise the file limit, take over the
// old process's listeners (-sf/-st/-x), bind, start the parts (logging,
// checks, stats), write the pid file, chroot and drop privileges, offer
// the listeners to a successor, tell the old processes to go, report
// ready.
func serve(ctx context.Context, cfg *haproxy.Config, opts serveOptions) (err error) {
	pid := os.Getpid()
	// Quiet mode (-q, or `quiet` in global without -V) silences runtime
	// warnings, and alerts once the process serves, as HAProxy does:
	// start-up alerts still explain a failed start.
	var serving atomic.Bool
	env := &partEnv{
		Pid: pid,
		Alert: func(format string, args ...any) {
			if opts.Quiet && serving.Load() {
				return
			}
			fmt.Fprintf(os.Stderr, "[ALERT]    (%d) : "+format+"\n", append([]any{pid}, args...)...)
		},
		Warn: func(format string, args ...any) {
			if opts.Quiet {
				return
			}
			fmt.Fprintf(os.Stderr, "[WARNING]  (%d) : "+format+"\n", append([]any{pid}, args...)...)
		},
	}
	// Signals are caught from the start: a soft stop that arrives while
	// binding must not kill the process with Go's default action.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTTOU, syscall.SIGTTIN, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, hardStop := context.WithCancel(ctx)
	defer hardStop()
	var stoppedBy atomic.Value // the signal of a hard stop
	hard := make(chan os.Signal, 1)
	signal.Notify(hard, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(hard)
	go func() {
		select {
		case s := <-hard:
			stoppedBy.Store(s)
			hardStop()
		case <-ctx.Done():
		}
	}()
	// A hard stop by signal ends the process as the signal would
	// (HAProxy 2.6 exits 143 on SIGTERM).
	defer func() {
		if s, ok := stoppedBy.Load().(os.Signal); ok && err == nil {
			err = &signalExit{s.(syscall.Signal)}
		}
	}()

	if opts.Program == "" {
		opts.Program = "haproxy"
	}
	if err := raiseFDLimit(&cfg.Global, opts.Program); err != nil {
		return err
	}
	uid, gid, err := credentials(&cfg.Global)
	if err != nil {
		return err
	}
	ls := &listenerSet{}
	ls.inherit(opts.XferSocket, append(append([]int{}, opts.SoftStop...), opts.HardStop...), env.Warn)
	defer ls.closeUnused()
	// The stats part answers `_getsocks` through this hook.
	serveGetsocks = ls.sendTo

	popts := proxy.Options{Logf: env.Warn, Listen: ls.listen}
	var running []runtimePart
	defer func() {
		for i := len(running) - 1; i >= 0; i-- {
			running[i].Close()
		}
	}()
	for _, mk := range parts {
		part, err := mk(cfg, env)
		if err != nil {
			return err
		}
		running = append(running, part)
		if err := part.Configure(&popts); err != nil {
			return err
		}
	}
	p, err := proxy.New(cfg, popts)
	if err != nil {
		return err
	}
	if err := p.Bind(); err != nil {
		var be *bindError
		if errors.As(err, &be) {
			return fmt.Errorf("%s\n[ALERT]    (%d) : [%s.main()] Some protocols failed to start their listeners! Exiting.",
				be.haproxyMessage(cfg), pid, opts.Program)
		}
		return fmt.Errorf("Starting proxy: %w", err)
	}
	ls.closeUnused()
	for _, part := range running {
		if err := part.Start(ctx, p); err != nil {
			p.Close()
			return err
		}
	}
	xctx, stopXfer := context.WithCancel(context.Background())
	defer stopXfer()
	if ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: fdpass.AbstractAddr("goproxy", pid), Net: "unix"}); err == nil {
		go ls.serveTransfer(xctx, ul)
	} else {
		env.Warn("cannot offer the listeners to a successor: %v", err)
	}
	serveExposedSockets(xctx, cfg, ls, env)
	if opts.PidFile != "" {
		if err := daemon.WritePidFile(opts.PidFile, pid); err != nil {
			p.Close()
			return fmt.Errorf("[%s.main()] Cannot create pidfile %s", opts.Program, opts.PidFile)
		}
	}
	if err := dropPrivileges(&cfg.Global, uid, gid); err != nil {
		p.Close()
		return err
	}
	signalOld(opts.SoftStop, opts.HardStop)
	serving.Store(true)
	if opts.Ready != nil {
		opts.Ready()
	}

	// hardGone closes when a hard stop (SIGTERM/SIGINT, or
	// hard-stop-after after a soft stop) was ordered: the process then
	// leaves even if some connection does not let go at once, as
	// HAProxy's does.
	hardGone := make(chan struct{})
	go func() {
		defer close(hardGone)
		var hardTimer <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-hardTimer:
				env.Warn("soft-stop running for too long, performing a hard-stop.")
				for _, fe := range p.Frontends() {
					if n := fe.Counters.Scur.Load(); n > 0 {
						env.Warn("Proxy %s hard-stopped (%d remaining conns will be closed).", fe.Name, n)
					}
				}
				p.Close()
				return
			case s := <-sigs:
				switch s {
				case syscall.SIGUSR1:
					if !p.Stopping() {
						p.Stop()
						stopXfer()
						if d := cfg.Global.HardStopAfter; d > 0 {
							hardTimer = time.After(d)
						}
					}
				case syscall.SIGTTOU:
					ls.setPaused(true, env.Warn)
					sayFrontends(p, env, "Paused")
				case syscall.SIGTTIN:
					ls.setPaused(false, env.Warn)
					sayFrontends(p, env, "Resumed")
				case syscall.SIGHUP:
					dumpServerStates(p, env)
				}
			}
		}
	}()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	select {
	case err := <-runErr:
		return err
	case <-hardGone:
		p.Close()
		select {
		case err := <-runErr:
			return err
		case <-time.After(hardStopGrace):
			return nil
		}
	}
}

// sayFrontends reports a pause or resume per frontend as HAProxy does
// ("Paused frontend f.", a listen section is a "proxy").
func sayFrontends(p *proxy.Proxy, env *partEnv, what string) {
	for _, fe := range p.Frontends() {
		kind := "frontend"
		if fe.Cfg.Kind == "listen" {
			kind = "proxy"
		}
		env.Warn("%s %s %s.", what, kind, fe.Name)
	}
}

// signalExit is serve's answer when a signal stopped the process: the
// exit code is 128 + the signal, as for a process the signal killed.
type signalExit struct{ sig syscall.Signal }

func (e *signalExit) Error() string { return "stopped by " + e.sig.String() }

// Code is the process exit code.
func (e *signalExit) Code() int { return 128 + int(e.sig) }

// hardStopGrace is how long a hard stop waits for the connections to
// close before the process leaves anyway.
const hardStopGrace = time.Second
