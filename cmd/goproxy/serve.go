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

// serve runs the proxy for cfg until ctx ends (SIGTERM/SIGINT: hard stop,
// every connection closed) or SIGUSR1 arrives (soft stop: listeners closed,
// connections in flight finish, then serve returns), as HAProxy does.
// Daemon mode and -sf/-st hand-over belong to the process-model code; here
// the proxy runs in the foreground.
func serve(ctx context.Context, cfg *haproxy.Config, opts serveOptions) error {
	pid := os.Getpid()
	p, err := proxy.New(cfg, proxy.Options{
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "[WARNING]  (%d) : "+format+"\n", append([]any{pid}, args...)...)
		},
	})
	if err != nil {
		return err
	}
	if err := p.Bind(); err != nil {
		return fmt.Errorf("Starting proxy: %w", err)
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
