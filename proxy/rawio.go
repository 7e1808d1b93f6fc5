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
	// Read and Write state, with the callbacks made once: a closure per
	// call would allocate (RawConn's methods take it through an
	// interface). A Read and a Write may run at the same time.
	rbuf            []byte
	rn              int
	rerr            syscall.Errno
	wbuf            []byte
	wn              int
	werr            syscall.Errno
	readFn, writeFn func(uintptr) bool
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
	r := &rawIO{rc: rc}
	r.readFn, r.writeFn = r.doRead, r.doWrite
	return r
}

func (r *rawIO) doRead(fd uintptr) bool {
	p := r.rbuf
	for {
		m, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.rn, r.rerr = int(m), e
		return true
	}
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rbuf, r.rn, r.rerr = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.rbuf = nil
	if err != nil {
		return 0, err
	}
	if r.rerr != 0 {
		return 0, os.NewSyscallError("read", r.rerr)
	}
	if r.rn == 0 {
		return 0, io.EOF
	}
	return r.rn, nil
}

func (r *rawIO) doWrite(fd uintptr) bool {
	p := r.wbuf
	for r.wn < len(p) {
		m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[r.wn])), uintptr(len(p)-r.wn))
		switch e {
		case 0:
			r.wn += int(m)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.werr = e
			return true
		}
	}
	return true
}

func (r *rawIO) Write(p []byte) (int, error) {
	r.wbuf, r.wn, r.werr = p, 0, 0
	err := r.rc.Write(r.writeFn)
	r.wbuf = nil
	n := r.wn
	if err != nil {
		return n, err
	}
	if r.werr != 0 {
		return n, os.NewSyscallError("write", r.werr)
	}
	return n, nil
}
