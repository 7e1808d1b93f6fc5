// Package daemon detaches a server from its terminal the way HAProxy's -D and
// keepalived's default start do, without the classic double fork (which Go
// cannot do safely): the process re-executes itself in a new session and the
// parent waits until the child says it is ready (listeners bound, sockets
// open) or has failed. So `goproxy -D` returns 0 only once the proxy serves,
// and a bind error is printed by the command the operator typed, with a
// non-zero exit, as init scripts expect.
//
// The child is started from the same path the operator used (os.Args[0]),
// never /proc/self/exe: the kernel names a process after the file it was
// executed from, and scripts such as check_haproxy.sh find the proxy with
// `ps -C haproxy`.
package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// envChild marks the re-executed child; its value is the readiness pipe's
// file descriptor number.
const envChild = "HAPAIR_DAEMON_READY_FD"

const readyToken = "READY"

// IsChild reports whether this process is the detached child of Detach.
func IsChild() bool { return os.Getenv(envChild) != "" }

// Detach starts this program again, with the same arguments, in a new
// session with standard input and outputs on /dev/null, and waits up to
// timeout for the child to call Ready or Fail (or to exit). It returns the
// child's pid once the child is ready, and an error carrying the child's own
// message otherwise. Call it only when IsChild() is false.
func Detach(timeout time.Duration) (int, error) {
	self, err := selfPath()
	if err != nil {
		return 0, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("daemon: %w", err)
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return 0, fmt.Errorf("daemon: %w", err)
	}
	defer null.Close()
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), envChild+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("daemon: starting %s: %w", self, err)
	}
	w.Close()
	pid := cmd.Process.Pid

	type answer struct {
		ready bool
		msg   string
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		sc := bufio.NewScanner(r)
		var lines []string
		for sc.Scan() {
			if sc.Text() == readyToken {
				a.ready = true
				break
			}
			lines = append(lines, sc.Text())
		}
		a.msg = strings.Join(lines, "\n")
		done <- a
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-done:
		if a.ready {
			cmd.Process.Release()
			return pid, nil
		}
		// The child closed the pipe without becoming ready: it failed.
		err := cmd.Wait()
		if a.msg != "" {
			return 0, errors.New(a.msg)
		}
		return 0, fmt.Errorf("daemon: child exited before it was ready: %v", err)
	case <-timer.C:
		cmd.Process.Kill()
		cmd.Wait()
		return 0, fmt.Errorf("daemon: child not ready after %s", timeout)
	}
}

// selfPath resolves the path this program was started from, keeping the
// name the operator used (a symlink such as sbin/haproxy stays haproxy).
func selfPath() (string, error) {
	arg0 := os.Args[0]
	if strings.Contains(arg0, "/") {
		if _, err := os.Stat(arg0); err == nil {
			return arg0, nil
		}
	} else if p, err := exec.LookPath(arg0); err == nil {
		return p, nil
	}
	// The original path is gone (for example a binary replaced by an
	// upgrade): fall back to the running executable.
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("daemon: cannot find own executable: %w", err)
	}
	return filepath.Clean(p), nil
}

func readyPipe() *os.File {
	fd := os.Getenv(envChild)
	if fd == "" {
		return nil
	}
	os.Unsetenv(envChild)
	var n uintptr
	if _, err := fmt.Sscanf(fd, "%d", &n); err != nil {
		return nil
	}
	return os.NewFile(n, "daemon-ready")
}

var pipe io.WriteCloser

func child() io.WriteCloser {
	if pipe == nil {
		if f := readyPipe(); f != nil {
			pipe = f
		}
	}
	return pipe
}

// Ready tells the waiting parent that the child serves; the parent then
// exits 0. It does nothing outside a detached child.
func Ready() {
	if w := child(); w != nil {
		io.WriteString(w, readyToken+"\n")
		w.Close()
		pipe = nil
	}
}

// Fail hands the child's fatal error to the waiting parent, which prints it
// and exits non-zero. It does nothing outside a detached child.
func Fail(msg string) {
	if w := child(); w != nil {
		io.WriteString(w, strings.TrimRight(msg, "\n")+"\n")
		w.Close()
		pipe = nil
	}
}

// WritePidFile writes pids, one per line, to path atomically (a reader never
// sees a half-written file), as HAProxy's -p and keepalived's -p do.
func WritePidFile(path string, pids ...int) error {
	var b strings.Builder
	for _, p := range pids {
		fmt.Fprintf(&b, "%d\n", p)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".pid-*")
	if err != nil {
		return fmt.Errorf("writing pid file %s: %w", path, err)
	}
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing pid file %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing pid file %s: %w", path, err)
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing pid file %s: %w", path, err)
	}
	return nil
}
