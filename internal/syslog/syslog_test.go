package syslog

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
)

func TestAppendFormats(t *testing.T) {
	now := time.Date(2026, 11, 5, 4, 3, 40, 11549000, time.UTC)
	pid := strconv.Itoa(os.Getpid())
	msg := "Connect from 127.0.0.1:41824 to 127.0.0.1:15180 (fe/HTTP)"
	for _, tc := range []struct {
		f    Format
		host string
		want string
	}{
		{RFC3164, "", "<158>Nov  5 04:03:40 haproxy[" + pid + "]: " + msg + "\n"},
		{RFC3164, "lb1", "<158>Nov  5 04:03:40 lb1 haproxy[" + pid + "]: " + msg + "\n"},
		{RFC5424, "", "<158>1 2026-11-05T04:03:40.011549+00:00 - haproxy " + pid + " - - " + msg + "\n"},
		{Short, "", "<6>" + msg + "\n"},
		{Raw, "", msg + "\n"},
		{Timed, "", "<6>2026-11-05T04:03:40.011549+00:00 " + msg + "\n"},
		{ISO, "", "2026-11-05T04:03:40.011549+00:00 " + msg + "\n"},
	} {
		s, err := Open(Target{Network: "fd", Addr: "stderr", Format: tc.f, Facility: 19, MaxLevel: Info, Hostname: tc.host})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(s.Append(nil, Info, msg, now)); got != tc.want {
			t.Errorf("format %d:\n got %q\nwant %q", tc.f, got, tc.want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct{ in, net, addr string }{
		{"127.0.0.1", "udp", "127.0.0.1:514"},
		{"127.0.0.1:5140", "udp", "127.0.0.1:5140"},
		{"ipv4@127.0.0.1:5140", "udp4", "127.0.0.1:5140"},
		{"udp6@[::1]:5140", "udp6", "[::1]:5140"},
		{"[::1]:5140", "udp", "[::1]:5140"},
		{"unix@/dev/log", "unixgram", "/dev/log"},
		{"/dev/log", "unixgram", "/dev/log"},
		{"stdout", "fd", "stdout"},
		{"fd@2", "fd", "stderr"},
	} {
		n, a, err := ParseAddr(tc.in)
		if err != nil || n != tc.net || a != tc.addr {
			t.Errorf("ParseAddr(%q) = %q %q %v, want %q %q", tc.in, n, a, err, tc.net, tc.addr)
		}
	}
	for _, bad := range []string{":514", "127.0.0.1:99999", "fd@7"} {
		if _, _, err := ParseAddr(bad); err == nil {
			t.Errorf("ParseAddr(%q): want an error", bad)
		}
	}
}

func TestLevelsAndDrop(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := Open(Target{Network: "udp", Addr: pc.LocalAddr().String(), Format: Short, Facility: 16, MaxLevel: Notice, MinLevel: Warning})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Log(Info, "filtered out", time.Now())
	s.Log(Emerg, "raised to minlevel", time.Now())
	s.Log(Notice, "kept", time.Now())
	s.LogBytes(Info, []byte("filtered out too"), time.Now())
	s.LogBytes(Emerg, []byte("bytes raised"), time.Now())
	buf := make([]byte, 2048)
	var got []string
	for i := 0; i < 3; i++ {
		pc.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(buf[:n]))
	}
	want := []string{"<4>raised to minlevel\n", "<5>kept\n", "<4>bytes raised\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
	// A unix socket nobody listens on: dropped and counted, never blocking.
	u, err := Open(Target{Network: "unixgram", Addr: filepath.Join(t.TempDir(), "nolog"), MaxLevel: Debug})
	if err != nil {
		t.Fatal(err)
	}
	u.Log(Info, "lost", time.Now())
	if u.Dropped() != 1 {
		t.Errorf("dropped = %d, want 1", u.Dropped())
	}
	// After Close: dropped, never written to a reused descriptor.
	s.Close()
	s.Log(Emerg, "after close", time.Now())
	s.LogBytes(Emerg, []byte("after close"), time.Now())
	if s.Dropped() != 2 {
		t.Errorf("dropped after close = %d, want 2", s.Dropped())
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestSameBytesAsHAProxy sends the same kind of line as a real HAProxy 2.6
// and compares the bytes, timestamps and pids masked.
func TestSameBytesAsHAProxy(t *testing.T) {
	hap := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()
	formats := []string{"rfc3164", "rfc5424", "short", "raw", "timed", "iso"}
	var conns []net.PacketConn
	cfg := "global\n"
	for _, f := range formats {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		conns = append(conns, pc)
		cfg += "    log " + pc.LocalAddr().String() + " format " + f + " local3 info\n"
	}
	fe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	feAddr := fe.Addr().String()
	fe.Close()
	cfg += "defaults\n    mode http\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n" +
		"frontend fe\n    bind " + feAddr + "\n    default_backend be\nbackend be\n    server s1 127.0.0.1:9\n"
	path := filepath.Join(dir, "h.cfg")
	os.WriteFile(path, []byte(cfg), 0o644)
	cmd := exec.Command(hap, "-db", "-f", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var c net.Conn
	for i := 0; i < 100; i++ { // bounded: up to 5 s for HAProxy to bind
		if c, err = net.Dial("tcp", feAddr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("haproxy did not listen: %v", err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Read(make([]byte, 512))
	c.Close()
	mask := regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+[+-]\d\d:\d\d|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\b\d{2,7}\b`)
	buf := make([]byte, 2048)
	for i, f := range formats {
		conns[i].SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := conns[i].ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: no line from haproxy: %v", f, err)
		}
		theirs := string(buf[:n])
		// Rebuild the same message with our sender.
		msg := theirs[strings.Index(theirs, "Connect from"):]
		msg = strings.TrimSuffix(msg, "\n")
		ff, _ := ParseFormat(f)
		s, _ := Open(Target{Network: "fd", Addr: "stderr", Format: ff, Facility: 19, MaxLevel: Info,
			Hostname: HostnameFor("", f == "rfc3164")})
		ours := string(s.Append(nil, Info, msg, time.Now()))
		if mask.ReplaceAllString(ours, "N") != mask.ReplaceAllString(theirs, "N") {
			t.Errorf("%s:\n ours   %q\n theirs %q", f, ours, theirs)
		}
	}
}
