package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDemo runs `make demo`'s program with keys on its standard input:
// the lab comes up with the VIP on lb1, `2` stops keepalived on lb1 and
// the VIP moves to lb2, `q` tears everything down (no namespace left).
func TestDemo(t *testing.T) {
	requireLab(t)
	repo := repoRoot(t)
	src := os.Getenv("E2E_SRC")
	if src == "" {
		src = repo
	}
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command(goTool(), "build", "-o", bin, "./internal/e2e/demo")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	pr, pw := io.Pipe()
	var out lockedBuffer
	cmd := exec.Command(bin, "-repo", src)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, &out, &out
	// The lab's daemons inherit the demo's output: once the demo is gone,
	// do not wait for them to close it.
	cmd.WaitDelay = 5 * time.Second
	must(t, cmd.Start())
	done := make(chan struct{}) // closed when the demo has exited
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		pw.Close()
		select {
		case <-done:
			return
		default:
		}
		// Ctrl-C: the demo tears its lab down; killed if it does not.
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	pid := cmd.Process.Pid
	outHas := func(s string) func() bool {
		return func() bool { return strings.Contains(out.String(), s) }
	}
	wait := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > d {
				t.Fatalf("demo: timed out waiting for %s; output:\n%s", what, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("the lab", 90*time.Second, outHas("Keys (then Enter)"))
	for _, want := range []string{"VIP:          192.0.2.200  (held by [lb1])", "curl -s -H 'Host: test.com' http://192.0.2.200/",
		"curl -s -H 'Host: test.domain.com' http://192.0.2.200/", "http://192.0.2.200/admin?stats"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	io.WriteString(pw, "2\n")
	wait("the VIP on lb2", 15*time.Second, outHas("VIP 192.0.2.200 held by [lb2]"))
	io.WriteString(pw, "q\n")
	pw.Close() // Wait copies stdin until it closes
	wait("the teardown", 30*time.Second, outHas("done: namespaces removed"))
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("demo exited with %v", waitErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("demo did not exit after q")
	}
	if nss, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(nss), "-"+itoa(pid)+"-") {
		t.Errorf("namespaces of the demo (pid %d) left behind:\n%s", pid, nss)
	}
}

// lockedBuffer is a bytes.Buffer that the command's output copier and the
// test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
