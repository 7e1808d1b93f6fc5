// Package lab builds the seed article's HAProxy + keepalived pair in
// network namespaces: a switch, a web host with two backends, a client, and
// load-balancer hosts that each run either the reference programs
// (HAProxy 2.6 + keepalived 2.2.7 from Debian) or goproxy + govrrpd
// installed with `make install` into a per-host prefix.
//
// It is shared by the acceptance tests (package e2e) and by `make demo`
// (internal/e2e/demo), so it takes a testing.TB and uses only Helper,
// Fatalf, Logf, Cleanup and TempDir from it.
//
// Each lab host has its own network namespace and its own PID and mount
// namespaces, so that the seed's check_haproxy.sh, which counts
// `ps -C haproxy`, sees only the proxy of its own host, as on two machines.
package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hapair/internal/netns"
)

// reaper is the lab hosts' init: it reaps every child, for at most a day
// (the demo can stay up for a while; tests remove their hosts anyway).
const reaper = `import os, time
end = time.time() + 86400
while time.time() < end:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.05)
`

// Host is one machine of the lab: a network namespace plus PID and mount
// namespaces whose init only reaps orphans.
type Host struct {
	Name string
	NS   *netns.NS
	Dir  string // the host's own files
	init *exec.Cmd
	pid1 int // the host's pid 1, as seen from the root PID namespace
}

// NewHost creates a host plugged into sw with addr (CIDR) on its eth0.
func NewHost(t testing.TB, sw *netns.Switch, name, addr string) *Host {
	t.Helper()
	h := &Host{Name: name, NS: netns.New(t, name), Dir: filepath.Join(t.TempDir(), name)}
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		t.Fatalf("%v", err)
	}
	sw.Attach(t, h.NS, "eth0", addr)
	// The host's pid 1 reaps orphans, as an init does: daemons that detach
	// are re-parented to it, and a zombie would look alive to `kill -0`.
	h.init = exec.Command("ip", "netns", "exec", h.NS.Name, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
		"/usr/bin/python3", "-c", reaper)
	if err := h.init.Start(); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		h.init.Process.Kill() // --kill-child takes the whole PID namespace down
		h.init.Wait()
	})
	// The host's pid 1 is unshare's only child.
	deadline := time.Now().Add(5 * time.Second)
	for h.pid1 == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", h.init.Process.Pid, h.init.Process.Pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			h.pid1, _ = strconv.Atoi(f[0])
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if h.pid1 == 0 {
		t.Fatalf("%s: no init process", name)
	}
	return h
}

// Command returns a command that runs on the host (its network, PID and
// mount namespaces).
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(h.pid1), "-n", "-p", "-m", "--", name}, args...)...)
}

// Run runs a command on the host and fails with its output when it fails.
func (h *Host) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := h.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("[%s] %s %s: %v\n%s", h.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// HasAddr reports whether the host holds the IPv4 address addr on eth0.
func (h *Host) HasAddr(addr string) bool {
	out, err := h.NS.Command("ip", "-4", "-o", "addr", "show", "dev", "eth0").Output()
	return err == nil && strings.Contains(string(out), " "+addr+"/")
}

// Processes lists the host's processes named name (ps -C name), as the
// seed's check script sees them; the pids are those of the host's PID
// namespace.
func (h *Host) Processes(name string) []int {
	out, _ := h.Command("ps", "-C", name, "-o", "pid=").Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// Kill sends sig (a kill(1) name such as TERM) to the host's pids, by pid.
func (h *Host) Kill(sig string, pids ...int) error {
	if len(pids) == 0 {
		return nil
	}
	args := []string{"-" + sig}
	for _, p := range pids {
		args = append(args, strconv.Itoa(p))
	}
	if out, err := h.Command("kill", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("[%s] kill %v: %w: %s", h.Name, args, err, out)
	}
	return nil
}

// WaitFor polls cond every 10 ms until it holds or timeout passes, and
// returns how long it took; on timeout it fails the test.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// Poll is WaitFor without failing: it reports whether cond held in time.
func Poll(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start), true
}
