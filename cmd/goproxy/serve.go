package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"hapair/parser/haproxy"
	"hapair/proxy"
)

// serveOptions are the command-line settings the runtime needs.
type serveOptions struct {
	Foreground bool
	PidFile    string
	Quiet      bool
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

// serve runs the proxy for cfg until ctx ends (SIGTERM/SIGINT: hard stop,
// every connection closed) or SIGUSR1 arrives (soft stop: listeners closed,
// connections in flight finish, then serve returns), as HAProxy does.
// Daemon mode and -sf/-st hand-over belong to the process-model code; here
// the proxy runs in the foreground.
func serve(ctx context.Context, cfg *haproxy.Config, opts serveOptions) error {
	pid := os.Getpid()
	env := &partEnv{
		Pid: pid,
		Alert: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "[ALERT]    (%d) : "+format+"\n", append([]any{pid}, args...)...)
		},
		Warn: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "[WARNING]  (%d) : "+format+"\n", append([]any{pid}, args...)...)
		},
	}
	popts := proxy.Options{Logf: env.Warn}
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
		return fmt.Errorf("Starting proxy: %w", err)
	}
	for _, part := range running {
		if err := part.Start(ctx, p); err != nil {
			p.Close()
			return err
		}
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() {
		select {
		case <-usr1:
			p.Stop()
		case <-ctx.Done():
		}
	}()
	return p.Run(ctx)
}
