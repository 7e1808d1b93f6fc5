package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// syncBuffer collects a process's output for polling.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startForeground runs the installed-name binary in the foreground (-db).
func startForeground(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(goproxyBinary(t), args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	})
	return cmd, out
}

func serving(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestSignalsPauseResumeDump: SIGTTOU releases the ports (new connections
// are refused), SIGTTIN takes them back, SIGHUP dumps the servers' states
// in HAProxy's words.
func TestSignalsPauseResumeDump(t *testing.T) {
	dir := t.TempDir()
	be := backend(t, "127.0.18.7", "sig-ok")
	addr := freeAddr(t, "127.0.18.7")
	cfg := filepath.Join(dir, "s.cfg")
	writeFile(t, cfg, httpCfg("", addr, be))
	cmd, out := startForeground(t, "-db", "-f", cfg)
	if !waitFor(5*time.Second, func() bool { return serving(addr) }) {
		t.Fatalf("not serving:\n%s", out)
	}
	cmd.Process.Signal(syscall.SIGTTOU)
	if !waitFor(5*time.Second, func() bool { return !serving(addr) }) {
		t.Fatal("SIGTTOU did not release the port")
	}
	// Another process may take the port meanwhile (what SIGTTOU is for).
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Errorf("port not free while paused: %v", err)
	} else {
		l.Close()
	}
	cmd.Process.Signal(syscall.SIGTTIN)
	if !waitFor(5*time.Second, func() bool { return serving(addr) }) {
		t.Fatalf("SIGTTIN did not resume:\n%s", out)
	}
	for _, want := range []string{"Paused frontend f.", "Resumed frontend f."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks HAProxy's %q:\n%s", want, out)
		}
	}
	if body, err := get(addr); err != nil || body != "sig-ok" {
		t.Errorf("after resume: %q, %v", body, err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	want := []string{"SIGHUP received, dumping servers states.",
		"SIGHUP: Server b/s is UP. Conn: 0 act, 0 pend, ",
		"SIGHUP: Proxy b has 1 active servers and 0 backup servers available.",
		"SIGHUP: Proxy f has no servers."}
	if !waitFor(5*time.Second, func() bool {
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				return false
			}
		}
		return true
	}) {
		t.Errorf("SIGHUP dump lacks %q:\n%s", want, out)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if !waitFor(5*time.Second, func() bool { return !alive(cmd.Process.Pid) }) {
		t.Error("no exit on SIGTERM")
	}
}

// TestPrivilegesChrootUlimit: after binding, the process runs as `user`
// and `group`, inside `chroot`, with `ulimit-n` open files.
func TestPrivilegesChrootUlimit(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	jail := filepath.Join(dir, "jail")
	os.Mkdir(jail, 0o755)
	be := backend(t, "127.0.18.7", "priv-ok")
	addr := freeAddr(t, "127.0.18.7")
	cfg := filepath.Join(dir, "p.cfg")
	pidFile := filepath.Join(dir, "p.pid")
	writeFile(t, cfg, httpCfg("    uid 65534\n    gid 65534\n    chroot "+jail+"\n    ulimit-n 12345\n", addr, be))
	if err := runCmd(goproxyBinary(t), "-D", "-f", cfg, "-p", pidFile); err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, pidFile)
	killPid(t, pid)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "Gid:\t65534\t65534\t65534\t65534"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err != nil || root != jail {
		t.Errorf("root = %q, %v; want %s", root, err, jail)
	}
	limits, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	sc := bufio.NewScanner(bytes.NewReader(limits))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); strings.HasPrefix(sc.Text(), "Max open files") && f[3] != "12345" {
			t.Errorf("open files limit: %s", sc.Text())
		}
	}
	if body, err := get(addr); err != nil || body != "priv-ok" {
		t.Errorf("not serving: %q, %v", body, err)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	waitFor(5*time.Second, func() bool { return !alive(pid) })
}

// TestUlimitTooHigh: an impossible ulimit-n stops the start with HAProxy's
// message (haproxy 2.6: "[ALERT] ... Cannot raise FD limit to N, limit is
// M." and exit 1).
func TestUlimitTooHigh(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "u.cfg")
	writeFile(t, cfg, httpCfg("    ulimit-n 2000000000\n", freeAddr(t, "127.0.18.7"), "127.0.18.7:9"))
	cmd := exec.Command(goproxyBinary(t), "-db", "-f", cfg)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started with an impossible ulimit-n:\n%s", out)
	}
	if !strings.Contains(string(out), "[ALERT]") || !strings.Contains(string(out), ".main()] Cannot raise FD limit to 2000000000, limit is ") {
		t.Errorf("message:\n%s", out)
	}
}

