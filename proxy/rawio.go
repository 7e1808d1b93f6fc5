package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a TCP connection with raw read(2)/write(2) on
// its non-blocking socket, waiting through Go's poller (so deadlines and
// Close work as with net.Conn) only when the kernel says EAGAIN.
//
// Why: net.Conn's Read and Write go through syscall.Syscall, which tells
// the scheduler the goroutine may block (entersyscall/exitsyscall). On a
// non-blocking socket they never block, but a loopback write that wakes
// the peer can take tens of microseconds; the runtime's monitor then
// hands the P to another thread, so every such call costs thread
// switches and keeps the monitor polling every 20 µs. Profiles of the
// proxy under load showed those switches and the monitor as the largest
// costs after the kernel's own TCP work. The HTTP path uses rawIO; the
// TCP path keeps *net.TCPConn so that io.Copy still splices.
type rawIO struct {
	rc syscall.RawConn
}

// newRawIO wraps c; a connection that is not a TCP (or Unix) socket is
// used as is, and so is every connection in race builds.
func newRawIO(c net.Conn) io.ReadWriter {
	if raceEnabled {
		return c
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &rawIO{rc: rc}
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			m, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			n, errno = int(m), e
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, os.NewSyscallError("read", errno)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (r *rawIO) Write(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := r.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(m)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err != nil {
		return n, err
	}
	if errno != 0 {
		return n, os.NewSyscallError("write", errno)
	}
	return n, nil
}
