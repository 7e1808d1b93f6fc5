// Package initscripts tests the init scripts under init/ against the
// project's daemons.
package initscripts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
)

// reaper is pid 1 of the test's PID namespace: it reaps orphans, as init
// does (the e2e lab's hosts run the same way).
const reaper = `import os, time
end = time.time() + 600
while time.time() < end:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.05)
`

// TestKeepalivedInitStopStartLoop starts and stops govrrpd through
// init.d/keepalived 20 times in a host made of its own network, PID and
// mount namespaces (the e2e lab's shape), and requires every stop to exit
// 0 without "did not stop" and leave no process behind. The e2e HA tests
// saw "keepalived did not stop" intermittently although the daemon had
// exited.
func TestKeepalivedInitStopStartLoop(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.LookPath(t, "unshare")
	testenv.LookPath(t, "nsenter")
	testenv.LookPath(t, "python3")
	dir := t.TempDir()
	sbin := filepath.Join(dir, "sbin")
	os.MkdirAll(sbin, 0o755)
	build := exec.Command("go", "build", "-o", filepath.Join(sbin, "keepalived"), "hapair/cmd/govrrpd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building govrrpd: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(conf, []byte(`vrrp_script chk {
  script "/bin/true"
  interval 1
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress { 192.0.2.100 }
  track_script { chk }
}
`), 0o644)
	tmpl, err := os.ReadFile("init.d/keepalived")
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "run/keepalived.pid")
	script := strings.NewReplacer("@SBINDIR@", sbin, "@KACONFFILE@", conf, "@KAPIDFILE@", pidFile,
		"@KADEFAULTSFILE@", filepath.Join(dir, "default")).Replace(string(tmpl))
	initd := filepath.Join(dir, "keepalived.init")
	os.WriteFile(initd, []byte(script), 0o755)
	os.WriteFile(filepath.Join(dir, "default"), []byte("DAEMON_ARGS=\"-D -g"+filepath.Join(dir, "log")+"\"\n"), 0o644)

	ns := netns.New(t, "h22i")
	ns.Run("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	ns.Run("ip", "link", "set", "eth1", "up")
	ns.Run("ip", "link", "set", "eth0", "up")
	ns.Run("ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")

	init := ns.Command("unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "python3", "-c", reaper)
	if err := init.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { init.Process.Kill(); init.Wait() })
	pid1 := 0
	for deadline := time.Now().Add(5 * time.Second); pid1 == 0 && time.Now().Before(deadline); {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", init.Process.Pid, init.Process.Pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			pid1, _ = strconv.Atoi(f[0])
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if pid1 == 0 {
		t.Fatal("no pid 1 in the PID namespace")
	}
	run := func(action string) (string, int) {
		var out bytes.Buffer
		cmd := exec.Command("nsenter", "-t", strconv.Itoa(pid1), "-n", "-p", "-m", "--", "sh", initd, action)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}
	t.Cleanup(func() { run("stop") })

	for i := 0; i < 20; i++ {
		if out, code := run("start"); code != 0 {
			t.Fatalf("round %d: start: exit %d\n%s", i, code, out)
		}
		if out, code := run("status"); code != 0 {
			t.Fatalf("round %d: status after start: exit %d\n%s", i, code, out)
		}
		// Let a round or two of the track script and adverts run, so the
		// stop meets a working daemon (and, some rounds, a script run).
		time.Sleep(time.Duration(i%4) * 300 * time.Millisecond)
		t0 := time.Now()
		out, code := run("stop")
		if code != 0 || strings.Contains(out, "did not stop") {
			t.Fatalf("round %d: stop: exit %d after %v\n%s", i, code, time.Since(t0), out)
		}
		if out, code := run("status"); code != 3 {
			t.Fatalf("round %d: status after stop: exit %d, want 3\n%s", i, code, out)
		}
	}
}
