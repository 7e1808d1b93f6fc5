package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// TCP is HAProxy's plain `check` (and keepalived's TCP_CHECK): it passes
// when a TCP connection to Addr is established (L4OK), and reports a
// refused or unreachable target as L4CON and a connect that does not
// finish in time as L4TOUT.
type TCP struct {
	// Addr is host:port; see CheckAddr for `addr` and `port` overrides.
	Addr string
	// ConnectTimeout bounds the connect (0: only the check's context).
	ConnectTimeout time.Duration
	// Source, when set, is the local address to bind (keepalived bindto).
	Source net.Addr
	// TLS, when set, adds a TLS handshake (HAProxy's `check-ssl`): success
	// is then L6OK, a failed handshake L6RSP, a slow one L6TOUT.
	TLS *tls.Config
}

// Check connects and closes at once.
func (c *TCP) Check(ctx context.Context) Result {
	conn, fail := dial(ctx, c.Addr, c.ConnectTimeout, c.Source)
	if fail != nil {
		return *fail
	}
	defer conn.Close()
	if c.TLS != nil {
		if _, fail := handshake(ctx, conn, c.TLS); fail != nil {
			return *fail
		}
		return Result{Status: StatusL6OK}
	}
	return Result{Status: StatusL4OK}
}

// handshake runs a TLS client handshake on conn under ctx.
func handshake(ctx context.Context, conn net.Conn, conf *tls.Config) (net.Conn, *Result) {
	tc := tls.Client(conn, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		if ctx.Err() != nil || isTimeout(err) {
			return nil, &Result{Status: StatusL6TOUT}
		}
		return nil, &Result{Status: StatusL6RSP, Info: err.Error()}
	}
	return tc, nil
}

// CheckAddr returns the address a server is checked on: the server's own
// address with HAProxy's `addr` (or keepalived's connect_ip) replacing the
// host and `port` (connect_port) replacing the port when they are set.
func CheckAddr(server, addr string, port int) (string, error) {
	host, p, err := net.SplitHostPort(server)
	if err != nil {
		return "", err
	}
	if addr != "" {
		host = addr
	}
	if port > 0 {
		p = strconv.Itoa(port)
	}
	return net.JoinHostPort(host, p), nil
}

// dial connects to addr, returning the failure as a Result.
func dial(ctx context.Context, addr string, timeout time.Duration, source net.Addr) (net.Conn, *Result) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	d := net.Dialer{LocalAddr: source}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, connectFailure(ctx, err)
	}
	return conn, nil
}

// connectFailure maps a connect error to HAProxy's L4 status.
func connectFailure(ctx context.Context, err error) *Result {
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return &Result{Status: StatusL4TOUT}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &Result{Status: StatusL4CON, Info: strerror(errno)}
	}
	return &Result{Status: StatusL4CON, Info: err.Error()}
}

// strerror spells errno like C's strerror ("Connection refused"), which
// is what HAProxy puts in the info of L4CON results.
func strerror(e syscall.Errno) string {
	s := e.Error()
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// setDeadline applies ctx's deadline to conn, if it has one.
func setDeadline(ctx context.Context, conn net.Conn) {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
}

// watch closes conn's deadline early when ctx is cancelled (not only on
// its deadline), so a shutdown interrupts a blocked read. The returned
// function stops the watch.
func watch(ctx context.Context, conn net.Conn) func() bool {
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// isTimeout reports whether err is a deadline (the check timeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
