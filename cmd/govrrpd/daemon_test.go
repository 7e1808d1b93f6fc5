package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
	"hapair/vrrp/lvs"

	"golang.org/x/sys/unix"
)

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %q", path, b)
	}
	return pid
}

// alive reports whether pid runs (a zombie left for init to reap does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	return err == nil && !strings.Contains(string(b), "State:\tZ")
}

func hasVIP(ns *netns.NS, vip string) bool {
	out, _ := ns.Command("ip", "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	return strings.Contains(string(out), " "+vip+"/")
}

// TestInitScriptDaemon installs the init.d script the way `make install`
// does (paths substituted into a temporary prefix) and drives govrrpd
// through it inside a namespace: start detaches (the script returns once
// the daemon runs, pid files written, the daemon leads its own session),
// the instance takes its VIP, a second start does not start a second
// daemon, status, SIGUSR1/SIGUSR2 dumps, reload, and stop removes the VIP
// and the pid files.
func TestInitScriptDaemon(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildGovrrpd(t)
	dir := t.TempDir()
	sbin := filepath.Join(dir, "sbin")
	os.MkdirAll(sbin, 0o755)
	if err := os.Symlink(bin, filepath.Join(sbin, "keepalived")); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(conf, []byte(`global_defs { router_id H20 }
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 255
  advert_int 1
  virtual_ipaddress { 192.0.2.100 }
}
`), 0o644)
	tmpl, err := os.ReadFile("../../init/init.d/keepalived")
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "run/keepalived.pid")
	script := strings.NewReplacer("@SBINDIR@", sbin, "@KACONFFILE@", conf, "@KAPIDFILE@", pidFile,
		"@KADEFAULTSFILE@", filepath.Join(dir, "default")).Replace(string(tmpl))
	initd := filepath.Join(dir, "keepalived.init")
	os.WriteFile(initd, []byte(script), 0o755)
	os.WriteFile(filepath.Join(dir, "default"), []byte("DAEMON_ARGS=\"-D -G -g"+filepath.Join(dir, "log")+"\"\n"), 0o644)

	ns := netns.New(t, "h20d")
	ns.Run("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	ns.Run("ip", "link", "set", "eth1", "up")
	ns.Run("ip", "link", "set", "eth0", "up")
	ns.Run("ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
	initCmd := func(action string) (string, int) {
		var out bytes.Buffer
		cmd := ns.Command("sh", initd, action)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), code
	}

	start := time.Now()
	if out, code := initCmd("start"); code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("start took %v: the parent must return once the daemon runs", d)
	}
	pid := readPid(t, pidFile)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if !alive(pid) {
		t.Fatalf("pid %d from %s is not running", pid, pidFile)
	}
	if vp := readPid(t, filepath.Join(dir, "run/vrrp.pid")); vp != pid {
		t.Errorf("vrrp.pid = %d, want %d (one process)", vp, pid)
	}
	if _, err := os.Stat(filepath.Join(dir, "run/checkers.pid")); err == nil {
		t.Errorf("checkers.pid written without any virtual_server (keepalived starts no checker child)")
	}
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Errorf("daemon session %d, want its own (%d): not detached", sid, pid)
	}
	// Address owner (priority 255, no state): MASTER at once, like keepalived.
	if !waitFor(2*time.Second, func() bool { return hasVIP(ns, "192.0.2.100") }) {
		t.Fatalf("VIP not taken; log:\n%s", readFile(filepath.Join(dir, "log")))
	}
	if out, code := initCmd("start"); code != 0 || !strings.Contains(out, "already running") {
		t.Errorf("second start: exit %d\n%s", code, out)
	}
	if got := readPid(t, pidFile); got != pid {
		t.Errorf("second start replaced the pid file: %d, want %d", got, pid)
	}
	if out, code := initCmd("status"); code != 0 || !strings.Contains(out, strconv.Itoa(pid)) {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	// SIGUSR1 and SIGUSR2 write keepalived's dump files.
	for sig, path := range map[syscall.Signal]string{syscall.SIGUSR1: "/tmp/keepalived.data", syscall.SIGUSR2: "/tmp/keepalived.stats"} {
		before := time.Now().Add(-time.Second)
		syscall.Kill(pid, sig)
		if !waitFor(2*time.Second, func() bool {
			st, err := os.Stat(path)
			return err == nil && st.ModTime().After(before) && st.Size() > 0
		}) {
			t.Errorf("%v: %s not written", sig, path)
		}
	}
	if b, _ := os.ReadFile("/tmp/keepalived.data"); !strings.Contains(string(b), "VI_1") {
		t.Errorf("keepalived.data lacks VI_1:\n%s", b)
	}

	if out, code := initCmd("reload"); code != 0 {
		t.Errorf("reload: exit %d\n%s", code, out)
	}
	if !waitFor(2*time.Second, func() bool { return strings.Contains(readFile(filepath.Join(dir, "log")), "Reloading") }) {
		t.Errorf("reload did not reach the daemon; log:\n%s", readFile(filepath.Join(dir, "log")))
	}
	if !alive(pid) || !hasVIP(ns, "192.0.2.100") {
		t.Errorf("after reload: alive %v, VIP %v", alive(pid), hasVIP(ns, "192.0.2.100"))
	}

	start = time.Now()
	if out, code := initCmd("stop"); code != 0 {
		t.Fatalf("stop: exit %d\n%s", code, out)
	}
	t.Logf("stop took %v", time.Since(start))
	if alive(pid) {
		t.Errorf("daemon still running after stop")
	}
	if hasVIP(ns, "192.0.2.100") {
		t.Errorf("VIP left after stop")
	}
	for _, f := range []string{pidFile, filepath.Join(dir, "run/vrrp.pid")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left after stop", f)
		}
	}
	if out, code := initCmd("status"); code != 3 {
		t.Errorf("status after stop: exit %d (want 3)\n%s", code, out)
	}
	log := readFile(filepath.Join(dir, "log"))
	for _, want := range []string{"Starting Keepalived", "Startup complete", "(VI_1) Entering MASTER STATE", "Stopped Keepalived"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestDetachFailureReported: a daemon that cannot start (pid file in a
// directory that does not exist) makes the command fail with the reason,
// as keepalived's init scripts expect, instead of returning 0.
func TestDetachFailureReported(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildGovrrpd(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "k.conf")
	os.WriteFile(conf, []byte("vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.9 }\n}\n"), 0o644)
	ns := netns.New(t, "h20f")
	out, err := ns.Command(bin, "-f", conf, "-p", filepath.Join(dir, "missing/k.pid")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "k.pid") {
		t.Errorf("want a failure naming the pid file, got %v:\n%s", err, out)
	}
}

// TestConsoleLogForeground: -n -l logs keepalived's console lines on
// stderr (keepalived 2.2.7 writes nothing on stdout).
func TestConsoleLogForeground(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildGovrrpd(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "k.conf")
	os.WriteFile(conf, []byte("vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n state BACKUP\n virtual_ipaddress { 192.0.2.9 }\n}\n"), 0o644)
	ns := netns.New(t, "h20l")
	cmd := ns.Command(bin, "-n", "-l", "-G", "-f", conf, "-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"))
	var stdout bytes.Buffer
	errPath := filepath.Join(dir, "stderr")
	stderr, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ok := waitFor(3*time.Second, func() bool { return strings.Contains(readFile(errPath), "Entering BACKUP STATE") })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if !ok {
		t.Errorf("no BACKUP line on stderr:\n%s", readFile(errPath))
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout should stay empty, got:\n%s", stdout.String())
	}
}

// TestLVSCheckersRun: the daemon runs the LVS checkers of virtual_server
// blocks (keepalived's checker child) unless -P, and only them with -C.
// On a kernel without IP_VS (these machines) it prints the no-IPVS notice
// once and keeps checking (the notify_down script proves the check ran);
// with IP_VS, the virtual service is programmed in the namespace.
func TestLVSCheckersRun(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildGovrrpd(t)
	_, nlErr := lvs.NewNetlink()
	for _, c := range []struct {
		name          string
		args          []string
		vrrp, checker bool
	}{
		{"default", nil, true, true},
		{"vrrp-only", []string{"-P"}, true, false},
		{"check-only", []string{"--check"}, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			down := filepath.Join(dir, "down")
			script := filepath.Join(dir, "down.sh")
			os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+down+"\n"), 0o755)
			conf := filepath.Join(dir, "k.conf")
			os.WriteFile(conf, []byte(`vrrp_instance VI_1 {
  state BACKUP
  interface lo
  virtual_router_id 7
  virtual_ipaddress { 192.0.2.9 }
}
virtual_server 192.0.2.1 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 127.0.0.1 9 {
    notify_down "`+script+` rs-down"
    TCP_CHECK { connect_timeout 1 }
  }
}
`), 0o644)
			ns := netns.New(t, "h20v")
			pids := map[string]string{"k": filepath.Join(dir, "k.pid"), "v": filepath.Join(dir, "v.pid"), "c": filepath.Join(dir, "c.pid")}
			args := append([]string{"-n", "-l", "-G", "-f", conf, "-p", pids["k"], "-r", pids["v"], "-c", pids["c"]}, c.args...)
			cmd := ns.Command(bin, args...)
			errPath := filepath.Join(dir, "stderr")
			stderr, _ := os.Create(errPath)
			defer stderr.Close()
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
				for _, f := range pids {
					if _, err := os.Stat(f); err == nil {
						t.Errorf("%s left after stop", f)
					}
				}
			}()
			if !waitFor(5*time.Second, func() bool { return strings.Contains(readFile(errPath), "Startup complete") }) {
				t.Fatalf("no start-up:\n%s", readFile(errPath))
			}
			if c.checker {
				if !waitFor(5*time.Second, func() bool { return strings.Contains(readFile(down), "rs-down") }) {
					t.Errorf("notify_down did not run: the checker is not running\n%s", readFile(errPath))
				}
			}
			log := readFile(errPath)
			notices := strings.Count(log, lvs.NoIPVSNotice)
			switch {
			case !c.checker && notices != 0:
				t.Errorf("-P printed the IPVS notice:\n%s", log)
			case c.checker && nlErr != nil && notices != 1:
				t.Errorf("kernel without IPVS (%v): %d notices, want 1:\n%s", nlErr, notices, log)
			case c.checker && nlErr == nil:
				if notices != 0 {
					t.Errorf("kernel with IPVS printed the notice:\n%s", log)
				}
				err := ns.Do(func() error {
					n, err := lvs.NewNetlink()
					if err != nil {
						return err
					}
					svcs, err := n.Services()
					if err == nil && (len(svcs) != 1 || svcs[0].Port != 80) {
						err = fmt.Errorf("services %v", svcs)
					}
					return err
				})
				if err != nil {
					t.Errorf("IPVS table: %v", err)
				}
			}
			if !alive(cmd.Process.Pid) {
				t.Fatalf("daemon exited:\n%s", log)
			}
			_, vErr := os.Stat(pids["v"])
			_, cErr := os.Stat(pids["c"])
			if (vErr == nil) != c.vrrp || (cErr == nil) != c.checker {
				t.Errorf("pid files: vrrp %v (want %v), checkers %v (want %v)", vErr == nil, c.vrrp, cErr == nil, c.checker)
			}
			if c.vrrp != strings.Contains(log, "(VI_1) Entering BACKUP STATE") {
				t.Errorf("VRRP running = %v, want %v:\n%s", !c.vrrp, c.vrrp, log)
			}
		})
	}
}

