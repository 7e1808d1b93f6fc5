package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hapair/checks"
	"hapair/internal/testenv"
	"hapair/parser/haproxy"
	"hapair/proxy"
)

// tagServer is an HTTP server answering its tag on a fixed address that
// the test can stop and start again.
type tagServer struct {
	addr, tag string
	mu        sync.Mutex
	srv       *http.Server
}

func newTagServer(t *testing.T, tag string) *tagServer {
	s := &tagServer{addr: freeAddr(t, "127.0.0.1"), tag: tag}
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

func (s *tagServer) start(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp4", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, s.tag)
	})}
	go srv.Serve(l)
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

func (s *tagServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

// checkLab is one instance (haproxy or goproxy) of the health-check test.
type checkLab struct {
	name, fe string
	sink     *syslogSink
	out      *lockedBuf
	pid      int
}

func checkConfig(sink, fe, sock string, s1, s2 *tagServer, notFound string) string {
	return fmt.Sprintf(`global
    log %s local0
    stats socket %s mode 600 level admin
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    default_backend be
backend be
    option httpchk GET /health HTTP/1.0\r\nHost:\ www.example
    server s1 %s check inter 100 fall 2 rise 2
    server s2 %s check inter 100 fall 2 rise 2
backend bsolo
    option httpchk
    http-check send meth GET uri /ready ver HTTP/1.1 hdr Host www.example
    http-check expect status 200
    server only %s check inter 100 fall 2 rise 3
backend btcp
    server t1 %s check inter 100 fall 1 rise 1 port %s
    server tb %s backup check inter 100 fall 3 rise 3 port %s
backend bseed
    option httpchk HEAD /haproxy.txt HTTP/1.1\r\nHost:192.168.1.187
    server inst2 %s check inter 100 fall 3
`, sink, sock, fe, s1.addr, s2.addr, s1.addr, s2.addr, portOf(s1.addr), s2.addr, portOf(s1.addr), notFound)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// tagsSeen sends n requests and returns the set of answers.
func tagsSeen(addr string, n int) map[string]bool {
	seen := map[string]bool{}
	for range n {
		body, err := get(addr)
		if err != nil {
			seen["error"] = true
			continue
		}
		seen[body] = true
	}
	return seen
}

// waitSocket waits until the unix stats socket accepts connections.
func waitSocket(t *testing.T, who, sock string) {
	t.Helper()
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("%s: stats socket %s did not come up within 10s", who, sock)
	}
}

// firstChecksDone polls `show stat` until n servers report a check
// status other than INI.
func firstChecksDone(t *testing.T, who, sock string, n int) {
	t.Helper()
	waitSocket(t, who, sock)
	if !waitFor(10*time.Second, func() bool {
		done := 0
		for line := range strings.SplitSeq(statsCmd(t, "unix", sock, "show stat"), "\n") {
			f := strings.Split(line, ",")
			if len(f) > 36 && f[1] != "FRONTEND" && f[1] != "BACKEND" && !strings.HasPrefix(line, "#") {
				if st := strings.TrimPrefix(f[36], "* "); st != "" && st != "INI" {
					done++
				}
			}
		}
		return done >= n
	}) {
		t.Fatalf("%s: the first checks did not all run within 10s:\n%s", who, statsCmd(t, "unix", sock, "show stat"))
	}
}

// stderrLine returns the first line of the process output containing sub.
func stderrLine(out *lockedBuf, sub string) string {
	for l := range strings.SplitSeq(out.String(), "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestHealthChecksAgainstHAProxy runs haproxy and goproxy on the same
// configuration (legacy 1.4 `option httpchk` with a header hidden in the
// version, the 2.x http-check send/expect form, a plain connect check
// on another port), kills a server and starts it again, and checks for
// both: the DOWN line and "no server available" (syslog and stderr, text
// compared with HAProxy's, durations masked), traffic leaving the server
// within inter×fall, the UP line after rise checks, traffic coming back,
// and the soft-stop lines.
func TestHealthChecksAgainstHAProxy(t *testing.T) {
	hap := testenv.LookPath(t, "haproxy")
	gop := goproxyBinary(t)
	s1, s2 := newTagServer(t, "one"), newTagServer(t, "two")
	// The seed's check line against a server answering 404.
	nf, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nfSrv := &http.Server{Handler: http.NotFoundHandler()}
	go nfSrv.Serve(nf)
	t.Cleanup(func() { nfSrv.Close() })
	labs := []*checkLab{{name: "haproxy"}, {name: "goproxy"}}
	for _, l := range labs {
		l.sink, l.fe = newSyslogSink(t), freeAddr(t, "127.0.0.1")
		bin := hap
		if l.name == "goproxy" {
			bin = gop
		}
		sock := filepath.Join(t.TempDir(), "stats.sock")
		out, c := runProxy(t, l.name, bin, checkConfig(l.sink.addr, l.fe, sock, s1, s2, nf.Addr().String()), l.fe)
		l.out, l.pid = out, c.Process.Pid
		// Every server must have passed its first check before the kill,
		// or a server never checked goes DOWN at its first failure
		// whatever its fall.
		firstChecksDone(t, l.name, sock, 6)
	}
	for _, l := range labs {
		if !waitFor(10*time.Second, func() bool { s := tagsSeen(l.fe, 4); return s["one"] && s["two"] }) {
			t.Fatalf("%s: both servers never answered through the proxy", l.name)
		}
	}

	// Kill s1: DOWN within inter×fall (200ms; allow 1s for scheduling).
	const inter, fall, rise = 100 * time.Millisecond, 2, 2
	s1.stop()
	killed := time.Now()
	for _, l := range labs {
		l.sink.wait(t, l.name, "Server be/s1 is DOWN")
		took := time.Since(killed)
		t.Logf("%s: be/s1 DOWN logged %v after the kill", l.name, took.Round(time.Millisecond))
		if l.name == "goproxy" && took > inter*fall+time.Second {
			t.Errorf("goproxy: DOWN after %v, want within inter×fall (%v) plus 1s", took, inter*fall)
		}
		for i := range 10 {
			if body, err := get(l.fe); err != nil || body != "two" {
				t.Errorf("%s: request %d after DOWN answered %q %v, want two", l.name, i, body, err)
			}
		}
	}
	for _, l := range labs {
		l.sink.wait(t, l.name, "Server bsolo/only is DOWN")
		l.sink.wait(t, l.name, "backend bsolo has no server available!")
		l.sink.wait(t, l.name, "Server btcp/t1 is DOWN")
		l.sink.wait(t, l.name, "Backup Server btcp/tb is DOWN")
		l.sink.wait(t, l.name, "backend btcp has no server available!")
	}

	// Start s1 again: UP after rise successful checks.
	s1.start(t)
	started := time.Now()
	for _, l := range labs {
		l.sink.wait(t, l.name, "Server be/s1 is UP")
		took := time.Since(started)
		t.Logf("%s: be/s1 UP logged %v after the restart", l.name, took.Round(time.Millisecond))
		if l.name == "goproxy" && took > inter*rise+time.Second {
			t.Errorf("goproxy: UP after %v, want within inter×rise (%v) plus 1s", took, inter*rise)
		}
		if !waitFor(5*time.Second, func() bool { return tagsSeen(l.fe, 4)["one"] }) {
			t.Errorf("%s: s1 gets no traffic after UP", l.name)
		}
		l.sink.wait(t, l.name, "Server bsolo/only is UP")
		l.sink.wait(t, l.name, "Server btcp/t1 is UP")
		l.sink.wait(t, l.name, "Backup Server btcp/tb is UP")
	}

	// Compare the event lines, syslog and stderr.
	events := []string{
		"Server bseed/inst2 is DOWN", "backend bseed has no server available!",
		"Server be/s1 is DOWN", "Server bsolo/only is DOWN", "backend bsolo has no server available!",
		" Server btcp/t1 is DOWN", "Backup Server btcp/tb is DOWN", "backend btcp has no server available!",
		"Server be/s1 is UP", "Server bsolo/only is UP", " Server btcp/t1 is UP", "Backup Server btcp/tb is UP",
	}
	for _, ev := range events {
		w, g := maskLog(labs[0].sink.wait(t, "haproxy", ev)), maskLog(labs[1].sink.wait(t, "goproxy", ev))
		if w != g {
			t.Errorf("syslog line differs:\nhaproxy: %s\ngoproxy: %s", w, g)
		} else {
			t.Logf("same: %s", g)
		}
		stderrEv := strings.Replace(ev, "backend bsolo ", "backend 'bsolo' ", 1)
		stderrEv = strings.Replace(stderrEv, "backend bseed ", "backend 'bseed' ", 1)
		stderrEv = strings.Replace(stderrEv, "backend btcp ", "backend 'btcp' ", 1)
		waitFor(5*time.Second, func() bool { // stderr may lag behind syslog
			return stderrLine(labs[0].out, stderrEv) != "" && stderrLine(labs[1].out, stderrEv) != ""
		})
		w, g = maskLog(stderrLine(labs[0].out, stderrEv)), maskLog(stderrLine(labs[1].out, stderrEv))
		if w != g || w == "" {
			t.Errorf("stderr line differs:\nhaproxy: %s\ngoproxy: %s", w, g)
		}
	}

	// Soft stop: "Proxy X stopped" for every proxy, counts masked (the
	// polling loops above sent different numbers of requests).
	counts := regexp.MustCompile(`FE: \d+, BE: \d+`)
	for _, l := range labs {
		syscall.Kill(l.pid, syscall.SIGUSR1)
	}
	for _, px := range []string{"fe", "be", "bsolo", "btcp", "<HTTPCLIENT>"} {
		sub := "Proxy " + px + " stopped"
		w := counts.ReplaceAllString(maskLog(labs[0].sink.wait(t, "haproxy", sub)), "FE: N, BE: N")
		g := counts.ReplaceAllString(maskLog(labs[1].sink.wait(t, "goproxy", sub)), "FE: N, BE: N")
		if w != g {
			t.Errorf("soft-stop line differs:\nhaproxy: %s\ngoproxy: %s", w, g)
		}
	}
}

// TestNewChecker maps backend settings to checkers, as HAProxy reads
// them: the legacy one-string httpchk (header hidden in the version),
// the 2.x send/expect form, tcp-check, mysql-check, smtpchk, and the
// check port/addr overrides.
func TestNewChecker(t *testing.T) {
	cases := []struct {
		name, backend, server string
		want                  string // fmt %T and key fields
	}{
		{"connect", "", "server s 127.0.0.1:80 check", "*checks.TCP 127.0.0.1:80"},
		{"port addr", "", "server s 127.0.0.1:80 check port 81 addr 127.0.0.2", "*checks.TCP 127.0.0.2:81"},
		{"legacy httpchk", `option httpchk GET /h HTTP/1.0\r\nHost:\ www`, "server s 127.0.0.1:80 check",
			"*checks.HTTP 127.0.0.1:80 \"GET /h HTTP/1.0\\r\\nhost: www\\r\\n\\r\\n\""},
		{"httpchk 2.x", "option httpchk\n    http-check send meth HEAD uri /r ver HTTP/1.1 hdr Host a.example\n    http-check expect status 204",
			"server s 127.0.0.1:80 check", "*checks.HTTP 127.0.0.1:80 \"HEAD /r HTTP/1.1\\r\\nhost: a.example\\r\\nconnection: close\\r\\n\\r\\n\" expect=1"},
		{"httpchk default", "option httpchk", "server s 127.0.0.1:80 check",
			"*checks.HTTP 127.0.0.1:80 \"OPTIONS / HTTP/1.0\\r\\n\\r\\n\""},
		{"tcp-check", "option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG", "server s 127.0.0.1:6379 check",
			"*checks.TCPCheck 127.0.0.1:6379 steps=2"},
		{"mysql", "option mysql-check user hap", "server s 127.0.0.1:3306 check", "*checks.MySQL 127.0.0.1:3306 user=hap"},
		{"smtp", "option smtpchk EHLO me.example", "server s 127.0.0.1:25 check", "*checks.SMTP 127.0.0.1:25 EHLO me.example"},
		{"expect hdr ignored", "option httpchk\n    http-check expect hdr name x-ok value 1\n    http-check expect status 200", "server s 127.0.0.1:80 check",
			"*checks.HTTP 127.0.0.1:80 \"OPTIONS / HTTP/1.0\\r\\n\\r\\n\" expect=1 warn=1"},
		{"no port, check port", "", "server s 127.0.0.1 check port 8080", "*checks.TCP 127.0.0.1:8080"},
		{"unix socket", "", "server s /run/app.sock check", "<nil> warn=1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nbackend b\n    " + c.backend + "\n    " + c.server + "\n"
			cfg, d := haproxy.Parse("test.cfg", []byte(src), haproxy.LoadOptions{})
			if d.HasAlerts() {
				t.Fatalf("config:\n%s\n%s", src, d.String())
			}
			pc := cfg.Proxies[len(cfg.Proxies)-1]
			chk, warns, err := newChecker(pc, pc.Servers[0])
			got := fmt.Sprintf("%T", chk)
			if err != nil {
				got = "error: " + err.Error()
			}
			switch k := chk.(type) {
			case *checks.TCP:
				got += " " + k.Addr
			case *checks.HTTP:
				got += fmt.Sprintf(" %s %q", k.Addr, k.Request.Bytes())
				if len(k.Expect) > 0 {
					got += fmt.Sprintf(" expect=%d", len(k.Expect))
				}
			case *checks.TCPCheck:
				got += fmt.Sprintf(" %s steps=%d", k.Addr, len(k.Steps))
			case *checks.MySQL:
				got += fmt.Sprintf(" %s user=%s", k.Addr, k.User)
			case *checks.SMTP:
				got += fmt.Sprintf(" %s %s %s", k.Addr, k.Verb, k.Domain)
			}
			if len(warns) > 0 {
				got += fmt.Sprintf(" warn=%d", len(warns))
			}
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestCheckSnapshot runs the checks part in process against a closed
// port and a live one and reads the state through checkSnapshot, as the
// stats part does; the proxy follows the checks.
func TestCheckSnapshot(t *testing.T) {
	live := newTagServer(t, "live")
	dead := freeAddr(t, "127.0.0.1")
	src := fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
backend be
    server up %s check inter 50 rise 1 fall 1
    server down %s check inter 50 rise 1 fall 1
    server nocheck %s
`, live.addr, dead, live.addr)
	cfg, d := haproxy.Parse("test.cfg", []byte(src), haproxy.LoadOptions{})
	if d.HasAlerts() {
		t.Fatal(d.String())
	}
	var mu sync.Mutex
	var warned []string
	env := &partEnv{Pid: 1,
		Warn:  func(f string, a ...any) { mu.Lock(); warned = append(warned, fmt.Sprintf(f, a...)); mu.Unlock() },
		Alert: func(f string, a ...any) {}}
	part, err := newChecksPart(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	var opts proxy.Options
	if err := part.Configure(&opts); err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := part.Start(ctx, p); err != nil {
		t.Fatal(err)
	}
	defer part.Close()
	if !waitFor(5*time.Second, func() bool {
		a, ok1 := checkSnapshot(p, "be", "up")
		b, ok2 := checkSnapshot(p, "be", "down")
		return ok1 && ok2 && a.Checks > 0 && !b.Up
	}) {
		t.Fatal("checks did not report within 5s")
	}
	a, _ := checkSnapshot(p, "be", "up")
	b, _ := checkSnapshot(p, "be", "down")
	if !a.Up || a.Last.Status != checks.StatusL4OK {
		t.Errorf("live server: %+v", a)
	}
	if b.Up || b.Last.Status != checks.StatusL4CON || b.Last.Info != "Connection refused" || b.Downs != 1 || b.Failed != 1 {
		t.Errorf("dead server: %+v", b)
	}
	if _, ok := checkSnapshot(p, "be", "nocheck"); ok {
		t.Error("server without check has a snapshot")
	}
	if _, ok := checkSnapshot(p, "nope", "up"); ok {
		t.Error("unknown backend has a snapshot")
	}
	be := p.Backend("be")
	if be.Server("down").Up() || !be.Server("up").Up() {
		t.Errorf("proxy state: down.Up=%v up.Up=%v", be.Server("down").Up(), be.Server("up").Up())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "Server be/down is DOWN, reason: Layer4 connection problem") {
		t.Errorf("warnings: %q", warned)
	}
	part.Close()
	if _, ok := checkSnapshot(p, "be", "up"); ok {
		t.Error("snapshot still served after Close")
	}
}

// TestServerAdminLinesMatchHAProxy applies operator changes (maint,
// ready, drain, undrain) to haproxy through its stats socket and to an
// in-process goproxy runtime through logServerAdmin, and compares the
// syslog and stderr lines.
func TestServerAdminLinesMatchHAProxy(t *testing.T) {
	hap := testenv.LookPath(t, "haproxy")
	srv := newTagServer(t, "adm")
	steps := []struct {
		cmd             string
		server          string
		up              bool
		weight          int
		change          adminChange
		syslog, stderrW string
	}{
		{"disable server be/s1", "s1", false, 1, adminMaint, "Server be/s1 is going DOWN", "Server be/s1 is going DOWN"},
		{"enable server be/s1", "s1", true, 1, adminReady, "Server be/s1 is UP/READY", "Server be/s1 is UP/READY"},
		{"set server be/s1 state drain", "s1", true, 0, adminDrain, "Server be/s1 enters drain", "Server be/s1 enters drain"},
		{"set server be/s1 state ready", "s1", true, 1, adminUndrain, "leaving forced drain", "leaving forced drain"},
		{"set server be/s1 state maint", "s1", false, 1, adminMaint, "Server be/s1 is going DOWN", "Server be/s1 is going DOWN"},
		{"set server be/s2 state maint", "s2", false, 1, adminMaint, "Server be/s2 is going DOWN", "Server be/s2 is going DOWN"},
	}
	cfgText := func(sink, fe, sock string) string {
		return fmt.Sprintf(`global
    log %s local0
    stats socket %s mode 600 level admin
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
    server s2 %s
    server bk %s backup disabled
`, sink, sock, fe, srv.addr, srv.addr, srv.addr)
	}

	// haproxy through its stats socket.
	hsink, hfe, sock := newSyslogSink(t), freeAddr(t, "127.0.0.1"), filepath.Join(t.TempDir(), "s.sock")
	hout, _ := runProxy(t, "haproxy", hap, cfgText(hsink.addr, hfe, sock), hfe)
	waitSocket(t, "haproxy", sock)
	var want, wantErr []string
	for i, st := range steps {
		statsCmd(t, "unix", sock, st.cmd)
		// The nth matching line, so that repeated texts are told apart.
		n := 0
		for _, p := range steps[:i+1] {
			if p.syslog == st.syslog {
				n++
			}
		}
		if !waitFor(5*time.Second, func() bool { return hsink.count(st.syslog) >= n }) {
			t.Fatalf("haproxy: no line %q after %q:\n%s", st.syslog, st.cmd, strings.Join(hsink.all(), "\n"))
		}
	}
	if !waitFor(5*time.Second, func() bool { return hsink.count("has no server available") == 1 }) {
		t.Fatalf("haproxy: no 'no server available' line:\n%s", strings.Join(hsink.all(), "\n"))
	}
	want = hsink.all()
	if len(want) != len(steps)+1 {
		t.Fatalf("haproxy: %d lines, want %d:\n%s", len(want), len(steps)+1, strings.Join(want, "\n"))
	}
	// stderr may lag behind syslog: poll for every line.
	waitFor(5*time.Second, func() bool {
		wantErr = nil
		for l := range strings.SplitSeq(hout.String(), "\n") {
			if strings.Contains(l, "Server be/") || strings.Contains(l, "no server available") {
				wantErr = append(wantErr, l)
			}
		}
		return len(wantErr) == len(steps)+1
	})

	// goproxy's runtime in process, with its logging part.
	gsink := newSyslogSink(t)
	cfg, d := haproxy.Parse("test.cfg", []byte(cfgText(gsink.addr, freeAddr(t, "127.0.0.1"), filepath.Join(t.TempDir(), "g.sock"))), haproxy.LoadOptions{})
	if d.HasAlerts() {
		t.Fatal(d.String())
	}
	var mu sync.Mutex
	var gotErr []string
	env := &partEnv{Pid: 1,
		Warn: func(f string, a ...any) {
			mu.Lock()
			gotErr = append(gotErr, fmt.Sprintf("[WARNING]  (1) : "+f, a...))
			mu.Unlock()
		},
		Alert: func(f string, a ...any) {
			mu.Lock()
			gotErr = append(gotErr, fmt.Sprintf("[ALERT]    (1) : "+f, a...))
			mu.Unlock()
		}}
	lp, _ := newLogPart(cfg, env)
	var opts proxy.Options
	if err := lp.Configure(&opts); err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	p, err := proxy.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		p.SetServerWeight("be", st.server, st.weight)
		p.SetServerState("be", st.server, st.up)
		logServerAdmin(p, env, "be", st.server, st.change)
	}
	if !waitFor(5*time.Second, func() bool { return len(gsink.all()) >= len(want) }) {
		t.Fatalf("goproxy: %d lines, want %d:\n%s", len(gsink.all()), len(want), strings.Join(gsink.all(), "\n"))
	}
	got := gsink.all()
	for i := range want {
		if w, g := maskLog(want[i]), maskLog(got[i]); w != g {
			t.Errorf("syslog line %d differs:\nhaproxy: %s\ngoproxy: %s", i, w, g)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(gotErr) != len(wantErr) {
		t.Fatalf("stderr: haproxy %d lines, goproxy %d:\n%s\n--\n%s", len(wantErr), len(gotErr), strings.Join(wantErr, "\n"), strings.Join(gotErr, "\n"))
	}
	for i := range wantErr {
		if w, g := maskLog(wantErr[i]), maskLog(gotErr[i]); w != g {
			t.Errorf("stderr line %d differs:\nhaproxy: %s\ngoproxy: %s", i, w, g)
		}
	}
}

// TestLogHealthChecksAgainstHAProxy: with option log-health-checks every
// check that moves the health counter is logged ("Health check for
// server ... status: 2/3 UP.") and the DOWN/UP lines lose their reason;
// the sequences of an active and of a backup server through a kill and a
// restart are compared with haproxy's.
func TestLogHealthChecksAgainstHAProxy(t *testing.T) {
	hap := testenv.LookPath(t, "haproxy")
	gop := goproxyBinary(t)
	s1 := newTagServer(t, "one")
	conf := func(sink, fe string) string {
		return fmt.Sprintf(`global
    log %s local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    default_backend bact
backend bact
    option log-health-checks
    server s1 %s check inter 100 fall 3 rise 2
backend bbck
    option log-health-checks
    server b1 %s backup check inter 100 fall 2 rise 2
`, sink, fe, s1.addr, s1.addr)
	}
	sinks := map[string]*syslogSink{}
	outs := map[string]*lockedBuf{}
	for _, name := range []string{"haproxy", "goproxy"} {
		bin := hap
		if name == "goproxy" {
			bin = gop
		}
		sink, fe := newSyslogSink(t), freeAddr(t, "127.0.0.1")
		sinks[name] = sink
		outs[name], _ = runProxy(t, name, bin, conf(sink.addr, fe), fe)
		sink.wait(t, name, "Health check for server bact/s1 succeeded")
		sink.wait(t, name, "Health check for backup server bbck/b1 succeeded")
	}
	s1.stop()
	for name, sink := range sinks {
		sink.wait(t, name, "backend bact has no server available!")
		sink.wait(t, name, "backend bbck has no server available!")
	}
	s1.start(t)
	for name, sink := range sinks {
		sink.wait(t, name, "Server bact/s1 is UP")
		sink.wait(t, name, "Backup Server bbck/b1 is UP")
	}
	for _, be := range []string{"bact", "bbck"} {
		var seq [2][]string
		for i, name := range []string{"haproxy", "goproxy"} {
			for _, l := range sinks[name].all() {
				if strings.Contains(l, " "+be+"/") || strings.Contains(l, "backend "+be+" ") {
					seq[i] = append(seq[i], maskLog(l))
				}
			}
		}
		if strings.Join(seq[0], "\n") != strings.Join(seq[1], "\n") {
			t.Errorf("%s: lines differ:\nhaproxy:\n%s\ngoproxy:\n%s", be, strings.Join(seq[0], "\n"), strings.Join(seq[1], "\n"))
		} else {
			t.Logf("%s: %d lines, same as haproxy:\n%s", be, len(seq[1]), strings.Join(seq[1], "\n"))
		}
	}
	// stderr carries the same lines (as warnings; the no-server one as an
	// alert).
	var errs [2]string
	collect := func() {
		for i, name := range []string{"haproxy", "goproxy"} {
			var ls []string
			for l := range strings.SplitSeq(outs[name].String(), "\n") {
				if strings.Contains(l, "Health check") || strings.Contains(l, "Server b") || strings.Contains(l, "no server") {
					ls = append(ls, maskLog(l))
				}
			}
			sort.Strings(ls) // the two backends interleave differently
			errs[i] = strings.Join(ls, "\n")
		}
	}
	waitFor(5*time.Second, func() bool { collect(); return errs[0] == errs[1] }) // stderr may lag behind syslog
	if errs[0] != errs[1] {
		t.Errorf("stderr differs:\nhaproxy:\n%s\ngoproxy:\n%s", errs[0], errs[1])
	}
}
