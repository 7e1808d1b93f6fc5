package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"hapair/internal/daemon"
)

// workerExit is a worker's end as the master sees it.
type workerExit struct {
	pid  int
	code int
	why  string
}

// runMaster is HAProxy's master-worker mode (-W, -Ws, `master-worker`):
// the master holds no listener; it starts a worker (this program again)
// and writes its own pid to the pid file. SIGUSR2 reloads: a new worker
// reads the configuration again, takes the listeners over from the old
// worker (-sf) and tells it to finish; a new worker that fails leaves the
// old one serving. SIGUSR1, SIGTERM and SIGINT go to the workers and the
// master exits when they are gone; SIGHUP, SIGTTOU and SIGTTIN are passed
// on. With -Ws the master reports READY=1 and RELOADING=1 to systemd.
func runMaster(f *flags, m processMode, stderr io.Writer) int {
	pid := os.Getpid()
	say := func(level, format string, args ...any) {
		fmt.Fprintf(stderr, "%-10s (%d) : "+format+"\n", append([]any{level, pid}, args...)...)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGUSR2, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT,
		syscall.SIGHUP, syscall.SIGTTOU, syscall.SIGTTIN)
	defer signal.Stop(sigs)

	base := stripReloadFlags(os.Args[1:])
	exits := make(chan workerExit, 8)
	workers := map[int]*daemon.Child{}
	start := func(extra []string) (*daemon.Child, error) {
		c, err := daemon.Start(daemon.Spec{
			Args:   append(append([]string{}, base...), extra...),
			Env:    []string{envWorker + "=" + strconv.Itoa(pid), "NOTIFY_SOCKET="},
			Stdout: os.Stdout,
			Stderr: os.Stderr,
		})
		if err != nil {
			return nil, err
		}
		if err := c.WaitReady(readyTimeout); err != nil {
			return nil, err
		}
		workers[c.Pid()] = c
		go func() {
			err := c.Cmd.Wait()
			exits <- exitOf(c.Pid(), err)
		}()
		return c, nil
	}

	var first []string
	if len(f.softStop) > 0 {
		first = append(first, "-sf")
		first = append(first, pidArgs(f.softStop)...)
	}
	if len(f.hardStop) > 0 {
		first = append(first, "-st")
		first = append(first, pidArgs(f.hardStop)...)
	}
	if f.xferSocket != "" {
		first = append(first, "-x", f.xferSocket)
	}
	current, err := start(first)
	if err != nil {
		msg := err.Error()
		daemon.Fail(msg)
		say("[ALERT]", "Failed to load worker: %s", msg)
		return 1
	}
	say("[NOTICE]", "New worker (%d) forked", current.Pid())
	say("[NOTICE]", "Loading success.")
	pidFile := f.pidFile
	if pidFile == "" {
		pidFile = masterPidFile
	}
	if pidFile != "" {
		if err := daemon.WritePidFile(pidFile, pid); err != nil {
			say("[ALERT]", "[%s.main()] Cannot create pidfile %s", os.Args[0], pidFile)
		}
	}
	daemon.Ready()
	if m.systemd {
		daemon.Notify(fmt.Sprintf("READY=1\nMAINPID=%d", pid))
	}

	stopping := false
	exitCode := 0
	forward := func(s syscall.Signal) {
		for p := range workers {
			syscall.Kill(p, s)
		}
	}
	for {
		select {
		case s := <-sigs:
			switch s {
			case syscall.SIGUSR2:
				if stopping {
					continue
				}
				say("[NOTICE]", "Reloading HAProxy")
				if m.systemd {
					daemon.Notify("RELOADING=1")
				}
				old := make([]int, 0, len(workers))
				for p := range workers {
					old = append(old, p)
				}
				sort.Ints(old)
				c, err := start(append([]string{"-sf"}, pidArgs(old)...))
				if err != nil {
					// The worker printed its configuration errors; a
					// worker that could not even start says why here.
					if !strings.Contains(err.Error(), "child exited before it was ready") {
						say("[ALERT]", "%v", err)
					}
					say("[WARNING]", "Loading failure!")
				} else {
					current = c
					say("[NOTICE]", "New worker (%d) forked", c.Pid())
					say("[NOTICE]", "Loading success.")
				}
				if m.systemd {
					daemon.Notify("READY=1")
				}
			case syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT:
				stopping = true
				say("[WARNING]", "Exiting Master process...")
				if s == syscall.SIGINT {
					s = syscall.SIGTERM
				}
				if m.systemd {
					daemon.Notify("STOPPING=1")
				}
				forward(s.(syscall.Signal))
			default:
				forward(s.(syscall.Signal))
			}
		case e := <-exits:
			delete(workers, e.pid)
			if e.pid == current.Pid() {
				level := "[WARNING]"
				if e.code != 0 {
					level = "[ALERT]"
				}
				say(level, "Current worker (%d) exited with code %d (%s)", e.pid, e.code, e.why)
				if !stopping {
					// HAProxy's exit-on-failure: the others go too.
					forward(syscall.SIGTERM)
					stopping = true
					exitCode = e.code
				}
			} else {
				say("[WARNING]", "Former worker (%d) exited with code %d (%s)", e.pid, e.code, e.why)
			}
			if stopping && len(workers) == 0 {
				say("[WARNING]", "All workers exited. Exiting... (%d)", exitCode)
				return exitCode
			}
		}
	}
}

// masterPidFile is the `pidfile` of the global section, set by run.
var masterPidFile string

func exitOf(pid int, err error) workerExit {
	var ee *exec.ExitError
	if err == nil {
		return workerExit{pid, 0, "Exit"}
	}
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig := ws.Signal()
			return workerExit{pid, 128 + int(sig), signalName(sig)}
		}
		code := ee.ExitCode()
		if code > 128 && code < 128+32 {
			// A worker that left as a signal would have (143 after
			// SIGTERM) is reported as HAProxy reports it.
			return workerExit{pid, code, signalName(syscall.Signal(code - 128))}
		}
		return workerExit{pid, code, "Exit"}
	}
	return workerExit{pid, 1, err.Error()}
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "Terminated"
	case syscall.SIGKILL:
		return "Killed"
	}
	return s.String()
}

func pidArgs(pids []int) []string {
	out := make([]string, len(pids))
	for i, p := range pids {
		out[i] = strconv.Itoa(p)
	}
	return out
}

// stripReloadFlags removes -sf/-st and their pids and -x with its socket:
// each new worker gets its own.
func stripReloadFlags(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--":
			return append(out, args[i:]...)
		case "-sf", "-st":
			for i+1 < len(args) {
				if _, err := strconv.Atoi(args[i+1]); err != nil {
					break
				}
				i++
			}
		case "-x":
			i++
		default:
			out = append(out, a)
		}
	}
	return out
}
