package fdpass

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The `_getsocks` exchange of HAProxy's stats socket (`expose-fd
// listeners`, and `-x` in the new process), as HAProxy 2.6 speaks it, so
// that goproxy and HAProxy can take listeners from each other:
//
//   - the receiver sends the line "_getsocks\n";
//   - the sender answers with the number of descriptors, a native-endian
//     32-bit integer, alone in its message;
//   - then messages of at most GetsocksBatch descriptors (SCM_RIGHTS); the
//     data of each holds, per descriptor, a length-prefixed network
//     namespace name, a length-prefixed interface name and 4 bytes of
//     (unused) options;
//   - the receiver acknowledges each message with a 32-bit integer (the
//     count received so far).
//
// The receiver learns each socket's address from the socket itself
// (getsockname), never from the data.

// GetsocksCommand is the line that asks for the listeners.
const GetsocksCommand = "_getsocks"

// GetsocksBatch is HAProxy's MAX_SEND_FD.
const GetsocksBatch = 253

// SendGetsocks answers a `_getsocks` command already read from c with
// files. The caller keeps ownership of the files.
func SendGetsocks(c *net.UnixConn, files []*os.File) error {
	var count [4]byte
	binary.NativeEndian.PutUint32(count[:], uint32(len(files)))
	if _, err := c.Write(count[:]); err != nil {
		return fmt.Errorf("fdpass: _getsocks: %w", err)
	}
	for len(files) > 0 {
		n := min(len(files), GetsocksBatch)
		fds := make([]int, n)
		data := make([]byte, 0, 6*n)
		for i, f := range files[:n] {
			fds[i] = int(f.Fd())
			// No namespace, no interface, no options.
			data = append(data, 0, 0, 0, 0, 0, 0)
		}
		files = files[n:]
		if _, _, err := c.WriteMsgUnix(data, unix.UnixRights(fds...), nil); err != nil {
			return fmt.Errorf("fdpass: _getsocks: %w", err)
		}
		// The receiver acknowledges each batch; an old receiver that does
		// not is tolerated.
		c.SetReadDeadline(time.Now().Add(time.Second))
		var ack [4]byte
		if _, err := c.Read(ack[:]); err != nil && len(files) > 0 {
			return fmt.Errorf("fdpass: _getsocks: no acknowledgement: %w", err)
		}
	}
	return nil
}

// FetchGetsocks connects to the stats socket at addr (a path, or @name for
// an abstract socket), sends `_getsocks` and returns the descriptors
// received. The caller owns them.
func FetchGetsocks(addr string, timeout time.Duration) ([]*os.File, error) {
	c, err := net.DialTimeout("unix", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("fdpass: connecting to %s: %w", addr, err)
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	uc.SetDeadline(time.Now().Add(timeout))
	if _, err := uc.Write([]byte(GetsocksCommand + "\n")); err != nil {
		return nil, fmt.Errorf("fdpass: %s: %w", addr, err)
	}
	var count [4]byte
	n, _, _, _, err := uc.ReadMsgUnix(count[:], nil)
	if err != nil || n != 4 {
		return nil, fmt.Errorf("fdpass: %s: cannot read the number of sockets (%d bytes, %v)", addr, n, err)
	}
	want := int(binary.NativeEndian.Uint32(count[:]))
	if want > 1<<16 {
		return nil, fmt.Errorf("fdpass: %s: %d sockets announced", addr, want)
	}
	var out []*os.File
	fail := func(err error) ([]*os.File, error) {
		for _, f := range out {
			f.Close()
		}
		return nil, err
	}
	buf := make([]byte, GetsocksBatch*(1+255+1+255+4))
	oob := make([]byte, unix.CmsgSpace(GetsocksBatch*4))
	for len(out) < want {
		n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 && oobn == 0 {
			return fail(fmt.Errorf("fdpass: %s: got %d of %d sockets: %v", addr, len(out), want, err))
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return fail(fmt.Errorf("fdpass: %s: %w", addr, err))
		}
		for _, m := range msgs {
			fds, err := unix.ParseUnixRights(&m)
			if err != nil {
				continue
			}
			for _, fd := range fds {
				unix.CloseOnExec(fd)
				out = append(out, os.NewFile(uintptr(fd), "xfer"))
			}
		}
		var ack [4]byte
		binary.NativeEndian.PutUint32(ack[:], uint32(len(out)))
		uc.Write(ack[:])
	}
	if len(out) != want {
		return fail(fmt.Errorf("fdpass: %s: got %d sockets, expected %d", addr, len(out), want))
	}
	return out, nil
}

// ReadGetsocksCommand reads one command line from c and reports whether it
// is `_getsocks`.
func ReadGetsocksCommand(c net.Conn, timeout time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReaderSize(c, 64).ReadString('\n')
	c.SetReadDeadline(time.Time{})
	return err == nil && strings.TrimSpace(line) == GetsocksCommand
}

// SockName names a socket by the address it is bound to, the way a new
// process recognises a listener it inherited: "tcp:127.0.0.1:80",
// "tcp:[::]:443", "unix:/run/x.sock".
func SockName(f *os.File) (string, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return "", err
	}
	var sa unix.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) { sa, serr = unix.Getsockname(int(fd)) }); err != nil {
		return "", err
	}
	if serr != nil {
		return "", serr
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return "tcp:" + netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String(), nil
	case *unix.SockaddrInet6:
		return "tcp:" + netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String(), nil
	case *unix.SockaddrUnix:
		return "unix:" + a.Name, nil
	}
	return "", errors.New("fdpass: unsupported socket family")
}
