package stats

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hapair/internal/testenv"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startHAProxy runs haproxy on cfg until the test ends and waits for its
// stats socket.
func startHAProxy(t *testing.T, cfg, sock string) {
	t.Helper()
	bin := testenv.LookPath(t, "haproxy")
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	out := new(syncBuf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // by PID
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s\nconfig:\n%s", out.String(), cfg)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("haproxy stats socket did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// socketCmd sends one command line to a stats socket and returns the reply.
func socketCmd(t *testing.T, network, addr, cmd string) string {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, cmd+"\n")
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func liveBackend(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// counterFields maps the Counters fields to their columns, to copy
// HAProxy's values (timing dependent) into our structs.
func counterFields(c *Counters) map[int]*int64 {
	return map[int]*int64{
		FQcur: &c.Qcur, FQmax: &c.Qmax, FScur: &c.Scur, FSmax: &c.Smax, FStot: &c.Stot,
		FBin: &c.Bin, FBout: &c.Bout, FDreq: &c.Dreq, FDresp: &c.Dresp, FEreq: &c.Ereq,
		FEcon: &c.Econ, FEresp: &c.Eresp, FWretr: &c.Wretr, FWredis: &c.Wredis,
		FRate: &c.Rate, FRateMax: &c.RateMax, FHrsp1xx: &c.Hrsp[0], FHrsp2xx: &c.Hrsp[1],
		FHrsp3xx: &c.Hrsp[2], FHrsp4xx: &c.Hrsp[3], FHrsp5xx: &c.Hrsp[4], FHrspOther: &c.Hrsp[5],
		FReqRate: &c.ReqRate, FReqRateMax: &c.ReqRateMax, FReqTot: &c.ReqTot,
		FCliAbrt: &c.CliAbrt, FSrvAbrt: &c.SrvAbrt, FLastsess: &c.LastSess,
		FQtime: &c.Qtime, FCtime: &c.Ctime, FRtime: &c.Rtime, FTtime: &c.Ttime,
		FQtimeMax: &c.QtimeMax, FCtimeMax: &c.CtimeMax, FRtimeMax: &c.RtimeMax, FTtimeMax: &c.TtimeMax,
		FConnRate: &c.ConnRate, FConnRateMax: &c.ConnRateMax, FConnTot: &c.ConnTot,
		FIntercepted: &c.Intercepted, FDcon: &c.Dcon, FDses: &c.Dses, FWrew: &c.Wrew,
		FConnect: &c.Connect, FReuse: &c.Reuse, FEint: &c.Eint,
	}
}

func copyCounters(c *Counters, r *Row) {
	for f, p := range counterFields(c) {
		*p = r.Int(f)
	}
}

func copyH1(h *[8]int64, r *Row) {
	for i := range h {
		h[i] = r.Int(FH1OpenConnections + i)
	}
}

// ours rebuilds HAProxy's row from our typed structs: names, modes,
// statuses and checks from what the test configured, counters copied.
func ours(t *testing.T, theirs *Row, checks map[string]*Check, backup map[string]bool, algo string) Row {
	t.Helper()
	http := theirs[FMode] == "http"
	iid := int(theirs.Int(FIid))
	switch theirs[FSvname] {
	case "FRONTEND":
		f := &Frontend{Name: theirs[FPxname], IID: iid, HTTP: http, Slim: theirs.Int(FSlim), RateLim: theirs.Int(FRateLim)}
		copyCounters(&f.Counters, theirs)
		copyH1(&f.H1, theirs)
		return f.Row()
	case "BACKEND":
		b := &Backend{Name: theirs[FPxname], IID: iid, HTTP: http, Up: true,
			Weight: int(theirs.Int(FWeight)), Act: int(theirs.Int(FAct)), Bck: int(theirs.Int(FBck)),
			UWeight: int(theirs.Int(FUweight)), Slim: theirs.Int(FSlim), ChkDown: theirs.Int(FChkdown),
			LastChg: theirs.Int(FLastchg), Downtime: theirs.Int(FDowntime), HasServers: theirs[FDowntime] != "",
			LbTot: theirs.Int(FLbtot), Algo: algo}
		copyCounters(&b.Counters, theirs)
		copyH1(&b.H1, theirs)
		return b.Row()
	}
	name := theirs[FSvname]
	s := &Server{Proxy: theirs[FPxname], Name: name, IID: iid, SID: int(theirs.Int(FSid)), HTTP: http,
		Op: OpRunning, Weight: int(theirs.Int(FWeight)), UWeight: int(theirs.Int(FUweight)), Backup: backup[name],
		ChkFail: theirs.Int(FChkfail), ChkDown: theirs.Int(FChkdown), LastChg: theirs.Int(FLastchg),
		Downtime: theirs.Int(FDowntime), LbTot: theirs.Int(FLbtot), Addr: theirs[FAddr],
		SrvIcur: theirs.Int(FSrvIcur), IdleConnCur: theirs.Int(FIdleConnCur), SafeConnCur: theirs.Int(FSafeConnCur),
		UsedConnCur: theirs.Int(FUsedConnCur), NeedConnEst: theirs.Int(FNeedConnEst)}
	if c, ok := checks[name]; ok {
		cc := *c
		cc.Duration = theirs.Int(FCheckDuration)
		s.Check = &cc
		if cc.Health < cc.Rise {
			s.Op = OpStopped
		}
	}
	copyCounters(&s.Counters, theirs)
	return s.Row()
}

func diffRows(t *testing.T, what string, theirs, mine Row) {
	t.Helper()
	for f := range theirs {
		if theirs[f] != mine[f] {
			t.Errorf("%s %s/%s column %d %s: haproxy %q, we %q", what, theirs[FPxname], theirs[FSvname], f, FieldNames[f], theirs[f], mine[f])
		}
	}
}

func TestHAProxyCSVDifferential(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "stats.sock")
	live := liveBackend(t)
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	pFE, pStats, pTCP := freePort(t), freePort(t), freePort(t)
	cfg := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 %s check inter 100 rise 2 fall 3
    server s2 %s check inter 100 fall 1
    server s3 %s backup
listen stats
    bind 127.0.0.1:%d
    stats enable
    stats uri /admin?stats
frontend fet
    mode tcp
    bind 127.0.0.1:%d
    default_backend bet
backend bet
    mode tcp
    server t1 %s
`, sock, pFE, live, dead, live, pStats, pTCP, live)
	startHAProxy(t, cfg, sock)

	// Wait for the checks to settle: s1 UP (health 4/4), s2 DOWN.
	var rows []Row
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := socketCmd(t, "unix", sock, "show stat")
		var err error
		if rows, err = ParseCSV(strings.NewReader(out)); err != nil {
			t.Fatal(err)
		}
		st := map[string]string{}
		for _, r := range rows {
			st[r[FSvname]] = r[FStatus]
		}
		if st["s1"] == "UP" && st["s2"] == "DOWN" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checks did not settle: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	const n = 3
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/x", pFE))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// HAProxy updates the counters when the stream ends; poll.
	var out string
	for deadline := time.Now().Add(5 * time.Second); ; {
		out = socketCmd(t, "unix", sock, "show stat")
		rows, _ = ParseCSV(strings.NewReader(out))
		if len(rows) > 0 && rows[0].Int(FHrsp2xx) == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasPrefix(out, Header) {
		t.Fatalf("header differs:\nhaproxy %q\nwe      %q", strings.SplitN(out, "\n", 2)[0], Header)
	}
	if !strings.HasSuffix(out, ",\n\n") {
		t.Errorf("socket reply does not end with an empty line: %q", out[len(out)-10:])
	}
	var names []string
	for _, r := range rows {
		names = append(names, r[FPxname]+"/"+r[FSvname]+"/"+r[FType])
	}
	wantNames := "fe/FRONTEND/0 be/s1/2 be/s2/2 be/s3/2 be/BACKEND/1 stats/FRONTEND/0 stats/BACKEND/1 fet/FRONTEND/0 bet/t1/2 bet/BACKEND/1"
	if got := strings.Join(names, " "); got != wantNames {
		t.Fatalf("rows:\nhaproxy %s\nwant    %s", got, wantNames)
	}
	// Deterministic counters after n requests, all on s1.
	byName := map[string]*Row{}
	for i := range rows {
		byName[rows[i][FPxname]+"/"+rows[i][FSvname]] = &rows[i]
	}
	for _, c := range []struct {
		row   string
		field int
		want  int64
	}{
		{"fe/FRONTEND", FStot, n}, {"fe/FRONTEND", FHrsp2xx, n}, {"fe/FRONTEND", FReqTot, n},
		{"be/s1", FStot, n}, {"be/s1", FHrsp2xx, n}, {"be/s2", FStot, 0}, {"be/BACKEND", FStot, n},
	} {
		if got := byName[c.row].Int(c.field); got != c.want {
			t.Errorf("%s %s = %d, want %d", c.row, FieldNames[c.field], got, c.want)
		}
	}
	checks := map[string]*Check{
		"s1": {Status: "L4OK", Desc: "Layer4 check passed", Rise: 2, Fall: 3, Health: 4},
		"s2": {Status: "L4CON", Desc: "Layer4 connection problem", Info: "Connection refused", Rise: 2, Fall: 1, Health: 0},
	}
	backup := map[string]bool{"s3": true}
	for _, r := range rows {
		algo := "roundrobin"
		mine := ours(t, &r, checks, backup, algo)
		diffRows(t, "show stat", r, mine)
	}
	// The whole CSV, re-serialized, is byte for byte HAProxy's.
	var mine bytes.Buffer
	var rebuilt []Row
	for _, r := range rows {
		rebuilt = append(rebuilt, ours(t, &r, checks, backup, "roundrobin"))
	}
	WriteCSV(&mine, rebuilt)
	if mine.String()+"\n" != out {
		t.Errorf("CSV bytes differ")
	}

	// The ;csv export of the stats page has the same header and rows.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/admin?stats;csv", pStats))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" || !strings.HasPrefix(string(body), Header) {
		t.Errorf(";csv: status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	t.Run("show info", func(t *testing.T) {
		theirs := socketCmd(t, "unix", sock, "show info")
		var b bytes.Buffer
		now := time.Now()
		WriteInfo(&b, &Info{Version: "2.6.12", Start: now.Add(-(26*time.Hour + 3*time.Minute + 4*time.Second)), Now: now})
		if got, want := keys(b.String()), keys(theirs); got != want {
			t.Errorf("show info names:\nhaproxy %s\nwe      %s", want, got)
		}
		if !strings.Contains(b.String(), "\nUptime: 1d 2h03m04s\n") || !strings.HasPrefix(theirs, "Name: HAProxy\n") {
			t.Errorf("unexpected show info:\n%s", b.String())
		}
	})
}

// keys lists the "Name" parts of "Name: value" lines.
func keys(s string) string {
	var k []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if n, _, ok := strings.Cut(sc.Text(), ": "); ok {
			k = append(k, n)
		}
	}
	return strings.Join(k, "|")
}

// fakeCtl is a ServerControl over a fixed set of servers, for the socket
// and page tests.
type fakeCtl struct {
	mu      sync.Mutex
	servers map[string]*Server // "be/s"
	initW   map[string]int
	order   []string
}

func newFakeCtl() *fakeCtl {
	f := &fakeCtl{servers: map[string]*Server{}, initW: map[string]int{}}
	for i, n := range []string{"s1", "s2"} {
		s := &Server{Proxy: "be", Name: n, IID: 3, SID: i + 1, HTTP: true, Op: OpRunning, Weight: 1, UWeight: 1,
			Addr: "127.0.0.1:80" + fmt.Sprint(i), Check: &Check{Status: "L4OK", Desc: "Layer4 check passed", Rise: 2, Fall: 3, Health: 4}}
		s.LastSess = -1
		f.servers["be/"+n] = s
		f.initW["be/"+n] = 1
		f.order = append(f.order, "be/"+n)
	}
	f.servers["be/s2"].Op = OpStopped
	f.servers["be/s2"].Check = &Check{Status: "L4CON", Desc: "Layer4 connection problem", Info: "Connection refused", Rise: 2, Fall: 3}
	return f
}

func (f *fakeCtl) Snapshot() []Row {
	f.mu.Lock()
	defer f.mu.Unlock()
	fe := &Frontend{Name: "fe", IID: 2, HTTP: true, Slim: 9984}
	rows := []Row{fe.Row()}
	b := &Backend{Name: "be", IID: 3, HTTP: true, Up: true, Algo: "roundrobin", HasServers: true}
	for _, k := range f.order {
		s := f.servers[k]
		rows = append(rows, s.Row())
		if s.Admin == AdminReady && s.Op == OpRunning {
			b.Act++
			b.Weight += s.Weight
		}
	}
	b.Up = b.Weight > 0
	return append(rows, b.Row())
}

func (f *fakeCtl) Info() Info {
	now := time.Now()
	return Info{Version: "2.6.12", ReleaseDate: "2026/10/17", Pid: 42, Start: now.Add(-time.Minute), Now: now, Node: "vm"}
}

func (f *fakeCtl) lookup(be, srv string) (*Server, error) {
	if be != "be" {
		return nil, ErrNoBackend
	}
	s, ok := f.servers[be+"/"+srv]
	if !ok {
		return nil, ErrNoServer
	}
	return s, nil
}

func (f *fakeCtl) SetServerAdmin(be, srv string, st AdminState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup(be, srv)
	if err == nil {
		s.Admin = st
	}
	return err
}

func (f *fakeCtl) SetWeight(be, srv string, w int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup(be, srv)
	if err == nil {
		s.Weight, s.UWeight = w, w
	}
	return err
}

func (f *fakeCtl) Weight(be, srv string) (int, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup(be, srv)
	if err != nil {
		return 0, 0, err
	}
	return s.Weight, f.initW[be+"/"+srv], nil
}

// serveOurs runs Serve on a unix socket under the test's directory.
func serveOurs(t *testing.T, ctl ServerControl) string {
	sock := filepath.Join(t.TempDir(), "ours.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, ctl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock
}

// TestHAProxySocketDifferential sends the same commands to HAProxy and to
// our socket (over a control holding the same servers) and compares the
// replies byte for byte.
func TestHAProxySocketDifferential(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "stats.sock")
	cfg := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d
    server s2 127.0.0.1:%d
`, sock, freePort(t), freePort(t), freePort(t))
	startHAProxy(t, cfg, sock)
	mine := serveOurs(t, newFakeCtl())
	for _, cmd := range []string{
		"disable server be/zz", "disable server zz/s1", "disable server be", "enable server be/s1",
		"disable server be/s1", "enable server be/s1",
		"set weight be/s1 abc", "set weight be/s1 300", "set weight be/s1 50%", "get weight be/s1",
		"set weight be/s1 7", "get weight be/s1", "set server be/s1 weight 1", "get weight be/s1", "get weight be/zz",
		"set server be/s1 state foo", "set server be/s1 state drain", "set server be/s1 state maint",
		"set server be/s1 state ready", "set server be/s1 bogus", "set server be",
		"get weight be/s1; get weight be/s2",
	} {
		theirs := socketCmd(t, "unix", sock, cmd)
		ours := socketCmd(t, "unix", mine, cmd)
		if theirs != ours {
			t.Errorf("%q:\nhaproxy %q\nwe      %q", cmd, theirs, ours)
		}
	}
	// The interactive mode: a prompt after each reply, "prompt" again
	// leaves it and the connection closes.
	dialogue := func(path string) string {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		var all strings.Builder
		for _, cmd := range []string{"prompt", "get weight be/s2", "enable server be/s2"} {
			io.WriteString(c, cmd+"\n")
			for !strings.HasSuffix(all.String(), "> ") {
				b, err := r.ReadByte()
				if err != nil {
					t.Fatalf("%s: %v after %q", path, err, all.String())
				}
				all.WriteByte(b)
			}
			all.WriteString("|")
		}
		io.WriteString(c, "prompt\n")
		rest, _ := io.ReadAll(r)
		all.Write(rest)
		return all.String()
	}
	if theirs, ours := dialogue(sock), dialogue(mine); theirs != ours {
		t.Errorf("prompt dialogue:\nhaproxy %q\nwe      %q", theirs, ours)
	}
	// An empty line: the same first line as HAProxy.
	first := func(s string) string { return strings.SplitN(s, "\n", 2)[0] }
	if theirs, ours := socketCmd(t, "unix", sock, ""), socketCmd(t, "unix", mine, ""); first(theirs) != first(ours) || !strings.HasSuffix(ours, "\n\n") {
		t.Errorf("empty command:\nhaproxy %q\nwe      %q", first(theirs), ours)
	}
	// help starts like HAProxy's and uses its layout for the lines we have.
	theirs := socketCmd(t, "unix", sock, "help")
	ours := socketCmd(t, "unix", mine, "help")
	for _, l := range strings.Split(strings.TrimSpace(ours), "\n") {
		if !strings.Contains(theirs, l+"\n") {
			t.Errorf("help line %q is not HAProxy's", l)
		}
	}
}

// TestHAProxyPageAuth compares the 401 answer of the stats page.
func TestHAProxyPageAuth(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "stats.sock")
	port := freePort(t)
	cfg := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen stats
    bind 127.0.0.1:%d
    stats enable
    stats uri /admin?stats
    stats auth admin:secret
    stats realm My\ Stats
    stats refresh 10s
`, sock, port)
	startHAProxy(t, cfg, sock)
	p := &Page{URI: "/admin?stats", Realm: "My Stats", Auth: []string{"admin:secret"}, Refresh: 10 * time.Second, Ctl: newFakeCtl()}
	for _, c := range []struct {
		uri, user, pass string
	}{{"/admin?stats", "", ""}, {"/admin?stats", "admin", "wrong"}, {"/admin?stats;csv", "admin", "secret"}, {"/admin?stats", "admin", "secret"}, {"/admin?statsxyz", "admin", "secret"}} {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, c.uri), nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !p.Match(c.uri) {
			t.Fatalf("Match(%q) false", c.uri)
		}
		got := p.Handle(&Request{Method: "GET", URI: c.uri, Authorization: req.Header.Get("Authorization")})
		if got.Status != resp.StatusCode {
			t.Errorf("%s %s: status haproxy %d, we %d", c.uri, c.user, resp.StatusCode, got.Status)
		}
		for _, h := range got.Header {
			if h[0] == "content-length" {
				continue // HAProxy chunks its 200 pages
			}
			if v := resp.Header.Get(h[0]); v != h[1] {
				t.Errorf("%s %s: header %s haproxy %q, we %q", c.uri, c.user, h[0], v, h[1])
			}
		}
		if resp.StatusCode == 401 && string(body) != string(got.Body) {
			t.Errorf("401 body:\nhaproxy %q\nwe      %q", body, got.Body)
		}
	}
}
