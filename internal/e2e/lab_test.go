package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hapair/internal/netns"
)

// reaper is the lab hosts' init: it reaps every child, for at most an hour.
const reaper = `import os, time
end = time.time() + 3600
while time.time() < end:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.05)
`

// host is one machine of the lab: a network namespace plus PID and mount
// namespaces whose init only reaps orphans.
type host struct {
	name string
	ns   *netns.NS
	dir  string // the host's own files
	init *exec.Cmd
	pid1 int // the host's pid 1, as seen from the test
}

func newHost(t *testing.T, sw *netns.Switch, name, addr string) *host {
	t.Helper()
	h := &host{name: name, ns: netns.New(t, name), dir: filepath.Join(t.TempDir(), name)}
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sw.Attach(t, h.ns, "eth0", addr)
	// The host's pid 1 reaps orphans, as an init does: daemons that detach
	// are re-parented to it, and a zombie would look alive to `kill -0`.
	h.init = exec.Command("ip", "netns", "exec", h.ns.Name, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
		"/usr/bin/python3", "-c", reaper)
	if err := h.init.Start(); err != nil {
		t.Fatal(err)
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

// command returns a command that runs on the host (its network, PID and
// mount namespaces).
func (h *host) command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(h.pid1), "-n", "-p", "-m", "--", name}, args...)...)
}

// run runs a command on the host and returns its combined output.
func (h *host) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := h.command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("[%s] %s %s: %v\n%s", h.name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hasAddr reports whether the host holds addr on eth0.
func (h *host) hasAddr(addr string) bool {
	out, err := h.ns.Command("ip", "-4", "-o", "addr", "show", "dev", "eth0").Output()
	return err == nil && strings.Contains(string(out), " "+addr+"/")
}

// processes lists the host's processes named name (ps -C name), as the
// seed's check script sees them.
func (h *host) processes(name string) []int {
	out, _ := h.command("ps", "-C", name, "-o", "pid=").Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// waitFor polls cond every 10 ms until it holds or timeout passes, and
// returns how long it took.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
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

// outage is what the probing client saw during one step.
type outage struct {
	Sent, Failed int
	LongestGap   time.Duration // longest time without a successful request
	Backends     map[string]int
}

func (o outage) String() string {
	return fmt.Sprintf("sent=%d failed=%d longest_gap_ms=%d backends=%v", o.Sent, o.Failed, o.LongestGap.Milliseconds(), o.Backends)
}

// prober sends one HTTP request every 10 ms from the client host to the
// VIP, each on a new connection, and records what answered.
type prober struct {
	mu       sync.Mutex
	cur      outage
	lastOK   time.Time
	stop     chan struct{}
	done     chan struct{}
	hostHdr  string
	target   string
	deadline time.Time
}

// startProber runs the probe loop on an OS thread inside the client's
// network namespace (sockets are created there, by that thread).
func startProber(t *testing.T, client *netns.NS, target, hostHdr string) *prober {
	p := &prober{stop: make(chan struct{}), done: make(chan struct{}), hostHdr: hostHdr, target: target}
	p.reset()
	go func() {
		defer close(p.done)
		client.Do(func() error {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			limit := time.After(10 * time.Minute) // bounded even if the test forgets to stop it
			for {
				select {
				case <-p.stop:
					return nil
				case <-limit:
					return nil
				case <-tick.C:
				}
				backend, err := p.once()
				p.mu.Lock()
				p.cur.Sent++
				now := time.Now()
				if err != nil {
					p.cur.Failed++
				} else {
					if gap := now.Sub(p.lastOK); gap > p.cur.LongestGap {
						p.cur.LongestGap = gap
					}
					p.lastOK = now
					p.cur.Backends[backend]++
				}
				p.mu.Unlock()
			}
		})
	}()
	t.Cleanup(p.close)
	return p
}

func (p *prober) once() (string, error) {
	c, err := net.DialTimeout("tcp", p.target, 500*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", p.hostHdr)
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.Contains(status, " 200 ") {
		return "", fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(line, "backend=") {
			return strings.TrimSpace(strings.TrimPrefix(line, "backend=")), nil
		}
	}
}

// reset starts a new measurement window and returns the previous one.
func (p *prober) reset() outage {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.cur
	p.cur = outage{Backends: map[string]int{}}
	p.lastOK = time.Now()
	return prev
}

// window returns the current measurement so far, counting the time since
// the last success as a gap too.
func (p *prober) window() outage {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.cur
	o.Backends = map[string]int{}
	for k, v := range p.cur.Backends {
		o.Backends[k] = v
	}
	if gap := time.Since(p.lastOK); gap > o.LongestGap {
		o.LongestGap = gap
	}
	return o
}

func (p *prober) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}
