package main

import (
	"context"
	"errors"

	"hapair/parser/keepalived"
)

// daemonOptions are the command-line settings the VRRP daemon needs.
type daemonOptions struct {
	DontFork, LogConsole, LogDetail bool
	PidFile, VRRPPidFile            string
	ConfigID                        string
	ConfigPath                      string
}

// runDaemon runs the VRRP instances of cfg until ctx ends.
func runDaemon(ctx context.Context, cfg *keepalived.Config, opts daemonOptions) error {
	return errors.New("vrrp daemon not implemented yet")
}
