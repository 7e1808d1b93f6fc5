package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// TestQuietSilencesRuntimeMessages: with -q, a server going DOWN and a
// backend without servers print nothing on stderr once the process
// serves, as with haproxy -q; without -q both lines appear.
func TestQuietSilencesRuntimeMessages(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	for _, c := range []struct {
		name string
		bin  string
	}{{"goproxy", goproxyBinary(t)}, {"haproxy", haproxy}} {
		for _, quiet := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/quiet=%v", c.name, quiet), func(t *testing.T) {
				out := runUntilChecked(t, c.bin, quiet)
				down := strings.Contains(out, "Server b/s1 is DOWN") && strings.Contains(out, "backend 'b' has no server available!")
				if quiet && strings.Contains(out, "s1") {
					t.Errorf("-q printed:\n%s", out)
				}
				if !quiet && !down {
					t.Errorf("without -q the DOWN lines are missing:\n%s", out)
				}
			})
		}
	}
}

// runUntilChecked runs bin in the foreground on a backend whose only
// server refuses connections, waits (through the stats socket) until the
// check has marked it DOWN, stops it softly and returns what it printed.
func runUntilChecked(t *testing.T, bin string, quiet bool) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "stats.sock")
	dead := freeAddr(t, "127.0.18.9")
	cfg := filepath.Join(dir, "q.cfg")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global
  stats socket %s level admin
defaults
  mode http
  timeout client 1s
  timeout server 1s
  timeout connect 1s
frontend f
  bind %s
  default_backend b
backend b
  server s1 %s check inter 100 fall 1
`, sock, freeAddr(t, "127.0.18.9"), dead)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-db", "-f", cfg}
	if quiet {
		args = append(args, "-q")
	}
	cmd := exec.Command(bin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(showStat(sock), "b,s1,") && strings.Contains(showStat(sock), ",DOWN,") {
			// A soft stop flushes whatever the DOWN transition was going
			// to print before the process leaves.
			cmd.Process.Signal(syscall.SIGUSR1)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not leave after SIGUSR1", bin)
			}
			return out.String()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: s1 never reported DOWN; output:\n%s", bin, out.String())
	return ""
}

func showStat(sock string) string {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "show stat\n")
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}
