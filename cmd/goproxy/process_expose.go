package main

import (
	"context"
	"errors"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"hapair/internal/fdpass"

	"hapair/parser/haproxy"
)

// getsocksHandled is set by the stats socket part when it answers
// `_getsocks` itself (by calling serveGetsocks on the connection). Until
// then, serveExposedSockets serves each `stats socket ... expose-fd
// listeners` unix path with a small listener that answers only
// `_getsocks`, so `-x` works.
var getsocksHandled bool

// serveGetsocks answers HAProxy's `_getsocks` command on a stats socket
// connection: the listening sockets travel over c (SCM_RIGHTS) for a new
// process started with -x. The stats socket part calls it when it reads
// that command on a socket with `expose-fd listeners`.
var serveGetsocks func(c *net.UnixConn) error

// serveExposedSockets serves `_getsocks` on the expose-fd stats sockets
// when no stats part does.
func serveExposedSockets(ctx context.Context, cfg *haproxy.Config, ls *listenerSet, env *partEnv) {
	if getsocksHandled {
		return
	}
	for _, ss := range cfg.Global.StatsSockets {
		if !ss.ExposeFD || ss.Addr.Net != "unix" {
			continue
		}
		path := ss.Addr.Host
		if servedBySelf(path) {
			// This process's stats part serves it.
			continue
		}
		// An old process's socket is replaced, as HAProxy's new process
		// does; the old one keeps its (now unnamed) socket until it exits.
		os.Remove(path)
		ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			env.Warn("Starting frontend GLOBAL: cannot bind UNIX socket [%s]: %v", path, err)
			continue
		}
		ul.SetUnlinkOnClose(false)
		if ss.Mode != 0 {
			os.Chmod(path, os.FileMode(ss.Mode))
		}
		go func() {
			<-ctx.Done()
			ul.Close()
		}()
		go func() {
			for {
				c, err := ul.AcceptUnix()
				if err != nil {
					if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				go func() {
					defer c.Close()
					if !fdpass.ReadGetsocksCommand(c, 5*time.Second) {
						c.Write([]byte("Unknown command.\n"))
						return
					}
					ls.sendTo(c)
				}()
			}
		}()
	}
}

// servedBySelf reports whether the unix socket at path is served by this
// very process (SO_PEERCRED names the listener's process).
func servedBySelf(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	rc, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return false
	}
	self := false
	rc.Control(func(fd uintptr) {
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		self = err == nil && int(cred.Pid) == os.Getpid()
	})
	return self
}
