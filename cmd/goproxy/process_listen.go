package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hapair/internal/fdpass"
	"hapair/parser/haproxy"
)

// listenerSet opens the process's listening sockets and keeps them
// transferable: a successor started with -sf/-st (or -x) takes the very
// same sockets, so no connection queued in the kernel is lost on reload.
// Fresh sockets get SO_REUSEPORT as HAProxy's do, so that both processes
// can listen on the port during the switch even without a transfer.
// Every listener is wrapped so SIGTTOU/SIGTTIN can pause and resume it.
type listenerSet struct {
	mu        sync.Mutex
	inherited map[string]*os.File // by listenKey, until used
	open      []*pausable
	paused    bool
}

// listenKey names a bind address the way fdpass.SockName names the socket
// bound to it ("tcp:0.0.0.0:80", "tcp:[::1]:443", "unix:/path"), so a new
// process recognises the listeners it inherits, from goproxy or HAProxy.
func listenKey(a haproxy.Addr) string {
	host := a.Host
	if a.Net == "unix" {
		return "unix:" + host
	}
	if host == "" || host == "*" {
		host = "0.0.0.0"
		if a.Net == "tcp6" {
			host = "::"
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if a.Net == "tcp4" {
			ip = ip.Unmap()
		}
		return "tcp:" + netip.AddrPortFrom(ip.WithZone(""), uint16(a.Port)).String()
	}
	return "tcp:" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// inherit takes over the listeners of the old processes: from the socket
// of `-x` (HAProxy's `_getsocks` on a stats socket), else from each old
// goproxy's own transfer socket. A failure is a warning, as with HAProxy:
// the new process then binds fresh sockets beside the old ones.
func (s *listenerSet) inherit(xsock string, oldPids []int, warn func(string, ...any)) {
	s.inherited = map[string]*os.File{}
	var files []*os.File
	if xsock != "" {
		fs, err := fdpass.FetchGetsocks(xsock, 5*time.Second)
		if err != nil {
			warn("Failed to get the sockets from the old process! (%v)", err)
		}
		files = append(files, fs...)
	}
	if len(files) == 0 {
		for _, pid := range withChildren(oldPids) {
			fs, err := fdpass.FetchGetsocks(fdpass.AbstractAddr("goproxy", pid), 3*time.Second)
			if err != nil {
				// Not a goproxy, or already gone: bind afresh.
				continue
			}
			files = append(files, fs...)
		}
	}
	for _, f := range files {
		name, err := fdpass.SockName(f)
		if err != nil {
			f.Close()
			continue
		}
		if old, dup := s.inherited[name]; dup {
			old.Close()
		}
		s.inherited[name] = f
	}
}

// withChildren adds to pids their children: an old master-worker
// goproxy holds no listener itself, its worker does.
func withChildren(pids []int) []int {
	out := append([]int{}, pids...)
	for _, pid := range pids {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, task := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// closeUnused closes inherited sockets the new configuration does not bind.
func (s *listenerSet) closeUnused() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, f := range s.inherited {
		f.Close()
		delete(s.inherited, k)
	}
}

// listen is the proxy.Options.Listen hook.
func (s *listenerSet) listen(a haproxy.Addr, b *haproxy.Bind) (net.Listener, error) {
	key := listenKey(a)
	s.mu.Lock()
	f := s.inherited[key]
	delete(s.inherited, key)
	s.mu.Unlock()
	var l net.Listener
	if f != nil && a.Port != 0 {
		var err error
		l, err = net.FileListener(f)
		f.Close()
		if err != nil {
			l = nil
		}
	} else if f != nil {
		f.Close()
	}
	if l == nil {
		var err error
		if l, err = listenFresh(a, b); err != nil {
			return nil, err
		}
	}
	if ul, ok := l.(*net.UnixListener); ok {
		// The path belongs to whichever process holds the socket last.
		ul.SetUnlinkOnClose(false)
	}
	if ta, ok := l.Addr().(*net.TCPAddr); ok && a.Port == 0 {
		// A resumed listener comes back on the port it had.
		a.Port = ta.Port
	}
	p := &pausable{key: key, inner: l, addr: a, bind: b, wake: make(chan struct{})}
	s.mu.Lock()
	s.open = append(s.open, p)
	s.mu.Unlock()
	return p, nil
}

// files returns duplicates of the open listeners' descriptors, for a
// successor. The caller closes them.
func (s *listenerSet) files() []*os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*os.File
	for _, p := range s.open {
		p.mu.Lock()
		inner, closed, paused := p.inner, p.closed, p.paused
		p.mu.Unlock()
		if closed || paused {
			continue
		}
		fl, ok := inner.(interface{ File() (*os.File, error) })
		if !ok {
			continue
		}
		f, err := fl.File()
		if err != nil {
			continue
		}
		out = append(out, f)
	}
	return out
}

// serveTransfer answers `_getsocks` on the abstract socket named after
// this pid until ctx ends: a successor started with -sf/-st takes the
// listeners from there without any stats socket in the configuration.
func (s *listenerSet) serveTransfer(ctx context.Context, ln *net.UnixListener) {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go func() {
			defer c.Close()
			if !trustedPeer(c) {
				return
			}
			if fdpass.ReadGetsocksCommand(c, 5*time.Second) {
				s.sendTo(c)
			}
		}()
	}
}

// trustedPeer reports whether the process at the other end of c may have
// the listeners: root, or a process of this process's own user (which
// could signal or trace it anyway). An abstract socket has no file
// permissions, so without this any local user could take port 80.
func trustedPeer(c *net.UnixConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	rc.Control(func(fd uintptr) {
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		ok = err == nil && (cred.Uid == 0 || int(cred.Uid) == os.Geteuid())
	})
	return ok
}

// sendTo answers `_getsocks` on c with the listeners (HAProxy's format).
func (s *listenerSet) sendTo(c *net.UnixConn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	files := s.files()
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	return fdpass.SendGetsocks(c, files)
}

// setPaused pauses (SIGTTOU) or resumes (SIGTTIN) every listener.
func (s *listenerSet) setPaused(paused bool, warn func(string, ...any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = paused
	for _, p := range s.open {
		if err := p.setPaused(paused); err != nil {
			warn("Proxy: cannot resume listener %s: %v", p.key, err)
		}
	}
}

// pausable is a listener that can stop listening and start again without
// its accept loop noticing: HAProxy's SIGTTOU releases the port (so another
// process can take it) and SIGTTIN takes it back.
type pausable struct {
	key  string
	addr haproxy.Addr
	bind *haproxy.Bind

	mu     sync.Mutex
	inner  net.Listener
	paused bool
	closed bool
	wake   chan struct{} // closed and replaced on every change
}

// Accept waits for a connection; while paused it waits for resume or close.
func (p *pausable) Accept() (net.Conn, error) {
	for {
		p.mu.Lock()
		inner, paused, closed, wake := p.inner, p.paused, p.closed, p.wake
		p.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if paused {
			<-wake
			continue
		}
		c, err := inner.Accept()
		if err == nil {
			return c, nil
		}
		p.mu.Lock()
		changed := p.inner != inner || p.paused || p.closed
		p.mu.Unlock()
		if !changed {
			return nil, err
		}
	}
}

func (p *pausable) changed() {
	close(p.wake)
	p.wake = make(chan struct{})
}

func (p *pausable) setPaused(paused bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.paused == paused {
		return nil
	}
	if paused {
		p.paused = true
		p.inner.Close()
		p.changed()
		return nil
	}
	l, err := listenFresh(p.addr, p.bind)
	if err != nil {
		return err
	}
	p.inner, p.paused = l, false
	p.changed()
	return nil
}

// Close closes the listener for good.
func (p *pausable) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	p.closed = true
	err := p.inner.Close()
	p.changed()
	if p.paused {
		return nil
	}
	return err
}

// Addr is the bound address.
func (p *pausable) Addr() net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inner.Addr()
}