// TestSystemdNotify: -Ws reports READY=1 with the master's pid once the
// worker serves, RELOADING=1 then READY=1 around a SIGUSR2 reload, and
// STOPPING=1 on SIGTERM, over $NOTIFY_SOCKET.
func TestSystemdNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	msgs := make(chan string, 16)
	go func() {
		b := make([]byte, 512)
		for {
			n, err := nl.Read(b)
			if err != nil {
				return
			}
			msgs <- string(b[:n])
		}
	}()
	be := backend(t, "127.0.18.8", "ws-ok")
	addr := freeAddr(t, "127.0.18.8")
	cfg := filepath.Join(dir, "w.cfg")
	writeFile(t, cfg, httpCfg("    daemon\n", addr, be))
	t.Setenv("NOTIFY_SOCKET", sock)
	cmd, out := startForeground(t, "-Ws", "-f", cfg, "-p", filepath.Join(dir, "w.pid"))
	expect := func(prefix string) string {
		t.Helper()
		select {
		case m := <-msgs:
			if !strings.HasPrefix(m, prefix) {
				t.Fatalf("notify %q, want %q", m, prefix)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q notification:\n%s", prefix, out)
		}
		return ""
	}
	m := expect("READY=1")
	if !strings.Contains(m, fmt.Sprintf("MAINPID=%d", cmd.Process.Pid)) {
		t.Errorf("READY without the master's pid (-Ws stays in the foreground despite `daemon`): %q", m)
	}
	if body, err := get(addr); err != nil || body != "ws-ok" {
		t.Fatalf("not serving: %q, %v", body, err)
	}
	cmd.Process.Signal(syscall.SIGUSR2)
	expect("RELOADING=1")
	expect("READY=1")
	if body, err := get(addr); err != nil || body != "ws-ok" {
		t.Fatalf("not serving after reload: %q, %v", body, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	expect("STOPPING=1")
	if !waitFor(10*time.Second, func() bool { return !alive(cmd.Process.Pid) }) {
		t.Errorf("master did not exit:\n%s", out)
	}
}

// TestSoftStopKeepAliveAndHardStopAfter: on SIGUSR1 an idle keep-alive
// connection is closed at once, a request waiting for its server still
// gets its answer (with `connection: close`) if it comes in time, and
// `hard-stop-after` ends the process when a request takes longer.
func TestSoftStopKeepAliveAndHardStopAfter(t *testing.T) {
	dir := t.TempDir()
	started := make(chan string, 4)
	release := make(chan struct{})
	l, err := net.Listen("tcp4", "127.0.18.10:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			started <- r.URL.Path
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "done")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { close(release); srv.Close() })
	addr := freeAddr(t, "127.0.18.10")
	cfg := filepath.Join(dir, "k.cfg")
	writeFile(t, cfg, httpCfg("    hard-stop-after 1500ms\n", addr, l.Addr().String()))
	cmd, out := startForeground(t, "-db", "-f", cfg)
	if !waitFor(5*time.Second, func() bool { return serving(addr) }) {
		t.Fatalf("not serving:\n%s", out)
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	// An idle keep-alive connection (one request answered).
	idle, idleR := dial()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(idleR, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v", err)
	} else {
		io.ReadAll(resp.Body)
	}
	// A request the server holds until released.
	busy, busyR := dial()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("slow request did not reach the server")
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idleR.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("idle keep-alive connection not closed at soft stop (%d, %v)", n, err)
	}
	release <- struct{}{}
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(busyR, nil)
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("in-flight request at soft stop: %v %+v", err, resp)
	}
	io.ReadAll(resp.Body)

	// Second round: a request that outlives hard-stop-after.
	cmd2, out2 := startForeground(t, "-db", "-f", cfg)
	if !waitFor(5*time.Second, func() bool { return serving(addr) }) {
		t.Fatalf("not serving:\n%s", out2)
	}
	stuck, stuckR := dial()
	io.WriteString(stuck, "GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("stuck request did not reach the server")
	}
	t0 := time.Now()
	cmd2.Process.Signal(syscall.SIGUSR1)
	if !waitFor(6*time.Second, func() bool { return !alive(cmd2.Process.Pid) }) {
		t.Fatalf("process still running 6s after SIGUSR1 with hard-stop-after 1500ms:\n%s", out2)
	}
	if d := time.Since(t0); d < 1400*time.Millisecond {
		t.Errorf("process left after %v, before hard-stop-after", d)
	}
	// HAProxy 2.6's words.
	for _, want := range []string{"soft-stop running for too long, performing a hard-stop.",
		"Proxy f hard-stopped (1 remaining conns will be closed)."} {
		if !strings.Contains(out2.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out2)
		}
	}
	stuck.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := stuckR.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("stuck connection still open after hard stop")
	}
}

