// Command govrrpd is a drop-in replacement for keepalived's VRRP daemon: it
// reads an unchanged keepalived.conf and accepts keepalived's command line.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
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
	noSyslog    bool
	pidFile     string
	vrrpPidFile string
	checkPid    string
	configTest  bool
	// configTestLog is the optional argument of -t (keepalived 2.2.7: a
	// file the check's messages go to).
	configTestLog string
	vrrpOnly      bool
	checkOnly     bool
	configID      string
	dumpConf      bool
	version       bool
	help          bool
}

// argKind says whether an option takes an argument.
type argKind int

const (
	noArg argKind = iota
	requiredArg
	optionalArg // only attached: -gFILE, --log-file=FILE
)

// option is one entry of keepalived's getopt_long table.
type option struct {
	short byte
	long  string
	arg   argKind
	set   func(f *flags, val string)
}

// options is keepalived 2.2.7's command line; options without an effect
// in govrrpd are accepted so that existing init scripts keep working.
var options = []option{
	{'f', "use-file", requiredArg, func(f *flags, v string) { f.configFile = v }},
	{'P', "vrrp", noArg, func(f *flags, _ string) { f.vrrpOnly = true }},
	{'C', "check", noArg, func(f *flags, _ string) { f.checkOnly = true }},
	{'B', "no_bfd", noArg, nil},
	{0, "all", noArg, nil},
	{'l', "log-console", noArg, func(f *flags, _ string) { f.logConsole = true }},
	{'D', "log-detail", noArg, func(f *flags, _ string) { f.logDetail = true }},
	{'S', "log-facility", requiredArg, func(f *flags, v string) { f.facility = v }},
	{'G', "no-syslog", noArg, func(f *flags, _ string) { f.noSyslog = true }},
	{'g', "log-file", optionalArg, func(f *flags, v string) {
		if v == "" {
			v = "/tmp/keepalived.log"
		}
		f.logFile = v
	}},
	{'u', "umask", requiredArg, nil},
	{'X', "release-vips", noArg, nil},
	{'V', "dont-release-vrrp", noArg, nil},
	{'I', "dont-release-ipvs", noArg, nil},
	{'R', "dont-respawn", noArg, nil},
	{'n', "dont-fork", noArg, func(f *flags, _ string) { f.dontFork = true }},
	{'d', "dump-conf", noArg, func(f *flags, _ string) { f.dumpConf = true }},
	{'p', "pid", requiredArg, func(f *flags, v string) { f.pidFile = v }},
	{'r', "vrrp_pid", requiredArg, func(f *flags, v string) { f.vrrpPidFile = v }},
	{'c', "checkers_pid", requiredArg, func(f *flags, v string) { f.checkPid = v }},
	{'a', "address-monitoring", noArg, nil},
	{'b', "bfd_pid", requiredArg, nil},
	{'x', "snmp", noArg, nil},
	{'A', "snmp-agent-socket", requiredArg, nil},
	{'s', "namespace", requiredArg, nil},
	{'m', "core-dump", noArg, nil},
	{'M', "core-dump-pattern", optionalArg, nil},
	{'e', "all-config", noArg, nil},
	{'i', "config-id", requiredArg, func(f *flags, v string) { f.configID = v }},
	{'t', "config-test", optionalArg, func(f *flags, v string) { f.configTest = true; f.configTestLog = v }},
	{'v', "version", noArg, func(f *flags, _ string) { f.version = true }},
	{'h', "help", noArg, func(f *flags, _ string) { f.help = true }},
}

// parseFlags reads keepalived's options the way getopt_long does: bundled
// short options (-nlD), attached or separate required arguments (-fFILE,
// -f FILE, --use-file=FILE, --use-file FILE) and attached-only optional
// ones (-gFILE, --log-file=FILE).
func parseFlags(args []string) (*flags, error) {
	f := &flags{configFile: "/etc/keepalived/keepalived.conf", pidFile: "/run/keepalived.pid", vrrpPidFile: "/run/vrrp.pid", checkPid: "/run/checkers.pid"}
	apply := func(o *option, val string) {
		if o.set != nil {
			o.set(f, val)
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name, val, hasVal := strings.Cut(a[2:], "=")
			o := findLong(name)
			if o == nil {
				return nil, fmt.Errorf("unrecognized option '%s'", a)
			}
			switch o.arg {
			case noArg:
				if hasVal {
					return nil, fmt.Errorf("option '--%s' doesn't allow an argument", o.long)
				}
			case requiredArg:
				if !hasVal {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option '--%s' requires an argument", o.long)
					}
					i++
					val = args[i]
				}
			}
			apply(o, val)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				o := findShort(a[j])
				if o == nil {
					return nil, fmt.Errorf("invalid option -- '%c'", a[j])
				}
				rest := a[j+1:]
				switch o.arg {
				case noArg:
					apply(o, "")
					continue
				case optionalArg:
					apply(o, rest)
				case requiredArg:
					if rest == "" {
						if i+1 >= len(args) {
							return nil, fmt.Errorf("option requires an argument -- '%c'", a[j])
						}
						i++
						rest = args[i]
					}
					apply(o, rest)
				}
				break
			}
		default:
			return nil, fmt.Errorf("unrecognized option '%s'", a)
		}
	}
	return f, nil
}

