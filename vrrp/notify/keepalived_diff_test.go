package notify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
	"hapair/parser/keepalived"
)

const diffConf = `global_defs {
  router_id diff
  enable_script_security
  script_user root
  notify_fifo DIR/fifo
  notify_fifo_script DIR/fs.sh
  vrrp_notify_fifo DIR/vfifo
  vrrp_notify_fifo_script "DIR/fs.sh v"
}
vrrp_sync_group G1 {
  group {
    VI_1
  }
  notify "DIR/n.sh grp"
  notify_master "DIR/n.sh gmaster"
  notify_stop DIR/n.sh
}
vrrp_instance VI_1 {
  state BACKUP
  interface e0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.1
  }
  notify_master "DIR/n.sh master a 'b c'"
  notify_backup "DIR/n.sh backup"
  notify_stop DIR/n.sh
  notify "DIR/n.sh generic"
}
`

// diffDir writes the scripts and the configuration into a fresh
// directory: n.sh logs its argv to argv.log, fs.sh (the FIFO script) logs
// its argv and copies the FIFO to fifo.log (or vfifo.log when its first
// argument is "v").
func diffDir(t *testing.T) (dir, conf string) {
	t.Helper()
	dir = t.TempDir()
	os.Chmod(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "n.sh"), []byte("#!/bin/sh\nl=\"$0\"; for a in \"$@\"; do l=\"$l|$a\"; done; printf '%s\\n' \"$l\" >> "+dir+"/argv.log\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "fs.sh"), []byte("#!/bin/sh\necho \"fifo_script $*\" >> "+dir+"/argv.log\nout="+dir+"/fifo.log\nif [ \"$1\" = v ]; then out="+dir+"/vfifo.log; shift; fi\nexec cat \"$1\" >> $out\n"), 0o755)
	conf = filepath.Join(dir, "keepalived.conf")
	os.WriteFile(conf, []byte(strings.ReplaceAll(diffConf, "DIR", dir)), 0o644)
	return dir, conf
}

func readLines(path, dir string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSuffix(strings.ReplaceAll(string(b), dir, "DIR"), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func pollUntil(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// TestNotifyMatchesKeepalived lets the real keepalived 2.2.7 become
// MASTER alone in a namespace and stop, and records what its notify
// scripts receive and what it writes to both FIFOs; then it replays the
// same events through a Notifier built from the same configuration and
// requires the same argv (as sets: keepalived runs an event's scripts
// concurrently) and the same FIFO lines.
func TestNotifyMatchesKeepalived(t *testing.T) {
	testenv.RequireRoot(t)
	bin := testenv.LookPath(t, "/usr/sbin/keepalived")
	kdir, kconf := diffDir(t)
	ns := netns.New(t, "ntfd")
	ns.Run("ip", "link", "add", "e0", "type", "veth", "peer", "name", "e1")
	ns.Run("ip", "link", "set", "e0", "up")
	ns.Run("ip", "link", "set", "e1", "up")
	ns.Run("ip", "addr", "add", "192.0.2.10/24", "dev", "e0")
	cmd := ns.Command(bin, "-n", "-l", "-f", kconf, "-p", kdir+"/k.pid", "-r", kdir+"/kv.pid", "-c", kdir+"/kc.pid")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	pollUntil(t, "keepalived to become MASTER", 20*time.Second, func() bool {
		return len(readLines(kdir+"/vfifo.log", kdir)) >= 4 && len(readLines(kdir+"/fifo.log", kdir)) >= 4
	})
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("keepalived did not stop")
	}
	pollUntil(t, "keepalived's STOP scripts", 5*time.Second, func() bool {
		return contains(readLines(kdir+"/argv.log", kdir), "DIR/n.sh|grp|GROUP|G1|STOP|0")
	})
	kArgv := readLines(kdir+"/argv.log", kdir)
	kFIFO := readLines(kdir+"/fifo.log", kdir)
	kVFIFO := readLines(kdir+"/vfifo.log", kdir)
	t.Logf("keepalived argv:\n%s\nfifo:\n%s", strings.Join(kArgv, "\n"), strings.Join(kFIFO, "\n"))

	// Replay through our Notifier.
	odir, oconf := diffDir(t)
	c, _ := keepalived.Load(oconf, keepalived.Options{})
	if c == nil {
		t.Fatal("config not loaded")
	}
	n, err := New(FromKeepalived(c))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	pollUntil(t, "our FIFO scripts", 5*time.Second, func() bool { return len(readLines(odir+"/argv.log", odir)) >= 2 })
	var events [][]string
	for _, l := range kFIFO {
		events = append(events, strings.Fields(l))
	}
	for i, ev := range events {
		prio, _ := strconv.Atoi(ev[3])
		n.StateChanged(Kind(ev[0]), strings.Trim(ev[1], `"`), ev[2], prio)
		want := i + 1
		pollUntil(t, fmt.Sprintf("our FIFO line %d", want), 5*time.Second, func() bool { return len(readLines(odir+"/fifo.log", odir)) >= want })
	}
	// keepalived's shutdown: every instance, then every group, STOPs.
	n.StateChanged(Instance, "VI_1", Stop, 100)
	n.StateChanged(Group, "G1", Stop, 0)
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	oArgv := readLines(odir+"/argv.log", odir)
	oFIFO := readLines(odir+"/fifo.log", odir)
	oVFIFO := readLines(odir+"/vfifo.log", odir)
	sort.Strings(kArgv)
	sort.Strings(oArgv)
	if !reflect.DeepEqual(oArgv, kArgv) {
		t.Errorf("argv differ:\nkeepalived %q\nours       %q", kArgv, oArgv)
	}
	// STOP lines race with the FIFO script's SIGTERM in both programs.
	noStop := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			if !strings.Contains(l, " STOP ") {
				out = append(out, l)
			}
		}
		return out
	}
	if !reflect.DeepEqual(noStop(oFIFO), noStop(kFIFO)) || !reflect.DeepEqual(noStop(oVFIFO), noStop(kVFIFO)) {
		t.Errorf("FIFO lines differ:\nkeepalived %q %q\nours       %q %q", kFIFO, kVFIFO, oFIFO, oVFIFO)
	}
}