// TestMissingInterfaceRefused: like keepalived 2.2.7, a tracked interface
// (or an instance's interface) that does not exist stops the daemon with
// a configuration error, exit 2 in the foreground; dynamic_interfaces
// allows it and the daemon runs.
func TestMissingInterfaceRefused(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildGovrrpd(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "k.conf")
	body := "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.9 }\n track_interface {\n  nosuch0\n }\n}\n"
	os.WriteFile(conf, []byte(body), 0o644)
	ns := netns.New(t, "h20m")
	args := []string{"-n", "-l", "-G", "-f", conf, "-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid")}
	cmd := ns.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "(VI_1) tracked interface nosuch0 doesn't exist") {
		t.Errorf("want exit 2 naming the interface, got %v:\n%s", err, out)
	}
	os.WriteFile(conf, []byte("global_defs {\n dynamic_interfaces\n}\n"+body), 0o644)
	cmd = ns.Command(bin, args...)
	errPath := filepath.Join(dir, "stderr")
	stderr, _ := os.Create(errPath)
	defer stderr.Close()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ok = waitFor(3*time.Second, func() bool { return strings.Contains(readFile(errPath), "Startup complete") })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if !ok {
		t.Errorf("dynamic_interfaces: daemon did not start:\n%s", readFile(errPath))
	}
}