// TestStopMatchesHAProxy: exit codes and the master's words on SIGTERM
// and SIGUSR1, in the foreground (-db) and in master-worker mode (-W),
// are HAProxy 2.6's.
func TestStopMatchesHAProxy(t *testing.T) {
	hap := testenv.LookPath(t, "haproxy")
	bin := goproxyBinary(t)
	dir := t.TempDir()
	be := backend(t, "127.0.18.14", "stop-ok")
	type outcome struct {
		code  int
		lines []string
	}
	run := func(prog, mode string, sig syscall.Signal) outcome {
		addr := freeAddr(t, "127.0.18.14")
		cfg := filepath.Join(dir, "s.cfg")
		writeFile(t, cfg, httpCfg("", addr, be))
		cmd := exec.Command(prog, mode, "-f", cfg)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		ready := func() bool {
			return serving(addr) && (mode != "-W" || strings.Contains(out.String(), "Loading success."))
		}
		if !waitFor(5*time.Second, ready) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s %s did not start:\n%s", prog, mode, out)
		}
		// HAProxy's master ignores signals for a moment after it starts
		// (it re-executes itself): wait until it catches this one.
		if mode == "-W" && !waitFor(5*time.Second, func() bool { return catches(cmd.Process.Pid, sig) }) {
			t.Logf("%s never showed %v as caught", prog, sig)
		}
		cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s %s did not stop on %v:\n%s", prog, mode, sig, out)
		}
		var lines []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "worker") || strings.Contains(l, "Master") {
				if strings.Contains(l, "New worker") || strings.Contains(l, "Loading success") {
					continue
				}
				lines = append(lines, normalizePids(l))
			}
		}
		code := cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal()) // as a shell reports it
			lines = append(lines, "killed by "+ws.Signal().String())
		}
		return outcome{code, lines}
	}
	for _, tc := range []struct {
		mode string
		sig  syscall.Signal
	}{
		{"-db", syscall.SIGTERM},
		{"-db", syscall.SIGUSR1},
		{"-W", syscall.SIGTERM},
		{"-W", syscall.SIGUSR1},
	} {
		want := run(hap, tc.mode, tc.sig)
		got := run(bin, tc.mode, tc.sig)
		if got.code != want.code || strings.Join(got.lines, "\n") != strings.Join(want.lines, "\n") {
			t.Errorf("%s %v: goproxy exit %d\n%s\nhaproxy exit %d\n%s", tc.mode, tc.sig,
				got.code, strings.Join(got.lines, "\n"), want.code, strings.Join(want.lines, "\n"))
		}
	}
}

// normalizePids replaces every parenthesised number with (PID).
func normalizePids(l string) string {
	var b strings.Builder
	for {
		i := strings.Index(l, "(")
		j := strings.Index(l, ")")
		if i < 0 || j < i {
			b.WriteString(l)
			return b.String()
		}
		inner := l[i+1 : j]
		if _, err := strconv.Atoi(strings.TrimSpace(inner)); err == nil && len(inner) > 2 {
			inner = "PID"
		}
		b.WriteString(l[:i+1] + inner + ")")
		l = l[j+1:]
	}
}

// catches reports whether process pid has a handler for sig and does not
// block it (from /proc/PID/status).
func catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	bit := uint64(1) << (uint(sig) - 1)
	var cgt, blk uint64
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigCgt:\t"); ok {
			cgt, _ = strconv.ParseUint(v, 16, 64)
		}
		if v, ok := strings.CutPrefix(l, "SigBlk:\t"); ok {
			blk, _ = strconv.ParseUint(v, 16, 64)
		}
	}
	return cgt&bit != 0 && blk&bit == 0
}
