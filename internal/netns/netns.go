// Package netns builds throw-away network namespaces for integration tests:
// hosts joined by veth pairs and bridges, each namespace created by the test
// and deleted when it ends. Nothing here touches the root namespace's
// addresses or routes; tests address the hosts only with the documentation
// ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
//
// It drives iproute2's `ip` (what an operator would type, and what the
// kernel documentation describes) rather than netlink, so a failing set-up
// step shows the exact command in the test log.
package netns

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

var seq atomic.Int64

// NS is one network namespace created for a test.
type NS struct {
	Name string
	t    testing.TB
}

// New creates a namespace whose name starts with prefix and is unique to
// this process, brings its loopback up, and deletes it (killing what still
// runs inside, by pid) when the test ends.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
	if len(name) > 40 {
		t.Fatalf("netns name %q too long", name)
	}
	Run(t, "ip", "netns", "add", name)
	ns := &NS{Name: name, t: t}
	t.Cleanup(ns.remove)
	ns.Run("ip", "link", "set", "lo", "up")
	return ns
}

func (ns *NS) remove() {
	// Processes left in the namespace are stopped by their pids. Our own
	// pid can show up too: a goroutine of Do may have run on the main
	// thread, which Go then keeps parked inside the namespace.
	if out, err := exec.Command("ip", "netns", "pids", ns.Name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscanf(f, "%d", &pid); err == nil && pid > 1 && pid != os.Getpid() {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	exec.Command("ip", "netns", "del", ns.Name).Run()
}

// Run runs a command in the root namespace and fails the test with its
// output when it fails. Use it only for namespace plumbing.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Command returns a command that runs inside the namespace.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command inside the namespace and fails the test when it fails.
func (ns *NS) Run(name string, args ...string) string {
	ns.t.Helper()
	var out bytes.Buffer
	cmd := ns.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		ns.t.Fatalf("[%s] %s %s: %v\n%s", ns.Name, name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// Do runs f on an OS thread that has entered the namespace, for tests that
// open sockets or netlink handles in-process. The thread is discarded
// afterwards so no other goroutine ever runs inside the namespace.
func (ns *NS) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Not unlocked: the thread ends with the goroutine.
		fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns.Name, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Veth connects a to b with a veth pair named aIf (in a) and bIf (in b),
// both brought up.
func Veth(t testing.TB, a *NS, aIf string, b *NS, bIf string) {
	t.Helper()
	tmpA := fmt.Sprintf("v%da%d", os.Getpid()%100000, seq.Add(1))
	tmpB := fmt.Sprintf("v%db%d", os.Getpid()%100000, seq.Add(1))
	Run(t, "ip", "link", "add", tmpA, "netns", a.Name, "type", "veth", "peer", "name", tmpB, "netns", b.Name)
	a.Run("ip", "link", "set", tmpA, "name", aIf)
	b.Run("ip", "link", "set", tmpB, "name", bIf)
	a.Run("ip", "link", "set", aIf, "up")
	b.Run("ip", "link", "set", bIf, "up")
}

// Switch is a namespace holding one bridge that hosts attach to, like the
// hosts of one LAN segment plugged into a switch.
type Switch struct {
	*NS
	ports int
}

// NewSwitch creates a namespace with a bridge br0 (no address: it only
// forwards frames, multicast included).
func NewSwitch(t testing.TB, prefix string) *Switch {
	sw := &Switch{NS: New(t, prefix)}
	sw.Run("ip", "link", "add", "br0", "type", "bridge")
	// Forward at once (no STP listening delay) and keep multicast flowing
	// without an IGMP querier.
	sw.Run("ip", "link", "set", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")
	sw.Run("ip", "link", "set", "br0", "up")
	return sw
}

// Attach plugs host into the switch with an interface named ifname inside
// host, and gives it the addresses (CIDR form) given.
func (sw *Switch) Attach(t testing.TB, host *NS, ifname string, addrs ...string) {
	t.Helper()
	sw.ports++
	port := fmt.Sprintf("p%d", sw.ports)
	Veth(t, host, ifname, sw.NS, port)
	sw.Run("ip", "link", "set", port, "master", "br0")
	for _, a := range addrs {
		args := []string{"addr", "add", a, "dev", ifname}
		if strings.Contains(a, ":") {
			args = append(args, "nodad")
		}
		host.Run("ip", args...)
	}
}