// bindError is a listener that could not be opened; serve reports it in
// HAProxy's words.
type bindError struct {
	Bind *haproxy.Bind
	Addr haproxy.Addr
	Err  error
}

func (e *bindError) Error() string { return e.Err.Error() }
func (e *bindError) Unwrap() error { return e.Err }

// haproxyMessage formats the error as HAProxy 2.6 does:
// "Binding [file:line] for frontend NAME: cannot bind socket (Address
// already in use) for [ip:port]".
func (e *bindError) haproxyMessage(cfg *haproxy.Config) string {
	kind, name := "frontend", "?"
	for _, pc := range cfg.Proxies {
		for _, b := range pc.Binds {
			if b == e.Bind {
				kind, name = pc.Kind, pc.Name
				if kind == "listen" {
					kind = "proxy"
				}
			}
		}
	}
	reason := e.Err.Error()
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		reason = errno.Error()
		if reason != "" {
			reason = strings.ToUpper(reason[:1]) + reason[1:]
		}
	}
	where := strings.TrimPrefix(listenKey(e.Addr), "tcp:")
	if e.Addr.Net == "unix" {
		where = e.Addr.Host
	}
	return fmt.Sprintf("Binding [%s:%d] for %s %s: cannot bind socket (%s) for [%s]",
		e.Bind.Pos.File, e.Bind.Pos.Line, kind, name, reason, where)
}

