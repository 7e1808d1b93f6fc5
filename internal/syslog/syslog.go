// Package syslog sends log lines the way HAProxy and keepalived do: to UDP
// syslog servers, to a unix datagram socket such as /dev/log, or to standard
// output or error, in HAProxy's formats (rfc3164, rfc5424, short, raw,
// timed, iso). The standard library's log/syslog writes a timestamp format
// that matches neither RFC, and blocks when the receiver is slow; a proxy
// must never wait for its logger, so a line that cannot be sent at once is
// dropped and counted, as HAProxy does.
package syslog

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Format is a log line layout, named as HAProxy's `log ... format` names it.
type Format int

// The formats HAProxy 2.6 writes; each comment shows one line.
const (
	RFC3164 Format = iota // <158>Nov 25 04:03:40 haproxy[11074]: msg
	RFC5424               // <158>1 2026-11-25T04:03:40.011549+00:00 - haproxy 11074 - - msg
	Short                 // <6>msg
	Raw                   // msg
	Timed                 // <6>2026-11-25T04:03:40.011776+00:00 msg
	ISO                   // 2026-11-25T04:03:40.011784+00:00 msg
)

var formatNames = map[string]Format{
	"rfc3164": RFC3164, "rfc5424": RFC5424, "short": Short,
	"raw": Raw, "timed": Timed, "iso": ISO,
}

// ParseFormat maps a format name from a configuration file.
func ParseFormat(s string) (Format, bool) {
	f, ok := formatNames[s]
	return f, ok
}

// Severity levels, as syslog numbers them.
const (
	Emerg = iota
	Alert
	Crit
	Err
	Warning
	Notice
	Info
	Debug
)

var levelNames = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// ParseLevel maps a level name ("info", "err", ...) to its number.
func ParseLevel(s string) (int, bool) {
	for i, n := range levelNames {
		if n == s {
			return i, true
		}
	}
	return 0, false
}

// LevelName returns the name of a level number.
func LevelName(l int) string {
	if l < 0 || l >= len(levelNames) {
		return strconv.Itoa(l)
	}
	return levelNames[l]
}

var facilityNames = []string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// ParseFacility maps a facility name ("local3", "daemon", ...) to its number.
func ParseFacility(s string) (int, bool) {
	for i, n := range facilityNames {
		if n == s {
			return i, true
		}
	}
	return 0, false
}

// Target says where and how lines go.
type Target struct {
	// Network is "udp", "unixgram", or "fd" (Addr is then "stdout" or
	// "stderr").
	Network string
	Addr    string
	Format  Format
	// Facility and the level range: lines above MaxLevel are not sent,
	// lines more urgent than MinLevel are raised to it (HAProxy's
	// "minlevel").
	Facility int
	MaxLevel int
	MinLevel int
	// Tag names the program in the line (default: haproxy). Hostname is
	// sent only when set: HAProxy sets it from log-send-hostname, and,
	// a quirk measured on 2.6, sends "localhost" when the log line names
	// `format rfc3164` explicitly without log-send-hostname (see
	// HostnameFor).
	Tag      string
	Hostname string
	// MaxLen truncates longer lines (default 1024, HAProxy's default).
	MaxLen int
}

// HostnameFor returns the Hostname a target gets in HAProxy 2.6:
// sendHostname is log-send-hostname's value ("" when absent, the system
// host name when given without argument), explicitRFC3164 says whether the
// log line spelled `format rfc3164`.
func HostnameFor(sendHostname string, explicitRFC3164 bool) string {
	if sendHostname == "" && explicitRFC3164 {
		return "localhost"
	}
	return sendHostname
}

// Sender writes lines to one target. It is safe for concurrent use.
type Sender struct {
	t       Target
	pid     string
	fd      int  // datagram socket, or 1/2 for standard streams
	stream  bool // fd is a stream: lines end with a newline
	mu      sync.Mutex
	buf     []byte
	dropped atomic.Uint64
}

// Open prepares a sender. UDP and unix datagram targets are connected once;
// a missing /dev/log is not an error at start (syslog may come later), the
// lines are dropped and counted until it exists.
func Open(t Target) (*Sender, error) {
	if t.MaxLen <= 0 {
		t.MaxLen = 1024
	}
	if t.Tag == "" {
		t.Tag = "haproxy"
	}
	s := &Sender{t: t, pid: strconv.Itoa(os.Getpid()), fd: -1}
	switch t.Network {
	case "fd":
		switch t.Addr {
		case "stdout":
			s.fd = 1
		case "stderr":
			s.fd = 2
		default:
			return nil, fmt.Errorf("unknown log stream %q", t.Addr)
		}
		s.stream = true
	case "udp", "udp4", "udp6":
		ua, err := net.ResolveUDPAddr(t.Network, t.Addr)
		if err != nil {
			return nil, fmt.Errorf("log target %s: %w", t.Addr, err)
		}
		fam := unix.AF_INET
		var sa unix.Sockaddr
		if ip4 := ua.IP.To4(); ip4 != nil {
			sa4 := &unix.SockaddrInet4{Port: ua.Port}
			copy(sa4.Addr[:], ip4)
			sa = sa4
		} else {
			fam = unix.AF_INET6
			sa6 := &unix.SockaddrInet6{Port: ua.Port}
			copy(sa6.Addr[:], ua.IP.To16())
			sa = sa6
		}
		fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("log target %s: %w", t.Addr, err)
		}
		if err := unix.Connect(fd, sa); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("log target %s: %w", t.Addr, err)
		}
		s.fd = fd
	case "unixgram":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("log target %s: %w", t.Addr, err)
		}
		s.fd = fd
	default:
		return nil, fmt.Errorf("unknown log network %q", t.Network)
	}
	return s, nil
}

