package track

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
)

// recorder collects the Changes a Runner reports.
type recorder struct {
	mu sync.Mutex
	cs []Change
}

func (r *recorder) add(c Change) { r.mu.Lock(); r.cs = append(r.cs, c); r.mu.Unlock() }

// last reports whether the last change for inst satisfies ok.
func (r *recorder) last(inst string, ok func(Change) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.cs) - 1; i >= 0; i-- {
		if r.cs[i].Instance == inst {
			return ok(r.cs[i])
		}
	}
	return false
}

// waitFor polls (bounded) until the last change for inst satisfies ok.
func (r *recorder) waitFor(t *testing.T, inst string, what string, ok func(Change) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for i := len(r.cs) - 1; i >= 0; i-- {
			if r.cs[i].Instance == inst {
				if ok(r.cs[i]) {
					r.mu.Unlock()
					return
				}
				break
			}
		}
		r.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("%s: %s not reached; changes: %+v", inst, what, r.cs)
}

func start(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Runner.Run did not return")
		}
	})
}

// TestRunnerScript runs a real script that succeeds while a flag file
// exists, with rise 2 and fall 2.
func TestRunnerScript(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ok")
	script := filepath.Join(dir, "chk.sh")
	os.WriteFile(script, []byte("#!/bin/sh\ntest -e "+flag+"\n"), 0o755)
	os.WriteFile(flag, nil, 0o644)
	var rec recorder
	r := NewRunner(Config{
		Scripts: []Script{{Name: "chk", Argv: []string{script}, Interval: 50 * time.Millisecond, Timeout: 5 * time.Second, Rise: 2, Fall: 2}},
		Instances: []Instance{
			{Name: "VI_1", Priority: 100, Trackers: []Tracker{{Kind: KindScript, Name: "chk", Weight: 2}}},
			{Name: "VI_2", Priority: 100, Trackers: []Tracker{{Kind: KindScript, Name: "chk"}}},
		},
	}, rec.add)
	var logMu sync.Mutex
	var logs []string
	r.Log = func(s string) { logMu.Lock(); logs = append(logs, s); logMu.Unlock() }
	if c, _ := r.Current("VI_2"); !c.Pending {
		t.Fatalf("VI_2 before the first result: %+v, want Pending", c)
	}
	start(t, r)
	rec.waitFor(t, "VI_1", "priority 102", func(c Change) bool { return c.Priority == 102 })
	rec.waitFor(t, "VI_2", "up", func(c Change) bool { return !c.Pending && !c.Fault })
	os.Remove(flag)
	rec.waitFor(t, "VI_1", "priority 100", func(c Change) bool { return c.Priority == 100 })
	rec.waitFor(t, "VI_2", "fault", func(c Change) bool { return c.Fault })
	logMu.Lock()
	defer logMu.Unlock()
	want := []string{"VRRP_Script(chk) succeeded", "VRRP_Script(chk) failed (exited with status 1)"}
	if len(logs) < 2 || logs[0] != want[0] || logs[1] != want[1] {
		t.Errorf("log %q, want %q", logs, want)
	}
}

func TestRunnerScriptTimeoutAndInitFail(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "slow.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nsleep 5\n"), 0o755)
	var rec recorder
	r := NewRunner(Config{
		Scripts:   []Script{{Name: "slow", Argv: []string{script}, Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, InitFail: true}},
		Instances: []Instance{{Name: "VI_1", Priority: 100, Trackers: []Tracker{{Kind: KindScript, Name: "slow", Weight: -50}}}},
	}, rec.add)
	logs := make(chan string, 10)
	r.Log = func(s string) {
		select {
		case logs <- s:
		default:
		}
	}
	if c, _ := r.Current("VI_1"); c.Priority != 100 {
		t.Fatalf("init_fail: %+v, want priority 100 before any run (keepalived ignores init_fail)", c)
	}
	start(t, r)
	select {
	case l := <-logs:
		if l != "VRRP_Script(slow) timed_out" {
			t.Fatalf("log %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no timeout reported")
	}
}

func TestRunnerTrackFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "prio")
	v := 4
	var rec recorder
	r := NewRunner(Config{
		Files: []File{{Name: "f1", Path: p, Init: &v}},
		Instances: []Instance{
			{Name: "VI_1", Priority: 100, Trackers: []Tracker{{Kind: KindFile, Name: "f1", Weight: 5}}},
			{Name: "VI_2", Priority: 100, Trackers: []Tracker{{Kind: KindFile, Name: "f1"}}},
		},
	}, rec.add)
	r.FilePoll = time.Hour // inotify must do it
	if b, _ := os.ReadFile(p); string(b) != "4\n" {
		t.Fatalf("init_file wrote %q", b)
	}
	if c, _ := r.Current("VI_1"); c.Priority != 120 {
		t.Fatalf("initial %+v", c)
	}
	if c, _ := r.Current("VI_2"); !c.Fault {
		t.Fatalf("initial VI_2 %+v, want fault (non-zero value, weight 0)", c)
	}
	start(t, r)
	// Each value is written again until seen, in case the first write
	// came before the inotify watch was in place (bounded by waitFor).
	write := func(v, inst, what string, ok func(Change) bool) {
		t.Helper()
		for i := 0; i < 100; i++ {
			os.WriteFile(p, []byte(v), 0o644)
			if rec.last(inst, ok) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: %s not reached; changes %+v", inst, what, rec.cs)
	}
	write("-3\n", "VI_1", "priority 85", func(c Change) bool { return c.Priority == 85 })
	write("0\n", "VI_2", "no fault", func(c Change) bool { return !c.Fault })
	write("-60\n", "VI_1", "fault", func(c Change) bool { return c.Fault })
}

// TestRunnerLinks watches a veth pair in a namespace of our own through
// netlink: taking the peer down drops the carrier of the tracked side.
func TestRunnerLinks(t *testing.T) {
	testenv.RequireRoot(t)
	ns := netns.New(t, "trk")
	ns.Run("ip", "link", "add", "t0", "type", "veth", "peer", "name", "t1")
	ns.Run("ip", "link", "set", "t0", "up")
	ns.Run("ip", "link", "set", "t1", "up")
	var rec recorder
	r := NewRunner(Config{Instances: []Instance{
		{Name: "VI_1", Priority: 100, Trackers: []Tracker{{Kind: KindInterface, Name: "t0"}}},
		{Name: "VI_2", Priority: 100, Trackers: []Tracker{{Kind: KindInterface, Name: "t0", Weight: -30}}},
		{Name: "VI_3", Priority: 100, Trackers: []Tracker{{Kind: KindInterface, Name: "nosuch0"}}},
	}}, rec.add)
	r.Links = NetlinkLinks{Netns: "/run/netns/" + ns.Name}
	start(t, r)
	rec.waitFor(t, "VI_3", "fault (no such interface)", func(c Change) bool { return c.Fault })
	ns.Run("ip", "link", "set", "t1", "down") // t0 loses its carrier
	rec.waitFor(t, "VI_1", "fault", func(c Change) bool { return c.Fault })
	rec.waitFor(t, "VI_2", "priority 70", func(c Change) bool { return c.Priority == 70 })
	ns.Run("ip", "link", "set", "t1", "up")
	rec.waitFor(t, "VI_1", "no fault", func(c Change) bool { return !c.Fault })
	rec.waitFor(t, "VI_2", "priority 100", func(c Change) bool { return c.Priority == 100 })
	ns.Run("ip", "link", "del", "t0")
	rec.waitFor(t, "VI_1", "fault after delete", func(c Change) bool { return c.Fault })
}
