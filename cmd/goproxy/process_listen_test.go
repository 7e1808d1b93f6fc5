package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hapair/internal/fdpass"
	"hapair/internal/testenv"
	"hapair/parser/haproxy"
)

// TestListenKeyMatchesSockName: the key a bind address gets is the name
// the socket bound to it travels under, so a successor recognises it.
func TestListenKeyMatchesSockName(t *testing.T) {
	for _, tc := range []struct {
		addr haproxy.Addr
		want string
	}{
		{haproxy.Addr{Host: "", Port: 80}, "tcp:0.0.0.0:80"},
		{haproxy.Addr{Host: "*", Port: 80}, "tcp:0.0.0.0:80"},
		{haproxy.Addr{Host: "127.0.0.1", Port: 8080}, "tcp:127.0.0.1:8080"},
		{haproxy.Addr{Net: "tcp6", Host: "", Port: 443}, "tcp:[::]:443"},
		{haproxy.Addr{Host: "::1", Port: 443}, "tcp:[::1]:443"},
		{haproxy.Addr{Net: "unix", Host: "/run/x.sock"}, "unix:/run/x.sock"},
	} {
		if got := listenKey(tc.addr); got != tc.want {
			t.Errorf("listenKey(%+v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	// A real socket: the two names agree.
	a := haproxy.Addr{Host: "127.0.18.12", Port: 0}
	l, err := listenFresh(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a.Port = l.Addr().(*net.TCPAddr).Port
	f, _ := l.(*net.TCPListener).File()
	defer f.Close()
	if name, err := fdpass.SockName(f); err != nil || name != listenKey(a) {
		t.Errorf("SockName %q (%v), listenKey %q", name, err, listenKey(a))
	}
}

// TestListenBindOptions: `interface` binds the socket to the device,
// SO_REUSEPORT is set, unix sockets get the bind's `mode`.
func TestListenBindOptions(t *testing.T) {
	testenv.RequireRoot(t) // SO_BINDTODEVICE needs CAP_NET_RAW
	l, err := listenFresh(haproxy.Addr{Host: "127.0.18.12"}, &haproxy.Bind{Interface: "lo", Backlog: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rc, _ := l.(syscall.Conn).SyscallConn()
	rc.Control(func(fd uintptr) {
		if dev, err := unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err != nil || dev != "lo" {
			t.Errorf("SO_BINDTODEVICE = %q, %v", dev, err)
		}
		if v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT); err != nil || v != 1 {
			t.Errorf("SO_REUSEPORT = %d, %v", v, err)
		}
	})
	path := filepath.Join(t.TempDir(), "s.sock")
	ul, err := listenFresh(haproxy.Addr{Net: "unix", Host: path}, &haproxy.Bind{Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("unix socket mode %v, %v", fi.Mode(), err)
	}
}

// TestPausableListener: a paused listener releases its port and its
// Accept waits; resume binds again and Accept returns connections; Close
// ends a waiting Accept.
func TestPausableListener(t *testing.T) {
	ls := &listenerSet{}
	l, err := ls.listen(haproxy.Addr{Host: "127.0.18.12"}, &haproxy.Bind{})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	accepted := make(chan error, 4)
	go func() {
		for {
			c, err := l.Accept()
			accepted <- err
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	warn := func(f string, a ...any) { t.Errorf(f, a...) }
	ls.setPaused(true, warn)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("paused listener still accepts")
	}
	ls.setPaused(false, warn)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("resumed listener: %v", err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("Accept after resume: %v", err)
	}
	ls.setPaused(true, warn)
	l.Close()
	if err := <-accepted; err == nil {
		t.Fatal("Accept did not end on Close")
	}
}

// TestGetsocksOnStatsSocket: a running goproxy hands its listeners over a
// `stats socket ... expose-fd listeners` line as HAProxy 2.6 does, at the
// default level too (HAProxy grants `_getsocks` with expose-fd, whatever
// the level).
func TestGetsocksOnStatsSocket(t *testing.T) {
	for _, level := range []string{"", " level admin"} {
		dir := t.TempDir()
		sock := filepath.Join(dir, "s.sock")
		addr := freeAddr(t, "127.0.18.12")
		cfg := filepath.Join(dir, "g.cfg")
		writeFile(t, cfg, httpCfg("    stats socket "+sock+level+" expose-fd listeners\n", addr, "127.0.18.12:9"))
		_, out := startForeground(t, "-db", "-f", cfg)
		if !waitFor(5*time.Second, func() bool { return serving(addr) }) {
			t.Fatalf("not serving:\n%s", out)
		}
		var files []*os.File
		var err error
		waitFor(5*time.Second, func() bool { files, err = fdpass.FetchGetsocks(sock, 2*time.Second); return err == nil })
		if err != nil {
			t.Errorf("stats socket%s: _getsocks: %v", level, err)
			continue
		}
		found := false
		for _, f := range files {
			if name, _ := fdpass.SockName(f); name == "tcp:"+addr {
				found = true
			}
			f.Close()
		}
		if !found {
			t.Errorf("stats socket%s: the listener %s was not among the %d sockets", level, addr, len(files))
		}
	}
}

// TestTransferSocketRefusesStrangers: the abstract socket that offers the
// listeners to a successor answers root and this process's user only.
func TestTransferSocketRefusesStrangers(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	// The probe runs as nobody from here.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	addr := freeAddr(t, "127.0.18.12")
	cfg := filepath.Join(dir, "t.cfg")
	writeFile(t, cfg, httpCfg("", addr, "127.0.18.12:9"))
	cmd, out := startForeground(t, "-db", "-f", cfg)
	if !waitFor(5*time.Second, func() bool { return serving(addr) }) {
		t.Fatalf("not serving:\n%s", out)
	}
	xfer := fdpass.AbstractAddr("goproxy", cmd.Process.Pid)
	// Root gets the listener.
	var files []*os.File
	var err error
	waitFor(5*time.Second, func() bool { files, err = fdpass.FetchGetsocks(xfer, 2*time.Second); return err == nil })
	if err != nil || len(files) != 1 {
		t.Fatalf("root: %d files, %v", len(files), err)
	}
	files[0].Close()
	// nobody does not: the test binary asks again as uid 65534.
	self, _ := os.Executable()
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	probeBin := filepath.Join(dir, "probe.test")
	if err := os.WriteFile(probeBin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	probe := exec.Command(probeBin, "-test.run=^TestTransferProbe$")
	probe.Dir = dir
	probe.Env = append(os.Environ(), "GOPROXY_TEST_PROBE="+xfer)
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	res, err := probe.CombinedOutput()
	if err != nil || !strings.Contains(string(res), "PROBE refused") {
		t.Errorf("an unprivileged user got the listeners (or the probe failed): %v\n%s", err, res)
	}
}

// TestTransferProbe is run by TestTransferSocketRefusesStrangers as
// another user.
func TestTransferProbe(t *testing.T) {
	addr := os.Getenv("GOPROXY_TEST_PROBE")
	if addr == "" {
		return // only meaningful as TestTransferSocketRefusesStrangers's probe
	}
	if files, err := fdpass.FetchGetsocks(addr, 2*time.Second); err != nil {
		fmt.Println("PROBE refused:", err)
	} else {
		fmt.Println("PROBE got", len(files))
	}
}
