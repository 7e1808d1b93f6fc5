package lvs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hapair/internal/testenv"

	vnetns "github.com/vishvananda/netns"
)

const waitLong = 10 * time.Second

// run starts a Checker for conf and stops it, bounded, when the test ends.
func run(t *testing.T, conf string, opts Options) (*Checker, *logSink) {
	t.Helper()
	logs := &logSink{}
	if opts.Logf == nil {
		opts.Logf = logs.Logf
	}
	c, err := New(loadConf(t, conf), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitLong):
			t.Errorf("Run did not return within %v of cancel", waitLong)
		}
	})
	return c, logs
}

// notifyScript writes a script that appends its argv, '|'-separated, as
// one line of log, and returns the script's path and the log's.
func notifyScript(t *testing.T) (script, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "notify.log")
	script = filepath.Join(dir, "notify.sh")
	body := "#!/bin/sh\nfor a in \"$@\"; do printf '%s|' \"$a\"; done >> " + log + "\necho >> " + log + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, log
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func hasLine(path, line string) func() bool {
	return func() bool { return slices.Contains(readLines(path), line) }
}

// listener accepts and closes TCP connections on 127.0.0.1 until closed.
func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may be briefly unavailable after a close
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestTCPCheckRemovesAndAddsBack(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr)
	// A second real server on a port nobody listens on, with inhibit.
	dead := listen(t, "127.0.0.1:0")
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	script, log := notifyScript(t)
	conf := fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    lb_algo wrr
    real_server 127.0.0.1 %d {
        weight 2
        notify_up "%s up %d"
        notify_down "%s down 'rs one'"
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 0.1
        }
    }
    real_server 127.0.0.2 %d {
        weight 5
        inhibit_on_failure
        TCP_CHECK { connect_timeout 1 }
    }
}`, addr.Port, script, addr.Port, script, deadPort)
	f := newFake()
	_, logs := run(t, conf, Options{IPVS: f})
	svc := "TCP 192.0.2.1:80"
	rs := fmt.Sprintf("127.0.0.1:%d", addr.Port)
	inh := fmt.Sprintf("127.0.0.2:%d", deadPort)

	// Start: both added; the dead one is set to weight 0 at its first check.
	waitFor(t, "inhibited server at weight 0", waitLong, func() bool { w, ok := f.Weight(svc, inh); return ok && w == 0 })
	if w, ok := f.Weight(svc, rs); !ok || w != 2 {
		t.Fatalf("live server: weight %d in table %v", w, ok)
	}
	waitFor(t, "inhibit logged", waitLong, func() bool {
		return logs.Count(fmt.Sprintf("Disabling service [127.0.0.2]:tcp:%d of VS [192.0.2.1]:tcp:80", deadPort)) == 1
	})

	ln.Close()
	waitFor(t, "server removed", waitLong, func() bool { _, ok := f.Weight(svc, rs); return !ok })
	waitFor(t, "notify_down", waitLong, hasLine(log, "down|rs one|"))
	if n := logs.Count(fmt.Sprintf("TCP_CHECK on service [127.0.0.1]:tcp:%d failed after 1 retries.", addr.Port)); n != 1 {
		t.Fatalf("failure log lines: %d\n%s", n, strings.Join(logs.Lines(), "\n"))
	}

	listen(t, rs)
	waitFor(t, "server added back", waitLong, func() bool { w, ok := f.Weight(svc, rs); return ok && w == 2 })
	waitFor(t, "notify_up", waitLong, hasLine(log, fmt.Sprintf("up|%d|", addr.Port)))

	want := []string{
		"add-service " + svc,
		"add-dest " + svc + " " + rs + " w2",
		"add-dest " + svc + " " + inh + " w5",
		"set-dest " + svc + " " + inh + " w0",
		"del-dest " + svc + " " + rs,
		"add-dest " + svc + " " + rs + " w2",
	}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Fatalf("IPVS calls\n got %q\nwant %q", got, want)
	}
	if errs := f.Errors(); len(errs) > 0 {
		t.Fatalf("calls the kernel would refuse: %v", errs)
	}
}

func TestHTTPGetStatusAndDigest(t *testing.T) {
	var status atomic.Int32
	var body atomic.Value
	status.Store(200)
	body.Store("hello")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Header.Get("User-Agent") != "KeepAliveClient" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, body.Load().(string))
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().(*net.TCPAddr)
	sum := md5.Sum([]byte("hello"))
	script, log := notifyScript(t)
	conf := fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 %d {
        weight 4
        notify_down "%s down http"
        notify_up "%s up http"
        HTTP_GET {
            url {
                path /health
                digest %s
                status_code 200
            }
            connect_timeout 1
            retry 0
        }
    }
}`, addr.Port, script, script, hex.EncodeToString(sum[:]))
	f := newFake()
	run(t, conf, Options{IPVS: f})
	svc, rs := "TCP 192.0.2.1:80", fmt.Sprintf("127.0.0.1:%d", addr.Port)
	waitFor(t, "added", waitLong, func() bool { _, ok := f.Weight(svc, rs); return ok })

	body.Store("changed") // wrong digest
	waitFor(t, "removed on digest mismatch", waitLong, func() bool { _, ok := f.Weight(svc, rs); return !ok })
	waitFor(t, "notify_down", waitLong, hasLine(log, "down|http|"))

	body.Store("hello")
	waitFor(t, "back", waitLong, func() bool { _, ok := f.Weight(svc, rs); return ok })
	waitFor(t, "notify_up", waitLong, hasLine(log, "up|http|"))

	status.Store(503) // status_code 200 only
	waitFor(t, "removed on status", waitLong, func() bool { _, ok := f.Weight(svc, rs); return !ok })
	status.Store(200)
	waitFor(t, "back again", waitLong, func() bool { _, ok := f.Weight(svc, rs); return ok })
	if errs := f.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []string{"down|http|", "up|http|", "down|http|", "up|http|"}
	waitFor(t, "four notify lines", waitLong, func() bool { return slices.Equal(readLines(log), want) })
}

