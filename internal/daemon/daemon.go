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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// envChild marks the re-executed child; its value is the readiness pipe's
// file descriptor number.
const envChild = "HAPAIR_DAEMON_READY_FD"

const readyToken = "READY"

// startDir is the working directory the program was started in, taken
// before main runs (and before -C changes it): the child starts there, so
// relative paths in its arguments mean what they meant to the operator.
var startDir, _ = os.Getwd()

// IsChild reports whether this process was started by Start or Detach
// and has a parent waiting for Ready or Fail.
func IsChild() bool { return isChild }

// isChild and readyW are taken from the environment before main runs, and
// the variable is removed at once and the pipe marked close-on-exec: a
// program this process starts later (a script, or a proxy that a check
// script starts) must neither take the readiness pipe for its own nor
// keep it open.
var isChild, readyW = takeReadiness()

func takeReadiness() (bool, *os.File) {
	v := os.Getenv(envChild)
	if v == "" {
		return false, nil
	}
	os.Unsetenv(envChild)
	n, err := strconv.Atoi(v)
	if err != nil || n < 3 {
		return true, nil
	}
	syscall.CloseOnExec(n)
	return true, os.NewFile(uintptr(n), "daemon-ready")
}

// Spec says how Start runs the copy of this program.
type Spec struct {
	// Args are the arguments after the program name; nil means the
	// arguments of this process.
	Args []string
	// Env is added to this process's environment.
	Env []string
	// Setsid starts the child in a new session (detached from the
	// terminal), as daemon mode wants; a master's workers stay in its
	// session.
	Setsid bool
	// Stdout and Stderr default to /dev/null.
	Stdout, Stderr *os.File
}

// Child is a running copy of this program started by Start, which reports
// Ready or Fail over a pipe.
type Child struct {
	Cmd  *exec.Cmd
	done chan answer
}

type answer struct {
	ready bool
	msg   string
}

// Start runs this program again as spec says; the child finds the
// readiness pipe through the environment (IsChild, Ready, Fail).
func Start(spec Spec) (*Child, error) {
	self, err := selfPath()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	defer null.Close()
	args := spec.Args
	if args == nil {
		args = os.Args[1:]
	}
	cmd := exec.Command(self, args...)
	cmd.Args[0] = os.Args[0]
	cmd.Dir = startDir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envChild+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(append(env, spec.Env...), envChild+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	if spec.Stdout != nil {
		cmd.Stdout = spec.Stdout
	}
	if spec.Stderr != nil {
		cmd.Stderr = spec.Stderr
	}
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
	if spec.Setsid {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("daemon: starting %s: %w", self, err)
	}
	w.Close()
	c := &Child{Cmd: cmd, done: make(chan answer, 1)}
	go func() {
		defer r.Close()
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
		c.done <- a
	}()
	return c, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// WaitReady waits up to timeout for the child to call Ready. When the child
// fails, exits or times out (it is then killed), WaitReady reaps it and
// returns an error with the child's own message.
func (c *Child) WaitReady(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-c.done:
		if a.ready {
			return nil
		}
		// The child closed the pipe without becoming ready: it failed.
		err := c.Cmd.Wait()
		if a.msg != "" {
			return errors.New(a.msg)
		}
		return fmt.Errorf("daemon: child exited before it was ready: %v", err)
	case <-timer.C:
		c.Cmd.Process.Kill()
		c.Cmd.Wait()
		return fmt.Errorf("daemon: child not ready after %s", timeout)
	}
}

// Detach starts this program again, with the same arguments, in a new
// session with standard input and outputs on /dev/null, and waits up to
// timeout for the child to call Ready or Fail (or to exit). It returns the
// child's pid once the child is ready, and an error carrying the child's own
// message otherwise. Call it only when IsChild() is false.
func Detach(timeout time.Duration) (int, error) {
	c, err := Start(Spec{Setsid: true})
	if err != nil {
		return 0, err
	}
	if err := c.WaitReady(timeout); err != nil {
		return 0, err
	}
	pid := c.Pid()
	c.Cmd.Process.Release()
	return pid, nil
}

// selfPath resolves the path this program was started from, keeping the
// name the operator used (a symlink such as sbin/haproxy stays haproxy).
func selfPath() (string, error) {
	arg0 := os.Args[0]
	if strings.Contains(arg0, "/") {
		if !filepath.IsAbs(arg0) && startDir != "" {
			arg0 = filepath.Join(startDir, arg0)
		}
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

var readyMu sync.Mutex

// tellParent writes line to the waiting parent, once.
func tellParent(line string) {
	readyMu.Lock()
	defer readyMu.Unlock()
	if readyW != nil {
		io.WriteString(readyW, line+"\n")
		readyW.Close()
		readyW = nil
	}
}

// Ready tells the waiting parent that the child serves; the parent then
// exits 0. It does nothing outside a detached child, and after the first
// Ready or Fail.
func Ready() { tellParent(readyToken) }

// Fail hands the child's fatal error to the waiting parent, which prints it
// and exits non-zero. It does nothing outside a detached child.
func Fail(msg string) { tellParent(strings.TrimRight(msg, "\n")) }

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
