package notify

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hapair/internal/mail"
	"hapair/internal/testenv"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		words  []string
		quoted bool
		want   Command
	}{
		{[]string{"/s.sh master a 'b c'"}, true, Command{Argv: []string{"/s.sh", "master", "a", "b c"}}},
		{[]string{"/s.sh"}, false, Command{Argv: []string{"/s.sh"}}},
		{[]string{"/s.sh", "backup"}, false, Command{Argv: []string{"/s.sh"}, User: "backup"}},
		{[]string{"/s.sh x", "nobody", "nogroup"}, true, Command{Argv: []string{"/s.sh", "x"}, User: "nobody", Group: "nogroup"}},
	} {
		got, err := ParseCommand(tc.words, tc.quoted)
		if err != nil || !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("ParseCommand(%q, %v) = %+v, %v; want %+v", tc.words, tc.quoted, got, err, tc.want)
		}
	}
	if _, err := ParseCommand(nil, false); err == nil {
		t.Error("no words: no error")
	}
}

func TestLineSubjectBody(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Line(Instance, "VI_1", Master, 100), "INSTANCE \"VI_1\" MASTER 100\n"},
		{Line(Group, "G1", Fault, 0), "GROUP \"G1\" FAULT 0\n"},
		{Subject("r1", Instance, "VI_1", Backup), "[r1] VRRP Instance VI_1 - Entering BACKUP state"},
		{Subject("r1", Group, "G1", Stop), "[r1] VRRP Group G1 - Stopping"},
		{Body(Instance, Fault), "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{Body(Group, Master), "=> All VRRP group instances are now in MASTER state <="},
		{Body(Group, Stop), "=> All VRRP group instances are now stopping <="},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// argvScript writes a script that appends its argv, joined by '|', as
// one line to log.
func argvScript(t *testing.T, dir, log string) string {
	t.Helper()
	p := filepath.Join(dir, "n.sh")
	body := "#!/bin/sh\nl=\"$0\"; for a in \"$@\"; do l=\"$l|$a\"; done; printf '%s\\n' \"$l\" >> " + log + "\n"
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitLines polls (bounded) until file has n lines and returns them.
func waitLines(t *testing.T, file string, n int) []string {
	t.Helper()
	var lines []string
	for i := 0; i < 200; i++ {
		b, _ := os.ReadFile(file)
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) == 0 {
			lines = nil
		}
		if len(lines) >= n {
			return lines
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s: %d lines, want %d: %q", file, len(lines), n, lines)
	return nil
}

func run(t *testing.T, n *Notifier) (cancel func()) {
	t.Helper()
	ctx, c := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		c()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("Notifier.Run did not return")
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestScriptsAndFIFO runs real scripts and reads a real FIFO through a
// notify_fifo_script, as keepalived users do.
func TestScriptsAndFIFO(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "argv.log")
	s := argvScript(t, dir, log)
	fifo := filepath.Join(dir, "fifo")
	fifoLog := filepath.Join(dir, "fifo.log")
	fs := filepath.Join(dir, "fs.sh")
	os.WriteFile(fs, []byte("#!/bin/sh\necho \"fifo_script $*\" >> "+log+"\nexec cat \"$1\" >> "+fifoLog+"\n"), 0o755)
	n, err := New(Config{
		Instances: map[string]Scripts{"VI_1": {
			Master:  &Command{Argv: []string{s, "master", "a", "b c"}},
			Stop:    &Command{Argv: []string{s}},
			Generic: &Command{Argv: []string{s, "generic"}},
		}},
		Groups: map[string]Scripts{"G1": {Generic: &Command{Argv: []string{s, "group"}}, Fault: &Command{Argv: []string{s, "gfault"}}}},
		FIFOs:  []FIFO{{Path: fifo, Script: &Command{Argv: []string{fs}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, n)
	waitLines(t, log, 1) // the fifo script started
	n.StateChanged(Instance, "VI_1", Backup, 100)
	waitLines(t, log, 2)
	n.StateChanged(Instance, "VI_1", Master, 102)
	waitLines(t, log, 4)
	n.StateChanged(Group, "G1", Fault, 77)
	waitLines(t, log, 6)
	n.Event("VI_1", MasterRxLowerPri, 102)
	waitLines(t, fifoLog, 4)
	n.StateChanged(Instance, "VI_1", Stop, 102)
	stop() // the STOP event queued before the cancel is still delivered
	got := waitLines(t, log, 8)
	want := []string{
		"fifo_script " + fifo,
		s + "|generic|INSTANCE|VI_1|BACKUP|100",
		s + "|master|a|b c",
		s + "|generic|INSTANCE|VI_1|MASTER|102",
		s + "|gfault",
		s + "|group|GROUP|G1|FAULT|0",
		s,
		s + "|generic|INSTANCE|VI_1|STOP|102",
	}
	// Scripts of one event run concurrently, like keepalived's: compare
	// the lines of each event as sets.
	for _, r := range [][2]int{{2, 4}, {4, 6}, {6, 8}} {
		sort.Strings(got[r[0]:r[1]])
		sort.Strings(want[r[0]:r[1]])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("argv:\n got %q\nwant %q", got, want)
	}
	b, _ := os.ReadFile(fifoLog)
	wantFIFO := "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 102\nGROUP \"G1\" FAULT 0\nINSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 102\n"
	if !strings.HasPrefix(string(b), wantFIFO) {
		t.Errorf("fifo:\n got %q\nwant prefix %q", b, wantFIFO)
	}
	if _, err := os.Stat(fifo); !os.IsNotExist(err) {
		t.Errorf("the FIFO we created is still there: %v", err)
	}
}

// TestFIFOWithoutReader checks that a FIFO nobody reads never blocks the
// notifications: lines are dropped once the pipe is full.
func TestFIFOWithoutReader(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "argv.log")
	s := argvScript(t, dir, log)
	n, _ := New(Config{Instances: map[string]Scripts{"VI_1": {Master: &Command{Argv: []string{s}}}}, FIFOs: []FIFO{{Path: fifo}}})
	run(t, n)
	for i := 0; i < 5000; i++ { // 5000 lines of 26 bytes overflow a 64 KiB pipe
		n.Event("VI_1", MasterPriority, 100)
	}
	n.StateChanged(Instance, "VI_1", Master, 100)
	waitLines(t, log, 1)
	if _, err := os.Stat(fifo); err != nil {
		t.Errorf("a FIFO we did not create was removed: %v", err)
	}
}

// TestScriptTimeout kills a hung notify script's process group.
func TestScriptTimeout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	s := filepath.Join(dir, "hang.sh")
	os.WriteFile(s, []byte("#!/bin/sh\nsleep 100 &\necho $$ $! >> "+pidFile+"\nwait\n"), 0o755)
	n, _ := New(Config{Instances: map[string]Scripts{"VI_1": {Master: &Command{Argv: []string{s}}}}, Timeout: 200 * time.Millisecond})
	run(t, n)
	n.StateChanged(Instance, "VI_1", Master, 100)
	pids := strings.Fields(waitLines(t, pidFile, 1)[0])
	for _, p := range pids {
		pid, _ := strconv.Atoi(p)
		gone := false
		for i := 0; i < 200 && !gone; i++ {
			gone = syscall.Kill(pid, 0) == syscall.ESRCH
			if !gone {
				time.Sleep(25 * time.Millisecond)
			}
		}
		if !gone {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("pid %d still alive after the timeout", pid)
		}
	}
}

// TestSMTPAlerts sends instance and group alerts to aiosmtpd (Debian's
// python3-aiosmtpd) on loopback and reads them from its Maildir.
func TestSMTPAlerts(t *testing.T) {
	py := testenv.LookPath(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import aiosmtpd").Run(); err != nil {
		if testenv.InCI() {
			t.Fatalf("python3-aiosmtpd missing under CI")
		}
		t.Skip("python3-aiosmtpd not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	maildir := filepath.Join(t.TempDir(), "Maildir")
	cmd := exec.Command(py, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:"+strconv.Itoa(port), "-c", "aiosmtpd.handlers.Mailbox", maildir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	n, _ := New(Config{
		RouterID:  "LVS_DEVEL",
		Instances: map[string]Scripts{"VI_1": {SMTPAlert: true}, "VI_2": {}},
		Groups:    map[string]Scripts{"G1": {SMTPAlert: true}},
		Mail:      &mail.Server{Addr: "127.0.0.1", Port: port, HeloName: "lb1", From: "keepalived@lb1", Timeout: 5 * time.Second},
		To:        []string{"ops@example.org"},
	})
	run(t, n)
	n.StateChanged(Instance, "VI_1", Master, 100)
	n.StateChanged(Instance, "VI_1", Master, 100) // same state: not mailed again
	n.StateChanged(Instance, "VI_2", Master, 100) // no smtp_alert
	n.StateChanged(Group, "G1", Backup, 0)
	var msgs []string
	for i := 0; i < 100; i++ {
		files, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
		if len(files) >= 2 {
			time.Sleep(200 * time.Millisecond) // a third (wrong) mail would show up now
			files, _ = filepath.Glob(filepath.Join(maildir, "new", "*"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				msgs = append(msgs, string(b))
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d mails delivered, want 2: %q", len(msgs), msgs)
	}
	sort.Slice(msgs, func(i, j int) bool { return strings.Contains(msgs[i], "Instance") })
	for i, want := range [][]string{
		{"Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <=", "X-Mailer: Keepalived", "To: ops@example.org", "From: keepalived@lb1"},
		{"Subject: [LVS_DEVEL] VRRP Group G1 - Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="},
	} {
		for _, w := range want {
			if !strings.Contains(msgs[i], w) {
				t.Errorf("mail %d lacks %q:\n%s", i, w, msgs[i])
			}
		}
	}
}

// TestScriptUser runs a notify script as the user named after an
// unquoted script path (keepalived's `notify_master /s.sh nobody`).
func TestScriptUser(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent is 0700
	os.Chmod(dir, 0o777)
	out := filepath.Join(dir, "uid")
	s := filepath.Join(dir, "id.sh")
	os.WriteFile(s, []byte("#!/bin/sh\nid -un > "+out+"\n"), 0o755)
	c, err := ParseCommand([]string{s, "nobody"}, false)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Config{Instances: map[string]Scripts{"VI_1": {Master: c}}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, n)
	n.StateChanged(Instance, "VI_1", Master, 100)
	if got := waitLines(t, out, 1); got[0] != "nobody" {
		t.Errorf("ran as %q, want nobody", got[0])
	}
}
