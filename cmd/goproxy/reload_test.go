package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// loadResult counts what clients saw during a run of reloads.
type loadResult struct {
	ok, failed, resets, refused atomic.Int64
	idleRaces                   atomic.Int64 // strict keep-alive clients only
	slowest                     atomicDuration
	mu                          sync.Mutex
	firstErrs                   []string
}

func (r *loadResult) fail(err error) {
	r.failed.Add(1)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		r.resets.Add(1)
	case errors.Is(err, syscall.ECONNREFUSED):
		r.refused.Add(1)
	}
	r.mu.Lock()
	if len(r.firstErrs) < 5 {
		r.firstErrs = append(r.firstErrs, err.Error())
	}
	r.mu.Unlock()
}

func (r *loadResult) String() string {
	return fmt.Sprintf("%d ok, %d failed (%d reset, %d refused), %d idle keep-alive close races (not retried), slowest %v %v",
		r.ok.Load(), r.failed.Load(), r.resets.Load(), r.refused.Load(), r.idleRaces.Load(), r.slowest.Load().Round(time.Millisecond), r.firstErrs)
}

// runLoad sends requests to addr until ctx ends: `fresh` clients open a
// new connection per request (like `ab`), `keep` clients reuse keep-alive
// connections (like wrk and browsers, with the standard client's retry of
// an idempotent request on a connection the server closed while idle).
func runLoad(ctx context.Context, addr, want string, fresh, keep int) (*loadResult, func()) {
	res := &loadResult{}
	var wg sync.WaitGroup
	client := func(keepAlive bool, src int) {
		defer wg.Done()
		// Each client has its own source address, so thousands of
		// connections in TIME_WAIT never exhaust the ephemeral ports.
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 19, byte(src))}}
		tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1, DialContext: d.DialContext}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for ctx.Err() == nil {
			t0 := time.Now()
			resp, err := c.Get("http://" + addr + "/")
			if d := time.Since(t0); d > res.slowest.Load() {
				res.slowest.Store(d)
			}
			if err != nil {
				// Every request counts, also one that ends after
				// the load stopped.
				res.fail(err)
				continue
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case err != nil:
				res.fail(err)
			case resp.StatusCode != 200 || string(b) != want:
				res.fail(fmt.Errorf("status %d body %q", resp.StatusCode, b))
			default:
				res.ok.Add(1)
			}
		}
	}
	for i := 0; i < fresh; i++ {
		wg.Add(1)
		go client(false, 1+i)
	}
	for i := 0; i < keep; i++ {
		wg.Add(1)
		go client(true, 1+fresh+i)
	}
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			strictKeepAlive(ctx, addr, want, 1+fresh+keep+i, res)
		}()
	}
	return res, wg.Wait
}

// strictKeepAlive is a keep-alive client that never retries (like wrk): a
// request sent on a reused connection that the server closes without a
// response is counted in res.idleRaces (the race every HTTP/1.1 server has
// when it closes an idle connection, which clients such as browsers and
// Go's own retry); any other error is a failure.
func strictKeepAlive(ctx context.Context, addr, want string, src int, res *loadResult) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 19, byte(src))}, Timeout: 5 * time.Second}
	var c net.Conn
	var r *bufio.Reader
	reused := false
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for ctx.Err() == nil {
		if c == nil {
			var err error
			if c, err = d.Dial("tcp", addr); err != nil {
				res.fail(err)
				continue
			}
			r, reused = bufio.NewReader(c), false
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(r, nil)
		}
		if err != nil {
			if reused && r.Buffered() == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
				res.idleRaces.Add(1)
			} else {
				res.fail(err)
			}
			c.Close()
			c = nil
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			res.fail(err)
		case resp.StatusCode != 200 || string(b) != want:
			res.fail(fmt.Errorf("status %d body %q", resp.StatusCode, b))
		default:
			res.ok.Add(1)
		}
		if err != nil || resp.Close {
			c.Close()
			c = nil
			continue
		}
		reused = true
	}
}