// TestScriptsDoNotInheritReadiness: scripts the detached daemon runs see
// neither internal/daemon's readiness variable nor its pipe (fd 3); a
// daemon started by a track script (the seed's check_haproxy.sh starts
// the proxy) would otherwise take them for its own and not detach.
func TestScriptsDoNotInheritReadiness(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildGovrrpd(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "seen")
	script := filepath.Join(dir, "chk.sh")
	os.WriteFile(script, []byte("#!/bin/sh\n{ env; ls /proc/$$/fd; } > "+out+".tmp; mv "+out+".tmp "+out+"\n"), 0o755)
	conf := filepath.Join(dir, "k.conf")
	os.WriteFile(conf, []byte(`vrrp_script chk {
  script "`+script+`"
  interval 1
}
vrrp_instance VI_1 {
  interface lo
  virtual_router_id 1
  priority 255
  virtual_ipaddress { 192.0.2.9 }
  track_script { chk }
  notify_master "`+script+`"
}
`), 0o644)
	ns := netns.New(t, "h20r")
	pidFile := filepath.Join(dir, "k.pid")
	if b, err := ns.Command(bin, "-G", "-f", conf, "-p", pidFile, "-r", filepath.Join(dir, "v.pid")).CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, b)
	}
	pid := readPid(t, pidFile)
	defer syscall.Kill(pid, syscall.SIGTERM)
	if !waitFor(5*time.Second, func() bool { return readFile(out) != "" }) {
		t.Fatal("the script did not run")
	}
	seen := readFile(out)
	if strings.Contains(seen, "HAPAIR_DAEMON_READY_FD") {
		t.Errorf("script environment carries the readiness variable:\n%s", seen)
	}
	for _, l := range strings.Fields(seen) {
		if l == "3" {
			t.Errorf("script has fd 3 open (the readiness pipe?):\n%s", seen)
		}
	}
}