func TestMiscCheckDynamicWeight(t *testing.T) {
	dir := t.TempDir()
	code := filepath.Join(dir, "code")
	check := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(check, []byte("#!/bin/sh\nexit $(cat "+code+")\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	setCode := func(c int) {
		// write then rename, so the script never reads a half-written file
		tmp := code + ".tmp"
		if err := os.WriteFile(tmp, []byte(fmt.Sprint(c)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, code); err != nil {
			t.Fatal(err)
		}
	}
	setCode(0)
	script, log := notifyScript(t)
	conf := fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    quorum 2
    quorum_up "%s quorum up"
    quorum_down "%s quorum down"
    real_server 192.0.2.21 80 {
        weight 3
        MISC_CHECK {
            misc_path "%s"
            misc_timeout 2
            misc_dynamic
        }
    }
}`, script, script, check)
	f := newFake()
	run(t, conf, Options{IPVS: f})
	svc, rs := "TCP 192.0.2.1:80", "192.0.2.21:80"
	weight := func(want int) func() bool {
		return func() bool { w, ok := f.Weight(svc, rs); return ok && w == want }
	}
	waitFor(t, "added with weight 3", waitLong, weight(3))
	waitFor(t, "quorum up at start", waitLong, hasLine(log, "quorum|up|"))

	setCode(7) // misc_dynamic: weight 5
	waitFor(t, "weight 5", waitLong, weight(5))
	setCode(3) // weight 1 < quorum 2: quorum lost, server stays
	waitFor(t, "weight 1", waitLong, weight(1))
	waitFor(t, "quorum down", waitLong, hasLine(log, "quorum|down|"))
	setCode(1) // failure
	waitFor(t, "removed", waitLong, func() bool { _, ok := f.Weight(svc, rs); return !ok })
	setCode(0) // configured weight again
	waitFor(t, "back with weight 3", waitLong, weight(3))
	want := []string{"quorum|up|", "quorum|down|", "quorum|up|"}
	waitFor(t, "quorum scripts up, down, up", waitLong, func() bool { return slices.Equal(readLines(log), want) })
	if errs := f.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
}

// TestNoIPVSKernel runs with the real IPVS lookup: on a kernel without
// IP_VS there is exactly one notice and the checks still run (the
// notify script proves it); on a kernel with it (the checker is then
// built inside a network namespace of its own, so that it programs that
// namespace's table), no notice and the service is in the table.
func TestNoIPVSKernel(t *testing.T) {
	_, nlErr := NewNetlink()
	if nlErr == nil {
		testIPVSKernel(t)
		return
	}
	script, log := notifyScript(t)
	dead := listen(t, "127.0.0.1:0")
	port := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	conf := fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 %d {
        notify_down "%s down"
        TCP_CHECK { connect_timeout 1 }
    }
}`, port, script)
	c, logs := run(t, conf, Options{})
	if c.IPVSAvailable() {
		t.Fatal("IPVS reported available")
	}
	waitFor(t, "the check runs", waitLong, hasLine(log, "down|"))
	if n := logs.Count(NoIPVSNotice); n != 1 {
		t.Fatalf("%d notices:\n%s", n, strings.Join(logs.Lines(), "\n"))
	}
}

