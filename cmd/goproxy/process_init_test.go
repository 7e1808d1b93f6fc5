package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// TestInitScript installs into a temporary prefix and drives the installed
// init.d script for real: start, status, reloads under load without a
// failed request, configtest and reload on a broken file (the running
// process stays), stop, status.
func TestInitScript(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	prefix := filepath.Join(root, "usr/local")
	makeInstall(t, root, prefix)
	script := filepath.Join(root, "etc/init.d/haproxy")
	conf := filepath.Join(prefix, "etc/haproxy/haproxy.cfg")
	pidFile := filepath.Join(root, "run/haproxy.pid")
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("sample configuration not installed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(prefix, "sbin/haproxy")); err != nil {
		t.Fatal(err)
	}
	initd := func(action string) (string, int) {
		cmd := exec.Command(script, action)
		cmd.Env = append(os.Environ(), "STOP_TIMEOUT=10")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s %s: %v", script, action, err)
		}
		return string(out), code
	}

	listen := freeAddr(t, "127.0.18.6")
	be := backend(t, "127.0.18.6", "initd-ok")
	good := httpCfg("    hard-stop-after 10s\n", listen, be)
	writeFile(t, conf, good)

	if out, code := initd("start"); code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	pid := readPid(t, pidFile)
	killPid(t, pid)
	if body, err := get(listen); err != nil || body != "initd-ok" {
		t.Fatalf("not serving after start: %q, %v", body, err)
	}
	if out, code := initd("status"); code != 0 || !strings.Contains(out, "running") {
		t.Errorf("status: exit %d: %s", code, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	res, wait := runLoad(ctx, listen, "initd-ok", 8, 4)
	for i := 0; i < 5; i++ {
		before := res.ok.Load()
		if !waitFor(5*time.Second, func() bool { return res.ok.Load() >= before+20 }) {
			t.Fatalf("reload %d: no traffic (%s)", i, res)
		}
		if out, code := initd("reload"); code != 0 {
			t.Fatalf("reload %d: exit %d\n%s", i, code, out)
		}
		np := readPid(t, pidFile)
		killPid(t, np)
		if np == pid {
			t.Fatalf("reload %d: pid file still names %d", i, pid)
		}
		old := pid
		if !waitFor(10*time.Second, func() bool { return !alive(old) }) {
			t.Errorf("reload %d: old process %d still running", i, old)
		}
		pid = np
	}
	before := res.ok.Load()
	waitFor(5*time.Second, func() bool { return res.ok.Load() >= before+20 })
	cancel()
	wait()
	t.Logf("init.d reload x5 under load: %s", res)
	if res.failed.Load() != 0 {
		t.Errorf("requests failed during init.d reloads: %s", res)
	}

	// A broken file: configtest fails with the line, reload refuses and
	// the running process keeps serving.
	writeFile(t, conf, good+"    no-such-keyword 1\n")
	out, code := initd("configtest")
	if code == 0 || !strings.Contains(out, "haproxy.cfg:") {
		t.Errorf("configtest on a broken file: exit %d\n%s", code, out)
	}
	if out, code := initd("reload"); code == 0 {
		t.Errorf("reload with a broken file succeeded:\n%s", out)
	}
	if got := readPid(t, pidFile); got != pid || !alive(pid) {
		t.Errorf("broken reload replaced the process: pid file %d, running %d alive=%v", got, pid, alive(pid))
	}
	if body, err := get(listen); err != nil || body != "initd-ok" {
		t.Errorf("not serving after a refused reload: %q, %v", body, err)
	}
	writeFile(t, conf, good)
	if out, code := initd("configtest"); code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("configtest on the good file: exit %d\n%s", code, out)
	}

	if out, code := initd("stop"); code != 0 {
		t.Errorf("stop: exit %d\n%s", code, out)
	}
	if !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
		t.Errorf("process %d still running after stop", pid)
	}
	if out, code := initd("status"); code != 3 {
		t.Errorf("status after stop: exit %d (want 3)\n%s", code, out)
	}
}