// Close releases the socket.
// Lines logged after Close are dropped (never sent to a descriptor
// number the process may have reused).
func (s *Sender) Close() error {
	if s.stream {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// errClosed: the sender was closed.
var errClosed = errors.New("syslog sender closed")

// Dropped counts the lines that could not be sent at once.
func (s *Sender) Dropped() uint64 { return s.dropped.Load() }

// Log formats and sends one line at the given level, stamped with now.
// It never blocks on the receiver.
func (s *Sender) Log(level int, msg string, now time.Time) {
	if level > s.t.MaxLevel {
		return
	}
	if level < s.t.MinLevel {
		level = s.t.MinLevel
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.Append(s.buf[:0], level, msg, now)
	if err := s.send(s.buf); err != nil {
		s.dropped.Add(1)
	}
}

// LogBytes is Log for a message held in a byte slice: a proxy formats
// each transaction's line into a buffer and sends it without making a
// string of it.
func (s *Sender) LogBytes(level int, msg []byte, now time.Time) {
	if level > s.t.MaxLevel {
		return
	}
	if level < s.t.MinLevel {
		level = s.t.MinLevel
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.finish(append(s.appendHead(s.buf[:0], level, now), msg...))
	if err := s.send(s.buf); err != nil {
		s.dropped.Add(1)
	}
}

// Append formats a line into dst, without the trailing newline of stream
// targets; tests compare it with HAProxy's bytes.
func (s *Sender) Append(dst []byte, level int, msg string, now time.Time) []byte {
	return s.finish(append(s.appendHead(dst, level, now), msg...))
}

// appendHead appends the line's framing (priority, date, tag) for the
// target's format.
func (s *Sender) appendHead(dst []byte, level int, now time.Time) []byte {
	pri := s.t.Facility*8 + level
	switch s.t.Format {
	case RFC3164:
		dst = appendPri(dst, pri)
		dst = now.AppendFormat(dst, time.Stamp)
		dst = append(dst, ' ')
		if s.t.Hostname != "" {
			dst = append(dst, s.t.Hostname...)
			dst = append(dst, ' ')
		}
		dst = append(dst, s.t.Tag...)
		dst = append(dst, '[')
		dst = append(dst, s.pid...)
		dst = append(dst, "]: "...)
	case RFC5424:
		dst = appendPri(dst, pri)
		dst = append(dst, "1 "...)
		dst = now.AppendFormat(dst, "2006-01-02T15:04:05.000000-07:00")
		dst = append(dst, ' ')
		if s.t.Hostname != "" {
			dst = append(dst, s.t.Hostname...)
		} else {
			dst = append(dst, '-')
		}
		dst = append(dst, ' ')
		dst = append(dst, s.t.Tag...)
		dst = append(dst, ' ')
		dst = append(dst, s.pid...)
		dst = append(dst, " - - "...)
	case Short:
		dst = appendPri(dst, level)
	case Timed:
		dst = appendPri(dst, level)
		dst = now.AppendFormat(dst, "2006-01-02T15:04:05.000000-07:00")
		dst = append(dst, ' ')
	case ISO:
		dst = now.AppendFormat(dst, "2006-01-02T15:04:05.000000-07:00")
		dst = append(dst, ' ')
	case Raw:
	}
	return dst
}

// finish truncates the line to the target's length and ends it.
func (s *Sender) finish(dst []byte) []byte {
	// HAProxy ends every line with a newline, datagrams included.
	if len(dst) > s.t.MaxLen-1 {
		dst = dst[:s.t.MaxLen-1]
	}
	return append(dst, '\n')
}

func appendPri(dst []byte, pri int) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(pri), 10)
	return append(dst, '>')
}

func (s *Sender) send(b []byte) error {
	if s.fd < 0 {
		return errClosed
	}
	switch {
	case s.stream:
		_, err := unix.Write(s.fd, b)
		return err
	case s.t.Network == "unixgram":
		err := unix.Sendto(s.fd, b, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, &unix.SockaddrUnix{Name: s.t.Addr})
		return err
	default:
		err := unix.Send(s.fd, b, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		if errors.Is(err, syscall.ECONNREFUSED) {
			// A previous datagram found no listener (ICMP port
			// unreachable); that line was lost, this one may not be.
			err = unix.Send(s.fd, b, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		}
		return err
	}
}

// ParseAddr splits a HAProxy log address into a network and address:
// "127.0.0.1" (UDP port 514), "127.0.0.1:5140", "udp@host:port",
// "ipv6@[::1]:514", "unix@/dev/log", "/dev/log", "stdout", "stderr".
func ParseAddr(a string) (network, addr string, err error) {
	switch {
	case a == "stdout" || a == "stderr":
		return "fd", a, nil
	case strings.HasPrefix(a, "fd@"):
		switch a[3:] {
		case "1":
			return "fd", "stdout", nil
		case "2":
			return "fd", "stderr", nil
		}
		return "", "", fmt.Errorf("unsupported log fd %q", a)
	case strings.HasPrefix(a, "unix@"):
		return "unixgram", a[5:], nil
	case strings.HasPrefix(a, "/"):
		return "unixgram", a, nil
	}
	network = "udp"
	for _, p := range []string{"udp@", "udp4@", "ipv4@"} {
		if strings.HasPrefix(a, p) {
			a, network = a[len(p):], "udp4"
		}
	}
	for _, p := range []string{"udp6@", "ipv6@"} {
		if strings.HasPrefix(a, p) {
			a, network = a[len(p):], "udp6"
		}
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		host, port = strings.Trim(a, "[]"), "514"
	}
	if host == "" {
		return "", "", fmt.Errorf("missing address in %q", a)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", fmt.Errorf("invalid port in %q", a)
	}
	return network, net.JoinHostPort(host, port), nil
}