// listenFresh binds a new socket for a bind address with SO_REUSEADDR and
// SO_REUSEPORT (HAProxy sets both unless `noreuseport`), choosing the
// address family as proxy.Listen does, and applies the bind line's
// `interface`, `transparent` and `backlog`, and for unix sockets `mode`,
// `user` and `group`.
func listenFresh(a haproxy.Addr, b *haproxy.Bind) (net.Listener, error) {
	l, err := listenSocket(a, b)
	if err != nil {
		return nil, &bindError{Bind: b, Addr: a, Err: err}
	}
	return l, nil
}

func listenSocket(a haproxy.Addr, b *haproxy.Bind) (net.Listener, error) {
	if b == nil {
		b = &haproxy.Bind{}
	}
	network := "tcp4"
	host := a.Host
	if host == "*" {
		host = ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() && !ip.Is4In6() {
		network = "tcp6"
	}
	switch a.Net {
	case "tcp4", "tcp6":
		network = a.Net
	case "unix":
		return listenUnix(a.Host, b)
	}
	if network == "tcp6" && (host == "::" || host == "") {
		v6only := b.V6Only
		if !v6only && !b.V4V6 {
			if v, err := os.ReadFile("/proc/sys/net/ipv6/bindv6only"); err == nil && strings.TrimSpace(string(v)) == "1" {
				v6only = true
			}
		}
		if !v6only {
			network = "tcp"
		}
	}
	lc := net.ListenConfig{
		KeepAlive: -1,
		Control: func(network, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				set := func(level, opt int) {
					if serr == nil {
						serr = unix.SetsockoptInt(int(fd), level, opt, 1)
					}
				}
				set(unix.SOL_SOCKET, unix.SO_REUSEADDR)
				set(unix.SOL_SOCKET, unix.SO_REUSEPORT)
				if b.Transparent {
					// Binds addresses this host does not own (a VIP
					// held by the peer), as HAProxy's `transparent`.
					if network == "tcp6" {
						set(unix.SOL_IPV6, unix.IPV6_TRANSPARENT)
					} else {
						set(unix.SOL_IP, unix.IP_TRANSPARENT)
					}
				}
				if b.Interface != "" && serr == nil {
					serr = unix.BindToDevice(int(fd), b.Interface)
				}
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	l, err := lc.Listen(context.Background(), network, net.JoinHostPort(host, strconv.Itoa(a.Port)))
	if err != nil {
		return nil, err
	}
	if b.Backlog > 0 {
		setBacklog(l, b.Backlog)
	}
	return l, nil
}

// setBacklog applies a bind's `backlog` (listen(2) again on a listening
// socket only changes its queue length).
func setBacklog(l net.Listener, n int) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { unix.Listen(int(fd), n) })
}

// listenUnix binds a unix socket, replacing a stale file left by a dead
// process, and applies the bind's mode and owner.
func listenUnix(path string, b *haproxy.Bind) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
		} else {
			os.Remove(path)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if b.Mode != 0 {
		os.Chmod(path, os.FileMode(b.Mode))
	}
	if b.User != "" || b.Group != "" {
		uid, gid := -1, -1
		if u, err := user.Lookup(b.User); err == nil {
			uid, _ = strconv.Atoi(u.Uid)
		}
		if g, err := user.LookupGroup(b.Group); err == nil {
			gid, _ = strconv.Atoi(g.Gid)
		}
		os.Lchown(path, uid, gid)
	}
	return l, nil
}
