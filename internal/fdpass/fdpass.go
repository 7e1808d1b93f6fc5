// Package fdpass hands listening sockets from a running process to its
// successor over a unix socket (SCM_RIGHTS), the mechanism behind HAProxy's
// `expose-fd listeners` and `-x`. A reload that re-binds with SO_REUSEPORT
// alone loses the connections queued on the old socket when it closes; a
// reload that takes the very same socket loses none.
//
// The wire format is ours (goproxy only ever talks to goproxy here): each
// message carries up to maxPerMsg descriptors and, as data, their names one
// per line; an empty message ends the transfer.
package fdpass

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// maxPerMsg stays below the kernel's SCM_MAX_FD (253).
const maxPerMsg = 200

// File is a descriptor with the name that identifies it to the receiver, for
// example "tcp:127.0.0.1:80" for a listener bound to that address.
type File struct {
	Name string
	File *os.File
}

// AbstractAddr is the abstract unix socket name on which the process with
// the given pid offers its listeners; a new process started with `-sf PID`
// asks there without any configuration.
func AbstractAddr(prog string, pid int) string {
	return fmt.Sprintf("@%s-listeners-%d", prog, pid)
}

// Serve accepts connections on ln until ctx ends, and answers each with the
// descriptors that files returns at that moment. The caller keeps ownership
// of the files.
func Serve(ctx context.Context, ln *net.UnixListener, files func() []File) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("fdpass: accept: %w", err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		err = Send(c, files())
		c.Close()
		if err != nil && ctx.Err() == nil {
			// One failed transfer must not stop the server; the
			// receiver sees the short transfer and reports it.
			continue
		}
	}
}

// Send writes files to c in the transfer format Fetch and Receive read. The
// caller keeps ownership of the files.
func Send(c *net.UnixConn, files []File) error {
	for len(files) > 0 {
		n := min(len(files), maxPerMsg)
		batch := files[:n]
		files = files[n:]
		fds := make([]int, n)
		names := make([]string, n)
		for i, f := range batch {
			fds[i] = int(f.File.Fd())
			names[i] = f.Name
		}
		data := []byte(strings.Join(names, "\n"))
		if _, _, err := c.WriteMsgUnix(data, unix.UnixRights(fds...), nil); err != nil {
			return fmt.Errorf("fdpass: send: %w", err)
		}
	}
	_, _, err := c.WriteMsgUnix([]byte{0}, nil, nil) // end of transfer
	return err
}

// Fetch connects to addr (a path, or @name for an abstract socket) and
// receives the descriptors offered there. The caller owns the returned files.
func Fetch(addr string, timeout time.Duration) ([]File, error) {
	c, err := net.DialTimeout("unix", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("fdpass: connecting to %s: %w", addr, err)
	}
	defer c.Close()
	return Receive(c.(*net.UnixConn), timeout)
}

// Receive reads one transfer (as Send writes it) from c within timeout, for
// callers that speak first on the connection (HAProxy's `_getsocks`
// command on a stats socket). The caller owns the returned files.
func Receive(uc *net.UnixConn, timeout time.Duration) ([]File, error) {
	addr := uc.RemoteAddr().String()
	uc.SetDeadline(time.Now().Add(timeout))
	var out []File
	buf := make([]byte, 64*1024)
	oob := make([]byte, unix.CmsgSpace(maxPerMsg*4))
	for {
		n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("fdpass: receiving from %s: %w", addr, err)
		}
		if oobn == 0 {
			if n == 1 && buf[0] == 0 {
				return out, nil
			}
			closeAll(out)
			return nil, fmt.Errorf("fdpass: malformed message from %s", addr)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("fdpass: %w", err)
		}
		var fds []int
		for _, m := range msgs {
			r, err := unix.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, r...)
			}
		}
		names := strings.Split(string(buf[:n]), "\n")
		if len(names) != len(fds) {
			for _, fd := range fds {
				unix.Close(fd)
			}
			closeAll(out)
			return nil, fmt.Errorf("fdpass: %d names for %d descriptors from %s", len(names), len(fds), addr)
		}
		for i, fd := range fds {
			unix.CloseOnExec(fd)
			out = append(out, File{Name: names[i], File: os.NewFile(uintptr(fd), names[i])})
		}
	}
}

func closeAll(fs []File) {
	for _, f := range fs {
		f.File.Close()
	}
}
