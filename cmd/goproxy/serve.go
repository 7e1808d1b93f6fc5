package main

import (
	"context"
	"errors"

	"hapair/parser/haproxy"
)

// serveOptions are the command-line settings the runtime needs.
type serveOptions struct {
	Foreground bool
	PidFile    string
	Quiet      bool
}

// serve runs the proxy for cfg until ctx ends.
func serve(ctx context.Context, cfg *haproxy.Config, opts serveOptions) error {
	return errors.New("proxy runtime not implemented yet")
}