// reloadUnderLoad starts a proxy with start(), then reloads it n times in a
// row with reload(oldPid) while clients send requests, and returns what the
// clients saw. Each reload waits for some requests to be served by the new
// generation before the next one.
func reloadUnderLoad(t *testing.T, addr, want string, n int, pidFile string, start func() error, reload func(old int) error) *loadResult {
	t.Helper()
	if err := start(); err != nil {
		t.Fatal(err)
	}
	pids := map[int]bool{readPid(t, pidFile): true}
	t.Cleanup(func() {
		for p := range pids {
			if alive(p) {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	res, wait := runLoad(ctx, addr, want, 24, 4)
	defer func() { cancel(); wait() }()
	sock := listenInodes(t, addr)
	if len(sock) != 1 {
		t.Fatalf("listening sockets on %s: %v, want one", addr, sock)
	}
	for i := 0; i < n; i++ {
		before := res.ok.Load()
		if !waitFor(5*time.Second, func() bool { return res.ok.Load() >= before+20 }) {
			t.Fatalf("reload %d: no traffic served (%s)", i, res)
		}
		old := readPid(t, pidFile)
		if err := reload(old); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		pids[readPid(t, pidFile)] = true
		// Once the old process is gone, the very same socket listens:
		// it was handed over, not bound again.
		if !waitFor(10*time.Second, func() bool { return !alive(old) }) {
			t.Fatalf("reload %d: old process %d still running", i, old)
		}
		if np := readPid(t, pidFile); !holdsSocket(np, sock[0]) {
			t.Errorf("reload %d: process %d does not hold the original listening socket %s", i, np, sock[0])
		}
	}
	before := res.ok.Load()
	waitFor(5*time.Second, func() bool { return res.ok.Load() >= before+20 })
	cancel()
	wait()
	return res
}

func runCmd(bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %v\n%s", bin, args, err, out.String())
	}
	return nil
}

// TestReloadWithoutLoss runs 20 reloads in a row (`-D -p pidfile -sf
// $(cat pidfile)`, as init scripts do) under continuous load and requires
// that every request succeeds. The same run against HAProxy 2.6 with -x
// (its documented seamless reload) is logged as the anchor.
func TestReloadWithoutLoss(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	be := backend(t, "127.0.18.4", "reload-ok")
	const reloads = 20

	t.Run("goproxy", func(t *testing.T) {
		addr := freeAddr(t, "127.0.18.4")
		cfg := filepath.Join(dir, "g.cfg")
		pidFile := filepath.Join(dir, "g.pid")
		writeFile(t, cfg, httpCfg("    hard-stop-after 10s\n", addr, be))
		res := reloadUnderLoad(t, addr, "reload-ok", reloads, pidFile,
			func() error { return runCmd(bin, "-D", "-f", cfg, "-p", pidFile) },
			func(old int) error {
				return runCmd(bin, "-D", "-f", cfg, "-p", pidFile, "-sf", strconv.Itoa(old))
			})
		t.Logf("goproxy, %d reloads with -sf: %s", reloads, res)
		if res.failed.Load() != 0 {
			t.Errorf("goproxy lost requests during reloads: %s", res)
		}
	})

	t.Run("goproxy-x", func(t *testing.T) {
		// HAProxy's way: the listeners come over the stats socket.
		addr := freeAddr(t, "127.0.18.4")
		cfg := filepath.Join(dir, "gx.cfg")
		pidFile := filepath.Join(dir, "gx.pid")
		sock := filepath.Join(dir, "gx.sock")
		writeFile(t, cfg, httpCfg("    hard-stop-after 10s\n    stats socket "+sock+" expose-fd listeners\n", addr, be))
		res := reloadUnderLoad(t, addr, "reload-ok", reloads, pidFile,
			func() error { return runCmd(bin, "-D", "-f", cfg, "-p", pidFile) },
			func(old int) error {
				return runCmd(bin, "-D", "-f", cfg, "-p", pidFile, "-x", sock, "-sf", strconv.Itoa(old))
			})
		t.Logf("goproxy, %d reloads with -x -sf: %s", reloads, res)
		if res.failed.Load() != 0 {
			t.Errorf("goproxy lost requests during reloads: %s", res)
		}
	})

	t.Run("haproxy-anchor", func(t *testing.T) {
		hap := testenv.LookPath(t, "haproxy")
		addr := freeAddr(t, "127.0.18.4")
		cfg := filepath.Join(dir, "h.cfg")
		pidFile := filepath.Join(dir, "h.pid")
		sock := filepath.Join(dir, "h.sock")
		writeFile(t, cfg, httpCfg("    hard-stop-after 10s\n    stats socket "+sock+" expose-fd listeners\n", addr, be))
		res := reloadUnderLoad(t, addr, "reload-ok", reloads, pidFile,
			func() error { return runCmd(hap, "-D", "-f", cfg, "-p", pidFile) },
			func(old int) error {
				return runCmd(hap, "-D", "-f", cfg, "-p", pidFile, "-x", sock, "-sf", strconv.Itoa(old))
			})
		t.Logf("haproxy 2.6 (anchor), %d reloads with -x -sf: %s", reloads, res)
	})
}

// masterChildren lists the live children of a master process.
func masterChildren(master int) []int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", master))
	var out []int
	for _, e := range ents {
		// /proc/PID/task/TID/children lists the children of one thread.
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", master, e.Name()))
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil && alive(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// masterWorkerReloads starts bin in master-worker daemon mode and sends
// SIGUSR2 n times under load, each time waiting for a new worker; it
// returns the master's pid, the current worker and what the clients saw.
func masterWorkerReloads(t *testing.T, bin, cfg, pidFile, addr, want string, n int) (int, int, *loadResult) {
	t.Helper()
	if err := runCmd(bin, "-W", "-D", "-f", cfg, "-p", pidFile); err != nil {
		t.Fatal(err)
	}
	master := readPid(t, pidFile)
	killPid(t, master)
	seen := map[int]bool{}
	var cur int
	newWorker := func() bool {
		for _, p := range masterChildren(master) {
			if !seen[p] {
				seen[p] = true
				killPid(t, p)
				cur = p
				return true
			}
		}
		return false
	}
	if !waitFor(5*time.Second, newWorker) {
		t.Fatalf("master %d has no worker", master)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res, wait := runLoad(ctx, addr, want, 8, 4)
	defer func() { cancel(); wait() }()
	for i := 0; i < n; i++ {
		before := res.ok.Load()
		if !waitFor(5*time.Second, func() bool { return res.ok.Load() >= before+20 }) {
			t.Fatalf("reload %d: no traffic (%s)", i, res)
		}
		// HAProxy's master may miss a SIGUSR2 that comes while it is
		// still starting: ask again, a bounded number of times.
		reloaded := false
		for try := 0; try < 5 && !reloaded; try++ {
			syscall.Kill(master, syscall.SIGUSR2)
			reloaded = waitFor(2*time.Second, newWorker)
		}
		if !reloaded {
			t.Fatalf("reload %d: no new worker (children %v)", i, masterChildren(master))
		}
	}
	before := res.ok.Load()
	waitFor(5*time.Second, func() bool { return res.ok.Load() >= before+20 })
	cancel()
	wait()
	return master, cur, res
}

// TestMasterWorkerReload: with -W the pid file holds the master, SIGUSR2
// replaces the worker 20 times under load without a failed request (the
// same run against HAProxy 2.6 -W is logged), and a broken configuration
// keeps the old worker serving.
func TestMasterWorkerReload(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	be := backend(t, "127.0.18.5", "mw-ok")
	const reloads = 20

	t.Run("goproxy", func(t *testing.T) {
		addr := freeAddr(t, "127.0.18.5")
		cfg := filepath.Join(dir, "mw.cfg")
		pidFile := filepath.Join(dir, "mw.pid")
		good := httpCfg("    hard-stop-after 10s\n", addr, be)
		writeFile(t, cfg, good)
		master, worker, res := masterWorkerReloads(t, bin, cfg, pidFile, addr, "mw-ok", reloads)
		t.Logf("goproxy master-worker, %d SIGUSR2 reloads: %s", reloads, res)
		if res.failed.Load() != 0 {
			t.Errorf("requests lost during master-worker reloads: %s", res)
		}
		if got := readPid(t, pidFile); got != master {
			t.Errorf("pid file %d, want the master %d", got, master)
		}
		if !waitFor(10*time.Second, func() bool { c := masterChildren(master); return len(c) == 1 && c[0] == worker }) {
			t.Fatalf("old workers left: %v (current %d)", masterChildren(master), worker)
		}
		// A broken file: the reload fails, the worker stays and serves.
		writeFile(t, cfg, good+"    bogus-keyword here\n")
		syscall.Kill(master, syscall.SIGUSR2)
		stable := true
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if !alive(worker) {
				stable = false
			}
		}
		var last []int
		settled := waitFor(5*time.Second, func() bool { last = masterChildren(master); return len(last) == 1 && last[0] == worker })
		if !stable || !settled || !alive(master) {
			t.Errorf("a bad configuration replaced the worker %d (workers %v, master alive %v)", worker, last, alive(master))
		}
		if body, err := get(addr); err != nil || body != "mw-ok" {
			t.Errorf("not serving after a failed reload: %q, %v", body, err)
		}
		syscall.Kill(master, syscall.SIGTERM)
		if !waitFor(10*time.Second, func() bool { return !alive(master) && !alive(worker) }) {
			t.Error("master and worker did not stop on SIGTERM")
		}
	})

	t.Run("haproxy-anchor", func(t *testing.T) {
		hap := testenv.LookPath(t, "haproxy")
		addr := freeAddr(t, "127.0.18.5")
		cfg := filepath.Join(dir, "hmw.cfg")
		pidFile := filepath.Join(dir, "hmw.pid")
		writeFile(t, cfg, httpCfg("    hard-stop-after 10s\n", addr, be))
		// HAProxy's master re-executes itself on each reload (about two
		// seconds here): five reloads keep the test short.
		const n = 5
		master, _, res := masterWorkerReloads(t, hap, cfg, pidFile, addr, "mw-ok", n)
		t.Logf("haproxy 2.6 (anchor) master-worker, %d SIGUSR2 reloads: %s", n, res)
		syscall.Kill(master, syscall.SIGTERM)
		waitFor(10*time.Second, func() bool { return !alive(master) })
	})
}

// TestHandOverWithHAProxy: goproxy speaks HAProxy's `_getsocks`, so the
// two take each other's listeners with -x: a running HAProxy is replaced
// by goproxy and back, ten times under load, without a failed request.
func TestHandOverWithHAProxy(t *testing.T) {
	hap := testenv.LookPath(t, "haproxy")
	bin := goproxyBinary(t)
	dir := t.TempDir()
	be := backend(t, "127.0.18.9", "mixed-ok")
	addr := freeAddr(t, "127.0.18.9")
	cfg := filepath.Join(dir, "m.cfg")
	pidFile := filepath.Join(dir, "m.pid")
	sock := filepath.Join(dir, "m.sock")
	writeFile(t, cfg, httpCfg("    hard-stop-after 10s\n    stats socket "+sock+" level admin expose-fd listeners\n", addr, be))
	n := 0
	res := reloadUnderLoad(t, addr, "mixed-ok", 10, pidFile,
		func() error { return runCmd(hap, "-D", "-f", cfg, "-p", pidFile) },
		func(old int) error {
			n++
			next := bin // odd steps: HAProxy -> goproxy
			if n%2 == 0 {
				next = hap
			}
			return runCmd(next, "-D", "-f", cfg, "-p", pidFile, "-x", sock, "-sf", strconv.Itoa(old))
		})
	t.Logf("haproxy <-> goproxy, 10 hand-overs with -x -sf: %s", res)
	if res.failed.Load() != 0 {
		t.Errorf("requests lost while HAProxy and goproxy handed over: %s", res)
	}
}

// listenInodes returns the inodes of the sockets listening on addr (an
// IPv4 ip:port), from /proc/net/tcp.
func listenInodes(t *testing.T, addr string) []string {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	ip := ap.Addr().As4()
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], ap.Port())
	var out []string
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[1] == local && f[3] == "0A" {
			out = append(out, f[9])
		}
	}
	return out
}

// atomicDuration is a duration read and written from several goroutines.
type atomicDuration struct{ v atomic.Int64 }

func (a *atomicDuration) Load() time.Duration { return time.Duration(a.v.Load()) }

// Store keeps the larger of the stored and the given duration.
func (a *atomicDuration) Store(d time.Duration) {
	for {
		old := a.v.Load()
		if int64(d) <= old || a.v.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// holdsSocket reports whether process pid has the socket with that inode
// open.
func holdsSocket(pid int, inode string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

// TestReloadUnderWrk runs wrk (when installed) during 20 reloads of
// goproxy (-sf) and of HAProxy 2.6 (-x -sf) and logs what wrk counted.
// wrk never retries, so a request it sends on a keep-alive connection the
// old process closes while idle counts as a read error: the figures are
// logged side by side, not asserted (see strictKeepAlive).
func TestReloadUnderWrk(t *testing.T) {
	wrk := testenv.LookPath(t, "wrk")
	hap := testenv.LookPath(t, "haproxy")
	bin := goproxyBinary(t)
	dir := t.TempDir()
	be := backend(t, "127.0.18.16", "wrk-ok")
	for _, tc := range []struct {
		name, prog string
		x          bool
	}{{"goproxy -sf", bin, false}, {"haproxy 2.6 -x -sf", hap, true}} {
		addr := freeAddr(t, "127.0.18.16")
		cfg := filepath.Join(dir, "w.cfg")
		pidFile := filepath.Join(dir, "w.pid")
		sock := filepath.Join(dir, "w.sock")
		writeFile(t, cfg, httpCfg("    hard-stop-after 10s\n    stats socket "+sock+" level admin expose-fd listeners\n", addr, be))
		if err := runCmd(tc.prog, "-D", "-f", cfg, "-p", pidFile); err != nil {
			t.Fatal(err)
		}
		killPid(t, readPid(t, pidFile))
		cmd := exec.Command(wrk, "-t1", "-c8", "-d3s", "http://"+addr+"/")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			args := []string{"-D", "-f", cfg, "-p", pidFile}
			if tc.x {
				args = append(args, "-x", sock)
			}
			old := readPid(t, pidFile)
			if err := runCmd(tc.prog, append(args, "-sf", strconv.Itoa(old))...); err != nil {
				t.Fatal(err)
			}
			killPid(t, readPid(t, pidFile))
			waitFor(5*time.Second, func() bool { return !alive(old) })
		}
		cmd.Wait()
		var summary []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "requests in") || strings.Contains(l, "Socket errors") || strings.Contains(l, "Non-2xx") {
				summary = append(summary, strings.TrimSpace(l))
			}
		}
		t.Logf("wrk -c8 during 20 reloads of %s: %s", tc.name, strings.Join(summary, "; "))
		syscall.Kill(readPid(t, pidFile), syscall.SIGTERM)
	}
}
