package checks

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/etc/keepalived/check_haproxy.sh", []string{"/etc/keepalived/check_haproxy.sh"}},
		{"  /bin/chk   a\tb  ", []string{"/bin/chk", "a", "b"}},
		{`/bin/chk "a b" 'c d'`, []string{"/bin/chk", "a b", "c d"}},
		{`/bin/chk 'it"s' "it's"`, []string{"/bin/chk", `it"s`, "it's"}},
		{`/bin/chk x'y z'w ""`, []string{"/bin/chk", "xy zw", ""}},
		{`/bin/chk p\ q 'r\ s' "t\"u"`, []string{"/bin/chk", "p q", `r\ s`, `t"u`}},
		{"", nil},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := SplitCommand(`/bin/chk "open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestScriptExitStatus(t *testing.T) {
	tests := []struct {
		argv []string
		want Result
	}{
		{[]string{"/bin/true"}, Result{Status: StatusProcOK}},
		{[]string{"false"}, Result{Status: StatusProcErr, Code: 1, Info: "exited with status 1"}},
		{[]string{"/bin/sh", "-c", "exit 3"}, Result{Status: StatusProcErr, Code: 3, Info: "exited with status 3"}},
		{[]string{"/bin/sh", "-c", "kill -9 $$"}, Result{Status: StatusProcErr, Code: 137, Info: "killed by signal 9"}},
		// No shell: the metacharacters reach the program as arguments.
		{[]string{"/bin/test", "a", "=", "a;", "false"}, Result{Status: StatusProcErr, Code: 2, Info: "exited with status 2"}},
	}
	for _, tt := range tests {
		r := Run(t.Context(), &Script{Argv: tt.argv}, 5*time.Second)
		if r.Status != tt.want.Status || r.Code != tt.want.Code || r.Info != tt.want.Info {
			t.Errorf("%q: got %v %d %q, want %v %d %q", tt.argv, r.Status, r.Code, r.Info, tt.want.Status, tt.want.Code, tt.want.Info)
		}
	}
}

func TestScriptExecFailureIsSuccess(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "chk.sh")
	os.WriteFile(notExec, []byte("#!/bin/sh\nexit 1\n"), 0o644)
	for _, argv := range [][]string{{filepath.Join(dir, "missing")}, {notExec}, {}} {
		var warned string
		r := Run(t.Context(), &Script{Argv: argv, Warn: func(m string) { warned = m }}, time.Second)
		if r.Status != StatusProcOK || warned == "" || !strings.Contains(r.Info, "like keepalived") {
			t.Errorf("%q: got %v %q, warned %q; want PROCOK with a warning", argv, r.Status, r.Info, warned)
		}
	}
}

func TestScriptCredential(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change uid")
	}
	argv := []string{"/bin/sh", "-c", `test "$(id -u):$(id -g)" = 65534:65534`}
	if r := Run(t.Context(), &Script{Argv: argv}, 5*time.Second); r.Status != StatusProcErr {
		t.Fatalf("as root: %v, want PROCERR", r.Status)
	}
	r := Run(t.Context(), &Script{Argv: argv, Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}, 5*time.Second)
	if r.Status != StatusProcOK {
		t.Fatalf("as 65534: %v %q, want PROCOK", r.Status, r.Info)
	}
}

// gone reports whether pid no longer runs (absent or a zombie).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("script did not record its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// A timed-out script and the children in its process group get SIGTERM.
func TestScriptTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	s := &Script{Argv: []string{"/bin/sh", "-c", `sleep 60 & echo $! > ` + pidFile + `; wait`}}
	r := Run(t.Context(), s, 300*time.Millisecond)
	if r.Status != StatusProcTOUT || r.Duration > 1500*time.Millisecond {
		t.Fatalf("got %v after %v, want PROCTOUT soon after 300ms", r.Status, r.Duration)
	}
	waitGone(t, readPid(t, pidFile))
}

// A script that ignores SIGTERM is SIGKILLed 2 s later, group included.
func TestScriptTimeoutSIGKILLAfterGrace(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	s := &Script{Argv: []string{"/bin/sh", "-c", `trap "" TERM; sleep 60 & echo $! > ` + pidFile + `; wait; sleep 60`}}
	r := Run(t.Context(), s, 200*time.Millisecond)
	if r.Status != StatusProcTOUT {
		t.Fatalf("got %v, want PROCTOUT", r.Status)
	}
	if r.Duration < 200*time.Millisecond+DefaultKillGrace || r.Duration > 200*time.Millisecond+DefaultKillGrace+time.Second {
		t.Fatalf("took %v, want timeout + 2s grace", r.Duration)
	}
	waitGone(t, readPid(t, pidFile))
}
