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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hapair/internal/testenv"
)

// envReaper makes the test binary a pid namespace's init: it runs the
// command in its arguments and reaps every orphan until that command ends,
// as a real init does (a shell as pid 1 leaves killed daemons as zombies,
// which `ps -C haproxy` still counts).
const envReaper = "GOPROXY_TEST_REAPER"

func TestMain(m *testing.M) {
	if os.Getenv(envReaper) != "" {
		os.Exit(reaperMain(os.Args[1:]))
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func reaperMain(args []string) int {
	sep := 0
	for i, a := range args {
		if a == "--" {
			sep = i + 1
		}
	}
	cmd := exec.Command(args[sep], args[sep+1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 127
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err != nil && err != syscall.EINTR {
			return 126
		}
		if pid == cmd.Process.Pid {
			return ws.ExitStatus()
		}
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// goproxyBinary builds goproxy once per test run and returns the path of
// its `haproxy` symlink (the name operators and scripts use).
func goproxyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "goproxy-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "goproxy"), ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		buildErr = os.Symlink("goproxy", filepath.Join(buildDir, "haproxy"))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "haproxy")
}

// handedOut are the addresses freeAddr returned in this test process:
// the kernel may give a just-closed port again, and two frontends on one
// port would share it through SO_REUSEPORT.
var handedOut = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// freeAddr returns a loopback address with a port free at the moment,
// never the same one twice in this test process.
func freeAddr(t *testing.T, ip string) string {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp4", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		a := l.Addr().String()
		l.Close()
		handedOut.Lock()
		seen := handedOut.m[a]
		handedOut.m[a] = true
		handedOut.Unlock()
		if !seen {
			return a
		}
	}
	t.Fatal("no new free loopback port in 100 tries")
	return ""
}

// backend starts an HTTP server answering "ok <pid-less tag>".
func backend(t *testing.T, ip, tag string) string {
	t.Helper()
	l, err := net.Listen("tcp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, tag)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// httpCfg is a small HTTP proxy configuration.
func httpCfg(global, listen, server string) string {
	return "global\n" + global + `
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend f
    bind ` + listen + `
    default_backend b
backend b
    server s ` + server + "\n"
}

// alive reports whether pid runs (zombies do not count).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// waitFor polls cond every 10ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killPid stops a process the test started, by pid, at cleanup.
func killPid(t *testing.T, pid int) {
	t.Cleanup(func() {
		if pid > 0 && alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return pid
}

func get(addr string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestDaemonMode: -D (and `daemon`) returns only once the detached child
// serves; the pid file then names the serving process, which runs in its
// own session under the name it was started as.
func TestDaemonMode(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	be := backend(t, "127.0.18.2", "daemon-ok")
	for _, tc := range []struct{ name, global, flag string }{
		{"flag -D", "", "-D"},
		{"keyword daemon", "    daemon\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t, "127.0.18.2")
			cfg := filepath.Join(dir, "d.cfg")
			pidFile := filepath.Join(dir, "d.pid")
			os.Remove(pidFile)
			writeFile(t, cfg, httpCfg(tc.global, addr, be))
			args := []string{"-f", cfg, "-p", pidFile}
			if tc.flag != "" {
				args = append([]string{tc.flag}, args...)
			}
			cmd := exec.Command(bin, args...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("haproxy %v: %v\n%s", args, err, out.String())
			}
			// The parent is gone and the pid file is there already.
			pid := readPid(t, pidFile)
			killPid(t, pid)
			if pid == cmd.Process.Pid {
				t.Fatalf("pid file names the parent %d", pid)
			}
			if body, err := get(addr); err != nil || body != "daemon-ok" {
				t.Fatalf("daemon does not serve right after the parent exits: %q, %v", body, err)
			}
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if strings.TrimSpace(string(comm)) != "haproxy" {
				t.Errorf("comm = %q, want haproxy (ps -C haproxy)", comm)
			}
			if sid, _ := unix.Getsid(pid); sid != pid {
				t.Errorf("daemon session %d, want its own (%d)", sid, pid)
			}
			syscall.Kill(pid, syscall.SIGTERM)
			if !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
				t.Fatal("daemon did not stop on SIGTERM")
			}
		})
	}
}

// TestDaemonBindError: when the child cannot bind, the command the
// operator typed fails with the error, and no pid file is written.
func TestDaemonBindError(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	// A plain socket without SO_REUSEPORT: nobody else can bind its port.
	l, err := net.Listen("tcp4", "127.0.18.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := filepath.Join(dir, "d.cfg")
	pidFile := filepath.Join(dir, "d.pid")
	writeFile(t, cfg, httpCfg("", l.Addr().String(), "127.0.18.2:9"))
	cmd := exec.Command(bin, "-D", "-f", cfg, "-p", pidFile)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("want a non-zero exit; output:\n%s", out)
	}
	// The same words as HAProxy 2.6 (pids and program path aside).
	want := []string{
		fmt.Sprintf("[ALERT]    (PID) : Binding [%s:9] for frontend f: cannot bind socket (Address already in use) for [%s]", cfg, l.Addr()),
		"[ALERT]    (PID) : [PROG.main()] Some protocols failed to start their listeners! Exiting.",
	}
	if got := alertLines(string(out), bin); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if hap, err := exec.LookPath("haproxy"); err == nil {
		out, _ := exec.Command(hap, "-D", "-f", cfg, "-p", pidFile).CombinedOutput()
		if got := alertLines(string(out), hap); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("haproxy says:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if _, err := os.Stat(pidFile); err == nil {
		t.Error("pid file written although nothing serves")
	}
}

// repoRoot is the module root (the Makefile's directory).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// makeInstall runs `make install` with every path under root, as an
// operator would with PREFIX (init scripts and units included).
func makeInstall(t *testing.T, root, prefix string) {
	t.Helper()
	cmd := exec.Command("make", "-s", "-C", repoRoot(t), "install",
		"PREFIX="+prefix,
		"INITDIR="+filepath.Join(root, "etc/init.d"),
		"SYSTEMDDIR="+filepath.Join(root, "lib/systemd/system"),
		"RUNDIR="+filepath.Join(root, "run"),
		"DEFAULTSFILE="+filepath.Join(root, "etc/default/haproxy"),
		"KADEFAULTSFILE="+filepath.Join(root, "etc/default/keepalived"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
}

// seedConfig is the seed's haproxy.cfg (HAProxy 1.4 syntax, user nobody,
// daemon, pidfile under logs/) with loopback addresses in place of the
// seed's 192.168.1.x.
func seedConfig(prefix, listen, server string) string {
	return `global
log 127.0.0.1 local3 info
maxconn 4096
user nobody
group nobody
daemon
nbproc 1
pidfile ` + prefix + `/logs/haproxy.pid
defaults
maxconn 2000
contimeout 5000
clitimeout 30000
srvtimeout 30000
mode http
log global
log 127.0.0.1 local3 info
stats uri /admin?stats
option forwardfor
frontend http_server
bind ` + listen + `
log global
default_backend info_cache
acl test hdr_dom(host) -i test.domain.com
use_backend cache_test if test
backend info_cache
#balance roundrobin
balance source
server inst2 ` + server + ` check inter 5000 fall 3
backend cache_test
balance roundrobin
#balance source
server inst1 ` + server + ` check inter 5000 fall 3
`
}

// seedCheckScript is check_haproxy.sh from the seed, byte for byte.
const seedCheckScript = `#!/bin/bash
A=` + "`ps -C haproxy --no-header |wc -l`" + `
if [ $A -eq 0 ];then
/usr/local/haproxy/sbin/haproxy -f /usr/local/haproxy/conf/haproxy.cfg
sleep 3
if [ ` + "`ps -C haproxy --no-header |wc -l`" + ` -eq 0 ];then
/etc/init.d/keepalived stop
fi
fi
`

// TestInstallSeedLayout installs with PREFIX=.../usr/local/haproxy (the
// seed's layout) and runs the seed's check_haproxy.sh, with only its paths
// moved into the temporary prefix, in a pid namespace of its own (so that
// `ps -C haproxy` sees no other haproxy on this machine): the script
// starts goproxy when none runs, and starts it again after it is killed.
func TestInstallSeedLayout(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.LookPath(t, "unshare")
	root := t.TempDir()
	os.Chmod(root, 0o755)
	prefix := filepath.Join(root, "usr/local/haproxy")
	makeInstall(t, root, prefix)
	for _, f := range []string{"sbin/haproxy", "sbin/goproxy", "conf/haproxy.cfg", "logs", "share/man/man1/haproxy.1"} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("seed layout: %v", err)
		}
	}
	if dst, err := os.Readlink(filepath.Join(prefix, "sbin/haproxy")); err != nil || dst != "goproxy" {
		t.Errorf("sbin/haproxy should be a symlink to goproxy: %q, %v", dst, err)
	}
	initScript, _ := os.ReadFile(filepath.Join(root, "etc/init.d/haproxy"))
	for _, want := range []string{"# chkconfig: 2345 85 15", "### BEGIN INIT INFO", prefix + "/conf/haproxy.cfg", prefix + "/logs/haproxy.pid"} {
		if !bytes.Contains(initScript, []byte(want)) {
			t.Errorf("installed init script lacks %q", want)
		}
	}
	unitPath := filepath.Join(root, "lib/systemd/system/haproxy.service")
	unit, _ := os.ReadFile(unitPath)
	if !bytes.Contains(unit, []byte("Type=notify")) || !bytes.Contains(unit, []byte(prefix+"/sbin/haproxy -Ws")) {
		t.Errorf("installed unit:\n%s", unit)
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		// verify prints every directive systemd would reject.
		if out, _ := exec.Command(sa, "verify", unitPath).CombinedOutput(); len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s:\n%s", unitPath, out)
		}
	}

	listen := freeAddr(t, "127.0.18.3")
	be := backend(t, "127.0.18.3", "seed-ok")
	writeFile(t, filepath.Join(prefix, "conf/haproxy.cfg"), seedConfig(prefix, listen, be))
	stub := filepath.Join(root, "keepalived-stub")
	stubLog := filepath.Join(root, "keepalived-stub.log")
	writeFile(t, stub, "#!/bin/sh\necho \"$@\" >> "+stubLog+"\n")
	os.Chmod(stub, 0o755)
	script := strings.ReplaceAll(seedCheckScript, "/usr/local/haproxy", prefix)
	script = strings.ReplaceAll(script, "/etc/init.d/keepalived", stub)
	check := filepath.Join(root, "check_haproxy.sh")
	writeFile(t, check, script)
	os.Chmod(check, 0o755)
	pidFile := filepath.Join(prefix, "logs/haproxy.pid")

	driver := `
check=$1; pidfile=$2
count() { ps -C haproxy --no-header | wc -l; }
echo "before $(count)"
$check
echo "started $(cat $pidfile) $(count) $(ps -o user= -p $(cat $pidfile))"
read go
kill -9 $(cat $pidfile)
i=0; while [ "$(count)" -ne 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
echo "killed $(count)"
$check
echo "restarted $(cat $pidfile) $(count)"
read go
kill -TERM $(cat $pidfile)
i=0; while [ "$(count)" -ne 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
echo "stopped $(count)"
`
	self, _ := os.Executable()
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", self, "--", "/bin/sh", "-c", driver, "driver", check, pidFile)
	cmd.Env = append(os.Environ(), envReaper+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // pid 1 of the namespace: the rest goes with it
			<-done
		}
	}()
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(prefix string) []string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok || !strings.HasPrefix(l, prefix) {
				t.Fatalf("driver said %q (ok=%v), want %q...; stderr:\n%s", l, ok, prefix, stderr.String())
			}
			return strings.Fields(l)
		case <-time.After(20 * time.Second):
			t.Fatalf("driver silent, want %q; stderr:\n%s", prefix, stderr.String())
		}
		return nil
	}
	if f := next("before"); f[1] != "0" {
		t.Fatalf("a haproxy already runs in the new pid namespace: %v", f)
	}
	f := next("started")
	if f[2] != "1" {
		t.Errorf("ps -C haproxy counts %s processes after start, want 1", f[2])
	}
	if len(f) < 4 || f[3] != "nobody" {
		t.Errorf("goproxy runs as %v, want nobody (the seed's `user nobody`)", f[3:])
	}
	if body, err := get(listen); err != nil || body != "seed-ok" {
		t.Fatalf("goproxy started by check_haproxy.sh does not serve: %q, %v", body, err)
	}
	first := f[1]
	io.WriteString(stdin, "go\n")
	if f := next("killed"); f[1] != "0" {
		t.Fatalf("killed goproxy still counted: %v", f)
	}
	f = next("restarted")
	if f[1] == first || f[2] != "1" {
		t.Errorf("check_haproxy.sh did not start a new goproxy: pid %s (was %s), count %s", f[1], first, f[2])
	}
	if body, err := get(listen); err != nil || body != "seed-ok" {
		t.Fatalf("restarted goproxy does not serve: %q, %v", body, err)
	}
	io.WriteString(stdin, "go\n")
	if f := next("stopped"); f[1] != "0" {
		t.Errorf("goproxy did not stop on SIGTERM")
	}
	if b, err := os.ReadFile(stubLog); err == nil {
		t.Errorf("check_haproxy.sh stopped keepalived: %s", b)
	}
}

// TestDaemonRelativePaths: `-C dir` with relative -f, -p and a relative
// program path work in daemon mode (the child starts where the operator
// was), and the detached process keeps the name it was started as.
func TestDaemonRelativePaths(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	be := backend(t, "127.0.18.11", "rel-ok")
	addr := freeAddr(t, "127.0.18.11")
	writeFile(t, filepath.Join(dir, "conf/haproxy.cfg"), httpCfg("    daemon\n", addr, be))
	os.Symlink(filepath.Join(filepath.Dir(bin), "goproxy"), filepath.Join(dir, "haproxy"))
	cmd := exec.Command("./haproxy", "-C", "conf", "-f", "haproxy.cfg", "-p", "rel.pid")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pid := readPid(t, filepath.Join(dir, "conf/rel.pid"))
	killPid(t, pid)
	if body, err := get(addr); err != nil || body != "rel-ok" {
		t.Fatalf("%q, %v", body, err)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if strings.TrimSpace(string(comm)) != "haproxy" {
		t.Errorf("comm = %q, want haproxy", comm)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	waitFor(5*time.Second, func() bool { return !alive(pid) })
}

// TestWorkerLeavesWithoutMaster: a worker whose master was killed stops
// (nothing could reload or stop it any more).
func TestWorkerLeavesWithoutMaster(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t, "127.0.18.11")
	cfg := filepath.Join(dir, "w.cfg")
	pidFile := filepath.Join(dir, "w.pid")
	writeFile(t, cfg, httpCfg("", addr, backend(t, "127.0.18.11", "w-ok")))
	if err := runCmd(bin, "-W", "-D", "-f", cfg, "-p", pidFile); err != nil {
		t.Fatal(err)
	}
	master := readPid(t, pidFile)
	killPid(t, master)
	var worker int
	if !waitFor(5*time.Second, func() bool {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", master))
		for _, e := range ents {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", master, e.Name()))
			if f := strings.Fields(string(b)); len(f) > 0 {
				worker, _ = strconv.Atoi(f[0])
				return true
			}
		}
		return false
	}) {
		t.Fatal("no worker")
	}
	killPid(t, worker)
	if body, err := get(addr); err != nil || body != "w-ok" {
		t.Fatalf("%q, %v", body, err)
	}
	syscall.Kill(master, syscall.SIGKILL)
	if !waitFor(5*time.Second, func() bool { return !alive(worker) }) {
		t.Error("worker still running 5s after its master was killed")
	}
}

// alertLines keeps the [ALERT] lines of out with the pid and the program
// path replaced by PID and PROG.
func alertLines(out, prog string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "[ALERT]") {
			continue
		}
		if i, j := strings.Index(line, "("), strings.Index(line, ")"); i > 0 && j > i {
			line = line[:i+1] + "PID" + line[j:]
		}
		got = append(got, strings.ReplaceAll(line, prog, "PROG"))
	}
	return got
}

// TestHardStopOld: -st ends the old process at once (SIGTERM) once the new
// one serves, on the same socket.
func TestHardStopOld(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t, "127.0.18.13")
	cfg := filepath.Join(dir, "st.cfg")
	pidFile := filepath.Join(dir, "st.pid")
	writeFile(t, cfg, httpCfg("", addr, backend(t, "127.0.18.13", "st-ok")))
	if err := runCmd(bin, "-D", "-f", cfg, "-p", pidFile); err != nil {
		t.Fatal(err)
	}
	old := readPid(t, pidFile)
	killPid(t, old)
	sock := listenInodes(t, addr)
	if err := runCmd(bin, "-D", "-f", cfg, "-p", pidFile, "-st", strconv.Itoa(old)); err != nil {
		t.Fatal(err)
	}
	np := readPid(t, pidFile)
	killPid(t, np)
	if !waitFor(3*time.Second, func() bool { return !alive(old) }) {
		t.Error("old process still running after -st")
	}
	if len(sock) != 1 || !holdsSocket(np, sock[0]) {
		t.Errorf("new process %d does not hold the listening socket %v", np, sock)
	}
	if body, err := get(addr); err != nil || body != "st-ok" {
		t.Errorf("%q, %v", body, err)
	}
}

// TestReloadFromMasterWorker: `-D -sf MASTER` (an init script reloading a
// configuration that says master-worker) takes the listeners from the old
// master's worker.
func TestReloadFromMasterWorker(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t, "127.0.18.13")
	cfg := filepath.Join(dir, "mw.cfg")
	pidFile := filepath.Join(dir, "mw.pid")
	writeFile(t, cfg, httpCfg("    master-worker\n", addr, backend(t, "127.0.18.13", "mw-ok")))
	if err := runCmd(bin, "-D", "-f", cfg, "-p", pidFile); err != nil {
		t.Fatal(err)
	}
	master := readPid(t, pidFile)
	killPid(t, master)
	var worker []int
	if !waitFor(5*time.Second, func() bool { worker = masterChildren(master); return len(worker) == 1 }) {
		t.Fatal("no worker")
	}
	killPid(t, worker[0])
	sock := listenInodes(t, addr)
	if err := runCmd(bin, "-D", "-f", cfg, "-p", pidFile, "-sf", strconv.Itoa(master)); err != nil {
		t.Fatal(err)
	}
	m2 := readPid(t, pidFile)
	killPid(t, m2)
	var w2 []int
	if !waitFor(5*time.Second, func() bool { w2 = masterChildren(m2); return len(w2) == 1 }) {
		t.Fatal("no new worker")
	}
	killPid(t, w2[0])
	if !waitFor(5*time.Second, func() bool { return !alive(master) && !alive(worker[0]) }) {
		t.Error("old master and worker still running")
	}
	if len(sock) != 1 || !holdsSocket(w2[0], sock[0]) {
		t.Errorf("new worker does not hold the old listening socket %v", sock)
	}
	syscall.Kill(m2, syscall.SIGTERM)
	waitFor(5*time.Second, func() bool { return !alive(m2) })
}
