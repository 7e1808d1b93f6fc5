package stats

import (
	"bytes"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"
)

func TestServerStatus(t *testing.T) {
	ck := func(h int) *Check { return &Check{Rise: 2, Fall: 3, Health: h} }
	cases := []struct {
		s    Server
		want string
	}{
		{Server{Op: OpRunning}, "no check"},
		{Server{Op: OpRunning, Check: ck(4)}, "UP"},
		{Server{Op: OpRunning, Check: ck(3)}, "UP 2/3"},
		{Server{Op: OpRunning, Check: ck(2)}, "UP 1/3"},
		{Server{Op: OpStopped, Check: ck(0)}, "DOWN"},
		{Server{Op: OpStopped, Check: ck(1)}, "DOWN 1/2"},
		{Server{Op: OpStopped}, "DOWN"},
		{Server{Op: OpRunning, Admin: AdminDrain, Check: ck(4)}, "DRAIN"},
		{Server{Op: OpRunning, Admin: AdminDrain, Check: ck(2)}, "DRAIN 1/3"},
		{Server{Op: OpRunning, Admin: AdminDrain}, "DRAIN"},
		{Server{Op: OpStopping, Check: ck(4)}, "NOLB"},
		{Server{Op: OpStopping, Check: ck(3)}, "NOLB 2/3"},
		{Server{Op: OpRunning, Admin: AdminMaint, Check: ck(4)}, "MAINT"},
	}
	for _, c := range cases {
		if got := c.s.Status(); got != c.want {
			t.Errorf("%+v: got %q want %q", c.s, got, c.want)
		}
	}
}

func TestCSVRoundTrip(t *testing.T) {
	s := &Server{Proxy: "be", Name: "s,1", HTTP: true, Op: OpStopped,
		Check: &Check{Status: "L7STS", Code: 404, Desc: "Layer7 wrong status", Info: `say "hi"`, Rise: 2, Fall: 3}}
	rows := []Row{(&Frontend{Name: "fe"}).Row(), s.Row(), (&Backend{Name: "be"}).Row()}
	var b bytes.Buffer
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "# pxname,svname,qcur,") {
		t.Fatalf("header: %q", b.String()[:40])
	}
	back, err := ParseCSV(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || back[1] != rows[1] {
		t.Errorf("round trip: %d rows\n%q\n%q", len(back), back[1][:20], rows[1][:20])
	}
	if got := rows[1][FStatus]; got != "DOWN" {
		t.Errorf("status %q", got)
	}
	if rows[1][FCheckCode] != "404" || rows[1][FType] != "2" || rows[0][FType] != "0" || rows[2][FType] != "1" {
		t.Error("type or check code columns wrong")
	}
}

func TestPage(t *testing.T) {
	ctl := newFakeCtl()
	p := &Page{Auth: []string{"u:p"}, Ctl: ctl, Node: "vm", Version: "2.6.12"}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))
	if !p.Match("/haproxy?stats") || p.Match("/other") {
		t.Error("default URI not matched")
	}
	if r := p.Handle(&Request{Method: "GET", URI: "/haproxy?stats"}); r.Status != 401 {
		t.Errorf("no auth: %d", r.Status)
	}
	r := p.Handle(&Request{Method: "GET", URI: "/haproxy?stats", Authorization: auth})
	body := string(r.Body)
	for _, want := range []string{`<a class=lfsb href="#be/s1">s1</a>`, `<a class=lfsb href="#be/s2">s2</a>`, "L4OK in", "L4CON", "Frontend", "Backend", "HAProxy version 2.6.12"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<form") {
		t.Error("admin form without stats admin")
	}
	up := string(p.Handle(&Request{Method: "GET", URI: "/haproxy?stats;up", Authorization: auth}).Body)
	if strings.Contains(up, ">s2<") {
		t.Error(";up shows a DOWN server")
	}
	if !strings.Contains(string(p.Handle(&Request{Method: "GET", URI: "/haproxy?stats", Authorization: auth, Admin: true}).Body), "<form") {
		t.Error("no admin form with stats admin")
	}
	res := p.Handle(&Request{Method: "POST", URI: "/haproxy?stats", Authorization: auth, Admin: true, Body: []byte("s=s1&action=maint&b=be")})
	if res.Status != 303 || ctl.servers["be/s1"].Admin != AdminMaint {
		t.Errorf("admin action: status %d admin %v", res.Status, ctl.servers["be/s1"].Admin)
	}
	for body, want := range map[string]string{
		"s=s1&s=zz&action=disable&b=be": "PART", "s=s1&action=enable&b=be": "DONE", "s=zz&action=maint&b=be": "ERRP",
		"action=maint&b=be": "NONE", "s=s1&action=bogus&b=be": "ERRP", "s=s1&action=drain&b=nope": "ERRP",
	} {
		res := p.Handle(&Request{Method: "POST", URI: "/haproxy?stats", Authorization: auth, Admin: true, Body: []byte(body)})
		if loc := res.Header[len(res.Header)-1][1]; loc != "/haproxy?stats;st="+want {
			t.Errorf("%s: %s, want st=%s", body, loc, want)
		}
	}
	p.HideVersion = true
	if strings.Contains(string(p.Handle(&Request{Method: "GET", URI: "/haproxy?stats", Authorization: auth}).Body), "2.6.12") {
		t.Error("hide-version shows the version")
	}
}

