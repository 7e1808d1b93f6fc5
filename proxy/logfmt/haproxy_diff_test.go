package logfmt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// haproxyRun is a real HAProxy 2.6 logging to a UDP socket of the test.
type haproxyRun struct {
	t     *testing.T
	lines chan string
	pid   int
	cmd   *exec.Cmd
	out   *bytes.Buffer
	mu    *sync.Mutex
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// startHAProxy writes cfg (with LOGADDR replaced by the test's syslog
// address), starts haproxy and waits until every port in ports accepts.
func startHAProxy(t *testing.T, cfg string, drain bool, ports ...int) *haproxyRun {
	t.Helper()
	bin := testenv.LookPath(t, "haproxy")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	h := &haproxyRun{t: t, lines: make(chan string, 256), out: new(bytes.Buffer), mu: new(sync.Mutex)}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				close(h.lines)
				return
			}
			h.lines <- string(buf[:n])
		}
	}()
	cfg = strings.ReplaceAll(cfg, "LOGADDR", pc.LocalAddr().String())
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	h.cmd = exec.Command(bin, "-db", "-f", path)
	h.cmd.Stdout = lockedBuf{h.mu, h.out}
	h.cmd.Stderr = h.cmd.Stdout
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.pid = h.cmd.Process.Pid
	t.Cleanup(func() {
		h.cmd.Process.Kill() // by PID
		h.cmd.Wait()
		if t.Failed() {
			h.mu.Lock()
			t.Logf("haproxy output:\n%s\nconfig:\n%s", h.out.String(), cfg)
			h.mu.Unlock()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range ports {
		for {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy does not listen on %d", p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The readiness probes above are logged too: drain them.
	if drain {
		h.drain(300 * time.Millisecond)
	}
	return h
}

func (h *haproxyRun) drain(quiet time.Duration) {
	for {
		select {
		case <-h.lines:
		case <-time.After(quiet):
			return
		}
	}
}

var syslogHead = regexp.MustCompile(`^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d haproxy\[\d+\]: `)

// next returns the next log message (without syslog header and newline)
// and its syslog level.
func (h *haproxyRun) next() (string, int) {
	h.t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			h.t.Fatal("syslog socket closed")
		}
		m := syslogHead.FindStringSubmatch(l)
		if m == nil {
			h.t.Fatalf("unexpected syslog line %q", l)
		}
		pri, _ := strconv.Atoi(m[1])
		return strings.TrimSuffix(l[len(m[0]):], "\n"), pri & 7
	case <-time.After(5 * time.Second):
		h.t.Fatal("no log line from haproxy within 5s")
	}
	return "", 0
}

// backend starts an HTTP server answering 200 "hello" with a fixed
// Content-Type.
func backend(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain|x")
		w.Header().Set("Set-Cookie", "SRV=s1")
		io.WriteString(w, "hello")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return netip.MustParseAddrPort(ln.Addr().String())
}

// rawRequest sends req on a fresh connection to port, reads until the
// server closes, and returns the client's address.
func rawRequest(t *testing.T, port int, req string) netip.AddrPort {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if req != "" {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, bufio.NewReader(c))
	}
	return netip.MustParseAddrPort(c.LocalAddr().String())
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

// parseDate reads HAProxy's 25/Nov/2026:06:27:09.923 in the local zone.
func parseDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.ParseInLocation("02/Jan/2006:15:04:05.000", s, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestHAProxyDifferential(t *testing.T) {
	be := backend(t)
	pTCP, pHTTP, pCLF, pStatic, pTimers, pPlain, pNull := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := fmt.Sprintf(`global
    log LOGADDR local0
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend tcpfe
    mode tcp
    bind 127.0.0.1:%d
    option tcplog
    default_backend bet
frontend httpfe
    bind 127.0.0.1:%d
    option httplog
    capture request header Host len 20
    capture request header X-A len 10
    capture response header Content-Type len 30
    default_backend be
frontend clffe
    bind 127.0.0.1:%d
    option httplog clf
    capture request header Host len 20
    capture request header X-Missing len 10
    default_backend be
frontend staticfe
    bind 127.0.0.1:%d
    capture request header Host len 20
    capture request header X-A len 10
    capture response header Content-Type len 30
    unique-id-format %%{+X}o\ %%ci:%%cp
    log-format "%s"
    default_backend be
frontend timersfe
    bind 127.0.0.1:%d
    log-format "%s"
    default_backend be
frontend plainfe
    bind 127.0.0.1:%d
    default_backend be
frontend nullfe
    bind 127.0.0.1:%d
    option httplog
    option dontlognull
    default_backend be
backend be
    server s1 %s
backend bet
    mode tcp
    server t1 %s
`, pTCP, pHTTP, pCLF, pStatic, staticFormat, pTimers, timersFormat, pPlain, pNull, be, be)
	h := startHAProxy(t, cfg, true, pTCP, pHTTP, pCLF, pStatic, pTimers, pPlain, pNull)
	host, _ := os.Hostname()
	lo := netip.MustParseAddr("127.0.0.1")
	const req = "GET /p/a?q=%22x\"y HTTP/1.1\r\nHost: h.example\r\nX-A: a|b\"c{\r\nConnection: close\r\n\r\n"
	const reqLine = "GET /p/a?q=%22x\"y HTTP/1.1"

	// HAProxy's process and frontend connection counts (%ac/%fc) include
	// a previous subtest's connection when its close has not been
	// processed yet on a loaded machine: take them from its line.
	counts := regexp.MustCompile(` (\d+)/(\d+)/\d+/\d+/[+]?\d+ \d+/\d+ `)
	check := func(name string, f *Format, r *Record, theirs string) {
		t.Helper()
		if m := counts.FindStringSubmatch(theirs); m != nil {
			r.ActConn, r.FeConn = int(atoi(t, m[1])), int(atoi(t, m[2]))
		}
		ours := string(f.Append(nil, r))
		if ours != theirs {
			t.Errorf("%s:\nhaproxy %q\nwe      %q", name, theirs, ours)
		}
	}

	t.Run("tcplog", func(t *testing.T) {
		cli := rawRequest(t, pTCP, "GET / HTTP/1.0\r\n\r\n")
		line, lvl := h.next()
		m := regexp.MustCompile(`^\S+ \[(\S+)\] \S+ \S+ (-?\d+)/(-?\d+)/(-?\d+) (\d+) `).FindStringSubmatch(line)
		if m == nil || lvl != 6 {
			t.Fatalf("unexpected line %q level %d", line, lvl)
		}
		r := &Record{Client: cli, Accept: parseDate(t, m[1]), Frontend: "tcpfe", Backend: "bet", Server: "t1",
			Tw: atoi(t, m[2]), Tc: atoi(t, m[3]), Tt: atoi(t, m[4]), BytesRead: atoi(t, m[5]),
			ActConn: 1, FeConn: 1}
		check("tcplog", TCPLog(), r, line)
	})

	httpRec := func(t *testing.T, line string, re string) (*Record, []string) {
		m := regexp.MustCompile(re).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected line %q", line)
		}
		return &Record{Frontend: "httpfe", Backend: "be", Server: "s1", HTTP: true, Status: 200, ActConn: 1, FeConn: 1, Th: 0, Ti: 0}, m
	}
	t.Run("httplog", func(t *testing.T) {
		cli := rawRequest(t, pHTTP, req)
		line, _ := h.next()
		r, m := httpRec(t, line, `^\S+ \[(\S+)\] \S+ \S+ (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(-?\d+) \d+ (\d+) `)
		r.Client, r.Accept = cli, parseDate(t, m[1])
		r.TR, r.Tw, r.Tc, r.Tr, r.Tt = atoi(t, m[2]), atoi(t, m[3]), atoi(t, m[4]), atoi(t, m[5]), atoi(t, m[6])
		r.BytesRead = atoi(t, m[7])
		r.RequestLine = reqLine
		r.ReqCaptures = []Capture{{"h.example", true}, {"a|b\"c{", true}}
		r.ResCaptures = []Capture{{"text/plain|x", true}}
		check("httplog", HTTPLog(), r, line)
	})
	t.Run("httplog-badreq", func(t *testing.T) {
		cli := rawRequest(t, pHTTP, "GARBAGE\r\n\r\n")
		line, _ := h.next()
		m := regexp.MustCompile(`^\S+ \[(\S+)\] .* (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(-?\d+) 400 `).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected line %q", line)
		}
		r := &Record{Client: cli, Accept: parseDate(t, m[1]), Frontend: "httpfe", HTTP: true,
			TR: atoi(t, m[2]), Tw: atoi(t, m[3]), Tc: atoi(t, m[4]), Tr: atoi(t, m[5]), Tt: atoi(t, m[6]),
			Status: 400, TermState: [4]byte{'P', 'R', '-', '-'}, ActConn: 1, FeConn: 1}
		check("httplog-badreq", HTTPLog(), r, line)
	})
	t.Run("clf", func(t *testing.T) {
		cli := rawRequest(t, pCLF, req)
		line, _ := h.next()
		m := regexp.MustCompile(`^\S+ - - \[(\S+ \+\d{4})\] ".*" 200 (\d+) "" "" \d+ (\d{3}) \S+ \S+ \S+ (-?\d+) (-?\d+) (-?\d+) (-?\d+) (-?\d+) `).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected line %q", line)
		}
		acc, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[1])
		if err != nil {
			t.Fatal(err)
		}
		acc = acc.Add(time.Duration(atoi(t, m[3])) * time.Millisecond).In(time.Local)
		r := &Record{Client: cli, Accept: acc, Frontend: "clffe", Backend: "be", Server: "s1", HTTP: true, Status: 200,
			BytesRead: atoi(t, m[2]), TR: atoi(t, m[4]), Tw: atoi(t, m[5]), Tc: atoi(t, m[6]), Tr: atoi(t, m[7]), Tt: atoi(t, m[8]),
			ActConn: 1, FeConn: 1, RequestLine: reqLine,
			ReqCaptures: []Capture{{"h.example", true}, {}}}
		check("clf", CLFLog(), r, line)
	})
	static := func(t *testing.T, cli netip.AddrPort, line string, bad bool) {
		f, err := Compile(staticFormat)
		if err != nil {
			t.Fatal(err)
		}
		fe := netip.AddrPortFrom(lo, uint16(pStatic))
		r := &Record{Client: cli, FrontendAddr: fe, Frontend: "staticfe", Backend: "be", Server: "s1", HTTP: true,
			Status: 200, ActConn: 1, FeConn: 1, RequestLine: reqLine,
			ReqCaptures: []Capture{{"h.example", true}, {"a|b\"c{", true}},
			ResCaptures: []Capture{{"text/plain|x", true}},
			ServerAddr:  be, Hostname: host, PID: h.pid,
			UniqueID: fmt.Sprintf("7F000001:%04X", cli.Port())}
		if bad {
			r.Backend, r.Server, r.Status, r.RequestLine, r.UniqueID = "", "", 400, "", ""
			r.ReqCaptures, r.ResCaptures, r.ServerAddr = nil, nil, netip.AddrPort{}
			r.TermState = [4]byte{'P', 'R', '-', '-'}
			// Concurrent connections depend on the previous test's close.
			v := strings.Fields(line)
			r.ActConn, r.FeConn = int(atoi(t, v[8])), int(atoi(t, v[9]))
		}
		check("static", f, r, line)
	}
	t.Run("log-format", func(t *testing.T) {
		cli := rawRequest(t, pStatic, req)
		line, _ := h.next()
		static(t, cli, line, false)
	})
	t.Run("log-format-badreq", func(t *testing.T) {
		cli := rawRequest(t, pStatic, "GARBAGE\r\n\r\n")
		line, _ := h.next()
		static(t, cli, line, true)
	})
	t.Run("log-format-timers", func(t *testing.T) {
		rawRequest(t, pTimers, req)
		line, _ := h.next()
		f, err := Compile(timersFormat)
		if err != nil {
			t.Fatal(err)
		}
		v := strings.Fields(line)
		if len(v) < 15 {
			t.Fatalf("unexpected line %q", line)
		}
		acc := time.Unix(atoi(t, v[13]), atoi(t, v[12])*1e6).In(time.Local)
		r := &Record{Accept: acc, HTTP: true, Th: atoi(t, v[0]), Ti: atoi(t, v[1]), TR: atoi(t, v[2]),
			Tw: atoi(t, v[4]), Tc: atoi(t, v[5]), Tr: atoi(t, v[6]), Td: atoi(t, v[7]), Tt: atoi(t, v[9]),
			BytesRead: atoi(t, v[11]), BytesUploaded: atoi(t, v[len(v)-1])}
		check("timers", f, r, line)
	})
	t.Run("connect", func(t *testing.T) {
		cli := rawRequest(t, pPlain, req)
		line, _ := h.next()
		ours := string(AppendConnect(nil, cli, netip.AddrPortFrom(lo, uint16(pPlain)), "plainfe", true))
		if ours != line {
			t.Errorf("haproxy %q\nwe      %q", line, ours)
		}
	})
	t.Run("dontlognull", func(t *testing.T) {
		rawRequest(t, pNull, "") // connects and closes: not logged
		cli := rawRequest(t, pNull, req)
		line, _ := h.next()
		if !strings.HasPrefix(line, cli.String()+" ") {
			t.Fatalf("the empty connection was logged: %q", line)
		}
		o := Options{DontLogNull: true}
		if _, ok := o.Level(&Record{HTTP: true, Status: 400, TermState: [4]byte{'C', 'R'}}); ok {
			t.Error("Options.Level logs an empty connection under dontlognull")
		}
		if _, ok := o.Level(&Record{HTTP: true, Status: 200, BytesUploaded: 10}); !ok {
			t.Error("Options.Level drops a request under dontlognull")
		}
	})
}

