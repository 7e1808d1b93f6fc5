package daemon

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary plays the daemon: when re-executed by Detach it runs
// childMain instead of the tests.
const envMode = "DAEMON_TEST_MODE"

func TestMain(m *testing.M) {
	if IsChild() {
		childMain()
		return
	}
	os.Exit(m.Run())
}

func childMain() {
	switch os.Getenv(envMode) {
	case "fail":
		Fail("[ALERT] cannot bind socket 127.0.0.1:1 (Permission denied)")
		os.Exit(1)
	case "exit":
		os.Exit(3)
	case "noleak":
		// What this child starts must not see the readiness pipe.
		if v := os.Getenv(envChild); v != "" {
			Fail("readiness variable still in the environment: " + v)
			os.Exit(1)
		}
		if flags, err := unix.FcntlInt(3, unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			Fail(fmt.Sprintf("readiness pipe (fd 3) would be inherited: flags %d, %v", flags, err))
			os.Exit(1)
		}
		Ready()
		os.Exit(0)
	case "serve":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			Fail(err.Error())
			os.Exit(1)
		}
		if err := os.WriteFile(os.Getenv("DAEMON_TEST_ADDR"), []byte(ln.Addr().String()), 0o644); err != nil {
			Fail(err.Error())
			os.Exit(1)
		}
		Ready()
		deadline := time.Now().Add(30 * time.Second) // bounded even if the test forgets us
		ln.(*net.TCPListener).SetDeadline(deadline)
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(0)
			}
			c.Write([]byte("hello\n"))
			c.Close()
		}
	}
	os.Exit(2)
}

func TestDetachReady(t *testing.T) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	t.Setenv(envMode, "serve")
	t.Setenv("DAEMON_TEST_ADDR", addrFile)
	pid, err := Detach(10 * time.Second)
	if err != nil {
		t.Fatalf("Detach: %v", err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })

	// The child runs in its own session, detached from ours.
	sid, err := unix.Getsid(pid)
	if err != nil {
		t.Fatalf("getsid(%d): %v", pid, err)
	}
	if sid != pid {
		t.Errorf("child session id = %d, want %d (a session leader)", sid, pid)
	}
	mySid, _ := unix.Getsid(0)
	if sid == mySid {
		t.Errorf("child shares our session %d", sid)
	}
	// Ready came after the listener was bound: it serves at once.
	addr, err := os.ReadFile(addrFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", string(addr), 5*time.Second)
	if err != nil {
		t.Fatalf("dial detached child: %v", err)
	}
	buf := make([]byte, 6)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "hello\n" {
		t.Errorf("read %q, %v", buf, err)
	}
	c.Close()
	// The process name is the file it was executed from, not "exe".
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Base(os.Args[0])
	if len(want) > 15 {
		want = want[:15]
	}
	if got := strings.TrimSpace(string(comm)); got != want {
		t.Errorf("child comm = %q, want %q", got, want)
	}
}

func TestDetachFailCarriesMessage(t *testing.T) {
	t.Setenv(envMode, "fail")
	_, err := Detach(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "cannot bind socket") {
		t.Fatalf("Detach error = %v, want the child's message", err)
	}
}

func TestDetachChildExits(t *testing.T) {
	t.Setenv(envMode, "exit")
	_, err := Detach(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Detach error = %v, want exit status 3", err)
	}
}

func TestWritePidFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pid")
	if err := WritePidFile(p, 12, 345); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "12\n345\n" {
		t.Errorf("pid file = %q", b)
	}
	lines := strings.Fields(string(b))
	if n, _ := strconv.Atoi(lines[0]); n != 12 {
		t.Errorf("first pid %d", n)
	}
	if err := WritePidFile(filepath.Join(t.TempDir(), "missing", "x.pid"), 1); err == nil {
		t.Error("want an error for a missing directory")
	}
}

func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	if err := Notify("READY=1\nMAINPID=42"); err != nil {
		t.Fatal(err)
	}
	l.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 128)
	n, err := l.Read(b)
	if err != nil || string(b[:n]) != "READY=1\nMAINPID=42" {
		t.Fatalf("got %q, %v", b[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Notify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}

// TestStartWorker: Start without Setsid keeps the child in our session
// (a master's worker), passes the given arguments and environment, and
// WaitReady returns once the child is ready.
func TestStartWorker(t *testing.T) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	c, err := Start(Spec{
		Args: []string{"-test.run=^$", "extra-arg"},
		Env:  []string{envMode + "=serve", "DAEMON_TEST_ADDR=" + addrFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Cmd.Process.Kill(); c.Cmd.Wait() })
	if err := c.WaitReady(10 * time.Second); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	sid, _ := unix.Getsid(c.Pid())
	if mySid, _ := unix.Getsid(0); sid != mySid {
		t.Errorf("worker session %d, want ours %d", sid, mySid)
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(c.Pid()) + "/cmdline")
	if !strings.Contains(string(cmdline), "extra-arg") {
		t.Errorf("cmdline %q lacks the given arguments", cmdline)
	}
	addr, err := os.ReadFile(addrFile)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", string(addr))
	if err != nil {
		t.Fatalf("worker does not serve: %v", err)
	}
	conn.Close()
}

// TestStartFails: a child that fails hands its message to WaitReady.
func TestStartFails(t *testing.T) {
	c, err := Start(Spec{Env: []string{envMode + "=fail"}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitReady(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "cannot bind socket") {
		t.Fatalf("WaitReady = %v, want the child's message", err)
	}
}

// TestChildKeepsReadinessToItself: the child takes the readiness variable
// out of its environment and marks the pipe close-on-exec before main
// runs, so a program it starts (a check script starting another daemon)
// does not take them for its own.
func TestChildKeepsReadinessToItself(t *testing.T) {
	c, err := Start(Spec{Env: []string{envMode + "=noleak"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.Cmd.Wait()
}
