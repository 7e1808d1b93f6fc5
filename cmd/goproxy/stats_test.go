package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hapair/internal/testenv"
	"hapair/proxy/stats"
)

// statsLab is one instance (haproxy or goproxy) of the stats test
// configuration: its addresses and sockets.
type statsLab struct {
	name               string
	fe, page, tcp      string // listen addresses
	sock, tcpSock, cfg string
	out                *lockedBuf
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// statsServers are the servers' addresses, shared by both instances: be
// balances A and B with C as backup; bd has a dead server and a live one
// (one DOWN, one UP once checks run).
type statsServers struct {
	a, b, c, dead string
	bSrv          *switchable // b, stopped and started again by the test
}

func newStatsServers(t *testing.T) statsServers {
	sw := newSwitchable(t, "B")
	return statsServers{
		a: backend(t, "127.0.0.1", "A"), b: sw.addr, c: backend(t, "127.0.0.1", "C"),
		dead: freeAddr(t, "127.0.0.1"), bSrv: sw,
	}
}

// switchable is an HTTP server answering tag that the test can stop
// (connections refused) and start again on the same address.
type switchable struct {
	t    *testing.T
	addr string
	tag  string
	mu   sync.Mutex
	srv  *http.Server
}

func newSwitchable(t *testing.T, tag string) *switchable {
	s := &switchable{t: t, tag: tag, addr: freeAddr(t, "127.0.0.1")}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *switchable) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l net.Listener
	if !waitFor(5*time.Second, func() bool {
		var err error
		l, err = net.Listen("tcp4", s.addr)
		return err == nil
	}) {
		s.t.Fatalf("cannot listen on %s again", s.addr)
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s.tag) })}
	go s.srv.Serve(l)
}

func (s *switchable) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

func (l *statsLab) config(s statsServers) string {
	return fmt.Sprintf(`global
    stats socket %s mode 600 level admin
    stats socket ipv4@%s level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s check inter 500 rise 1 fall 1
    server s2 %s check inter 500 rise 1 fall 1
    server bk %s backup
backend bd
    server d1 %s check inter 500 rise 2 fall 1
    server d2 %s check inter 500 rise 1 fall 1 weight 7
listen stats
    bind %s
    stats enable
    stats uri /admin?stats
    stats refresh 10s
    stats admin if TRUE
listen lt
    mode tcp
    bind %s
    server t1 %s maxconn 10 maxqueue 5
`, l.sock, l.tcpSock, l.fe, s.a, s.b, s.c, s.dead, s.a, l.page, l.tcp, s.a)
}

// startStatsLab writes the configuration and runs bin on it until the
// test ends; it returns once the unix stats socket answers.
func startStatsLab(t *testing.T, name, bin string, s statsServers) *statsLab {
	t.Helper()
	dir := t.TempDir()
	l := &statsLab{name: name, fe: freeAddr(t, "127.0.0.1"), page: freeAddr(t, "127.0.0.1"), tcp: freeAddr(t, "127.0.0.1"),
		sock: filepath.Join(dir, "stats.sock"), tcpSock: freeAddr(t, "127.0.0.1"), cfg: filepath.Join(dir, "haproxy.cfg"),
		out: &lockedBuf{}}
	cfg := l.config(s)
	writeFile(t, l.cfg, cfg)
	cmd := exec.Command(bin, "-db", "-f", l.cfg)
	cmd.Stdout, cmd.Stderr = l.out, l.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // by pid
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, l.out.String())
		}
	})
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("unix", l.sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("%s: stats socket %s did not come up:\n%s", name, l.sock, l.out.String())
	}
	return l
}

// cmd sends one command line to the unix stats socket.
func (l *statsLab) cmd(t *testing.T, line string) string {
	t.Helper()
	return statsCmd(t, "unix", l.sock, line)
}