// staticFormat uses every variable whose value the test knows exactly.
const staticFormat = `%ci %cp %ft %b %s %ST %ts %tsc %ac %fc %bc %sc %rc %sq %bq %hr %hs %hrl %hsl %{+Q}r %r %HM %HU %HP %HPO %HQ %HV %CC %CS %ID ` +
	`%[src] %[dst_port] %[fe_name] %[be_name] %[capture.req.hdr(1)] %H %pid %fi %fp %si %sp %f ` +
	`%{+Q}ci %{+Q}b %{+Q}s %{+Q}hrl %{+Q}hsl %{+Q}ID %{+Q}CC %{+Q}hr %{+X}ci %{+X}cp %{+Q}[src] %{+Q,+E}[capture.req.hdr(1)] 100%% x[%ci]y  end`

// timersFormat holds the values the test reads back from HAProxy's line.
const timersFormat = `%Th %Ti %TR %Tq %Tw %Tc %Tr %Td %Ta %Tt %Tu %B %ms %Ts %t %tr %T %trg %Tl %trl %{+X}Ts %{+X}ms %U`

// TestHAProxyEvents compares the server state change messages.
func TestHAProxyEvents(t *testing.T) {
	be := backend(t)
	dead := freePort(t)
	pFE := freePort(t)
	sock := filepath.Join(t.TempDir(), "s.sock")
	cfg := fmt.Sprintf(`global
    log LOGADDR local0
    stats socket %s level admin
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    default_backend bev
backend bev
    server v1 %s
backend bed
    server d1 127.0.0.1:%d check inter 200 fall 1
    server d2 127.0.0.1:%d check inter 200 fall 1 backup
`, sock, pFE, be, dead, dead)
	h := startHAProxy(t, cfg, false, pFE)
	cli := func(cmd string) {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, cmd+"\n")
		io.Copy(io.Discard, c)
	}
	// The checks of bed fail first (drained during start up or read here).
	seen := map[string]string{}
	down := regexp.MustCompile(`^(Backup )?Server bed/(d\d) is DOWN, .*check duration: (\d+)ms\. (\d) active and (\d) backup`)
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < 3 && time.Now().Before(deadline) {
		line, lvl := h.next()
		if m := down.FindStringSubmatch(line); m != nil {
			if lvl != LevelServerDown {
				t.Errorf("level %d for %q", lvl, line)
			}
			e := &ServerEvent{Backend: "bed", Server: m[2], Backup: m[1] != "", Reason: "Layer4 connection problem",
				Info: "Connection refused", Duration: atoi(t, m[3]), ActiveLeft: int(atoi(t, m[4])), BackupLeft: int(atoi(t, m[5]))}
			if got := string(AppendServerDown(nil, e)); got != line {
				t.Errorf("haproxy %q\nwe      %q", line, got)
			}
			seen[m[2]] = line
		} else if line == "backend bed has no server available!" {
			if lvl != LevelNoServer {
				t.Errorf("level %d for %q", lvl, line)
			}
			seen["none"] = line
		}
	}
	if len(seen) < 3 {
		t.Fatalf("missing DOWN events, saw %v", seen)
	}
	e := &ServerEvent{Backend: "bev", Server: "v1"}
	steps := []struct {
		cmd   string
		lines []string
		level []int
	}{
		{"disable server bev/v1", []string{string(AppendServerMaint(nil, e)), string(AppendNoServer(nil, "bev"))}, []int{LevelServerDown, LevelNoServer}},
		{"enable server bev/v1", []string{string(AppendServerReady(nil, e))}, []int{LevelServerUp}},
		{"set server bev/v1 state drain", []string{string(AppendServerDrain(nil, e)), string(AppendNoServer(nil, "bev"))}, []int{LevelServerUp, LevelNoServer}},
		{"set server bev/v1 state ready", []string{string(AppendServerUndrain(nil, &ServerEvent{Backend: "bev", Server: "v1"}))}, []int{LevelServerUp}},
	}
	for _, s := range steps {
		cli(s.cmd)
		for i, want := range s.lines {
			line, lvl := h.next()
			if line != want || lvl != s.level[i] {
				t.Errorf("%s: haproxy %q (level %d)\nwe      %q (level %d)", s.cmd, line, lvl, want, s.level[i])
			}
		}
	}
	// A server coming back: UP message. (The dead port now gets a listener.)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", dead))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", dead, err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	up := regexp.MustCompile(`^(Backup )?Server bed/(d\d) is UP, .*check duration: (\d+)ms\. (\d) active and (\d) backup`)
	for n := 0; n < 2; {
		line, lvl := h.next()
		m := up.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		e := &ServerEvent{Backend: "bed", Server: m[2], Backup: m[1] != "", Reason: "Layer4 check passed",
			Duration: atoi(t, m[3]), ActiveLeft: int(atoi(t, m[4])), BackupLeft: int(atoi(t, m[5]))}
		if got := string(AppendServerUp(nil, e)); got != line || lvl != LevelServerUp {
			t.Errorf("haproxy %q (level %d)\nwe      %q", line, lvl, got)
		}
	}
	// Soft stop: "Proxy X stopped" for each proxy.
	h.cmd.Process.Signal(syscall.SIGUSR1)
	stopped := regexp.MustCompile(`^Proxy (\S+) stopped \(cumulated conns: FE: (\d+), BE: (\d+)\)\.$`)
	line, lvl := h.next()
	m := stopped.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("unexpected line %q", line)
	}
	if got := string(AppendProxyStopped(nil, m[1], atoi(t, m[2]), atoi(t, m[3]))); got != line || lvl != LevelProxyStop {
		t.Errorf("haproxy %q (level %d)\nwe      %q", line, lvl, got)
	}
}
