package lvs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"hapair/checks"
)

// fifo is a notify FIFO (notify_fifo, lvs_notify_fifo) that the checker
// writes its "RS ..." and "VS ..." lines to. It is opened read-write and
// non-blocking, as keepalived does, so that a missing reader never blocks
// the checker: lines wait in the pipe, and when it is full they are dropped.
type fifo struct {
	path    string
	fd      int
	created bool
}

// openFifo opens path, creating the FIFO when it does not exist.
func openFifo(path string) (*fifo, error) {
	f := &fifo{path: path, fd: -1}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := unix.Mkfifo(path, 0o600); err != nil {
			return nil, fmt.Errorf("creating notify FIFO %s: %w", path, err)
		}
		f.created = true
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		f.close()
		return nil, fmt.Errorf("opening notify FIFO %s: %w", path, err)
	}
	f.fd = fd
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		f.close()
		return nil, fmt.Errorf("notify FIFO %s is not a FIFO", path)
	}
	return f, nil
}

// write sends one line (a newline is added).
func (f *fifo) write(line string) error {
	b := []byte(line + "\n")
	n, err := unix.Write(f.fd, b)
	if err != nil {
		return fmt.Errorf("notify FIFO %s: %w", f.path, err)
	}
	if n != len(b) {
		return fmt.Errorf("notify FIFO %s: short write (%d of %d bytes)", f.path, n, len(b))
	}
	return nil
}

// close closes the FIFO and removes it if it was created here.
func (f *fifo) close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
	if f.created {
		os.Remove(f.path)
	}
}

// openFifos opens the FIFOs of global_defs that take checker lines:
// notify_fifo and lvs_notify_fifo (once when they are the same file), and
// starts lvs_notify_fifo_script with the FIFO's name as its last argument,
// as keepalived does. Problems are logged; the checker runs without them.
func (c *Checker) openFifos() {
	g := c.cfg.Global
	for _, p := range []string{g.NotifyFifo, g.LVSNotifyFifo} {
		if p == "" || (len(c.fifos) > 0 && c.fifos[0].path == p) {
			continue
		}
		f, err := openFifo(p)
		if err != nil {
			c.opts.Logf("%v - not using it", err)
			continue
		}
		c.fifos = append(c.fifos, f)
	}
	if g.LVSNotifyFifo == "" || g.LVSNotifyFifoScript == "" || g.LVSNotifyFifoScript == g.NotifyFifoScript && g.NotifyFifo == g.LVSNotifyFifo {
		return
	}
	argv, err := checks.SplitCommand(g.LVSNotifyFifoScript)
	if err != nil || len(argv) == 0 {
		c.opts.Logf("lvs_notify_fifo_script %q: cannot split it: %v", g.LVSNotifyFifoScript, err)
		return
	}
	cmd := exec.Command(argv[0], append(argv[1:], g.LVSNotifyFifo)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		c.opts.Logf("lvs_notify_fifo_script %q: %v", g.LVSNotifyFifoScript, err)
		return
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	c.fifoScript, c.fifoScriptDone = cmd, done
}

// closeFifos stops lvs_notify_fifo_script (SIGTERM to its process group,
// SIGKILL after checks.DefaultKillGrace) and closes the FIFOs.
func (c *Checker) closeFifos() {
	if c.fifoScript != nil {
		pid := c.fifoScript.Process.Pid
		_ = unix.Kill(-pid, unix.SIGTERM)
		t := time.NewTimer(checks.DefaultKillGrace)
		select {
		case <-c.fifoScriptDone:
			t.Stop()
		case <-t.C:
			_ = unix.Kill(-pid, unix.SIGKILL)
			<-c.fifoScriptDone
		}
		c.opts.Logf("lvs notify fifo script terminated")
		c.fifoScript = nil
	}
	for _, f := range c.fifos {
		f.close()
	}
	c.fifos = nil
}

func (c *Checker) writeFifos(line string) {
	for _, f := range c.fifos {
		if err := f.write(line); err != nil {
			c.opts.Logf("%v - line %q dropped", err, line)
		}
	}
}