func findLong(name string) *option {
	for i := range options {
		if options[i].long == name {
			return &options[i]
		}
	}
	return nil
}

func findShort(c byte) *option {
	for i := range options {
		if options[i].short == c && c != 0 {
			return &options[i]
		}
	}
	return nil
}

const usage = `Usage: keepalived [OPTION...]
  -f, --use-file=FILE          Use the specified configuration file
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)
                               Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)
  -G, --no-syslog              Don't log via syslog
  -g, --log-file=FILE          Also log to FILE (default /tmp/keepalived.log)
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                stderr by default
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
		out := stderr
		if f.configTestLog != "" {
			// keepalived 2.2.7: -t=FILE writes the messages to FILE.
			fh, err := os.OpenFile(f.configTestLog, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				fmt.Fprintf(stderr, "keepalived: %v\n", err)
				return 1
			}
			defer fh.Close()
			out = fh
		}
		for _, d := range diags.List {
			fmt.Fprintln(out, d.String())
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
	if f.facility != "" {
		if _, err := parseFacility(f.facility); err != nil {
			fmt.Fprintf(stderr, "keepalived: %v\n", err)
			return 1
		}
	}
	// keepalived 2.2.7 does not start a second daemon on a pid file whose
	// process is alive: it logs "daemon is already running" and exits 0.
	if pid, ok := runningPid(f.pidFile); ok && pid != os.Getpid() {
		fmt.Fprintf(stderr, "keepalived: daemon is already running (pid %d)\n", pid)
		return 0
	}
	if !f.dontFork && !daemon.IsChild() {
		if _, err := daemon.Detach(10 * time.Second); err != nil {
			fmt.Fprintf(stderr, "keepalived: %v\n", err)
			return 1
		}
		return 0
	}
	lg, err := newLogger(f, stderr)
	if err != nil {
		daemon.Fail(err.Error())
		fmt.Fprintf(stderr, "keepalived: %v\n", err)
		return 1
	}
	defer lg.close()
	lg.log("Starting " + version)
	lg.log("Command line: " + quoteArgs(os.Args))
	lg.log("Configuration file " + f.configFile)
	// Like keepalived, problems in the file are logged and the daemon runs.
	for _, d := range diags.List {
		lg.log(d.String())
	}
	if diags.MissingInterface && !f.checkOnly {
		// keepalived 2.2.7: the VRRP process stops with a configuration
		// error and the daemon exits (2 in the foreground); govrrpd's
		// detached start reports it to the command that started it.
		lg.log("Stopped " + version)
		daemon.Fail("Non-existent interface specified in configuration (global_defs dynamic_interfaces allows it)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := daemon.WritePidFile(f.pidFile, os.Getpid()); err != nil {
		daemon.Fail(err.Error())
		fmt.Fprintf(stderr, "keepalived: %v\n", err)
		return 1
	}
	defer removePidFile(f.pidFile)
	opts := daemonOptions{
		VRRPOnly: f.vrrpOnly, CheckOnly: f.checkOnly,
		VRRPPidFile: f.vrrpPidFile, CheckPidFile: f.checkPid, ConfigID: f.configID, ConfigPath: f.configFile,
		Ready: daemon.Ready,
	}
	if err := runDaemon(ctx, cfg, lg, opts); err != nil {
		daemon.Fail(err.Error())
		lg.log(err.Error())
		fmt.Fprintf(stderr, "keepalived: %v\n", err)
		return 1
	}
	lg.log("Stopped " + version)
	return 0
}

// runningPid reads the first pid of a pid file and reports whether that
// process is alive.
func runningPid(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if syscall.Kill(pid, 0) != nil {
		return pid, false
	}
	// A zombie (exited, not yet reaped by init) no longer runs.
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	return pid, err != nil || !strings.Contains(string(st), "State:\tZ")
}

// removePidFile removes a pid file only while it still names this process
// (a daemon started after us may own it now).
func removePidFile(path string) {
	if pid, _ := runningPid(path); pid == os.Getpid() {
		os.Remove(path)
	}
}

// quoteArgs renders a command line as keepalived logs it: 'a' 'b'.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + a + "'"
	}
	return strings.Join(q, " ")
}