func TestHumanTime(t *testing.T) {
	for s, want := range map[int64]string{5: "5s", 65: "1m5s", 3700: "1h1m", 90000: "1d1h"} {
		if got := humanTime(s); got != want {
			t.Errorf("%d: %q want %q", s, got, want)
		}
	}
}

func FuzzSession(f *testing.F) {
	for _, s := range []string{"show stat", "show stat -1 -1 -1", "set weight be/s1 50%", "set server be/s1 state drain;get weight be/s1", "prompt", "disable server /", "show stat be 4 2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s := &Session{Ctl: newFakeCtl()}
		var b bytes.Buffer
		s.Exec(line, &b)
		ParseCSV(&b)
	})
}

type sessCtl struct {
	*fakeCtl
	list []SessionInfo
}

func (s sessCtl) Sessions() []SessionInfo { return s.list }

func (s sessCtl) ServersState(backend string) ([]ServerState, bool) {
	if backend != "" && backend != "be" {
		return nil, false
	}
	return []ServerState{{BackendID: 3, Backend: "be", ID: 1, Name: "s1", Addr: "127.0.0.1", Port: 80, OpState: 2,
		AdminFlags: AdminFlagDrain, UWeight: 2, IWeight: 1, LastChange: 7, CheckStatus: "L4OK", CheckResult: 3, CheckHealth: 4, CheckState: 6}}, true
}

func TestShowSessAndServersState(t *testing.T) {
	now := time.Now()
	ctl := sessCtl{fakeCtl: newFakeCtl(), list: []SessionInfo{
		{ID: 0x2a, Start: now.Add(-3 * time.Second), Proto: "tcpv4", Src: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 4242}, Frontend: "fe", Backend: "be", Server: "s1"},
		{ID: 0x2b, Start: now, Proto: "tcpv4", Frontend: "fe"},
	}}
	s := &Session{Ctl: ctl}
	var b bytes.Buffer
	s.Exec("show sess", &b)
	want := "0x2a: proto=tcpv4 src=127.0.0.9:4242 fe=fe be=be srv=s1 age=3s\n0x2b: proto=tcpv4 src=? fe=fe be=<NONE> srv=<none> age=0s\n\n"
	if b.String() != want {
		t.Errorf("show sess:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	s.Exec("show servers state be", &b)
	if want := serversStateHeader + "3 be 1 s1 127.0.0.1 2 8 2 1 7 6 3 4 6 0 0 0 - 80 - 0 0 - - 0\n\n"; b.String() != want {
		t.Errorf("show servers state:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	s.Exec("show servers state nope", &b)
	if b.String() != "Can't find backend.\n\n" {
		t.Errorf("unknown backend: %q", b.String())
	}
}
