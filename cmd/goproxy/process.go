package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hapair/internal/daemon"
	"hapair/parser/haproxy"
)

// envWorker marks a worker started by a master (-W); its value is the
// master's pid.
const envWorker = "HAPAIR_GOPROXY_WORKER"

// readyTimeout bounds how long a parent waits for its child to bind.
const readyTimeout = 60 * time.Second

// isWorker reports whether this process is a master's worker.
func isWorker() bool { return workerOf != 0 }

// workerOf is the master's pid in a worker. The variable leaves the
// environment before main runs, so programs the worker starts (external
// checks) do not inherit it.
var workerOf = func() int {
	pid, _ := strconv.Atoi(os.Getenv(envWorker))
	os.Unsetenv(envWorker)
	return pid
}()

// processMode is how this invocation runs, from the flags and the global
// section (the command line wins: -db keeps the process in the foreground
// whatever `daemon` says, as with HAProxy).
type processMode struct {
	daemon       bool // detach (-D, `daemon`)
	masterWorker bool // -W, -Ws, `master-worker`
	systemd      bool // -Ws
}

func modeFor(f *flags, cfg *haproxy.Config) processMode {
	m := processMode{
		daemon:       f.daemon || cfg.Global.Daemon,
		masterWorker: f.masterWork || cfg.Global.MasterWorker,
		systemd:      f.systemd,
	}
	if f.foreground || m.systemd {
		// -db, -d and systemd's -Ws stay in the foreground.
		m.daemon = false
	}
	return m
}

// startProcess runs the loaded configuration as the flags ask: as the
// parent of a daemon (waits for the child to bind, then exits), as a
// master, or as the serving process itself (foreground, detached child or
// worker).
func startProcess(f *flags, cfg *haproxy.Config, stderr io.Writer) int {
	pid := os.Getpid()
	m := modeFor(f, cfg)
	if isWorker() {
		m = processMode{}
	}
	if m.daemon && !daemon.IsChild() {
		if _, err := daemon.Detach(readyTimeout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	if m.masterWorker {
		return runMaster(f, m, stderr)
	}
	opts := serveOptions{
		Foreground: !m.daemon,
		PidFile:    f.pidFile,
		Quiet:      f.quiet || cfg.Global.Quiet && !f.verbose,
		SoftStop:   f.softStop,
		HardStop:   f.hardStop,
		XferSocket: f.xferSocket,
		Ready:      daemon.Ready,
		Program:    os.Args[0],
	}
	if opts.PidFile == "" {
		opts.PidFile = cfg.Global.PidFile
	}
	if isWorker() {
		// The master writes its own pid; the worker reports to it.
		opts.PidFile = ""
		go watchMaster()
	}
	if err := serve(context.Background(), cfg, opts); err != nil {
		var se *signalExit
		if errors.As(err, &se) {
			return se.Code()
		}
		msg := fmt.Sprintf("[ALERT]    (%d) : %v", pid, err)
		daemon.Fail(msg)
		fmt.Fprintln(stderr, msg)
		return 1
	}
	return 0
}

// signalOld ends the processes named by -sf (soft stop: SIGUSR1, they
// finish their connections) and -st (hard stop: SIGTERM), once this
// process serves. Unknown pids are skipped, as HAProxy does.
func signalOld(soft, hard []int) {
	for _, p := range soft {
		if p > 0 && p != os.Getpid() {
			syscall.Kill(p, syscall.SIGUSR1)
		}
	}
	for _, p := range hard {
		if p > 0 && p != os.Getpid() {
			syscall.Kill(p, syscall.SIGTERM)
		}
	}
}

// raiseFDLimit sets RLIMIT_NOFILE to `ulimit-n`, else to what maxconn
// needs (two sockets per connection and a margin, like HAProxy's
// maxsock), and fails with HAProxy's message when the system refuses.
func raiseFDLimit(g *haproxy.Global, prog string) error {
	want := g.UlimitN
	if want == 0 && g.Maxconn > 0 {
		want = 2*g.Maxconn + 28
	}
	if want == 0 {
		return nil
	}
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		return nil
	}
	if cur.Cur >= uint64(want) && g.UlimitN == 0 {
		return nil
	}
	lim := unix.Rlimit{Cur: uint64(want), Max: max(cur.Max, uint64(want))}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		lim.Max = cur.Max
		if uint64(want) > cur.Max || unix.Setrlimit(unix.RLIMIT_NOFILE, &lim) != nil {
			return fmt.Errorf("[%s.main()] Cannot raise FD limit to %d, limit is %d.", prog, want, cur.Cur)
		}
	}
	return nil
}

// credentials resolves `user`/`group`/`uid`/`gid` to numeric ids (-1: not
// set), with HAProxy's messages for unknown names.
func credentials(g *haproxy.Global) (uid, gid int, err error) {
	uid, gid = g.UID, g.GID
	if g.User != "" {
		u, err := user.Lookup(g.User)
		if err != nil {
			return 0, 0, fmt.Errorf("[%s:%d] : cannot find user id for '%s' (%d:%s)", g.Pos.File, g.Pos.Line, g.User, 0, "No such user")
		}
		uid, _ = strconv.Atoi(u.Uid)
	}
	if g.Group != "" {
		gr, err := user.LookupGroup(g.Group)
		if err != nil && g.Group == "nobody" {
			// Debian names it nogroup; HAProxy 1.4 configs say nobody.
			gr, err = user.LookupGroup("nogroup")
		}
		if err != nil {
			return 0, 0, fmt.Errorf("[%s:%d] : cannot find group id for '%s' (%d:%s)", g.Pos.File, g.Pos.Line, g.Group, 0, "No such group")
		}
		gid, _ = strconv.Atoi(gr.Gid)
	}
	return uid, gid, nil
}

// dropPrivileges chroots and then changes group and user, after every
// socket is open, as HAProxy does. Go applies setuid/setgid to all
// threads.
func dropPrivileges(g *haproxy.Global, uid, gid int) error {
	if g.Chroot != "" {
		if err := unix.Chroot(g.Chroot); err != nil {
			return fmt.Errorf("[haproxy.main()] Cannot chroot(%s).", g.Chroot)
		}
		if err := os.Chdir("/"); err != nil {
			return fmt.Errorf("[haproxy.main()] Cannot chdir(/) after chroot: %w", err)
		}
	}
	if gid >= 0 && gid != os.Getgid() {
		if err := syscall.Setgroups([]int{gid}); err != nil && !errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("[haproxy.main()] Failed to drop supplementary groups: %w", err)
		}
		if err := syscall.Setgid(gid); err != nil {
			return fmt.Errorf("[haproxy.main()] Cannot set gid %d.", gid)
		}
	}
	if uid >= 0 && uid != os.Getuid() {
		if err := syscall.Setuid(uid); err != nil {
			return fmt.Errorf("[haproxy.main()] Cannot set uid %d.", uid)
		}
	}
	return nil
}

// watchMaster stops a worker whose master died (the worker is then
// re-parented): without its master nobody could reload or stop it by the
// pid file, and HAProxy's workers leave too.
func watchMaster() {
	master := workerOf
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != master {
			syscall.Kill(os.Getpid(), syscall.SIGTERM)
			return
		}
	}
}
