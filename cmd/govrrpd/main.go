// Command govrrpd is a drop-in replacement for keepalived's VRRP daemon: it
// reads an unchanged keepalived.conf and accepts keepalived's command line.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"hapair/internal/daemon"
	"hapair/internal/dump"
	"hapair/parser/keepalived"
)

const version = "Keepalived v2.2.7 (govrrpd)"

// flags is keepalived's command line.
type flags struct {
	configFile  string
	dontFork    bool
	logConsole  bool
	logDetail   bool
	facility    string
	logFile     string
	pidFile     string
	vrrpPidFile string
	checkPid    string
	configTest  bool
	vrrpOnly    bool
	checkOnly   bool
	configID    string
	dumpConf    bool
	version     bool
	help        bool
}

// parseFlags reads keepalived's short and long options, including the
// optional argument of --config-test=FILE.
func parseFlags(args []string) (*flags, error) {
	f := &flags{configFile: "/etc/keepalived/keepalived.conf", pidFile: "/run/keepalived.pid", vrrpPidFile: "/run/keepalived_vrrp.pid"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		need := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option '%s' requires an argument", name)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name {
		case "-f", "--use-file":
			f.configFile, err = need()
		case "-n", "--dont-fork":
			f.dontFork = true
		case "-l", "--log-console":
			f.logConsole = true
		case "-D", "--log-detail":
			f.logDetail = true
		case "-S", "--log-facility":
			f.facility, err = need()
		case "-g", "--log-file":
			f.logFile = "/tmp/keepalived.log"
			if hasVal {
				f.logFile = val
			}
		case "-G", "--no-syslog":
		case "-p", "--pid":
			f.pidFile, err = need()
		case "-r", "--vrrp_pid":
			f.vrrpPidFile, err = need()
		case "-c", "--checkers_pid":
			f.checkPid, err = need()
		case "-b", "--bfd_pid":
			_, err = need()
		case "-t", "--config-test":
			f.configTest = true
			if hasVal {
				f.configFile = val
			}
		case "-P", "--vrrp":
			f.vrrpOnly = true
		case "-C", "--check":
			f.checkOnly = true
		case "-i", "--config-id":
			f.configID, err = need()
		case "-d", "--dump-conf":
			f.dumpConf = true
		case "-v", "--version":
			f.version = true
		case "-h", "--help":
			f.help = true
		case "-V", "--dont-release-vrrp", "-I", "--dont-release-ipvs", "-X", "--release-vips",
			"-R", "--dont-respawn", "-a", "--address-monitoring", "-x", "--snmp", "-m", "--core-dump",
			"-M", "--core-dump-pattern", "-e", "--all-port-forward", "-u", "--umask":
			// Accepted for compatibility; they have no effect in govrrpd.
		case "-s", "--namespace":
			_, err = need()
		default:
			return nil, fmt.Errorf("unrecognized option '%s'", a)
		}
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

const usage = `Usage: keepalived [OPTION...]
  -f, --use-file=FILE          Use the specified configuration file
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=[0-7]     Set syslog facility to LOG_LOCAL[0-7]
  -g, --log-file=FILE          Also log to FILE (default /tmp/keepalived.log)
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -t, --config-test[=FILE]     Check the configuration for obvious errors
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id
  -v, --version                Display the version number
  -h, --help                   Display this help message
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "keepalived: %v\n", err)
		fmt.Fprint(stderr, usage)
		return 1
	}
	switch {
	case f.help:
		fmt.Fprint(stdout, usage)
		return 0
	case f.version:
		fmt.Fprintln(stderr, version)
		return 0
	}
	cfg, diags := keepalived.Load(f.configFile, keepalived.Options{ConfigID: f.configID})
	if f.dumpConf && cfg != nil {
		dump.Write(stdout, cfg)
	}
	if f.configTest {
		for _, d := range diags.List {
			fmt.Fprintln(stderr, d.String())
		}
		if cfg == nil {
			// keepalived 2.2.7 exits 0 here ("Config files missing");
			// a missing file is not a valid configuration: 4, "cannot run".
			return 4
		}
		return diags.ExitCode()
	}
	if cfg == nil {
		for _, d := range diags.List {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	if !f.dontFork && !daemon.IsChild() {
		if _, err := daemon.Detach(10 * time.Second); err != nil {
			fmt.Fprintf(stderr, "keepalived: %v\n", err)
			return 1
		}
		return 0
	}
	// Like keepalived, problems in the file are logged and the daemon runs.
	logw := stderr
	for _, d := range diags.List {
		fmt.Fprintln(logw, d.String())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := daemon.WritePidFile(f.pidFile, os.Getpid()); err != nil {
		daemon.Fail(err.Error())
		fmt.Fprintf(stderr, "keepalived: %v\n", err)
		return 1
	}
	defer os.Remove(f.pidFile)
	opts := daemonOptions{
		DontFork: f.dontFork, LogConsole: f.logConsole, LogDetail: f.logDetail,
		PidFile: f.pidFile, VRRPPidFile: f.vrrpPidFile, ConfigID: f.configID, ConfigPath: f.configFile,
	}
	if err := runDaemon(ctx, cfg, opts); err != nil {
		daemon.Fail(err.Error())
		fmt.Fprintf(stderr, "keepalived: %v\n", err)
		return 1
	}
	return 0
}
