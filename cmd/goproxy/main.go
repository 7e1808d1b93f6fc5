// Command goproxy is a drop-in replacement for HAProxy: it reads an unchanged
// haproxy.cfg (HAProxy 2.x and 1.4 syntax) and accepts HAProxy's command line.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hapair/parser/haproxy"
)

// version is what -v prints; HAProxy-compatible tools parse its first line.
const version = "2.6-goproxy"

// flags holds HAProxy's command line.
type flags struct {
	files       []string
	check       bool
	quiet       bool
	daemon      bool
	foreground  bool
	masterWork  bool
	systemd     bool
	pidFile     string
	softStop    []int // -sf
	hardStop    []int // -st
	localPeer   string
	chdir       string
	xferSocket  string
	maxconn     int
	showVersion int // 1: -v, 2: -vv
	verbose     bool
	help        bool
}

// parseFlags reads HAProxy's flags. HAProxy's syntax is not Go's: -sf and
// -st take every following pid, `--` ends the flags and the words after it
// are configuration files.
func parseFlags(args []string) (*flags, error) {
	f := &flags{}
	need := func(i int, name string) (string, error) {
		if i+1 >= len(args) {
			return "", fmt.Errorf("option '%s' requires an argument", name)
		}
		return args[i+1], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			f.files = append(f.files, args[i+1:]...)
			return f, nil
		case a == "-f":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			f.files = append(f.files, v)
			i++
		case a == "-c":
			f.check = true
		case a == "-q":
			f.quiet = true
		case a == "-D":
			f.daemon = true
		case a == "-db":
			f.foreground = true
		case a == "-W":
			f.masterWork = true
		case a == "-Ws":
			f.masterWork, f.systemd = true, true
		case a == "-p":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			f.pidFile = v
			i++
		case a == "-sf" || a == "-st":
			var pids []int
			for i+1 < len(args) {
				p, err := strconv.Atoi(args[i+1])
				if err != nil {
					break
				}
				pids = append(pids, p)
				i++
			}
			if a == "-sf" {
				f.softStop = append(f.softStop, pids...)
			} else {
				f.hardStop = append(f.hardStop, pids...)
			}
		case a == "-L":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			f.localPeer = v
			i++
		case a == "-C":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			f.chdir = v
			i++
		case a == "-x":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			f.xferSocket = v
			i++
		case a == "-N":
			v, err := need(i, a)
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("option '-N' expects a number")
			}
			f.maxconn = n
			i++
		case a == "-v":
			f.showVersion = 1
		case a == "-vv":
			f.showVersion = 2
		case a == "-V":
			f.verbose = true
		case a == "-h" || a == "--help":
			f.help = true
		case a == "-m" || a == "-n" || a == "-S" || a == "-dW" && false:
			// Memory and connection limits, master CLI: accepted.
			if a != "-S" || i+1 < len(args) {
				i++
			}
		case strings.HasPrefix(a, "-d"):
			// -d, -dM, -dr, -dV, -dW, -dD...: debug switches; -d and -db
			// keep the process in the foreground.
			if a == "-d" {
				f.foreground = true
			}
		default:
			return nil, fmt.Errorf("unknown option '%s'", a)
		}
	}
	return f, nil
}

const usage = `Usage : haproxy [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -n <maxconn> ] [ -N <maxpconn> ]
        [ -p <pidfile> ] [ -m <max megs> ] [ -C <dir> ] [-- <cfgfile>*]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -db only disables background mode.
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode.
        -Ws master-worker mode with systemd notify support.
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -N sets the default, per-proxy maximum # of connections (0)
        -L set local peer name (default to hostname)
        -p writes pids of all children to this file
        -sf/-st [pid ]* finishes/terminates old pids.
        -x <unix_socket> get listening sockets from a unix socket

goproxy reads haproxy.cfg unchanged, including HAProxy 1.4 syntax
(contimeout, clitimeout, srvtimeout, nbproc, listen NAME ADDR:PORT), which
it maps to the modern keywords with a warning.
`

func main() {
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	if sig := syscall.Signal(code - 128); sig == syscall.SIGTERM || sig == syscall.SIGINT {
		// A hard stop by signal ends as HAProxy's does: killed by that
		// signal (systemd and shells see "terminated", not an exit code).
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second) // the signal ends the process meanwhile
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) int {
	pid := os.Getpid()
	f, err := parseFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "[ALERT]    (%d) : %v\n", pid, err)
		fmt.Fprint(stderr, usage)
		return 1
	}
	if f.help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if f.showVersion > 0 {
		fmt.Fprintf(stdout, "HAProxy version %s - goproxy, a drop-in HAProxy replacement written in Go\n", version)
		if f.showVersion > 1 {
			fmt.Fprintln(stdout, "Build options : Go runtime; mode http and tcp; splice(2) for tcp mode")
		}
		return 0
	}
	if f.chdir != "" {
		if err := os.Chdir(f.chdir); err != nil {
			fmt.Fprintf(stderr, "[ALERT]    (%d) : Cannot chdir to %s : %v\n", pid, f.chdir, err)
			return 1
		}
	}
	if len(f.files) == 0 {
		fmt.Fprintf(stderr, "[ALERT]    (%d) : No configuration file specified.\n", pid)
		fmt.Fprint(stderr, usage)
		return 1
	}
	cfg, diags := haproxy.Load(f.files, haproxy.LoadOptions{})
	warned := false
	for _, d := range diags.List {
		if d.Severity == haproxy.Warning {
			warned = true
			if f.quiet || cfg != nil && cfg.Global.Quiet && !f.verbose {
				continue
			}
		}
		fmt.Fprintln(stderr, d.Format(pid))
	}
	if cfg == nil {
		for _, file := range f.files {
			fmt.Fprintf(stderr, "[ALERT]    (%d) : config : Error(s) found in configuration file : %s\n", pid, filepath.Clean(file))
		}
		fmt.Fprintf(stderr, "[ALERT]    (%d) : config : Fatal errors found in configuration.\n", pid)
		return 1
	}
	if f.check {
		if !f.quiet {
			if warned {
				fmt.Fprintln(stdout, "Warnings were found.")
			}
			fmt.Fprintln(stdout, "Configuration file is valid")
		}
		return 0
	}
	masterPidFile = cfg.Global.PidFile
	return startProcess(f, cfg, stderr)
}