// TestProcessesStopped checks that Run waits for a notify script it
// started (bounded) and that a long MISC_CHECK is killed at shutdown.
func TestShutdownKillsMiscCheck(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	check := filepath.Join(dir, "slow.sh")
	if err := os.WriteFile(check, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 5
    real_server 192.0.2.21 80 {
        MISC_CHECK {
            misc_path "%s"
            misc_timeout 20
            warmup 0
        }
    }
}`, check)
	f := newFake()
	c, err := New(loadConf(t, conf), Options{IPVS: f, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var pid int
	waitFor(t, "script started", waitLong, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		_, err = fmt.Sscan(string(b), &pid)
		return err == nil && pid > 0
	})
	cancel()
	select {
	case <-done:
	case <-time.After(waitLong):
		t.Fatal("Run did not return")
	}
	waitFor(t, "script process gone", waitLong, func() bool { return !alive(pid) })
	calls := f.Calls()
	if calls[len(calls)-1] != "del-service TCP 192.0.2.1:80" {
		t.Fatalf("last call %q", calls[len(calls)-1])
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestAlertsReachTheMailer checks the Alert hook gets keepalived's subject
// and body.
func TestAlertsReachTheMailer(t *testing.T) {
	dead := listen(t, "127.0.0.1:0")
	port := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	conf := fmt.Sprintf(`
global_defs {
    router_id LVS_T
    notification_email { root@localhost }
    smtp_server 127.0.0.1
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 %d { TCP_CHECK { connect_timeout 1 } }
}`, port)
	var mu sync.Mutex
	var got []string
	alert := func(subject, body string) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, subject+" | "+body)
		return errors.New("mailer down") // logged, not fatal
	}
	_, logs := run(t, conf, Options{IPVS: newFake(), Alert: alert})
	want := fmt.Sprintf("[LVS_T] Realserver [127.0.0.1]:tcp:%d of virtual server [192.0.2.1]:tcp:80 - DOWN | => TCP CHECK failed on service <=", port)
	waitFor(t, "alert", waitLong, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(got, want)
	})
	waitFor(t, "alert error logged", waitLong, func() bool { return logs.Count("mailer down") == 1 })
}

// TestLVSNotifyFifo runs lvs_notify_fifo_script, which gets the FIFO name
// as its last argument and copies the lines it reads; the script is
// stopped (by process group) when the checker stops.
func TestLVSNotifyFifo(t *testing.T) {
	dir := t.TempDir()
	fifoPath := filepath.Join(dir, "lvs.fifo")
	out := filepath.Join(dir, "lines")
	pidFile := filepath.Join(dir, "pid")
	reader := filepath.Join(dir, "reader.sh")
	if err := os.WriteFile(reader, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nwhile read l; do echo \"$1 $l\" >> "+out+"; done < \"$2\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dead := listen(t, "127.0.0.1:0")
	port := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	conf := fmt.Sprintf(`
global_defs {
    lvs_notify_fifo %s
    lvs_notify_fifo_script "%s tag"
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 %d { TCP_CHECK { connect_timeout 1 } }
}`, fifoPath, reader, port)
	c, err := New(loadConf(t, conf), Options{IPVS: newFake(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	want := []string{
		"tag VS [192.0.2.1]:tcp:80 UP",
		fmt.Sprintf("tag RS [127.0.0.1]:tcp:%d [192.0.2.1]:tcp:80 DOWN", port),
		"tag VS [192.0.2.1]:tcp:80 DOWN",
	}
	waitFor(t, "FIFO lines", waitLong, func() bool { return slices.Equal(readLines(out), want) })
	var pid int
	if b, err := os.ReadFile(pidFile); err != nil || func() error { _, err := fmt.Sscan(string(b), &pid); return err }() != nil {
		t.Fatalf("reader pid: %v", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(waitLong):
		t.Fatal("Run did not return")
	}
	waitFor(t, "fifo script stopped", waitLong, func() bool { return !alive(pid) })
	if _, err := os.Lstat(fifoPath); err == nil {
		t.Fatal("FIFO created by the checker left behind")
	}
}

func TestSSLGetAndPingCheck(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	conf := fmt.Sprintf(`
virtual_server 192.0.2.1 443 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 %d {
        SSL_GET {
            url { path / status_code 200-299 }
            connect_timeout 1
            retry 0
        }
        PING_CHECK { connect_timeout 1 }
    }
}`, port)
	f := newFake()
	_, logs := run(t, conf, Options{IPVS: f, KeepOnStop: true})
	svc, rs := "TCP 192.0.2.1:443", fmt.Sprintf("127.0.0.1:%d", port)
	// A failing PING_CHECK would keep the server out: "back" below
	// proves it passes against 127.0.0.1.
	waitFor(t, "added", waitLong, func() bool { _, ok := f.Weight(svc, rs); return ok })
	status.Store(500)
	waitFor(t, "removed on 500 over TLS", waitLong, func() bool { _, ok := f.Weight(svc, rs); return !ok })
	status.Store(204)
	waitFor(t, "back", waitLong, func() bool { _, ok := f.Weight(svc, rs); return ok })
	if n := logs.Count("ICMP CHECK on service"); n != 0 {
		t.Fatalf("PING_CHECK to 127.0.0.1 failed:\n%s", strings.Join(logs.Lines(), "\n"))
	}
}

func TestKeepOnStop(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	conf := fmt.Sprintf("virtual_server 192.0.2.1 80 {\n protocol TCP\n delay_loop 0.2\n real_server 127.0.0.1 %d { TCP_CHECK { } }\n}\n", port)
	f := newFake()
	c, err := New(loadConf(t, conf), Options{IPVS: f, KeepOnStop: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, "started", waitLong, func() bool { return len(f.Calls()) == 2 })
	cancel()
	select {
	case <-done:
	case <-time.After(waitLong):
		t.Fatal("Run did not return")
	}
	if _, ok := f.Weight("TCP 192.0.2.1:80", fmt.Sprintf("127.0.0.1:%d", port)); !ok || len(f.Calls()) != 2 {
		t.Fatalf("table changed at stop: %q", f.Calls())
	}
}

// TestSlowMailerDoesNotStallChecks: alerts go out from their own
// goroutine, so a mail server that hangs does not hold up IPVS updates,
// and shutdown waits for it only ScriptWait.
func TestSlowMailerDoesNotStallChecks(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	conf := fmt.Sprintf(`
global_defs {
    notification_email { root@localhost }
    smtp_server 127.0.0.1
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    real_server 127.0.0.1 %d { TCP_CHECK { connect_timeout 1 } }
}`, port)
	release := make(chan struct{})
	var sent atomic.Int32
	alert := func(string, string) error {
		<-release
		sent.Add(1)
		return nil
	}
	f := newFake()
	svc, rs := "TCP 192.0.2.1:80", fmt.Sprintf("127.0.0.1:%d", port)
	defer close(release)
	c, err := New(loadConf(t, conf), Options{IPVS: f, Alert: alert, ScriptWait: 200 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, "added", waitLong, func() bool { _, ok := f.Weight(svc, rs); return ok })
	ln.Close()
	waitFor(t, "removed while the mailer hangs", waitLong, func() bool { _, ok := f.Weight(svc, rs); return !ok })
	listen(t, rs)
	waitFor(t, "added back while the mailer hangs", waitLong, func() bool { _, ok := f.Weight(svc, rs); return ok })
	cancel()
	select {
	case <-done: // the hung mailer held shutdown for ScriptWait only
	case <-time.After(waitLong):
		t.Fatal("Run waited for the hung mailer")
	}
	if sent.Load() != 0 {
		t.Fatalf("%d alerts sent through a hung mailer", sent.Load())
	}
}

// testIPVSKernel is TestNoIPVSKernel's branch for a kernel with IP_VS.
func testIPVSKernel(t *testing.T) {
	testenv.RequireRoot(t)
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 9 {
        TCP_CHECK { connect_timeout 1 }
    }
}`
	var c *Checker
	var logs *logSink
	var nl *Netlink
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			t.Fatal(err)
		}
		defer orig.Close()
		ns, err := vnetns.New() // switches this thread
		if err != nil {
			t.Fatal(err)
		}
		defer func() { vnetns.Set(orig); ns.Close() }()
		if nl, err = NewNetlink(); err != nil {
			t.Fatal(err)
		}
		c, logs = run(t, conf, Options{})
	}()
	if !c.IPVSAvailable() || logs.Count(NoIPVSNotice) != 0 {
		t.Fatalf("IPVS kernel: available %v, logs:\n%s", c.IPVSAvailable(), strings.Join(logs.Lines(), "\n"))
	}
	waitFor(t, "the service programmed", waitLong, func() bool {
		svcs, err := nl.Services()
		return err == nil && len(svcs) == 1 && svcs[0].Port == 80
	})
}
