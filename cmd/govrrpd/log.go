package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// syslogSocket is where syslog messages go (a variable so that tests can
// listen on their own socket).
var syslogSocket = "/dev/log"

// syslog facilities keepalived's -S accepts.
const (
	facUser   = 1
	facDaemon = 3
	facLocal0 = 16
)

// parseFacility reads -S: 0-7 or local0-7 (LOG_LOCALn), user, daemon.
func parseFacility(s string) (int, error) {
	v := strings.TrimPrefix(strings.ToLower(s), "local")
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 7 && len(v) == 1 {
		return facLocal0 + n, nil
	}
	switch strings.ToLower(s) {
	case "user":
		return facUser, nil
	case "daemon", "":
		return facDaemon, nil
	}
	return 0, fmt.Errorf("invalid log facility '%s'", s)
}

// logger writes keepalived's log lines to the places its command line
// names: the console (-l, on stderr as keepalived does, "Wed Nov 25
// 08:31:38 2026: msg"), a file (-g) and syslog (unless -G), as
// "Keepalived_vrrp[pid]: msg" with the facility of -S (daemon by default).
type logger struct {
	mu       sync.Mutex
	console  io.Writer
	file     *os.File
	sys      net.Conn
	facility int
	ident    string
	now      func() time.Time
}

// newLogger opens the log destinations of f. A syslog socket that cannot
// be reached is not an error: keepalived runs without a syslog daemon too.
func newLogger(f *flags, console io.Writer) (*logger, error) {
	l := &logger{facility: facDaemon, ident: "Keepalived_vrrp", now: time.Now}
	if f.logConsole {
		l.console = console
	}
	if f.facility != "" {
		fac, err := parseFacility(f.facility)
		if err != nil {
			return nil, err
		}
		l.facility = fac
	}
	if f.logFile != "" {
		fh, err := os.OpenFile(f.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening log file: %w", err)
		}
		l.file = fh
	}
	if !f.noSyslog {
		if c, err := net.Dial("unixgram", syslogSocket); err == nil {
			l.sys = c
		}
	}
	return l, nil
}

// log writes one message to every destination.
func (l *logger) log(msg string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	line := now.Format("Mon Jan _2 15:04:05 2006") + ": " + msg + "\n"
	if l.console != nil {
		io.WriteString(l.console, line)
	}
	if l.file != nil {
		l.file.WriteString(line)
	}
	if l.sys != nil {
		// RFC 3164 as syslog(3) writes it; LOG_INFO (6).
		fmt.Fprintf(l.sys, "<%d>%s %s[%d]: %s", l.facility*8+6, now.Format(time.Stamp), l.ident, os.Getpid(), msg)
	}
}

// close releases the file and the syslog socket.
func (l *logger) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
	if l.sys != nil {
		l.sys.Close()
		l.sys = nil
	}
}