func statsCmd(t *testing.T, network, addr, line string) string {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, line+"\n")
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (l *statsLab) rows(t *testing.T) []stats.Row {
	t.Helper()
	rows, err := stats.ParseCSV(strings.NewReader(l.cmd(t, "show stat")))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// statuses maps "px/sv" to the status column.
func statuses(rows []stats.Row) map[string]string {
	m := map[string]string{}
	for _, r := range rows {
		m[r[stats.FPxname]+"/"+r[stats.FSvname]] = r[stats.FStatus]
	}
	return m
}

func statsByKey(rows []stats.Row) map[string]stats.Row {
	m := map[string]stats.Row{}
	for _, r := range rows {
		m[r[stats.FPxname]+"/"+r[stats.FSvname]] = r
	}
	return m
}

func rowKeys(rows []stats.Row) string {
	var k []string
	for _, r := range rows {
		k = append(k, strings.Join([]string{r[stats.FPxname], r[stats.FSvname], r[stats.FType], r[stats.FIid], r[stats.FSid]}, "/"))
	}
	return strings.Join(k, " ")
}

// tags sends n requests to addr and returns the sorted set of answers.
func tags(t *testing.T, addr string, n int) string {
	t.Helper()
	seen := map[string]bool{}
	for range n {
		body, err := get(addr)
		if err != nil {
			t.Fatalf("request to %s: %v", addr, err)
		}
		seen[body] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// staticColumns are the columns that do not depend on timing or traffic.
var staticColumns = []int{stats.FSlim, stats.FWeight, stats.FAct, stats.FBck, stats.FQlimit, stats.FPid,
	stats.FIid, stats.FSid, stats.FType, stats.FCheckRise, stats.FCheckFall, stats.FAddr, stats.FCookie,
	stats.FMode, stats.FAlgo, stats.FUweight, stats.FRateLim}

// settled reports that every checked server has a check result and the
// states are the expected ones: d1 DOWN, the other checked servers UP.
func settled(rows []stats.Row) bool {
	for _, r := range rows {
		if st := r[stats.FCheckStatus]; st != "" && (strings.HasPrefix(st, "*") || st == "INI") {
			return false
		}
	}
	st := statuses(rows)
	return st["bd/d1"] == "DOWN" && st["bd/d2"] == "UP" && st["be/s1"] == "UP" && st["be/s2"] == "UP"
}

// TestStatsAgainstHAProxy runs goproxy and haproxy on the same
// configuration and compares the stats socket and page: the CSV header,
// the rows and their static columns, the statuses once the health checks
// settle, the socket commands' replies, and the effect of the admin
// commands on traffic.
func TestStatsAgainstHAProxy(t *testing.T) {
	hbin := testenv.LookPath(t, "haproxy")
	gbin := goproxyBinary(t)
	srv := newStatsServers(t)
	h := startStatsLab(t, "haproxy", hbin, srv)
	g := startStatsLab(t, "goproxy", gbin, srv)

	// HAProxy's checks settle: d1 DOWN, the others UP.
	if !waitFor(10*time.Second, func() bool { return settled(h.rows(t)) }) {
		t.Fatalf("haproxy checks did not settle: %v", statuses(h.rows(t)))
	}
	if !waitFor(10*time.Second, func() bool { return settled(g.rows(t)) }) {
		t.Errorf("goproxy checks did not settle: %v", statuses(g.rows(t)))
	}

	hs, gs := h.cmd(t, "show stat"), g.cmd(t, "show stat")
	if a, b := strings.SplitN(hs, "\n", 2)[0], strings.SplitN(gs, "\n", 2)[0]; a != b {
		t.Fatalf("CSV header:\nhaproxy %s\ngoproxy %s", a, b)
	}
	if !strings.HasSuffix(gs, ",\n\n") {
		t.Errorf("goproxy show stat does not end like HAProxy's: %q", gs[max(0, len(gs)-20):])
	}
	hr, gr := h.rows(t), g.rows(t)
	if a, b := rowKeys(hr), rowKeys(gr); a != b {
		t.Fatalf("rows (px/sv/type/iid/sid):\nhaproxy %s\ngoproxy %s", a, b)
	}
	cols := append(staticColumns, stats.FStatus, stats.FCheckStatus, stats.FCheckHealth, stats.FCheckDesc, stats.FLastChk)
	for i := range hr {
		for _, f := range cols {
			// "* " marks a check running at that instant.
			if a, b := strings.TrimPrefix(hr[i][f], "* "), strings.TrimPrefix(gr[i][f], "* "); a != b {
				t.Errorf("%s/%s %s: haproxy %q, goproxy %q", hr[i][stats.FPxname], hr[i][stats.FSvname], stats.FieldNames[f], hr[i][f], gr[i][f])
			}
		}
	}

	t.Run("page csv", func(t *testing.T) {
		get := func(l *statsLab) (string, []stats.Row) {
			resp, err := http.Get("http://" + l.page + "/admin?stats;csv")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("%s ;csv: %d %q", l.name, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			rows, _ := stats.ParseCSV(bytes.NewReader(b))
			return strings.SplitN(string(b), "\n", 2)[0], rows
		}
		ah, ar := get(h)
		bh, br := get(g)
		if ah != bh || rowKeys(ar) != rowKeys(br) {
			t.Fatalf(";csv differs:\nhaproxy %s\n%s\ngoproxy %s\n%s", ah, rowKeys(ar), bh, rowKeys(br))
		}
		for i := range ar {
			for _, f := range []int{stats.FAddr, stats.FAlgo, stats.FCookie, stats.FWeight, stats.FSlim} {
				if ar[i][f] != br[i][f] {
					t.Errorf(";csv %s/%s %s: haproxy %q, goproxy %q", ar[i][stats.FPxname], ar[i][stats.FSvname], stats.FieldNames[f], ar[i][f], br[i][f])
				}
			}
		}
	})

	t.Run("socket commands", func(t *testing.T) {
		mask := regexp.MustCompile(`(?m)^(\d+ \S+ \d+ \S+ \S+ \d+ \d+ \d+ \d+) \d+ `)
		for _, c := range []string{
			"show backend", "get weight be/s1", "get weight bd/d2", "get weight be/zz", "get weight zz/s1",
			"set weight be/s2 50%", "get weight be/s2", "set weight be/s2 1", "set server be/s1 state bogus",
			"disable server be/zz", "show cli level", "set server be/s1 weight 300", "show servers state nope",
		} {
			a, b := h.cmd(t, c), g.cmd(t, c)
			if a != b {
				t.Errorf("%q:\nhaproxy %q\ngoproxy %q", c, a, b)
			}
		}
		// show servers state: the same lines once the time since the
		// last change is masked (and the check columns without checks).
		// A check running at that instant shows in HAProxy's result and
		// state columns: poll (checks run every 500 ms).
		var a, b string
		waitFor(3*time.Second, func() bool {
			a = mask.ReplaceAllString(h.cmd(t, "show servers state be"), "$1 T ")
			b = mask.ReplaceAllString(g.cmd(t, "show servers state be"), "$1 T ")
			return a == b
		})
		if a != b {
			t.Errorf("show servers state be:\nhaproxy %q\ngoproxy %q", a, b)
		}
		// show stat up / no-maint with a server in maintenance.
		for _, l := range []*statsLab{h, g} {
			l.cmd(t, "set server be/s2 state maint")
		}
		for _, c := range []string{"show stat be -1 -1 up", "show stat be -1 -1 no-maint", "show stat up", "show stat -1 6 -1 no-maint"} {
			a, _ := stats.ParseCSV(strings.NewReader(h.cmd(t, c)))
			b, _ := stats.ParseCSV(strings.NewReader(g.cmd(t, c)))
			if rowKeys(a) != rowKeys(b) {
				t.Errorf("%q rows:\nhaproxy %s\ngoproxy %s", c, rowKeys(a), rowKeys(b))
				continue
			}
			for i := range a {
				if a[i][stats.FStatus] != b[i][stats.FStatus] {
					t.Errorf("%q %s/%s: haproxy %q, goproxy %q", c, a[i][stats.FPxname], a[i][stats.FSvname], a[i][stats.FStatus], b[i][stats.FStatus])
				}
			}
		}
		for _, l := range []*statsLab{h, g} {
			l.cmd(t, "set server be/s2 state ready")
		}
		// show info: the same names in the same order.
		if a, b := infoKeys(h.cmd(t, "show info")), infoKeys(g.cmd(t, "show info")); a != b {
			t.Errorf("show info names:\nhaproxy %s\ngoproxy %s", a, b)
		}
		// show info: the values that do not depend on timing or traffic.
		hi, gi := infoMap(h.cmd(t, "show info")), infoMap(g.cmd(t, "show info"))
		for _, k := range []string{"Name", "Nbproc", "Process_num", "Maxconn", "Hard_maxconn", "Ulimit-n", "Maxsock", "Listeners", "Stopping", "Memmax_MB", "node"} {
			if hi[k] != gi[k] {
				t.Errorf("show info %s: haproxy %q, goproxy %q", k, hi[k], gi[k])
			}
		}
		// The interactive mode through socat, as operators use it.
		socat := testenv.LookPath(t, "socat")
		dialogue := func(l *statsLab) string {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, socat, "-t", "2", "-", "UNIX-CONNECT:"+l.sock)
			cmd.Stdin = strings.NewReader("prompt\nshow backend\nget weight be/s1\nset weight be/zz 1\nshow cli level\nquit\n")
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("%s socat: %v", l.name, err)
			}
			return string(out)
		}
		if a, b := dialogue(h), dialogue(g); a != b {
			t.Errorf("socat prompt dialogue:\nhaproxy %q\ngoproxy %q", a, b)
		}
		// The ipv4@ socket answers like the unix one.
		rows, err := stats.ParseCSV(strings.NewReader(statsCmd(t, "tcp", g.tcpSock, "show stat")))
		if err != nil || rowKeys(rows) != rowKeys(gr) {
			t.Errorf("ipv4@ socket: %v %s", err, rowKeys(rows))
		}
		// mode 600 on the unix socket.
		if fi, err := os.Stat(g.sock); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("socket mode: %v %v", fi.Mode(), err)
		}
	})

	t.Run("admin actions on traffic", func(t *testing.T) {
		steps := []struct{ cmd, want string }{
			{"", "A,B"},
			{"set server be/s1 state maint", "B"},
			{"set server be/s2 state drain", "C"},
			{"set server be/s1 state ready", "A"},
			{"set server be/s2 state ready", "A,B"},
			{"set weight be/s1 0", "B"},
			{"set weight be/s1 1", "A,B"},
			{"disable server be/s2", "A"},
			{"enable server be/s2", "A,B"},
		}
		for _, st := range steps {
			for _, l := range []*statsLab{h, g} {
				if st.cmd != "" {
					if out := l.cmd(t, st.cmd); out != "\n" {
						t.Errorf("%s %q: %q", l.name, st.cmd, out)
					}
				}
				// After `ready`, HAProxy's checked server is back at once
				// (health = rise); poll the traffic briefly anyway.
				var got string
				waitFor(3*time.Second, func() bool { got = tags(t, l.fe, 6); return got == st.want })
				if got != st.want {
					t.Errorf("%s after %q: servers %s, want %s (%v)", l.name, st.cmd, got, st.want, statuses(l.rows(t)))
				}
			}
			a, b := statuses(h.rows(t)), statuses(g.rows(t))
			for _, k := range []string{"be/s1", "be/s2", "be/bk"} {
				if a[k] != b[k] {
					t.Errorf("after %q %s: haproxy %q, goproxy %q", st.cmd, k, a[k], b[k])
				}
			}
			// Check columns: hidden in maintenance, counters kept
			// (entering maintenance counts as a DOWN transition).
			hr, gr := statsByKey(h.rows(t)), statsByKey(g.rows(t))
			for _, k := range []string{"be/s1", "be/s2"} {
				for _, f := range []int{stats.FChkdown, stats.FChkfail, stats.FCheckStatus, stats.FCheckHealth, stats.FCheckRise, stats.FWeight, stats.FUweight} {
					if x, y := strings.TrimPrefix(hr[k][f], "* "), strings.TrimPrefix(gr[k][f], "* "); x != y {
						t.Errorf("after %q %s %s: haproxy %q, goproxy %q", st.cmd, k, stats.FieldNames[f], x, y)
					}
				}
			}
		}
	})

	t.Run("server goes down and comes back", func(t *testing.T) {
		srv.bSrv.stop()
		for _, l := range []*statsLab{h, g} {
			if !waitFor(10*time.Second, func() bool { return statuses(l.rows(t))["be/s2"] == "DOWN" }) {
				t.Fatalf("%s: s2 not DOWN: %v", l.name, statuses(l.rows(t)))
			}
			if got := tags(t, l.fe, 6); got != "A" {
				t.Errorf("%s with s2 down: servers %s", l.name, got)
			}
		}
		hr, gr := statsByKey(h.rows(t)), statsByKey(g.rows(t))
		for _, k := range []string{"be/s2", "be/BACKEND"} {
			for _, f := range []int{stats.FStatus, stats.FCheckStatus, stats.FCheckDesc, stats.FLastChk, stats.FCheckHealth, stats.FChkdown, stats.FWeight, stats.FAct, stats.FBck} {
				if strings.TrimPrefix(hr[k][f], "* ") != strings.TrimPrefix(gr[k][f], "* ") {
					t.Errorf("%s %s after going down: haproxy %q, goproxy %q", k, stats.FieldNames[f], hr[k][f], gr[k][f])
				}
			}
		}
		srv.bSrv.start()
		for _, l := range []*statsLab{h, g} {
			if !waitFor(10*time.Second, func() bool { return statuses(l.rows(t))["be/s2"] == "UP" }) {
				t.Fatalf("%s: s2 not back UP: %v", l.name, statuses(l.rows(t)))
			}
			var got string
			waitFor(3*time.Second, func() bool { got = tags(t, l.fe, 6); return got == "A,B" })
			if got != "A,B" {
				t.Errorf("%s with s2 back: servers %s", l.name, got)
			}
		}
	})

	t.Run("clear counters", func(t *testing.T) {
		for _, l := range []*statsLab{h, g} {
			before := statsByKey(l.rows(t))
			if before["fe/FRONTEND"][stats.FStot] == "0" || before["be/s1"][stats.FStot] == "0" {
				t.Fatalf("%s: no traffic counted before the clear", l.name)
			}
			if out := l.cmd(t, "clear counters"); out != "\n" {
				t.Errorf("%s clear counters: %q", l.name, out)
			}
			if got := statsByKey(l.rows(t))["fe/FRONTEND"][stats.FStot]; got != before["fe/FRONTEND"][stats.FStot] {
				t.Errorf("%s: clear counters changed stot %s -> %s", l.name, before["fe/FRONTEND"][stats.FStot], got)
			}
			l.cmd(t, "clear counters all")
			after := statsByKey(l.rows(t))
			for _, k := range []string{"fe/FRONTEND", "be/s1", "be/BACKEND"} {
				for _, f := range []int{stats.FStot, stats.FBin, stats.FBout, stats.FHrsp2xx, stats.FSmax} {
					if after[k][f] != "0" {
						t.Errorf("%s after clear counters all: %s %s = %q", l.name, k, stats.FieldNames[f], after[k][f])
					}
				}
			}
		}
	})

	t.Run("page admin", func(t *testing.T) {
		for _, l := range []*statsLab{h, g} {
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.PostForm("http://"+l.page+"/admin?stats", url.Values{"s": {"s1"}, "action": {"maint"}, "b": {"be"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 303 || statuses(l.rows(t))["be/s1"] != "MAINT" {
				t.Errorf("%s: POST maint: %d, s1 %s", l.name, resp.StatusCode, statuses(l.rows(t))["be/s1"])
			}
			if got := tags(t, l.fe, 4); got != "B" {
				t.Errorf("%s: after page maint: %s", l.name, got)
			}
			l.cmd(t, "set server be/s1 state ready")
		}
	})
}

func infoMap(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if n, v, ok := strings.Cut(l, ": "); ok {
			m[n] = v
		}
	}
	return m
}

func infoKeys(s string) string {
	var k []string
	for _, l := range strings.Split(s, "\n") {
		if n, _, ok := strings.Cut(l, ": "); ok {
			k = append(k, n)
		}
	}
	return strings.Join(k, "|")
}

// TestStatsSocketLevels checks `level user` and `level operator` as
// HAProxy does: no server changes, addresses hidden for user.
func TestStatsSocketLevels(t *testing.T) {
	gbin := goproxyBinary(t)
	dir := t.TempDir()
	srvAddr := backend(t, "127.0.0.1", "A")
	user, oper := filepath.Join(dir, "u.sock"), filepath.Join(dir, "o.sock")
	cfg := fmt.Sprintf(`global
    stats socket %s level user
    stats socket %s level operator
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend f
    bind %s
    default_backend be
backend be
    server s1 %s cookie c1
`, user, oper, freeAddr(t, "127.0.0.1"), srvAddr)
	path := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, path, cfg)
	cmd := exec.Command(gbin, "-db", "-f", path)
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("unix", oper)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("no socket: %s", out.String())
	}
	for _, c := range []struct{ sock, cmd, want string }{
		{user, "disable server be/s1", "Permission denied\n\n"},
		{oper, "set weight be/s1 2", "Permission denied\n\n"},
		{user, "get weight be/s1", "1 (initial 1)\n\n"},
		{user, "show cli level", "user\n\n"},
		{oper, "show cli level", "operator\n\n"},
		{user, "clear counters", "Permission denied\n\n"},
		{oper, "clear counters all", "Permission denied\n\n"},
		{oper, "clear counters", "\n"},
	} {
		if got := statsCmd(t, "unix", c.sock, c.cmd); got != c.want {
			t.Errorf("%s %q: %q, want %q", filepath.Base(c.sock), c.cmd, got, c.want)
		}
	}
	ur, _ := stats.ParseCSV(strings.NewReader(statsCmd(t, "unix", user, "show stat")))
	or, _ := stats.ParseCSV(strings.NewReader(statsCmd(t, "unix", oper, "show stat")))
	if len(ur) != 3 || ur[1][stats.FAddr] != "" || ur[1][stats.FCookie] != "" || ur[2][stats.FAlgo] != "" {
		t.Errorf("user level shows legends: %q", ur)
	}
	if len(or) != 3 || or[1][stats.FAddr] != srvAddr || or[1][stats.FCookie] != "c1" || or[2][stats.FAlgo] != "roundrobin" {
		t.Errorf("operator level hides legends")
	}
}

// TestPrometheusAgainstHAProxy runs goproxy and haproxy on the same
// configuration with `http-request use-service prometheus-exporter` and
// compares their expositions: the same HELP and TYPE lines, metric names,
// labels and order, and the counters of the same traffic.
func TestPrometheusAgainstHAProxy(t *testing.T) {
	hbin := testenv.LookPath(t, "haproxy")
	gbin := goproxyBinary(t)
	a := backend(t, "127.0.0.1", "A")
	dead := freeAddr(t, "127.0.0.1")
	type inst struct{ name, fe, metrics string }
	var insts []inst
	for _, bin := range []string{hbin, gbin} {
		in := inst{name: filepath.Base(bin), fe: freeAddr(t, "127.0.0.1"), metrics: freeAddr(t, "127.0.0.1")}
		if bin == gbin {
			in.name = "goproxy"
		}
		cfg := fmt.Sprintf(`defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind %s
    default_backend be
frontend fm
    bind %s
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend be
backend be
    server s1 %s
    server s2 %s backup weight 3
listen lt
    mode tcp
    bind %s
    server t1 %s maxconn 10 maxqueue 5
`, in.fe, in.metrics, a, a, freeAddr(t, "127.0.0.1"), dead)
		path := filepath.Join(t.TempDir(), "haproxy.cfg")
		writeFile(t, path, cfg)
		cmd := exec.Command(bin, "-db", "-f", path)
		out := &lockedBuf{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		if !waitFor(5*time.Second, func() bool { _, err := get(in.fe); return err == nil }) {
			t.Fatalf("%s does not answer: %s", in.name, out.String())
		}
		for range 3 {
			if body, err := get(in.fe); err != nil || body != "A" {
				t.Fatalf("%s: %q %v", in.name, body, err)
			}
		}
		insts = append(insts, in)
	}
	fetchQ := func(in inst, query string) (string, http.Header, int) {
		resp, err := http.Get("http://" + in.metrics + "/metrics" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.Header, resp.StatusCode
	}
	fetch := func(in inst) (string, http.Header) {
		body, h, code := fetchQ(in, "")
		if code != 200 {
			t.Fatalf("%s /metrics: %d", in.name, code)
		}
		return body, h
	}
	theirs, th := fetch(insts[0])
	ours, oh := fetch(insts[1])
	for _, k := range []string{"Content-Type", "Cache-Control"} {
		if th.Get(k) != oh.Get(k) {
			t.Errorf("%s: haproxy %q, goproxy %q", k, th.Get(k), oh.Get(k))
		}
	}
	x, y := promShape(theirs), promShape(ours)
	if len(x) < 300 {
		t.Fatalf("haproxy exposition too short: %d lines", len(x))
	}
	for i := 0; i < max(len(x), len(y)); i++ {
		var a, b string
		if i < len(x) {
			a = x[i]
		}
		if i < len(y) {
			b = y[i]
		}
		if a != b {
			t.Fatalf("line %d:\nhaproxy %s\ngoproxy %s", i+1, a, b)
		}
	}
	for _, want := range []string{
		// The readiness probe and three requests.
		`haproxy_frontend_sessions_total{proxy="fe"} 4`,
		`haproxy_frontend_http_responses_total{proxy="fe",code="2xx"} 4`,
		`haproxy_backend_http_responses_total{proxy="be",code="2xx"} 4`,
		`haproxy_server_sessions_total{proxy="be",server="s1"} 4`,
		`haproxy_server_weight{proxy="be",server="s2"} 3`,
		`haproxy_server_status{proxy="be",server="s2",state="UP"} 1`,
		`haproxy_backend_active_servers{proxy="be"} 1`,
		`haproxy_backend_backup_servers{proxy="be"} 1`,
		`haproxy_server_limit_sessions{proxy="lt",server="t1"} 10`,
		`haproxy_server_queue_limit{proxy="lt",server="t1"} 5`,
		// The exporter's own request counts as a session and a request.
		`haproxy_frontend_sessions_total{proxy="fm"} 1`,
		`haproxy_frontend_http_requests_total{proxy="fm"} 1`,
		`haproxy_process_nbproc 1`,
	} {
		for who, s := range map[string]string{"haproxy": theirs, "goproxy": ours} {
			if !strings.Contains(s, want+"\n") {
				t.Errorf("%s lacks %s", who, want)
			}
		}
	}
	// The query selects scopes (HAProxy's exporter parameters).
	for _, q := range []string{"?scope=backend", "?scope=global&scope=server", "?scope=frontend&scope=", "?scope=*", "?scope=bogus", "?no-maint&scope=server"} {
		a, _, ac := fetchQ(insts[0], q)
		b, _, bc := fetchQ(insts[1], q)
		if ac != bc || strings.Join(promShape(a), "\n") != strings.Join(promShape(b), "\n") {
			t.Errorf("/metrics%s: haproxy %d, %d lines; goproxy %d, %d lines", q, ac, len(promShape(a)), bc, len(promShape(b)))
		}
	}
}

var promSample = regexp.MustCompile(`^([a-z_]+)(\{[^}]*\})? (\S+)$`)

// promShape keeps HELP/TYPE lines and the names and labels of samples.
func promShape(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "#") {
			out = append(out, l)
		} else if m := promSample.FindStringSubmatch(l); m != nil {
			if m[1] == "haproxy_process_build_info" {
				m[2] = `{version=V}` // the builds differ
			}
			out = append(out, m[1]+m[2])
		}
	}
	return out
}

// TestStatsPageChromium renders goproxy's stats page in headless
// Chromium (Debian's chromium package) with one server up and one down,
// checks the rendered DOM, compares its tables with HAProxy's page on the
// same configuration (row classes, names, statuses, last check, weights,
// limits) and keeps a screenshot (under artifacts/ of the repository when
// writable, else in the test's directory; the path is logged).
func TestStatsPageChromium(t *testing.T) {
	chromium := testenv.LookPath(t, "chromium")
	hbin := testenv.LookPath(t, "haproxy")
	gbin := goproxyBinary(t)
	dir := t.TempDir()
	web1, web2, o1 := backend(t, "127.0.0.1", "A"), freeAddr(t, "127.0.0.1"), freeAddr(t, "127.0.0.1")
	// start runs bin on the page configuration and returns its stats
	// socket and page address once web2 is DOWN (or in maintenance when
	// goproxy has no checks).
	start := func(bin, name string) (sock, page, downStatus string) {
		sock = filepath.Join(dir, name+".sock")
		page = freeAddr(t, "127.0.0.1")
		cfg := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
backend be
    server web1 %s check inter 500 rise 1 fall 1
    server web2 %s check inter 500 rise 1 fall 1
backend other
    server o1 %s
listen stats
    bind %s
    stats enable
    stats uri /admin?stats
    stats auth admin:secret
    stats show-legends
    stats scope be
    stats scope .
`, sock, web1, web2, o1, page)
		path := filepath.Join(dir, name+".cfg")
		writeFile(t, path, cfg)
		cmd := exec.Command(bin, "-db", "-f", path)
		out := &lockedBuf{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		if !waitFor(10*time.Second, func() bool {
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
			}
			return err == nil
		}) {
			t.Fatalf("%s: no stats socket: %s", name, out.String())
		}
		status := func() map[string]string {
			rows, _ := stats.ParseCSV(strings.NewReader(statsCmd(t, "unix", sock, "show stat")))
			return statuses(rows)
		}
		downStatus = "DOWN"
		if status()["be/web2"] == "no check" {
			t.Logf("%s runs no health checks: web2 put in maintenance instead", name)
			statsCmd(t, "unix", sock, "disable server be/web2")
			downStatus = "MAINT"
		}
		if !waitFor(10*time.Second, func() bool { st := status(); return st["be/web2"] == downStatus && st["be/web1"] == "UP" }) {
			t.Fatalf("%s: web2 not %s: %v", name, downStatus, status())
		}
		return sock, page, downStatus
	}
	run := func(page string, args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(dir, "chromium")}
		c := exec.CommandContext(ctx, chromium, append(append(base, args...), "http://admin:secret@"+page+"/admin?stats")...)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}

	_, gpage, downStatus := start(gbin, "goproxy")
	dom := string(run(gpage, "--dump-dom"))
	upClass, downClass := "active_up", "active_down"
	if downStatus == "MAINT" {
		downClass = "maintain"
	}
	cell := `(<td[^>]*>[^<]*</td>)*?`
	name := func(n string) string {
		return `<td class="ac"><a name="be/` + n + `"></a><a class="lfsb" href="#be/` + n + `">` + n + `</a></td>`
	}
	for _, re := range []string{
		`<title>Statistics Report for HAProxy</title>`,
		`<h2>Statistics Report for pid \d+</h2>`,
		`<tr class="` + upClass + `">` + name("web1"),
		`<tr class="` + downClass + `">` + name("web2"),
		name("web2") + cell + `<td class="ac">\d+s ` + downStatus + `</td>`,
		`<a name="be"></a><a class="px" href="#be">be</a></th>`,
		`<a class="lfsb" href="#be/Backend">Backend</a>`,
		`active or backup DOWN for maintenance \(MAINT\)`,
		`<a href="/admin\?stats;csv">CSV export</a>`,
	} {
		if !regexp.MustCompile(re).MatchString(dom) {
			t.Errorf("rendered page lacks %s", re)
		}
	}
	if strings.Contains(dom, `<a name="other">`) || !strings.Contains(dom, `<a name="stats">`) {
		t.Error("stats scope be + . not applied")
	}

	// HAProxy's page, rendered the same way: the same rows with the same
	// classes and the same values in the columns that do not depend on
	// time or traffic.
	if downStatus == "DOWN" {
		_, hpage, _ := start(hbin, "haproxy")
		theirs, ours := pageRows(string(run(hpage, "--dump-dom"))), pageRows(dom)
		if len(theirs) != len(ours) || len(theirs) < 5 {
			t.Errorf("page rows: haproxy %d, goproxy %d", len(theirs), len(ours))
		}
		for i := range min(len(theirs), len(ours)) {
			a, b := theirs[i], ours[i]
			if a[0] != b[0] || len(a) != len(b) {
				t.Errorf("page row %d: haproxy %q, goproxy %q", i, a, b)
				continue
			}
			// class, name, queue limit, session limit, status, last
			// check, weight, act, bck, chk, dwn, thrtle
			for _, c := range []int{0, 1, 4, 10, 23, 24, 25, 26, 27, 28, 29, 31} {
				if c < len(a) && a[c] != b[c] {
					t.Errorf("page row %s column %d: haproxy %q, goproxy %q", a[1], c, a[c], b[c])
				}
			}
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}

	shotDir := filepath.Join("..", "..", "artifacts")
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		shotDir = dir
	}
	shot, _ := filepath.Abs(filepath.Join(shotDir, "stats-page-chromium.png"))
	run(gpage, "--window-size=1400,700", "--screenshot="+shot)
	b, err := os.ReadFile(shot)
	if err != nil || len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s: %d bytes, %v", shot, len(b), err)
	}
	t.Logf("stats page screenshot: %s (%d bytes)", shot, len(b))
}

var (
	domRow   = regexp.MustCompile(`(?s)<tr class="([a-z_]+)">(.*?)</tr>`)
	domCell  = regexp.MustCompile(`(?s)<td([^>]*)>(.*?)</td>`)
	domTips  = regexp.MustCompile(`(?s)<div class="tips">.*?</div>`)
	domTag   = regexp.MustCompile(`<[^>]*>`)
	domSpan  = regexp.MustCompile(`colspan="(\d+)"`)
	domTime  = regexp.MustCompile(`^(\d+[dhms])+ `)
	domCheck = regexp.MustCompile(` in \d+ms$`)
)

// pageRows reads the proxy tables of a rendered stats page: per row its
// class then the text of each column (colspans expanded), with the time
// before a status and the duration after a check result removed.
func pageRows(dom string) [][]string {
	var out [][]string
	for _, m := range domRow.FindAllStringSubmatch(domTips.ReplaceAllString(dom, ""), -1) {
		if m[1] == "titre" {
			continue
		}
		row := []string{m[1]}
		for _, c := range domCell.FindAllStringSubmatch(m[2], -1) {
			text := strings.TrimSpace(strings.ReplaceAll(domTag.ReplaceAllString(c[2], ""), "\u00a0", " "))
			text = domCheck.ReplaceAllString(domTime.ReplaceAllString(text, ""), "")
			text = strings.TrimPrefix(text, "* ") // a check running at that instant
			n := 1
			if sm := domSpan.FindStringSubmatch(c[1]); sm != nil {
				fmt.Sscan(sm[1], &n)
			}
			row = append(row, text)
			for range n - 1 {
				row = append(row, "")
			}
		}
		out = append(out, row)
	}
	return out
}

// TestStatsSocketAcrossReload: after `-x sock -sf old`, the new process
// serves the stats socket and the old one, leaving, does not remove the
// new socket file; `_getsocks` went through the stats part (expose-fd).
func TestStatsSocketAcrossReload(t *testing.T) {
	bin := goproxyBinary(t)
	dir := t.TempDir()
	sock, pidFile, cfg := filepath.Join(dir, "s.sock"), filepath.Join(dir, "g.pid"), filepath.Join(dir, "g.cfg")
	addr := freeAddr(t, "127.0.0.1")
	writeFile(t, cfg, httpCfg("    stats socket "+sock+" mode 600 level admin expose-fd listeners\n", addr, backend(t, "127.0.0.1", "A")))
	// Whatever file is at the path is replaced, as HAProxy does.
	writeFile(t, sock, "not a socket")
	if err := runCmd(bin, "-D", "-f", cfg, "-p", pidFile); err != nil {
		t.Fatal(err)
	}
	old := readPid(t, pidFile)
	killPid(t, old)
	pidOf := func() string { return infoMap(statsCmd(t, "unix", sock, "show info"))["Pid"] }
	if got := pidOf(); got != strconv.Itoa(old) {
		t.Fatalf("show info Pid %s, want %d", got, old)
	}
	if err := runCmd(bin, "-D", "-f", cfg, "-p", pidFile, "-x", sock, "-sf", strconv.Itoa(old)); err != nil {
		t.Fatal(err)
	}
	cur := readPid(t, pidFile)
	killPid(t, cur)
	if !waitFor(10*time.Second, func() bool { return !alive(old) }) {
		t.Fatalf("old process %d still running", old)
	}
	if got := pidOf(); got != strconv.Itoa(cur) {
		t.Errorf("after reload show info Pid %s, want %d", got, cur)
	}
	if body, err := get(addr); err != nil || body != "A" {
		t.Errorf("traffic after reload: %q %v", body, err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket after reload: %v %v", fi, err)
	}
	// Stopped, the process leaves its socket file, as HAProxy does.
	syscall.Kill(cur, syscall.SIGTERM)
	if !waitFor(10*time.Second, func() bool { return !alive(cur) }) {
		t.Fatalf("process %d did not stop on SIGTERM", cur)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket file after stop: %v %v", fi, err)
	}
	if tmps, _ := filepath.Glob(sock + ".*.tmp"); len(tmps) != 0 {
		t.Errorf("temporary sockets left: %v", tmps)
	}
}

// TestStatsSocketBindError: a stats socket that cannot be bound stops the
// start with HAProxy's two alerts and exit status 1.
func TestStatsSocketBindError(t *testing.T) {
	hbin := testenv.LookPath(t, "haproxy")
	gbin := goproxyBinary(t)
	path := filepath.Join(t.TempDir(), "bad.cfg")
	writeFile(t, path, fmt.Sprintf(`global
    stats socket /nonexistent-%d/x.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind %s
`, os.Getpid(), freeAddr(t, "127.0.0.1")))
	pidRE := regexp.MustCompile(`\(\d+\)`)
	progRE := regexp.MustCompile(`\[\S+\.main\(\)\]`) // argv[0] as started
	alerts := func(bin string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "-db", "-f", path).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "[ALERT]") {
				l = progRE.ReplaceAllString(pidRE.ReplaceAllString(l, "(PID)"), "[PROG.main()]")
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n"), code
	}
	a, ac := alerts(hbin)
	b, bc := alerts(gbin)
	if a != b || ac != bc || ac != 1 {
		t.Errorf("haproxy (exit %d):\n%s\ngoproxy (exit %d):\n%s", ac, a, bc, b)
	}
}

// TestSeedStatsPage runs the seed's configuration (testdata/haproxy/
// seed.cfg: `stats uri /admin?stats` in defaults, so every proxy carries
// the page) on loopback addresses with goproxy and haproxy and compares
// the ;csv export reached through the frontend: header, rows, limits
// (global and defaults maxconn, derived fullconn), algorithms, and the
// statuses once the HTTP checks ran.
func TestSeedStatsPage(t *testing.T) {
	hbin := testenv.LookPath(t, "haproxy")
	gbin := goproxyBinary(t)
	seed, err := os.ReadFile(filepath.Join(testdata, "seed.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	web := backend(t, "127.0.0.1", "web")
	fetch := func(bin string) (string, []stats.Row) {
		fe := freeAddr(t, "127.0.0.1")
		cfg := string(seed)
		if bin == hbin {
			// HAProxy 2.6 refuses the seed's 1.4 keywords; goproxy takes
			// the file as it is.
			for _, r := range [][2]string{{"nbproc 1\n", ""}, {"contimeout", "timeout connect"}, {"clitimeout", "timeout client"}, {"srvtimeout", "timeout server"}} {
				cfg = strings.Replace(cfg, r[0], r[1], 1)
			}
		}
		for _, r := range [][2]string{
			{"user nobody\n", ""}, {"group nobody\n", ""}, {"daemon\n", ""},
			{"pidfile /usr/local/haproxy/logs/haproxy.pid\n", ""},
			{"bind :80", "bind " + fe},
			{"192.168.1.187:80 check inter 5000", web + " check inter 500"},
			{"192.168.1.187:8000 check inter 5000", web + " check inter 500"},
		} {
			if !strings.Contains(cfg, r[0]) {
				t.Fatalf("seed.cfg lacks %q", r[0])
			}
			cfg = strings.Replace(cfg, r[0], r[1], 1)
		}
		path := filepath.Join(t.TempDir(), "seed.cfg")
		writeFile(t, path, cfg)
		cmd := exec.Command(bin, "-db", "-f", path)
		out := &lockedBuf{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		var body string
		var rows []stats.Row
		ok := waitFor(10*time.Second, func() bool {
			resp, err := http.Get("http://" + fe + "/admin?stats;csv")
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			rows, _ = stats.ParseCSV(strings.NewReader(body))
			st := statuses(rows)
			return resp.StatusCode == 200 && (st["info_cache/inst2"] == "UP" || st["info_cache/inst2"] == "no check") && st["cache_test/inst1"] == st["info_cache/inst2"]
		})
		if !ok {
			t.Fatalf("%s: stats page through the seed's frontend: %q\n%s", bin, body, out.String())
		}
		return strings.SplitN(body, "\n", 2)[0], rows
	}
	ah, ar := fetch(hbin)
	bh, br := fetch(gbin)
	if ah != bh || rowKeys(ar) != rowKeys(br) {
		t.Fatalf("seed ;csv:\nhaproxy %s\n%s\ngoproxy %s\n%s", ah, rowKeys(ar), bh, rowKeys(br))
	}
	for i := range ar {
		for _, f := range []int{stats.FSlim, stats.FWeight, stats.FAct, stats.FBck, stats.FAlgo, stats.FAddr, stats.FMode, stats.FStatus, stats.FCheckStatus, stats.FCheckCode} {
			if strings.TrimPrefix(ar[i][f], "* ") != strings.TrimPrefix(br[i][f], "* ") {
				t.Errorf("%s/%s %s: haproxy %q, goproxy %q", ar[i][stats.FPxname], ar[i][stats.FSvname], stats.FieldNames[f], ar[i][f], br[i][f])
			}
		}
	}
}
