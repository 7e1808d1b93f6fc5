package checks

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// A diffCase is one backend checked by the real HAProxy and by our
// checker against the same fake server; status, code and info (HAProxy's
// check_status, check_code and last_chk CSV columns) must agree.
type diffCase struct {
	name string
	cfg  string // backend lines before the server line
	srv  string // server line options after "check"
	// handler is a func(net.Conn) serving each connection, a
	// func(*testing.T) string returning a special listener's address, or
	// nil for a closed port.
	handler any
	ours    func(addr string) Checker
}

func serve(t *testing.T, h func(net.Conn)) string {
	t.Helper()
	if h == nil {
		return closedPort(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(3 * time.Second))
				h(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func reply(s string) func(net.Conn) {
	return func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		c.Read(make([]byte, 4096))
		io.WriteString(c, s)
	}
}

// dialogue writes greet, then answers each received line with the next answer.
func dialogue(greet string, answers ...string) func(net.Conn) {
	return func(c net.Conn) {
		io.WriteString(c, greet)
		br := bufio.NewReader(c)
		for _, a := range answers {
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
			io.WriteString(c, a)
		}
		io.Copy(io.Discard, br)
	}
}

func mysqlPkt(seq byte, payload []byte) []byte {
	return append([]byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}, payload...)
}

func mysqlGreeting() []byte {
	p := []byte{10}
	p = append(p, "5.7.42-fake\x00"...)
	p = binary.LittleEndian.AppendUint32(p, 7)
	p = append(p, "abcdefgh\x00"...)
	p = append(p, 0xff, 0xf7, 8, 2, 0, 0xff, 0x81, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	p = append(p, "ijklmnopqrst\x00"...)
	p = append(p, "mysql_native_password\x00"...)
	return mysqlPkt(0, p)
}

func mysqlErr(seq byte, code uint16, msg string) []byte {
	p := binary.LittleEndian.AppendUint16([]byte{0xff}, code)
	p = append(p, "#HY000"+msg...)
	return mysqlPkt(seq, p)
}

func mysqlServer(loginReply []byte) func(net.Conn) {
	return func(c net.Conn) {
		c.Write(mysqlGreeting())
		if loginReply == nil {
			io.Copy(io.Discard, c)
			return
		}
		var h [4]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		io.CopyN(io.Discard, c, int64(h[0])|int64(h[1])<<8|int64(h[2])<<16)
		c.Write(loginReply)
		io.Copy(io.Discard, c)
	}
}

func steps(t *testing.T, rules ...[]string) []TCPStep {
	var out []TCPStep
	for _, r := range rules {
		s, err := ParseTCPCheckRule(r)
		if err != nil {
			t.Fatalf("ParseTCPCheckRule(%q): %v", r, err)
		}
		out = append(out, s)
	}
	return out
}

func diffCases(t *testing.T) []diffCase {
	http200 := reply("HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world")
	get := LegacyHTTPCheck("GET", "/", "")
	httpc := func(ex ...string) func(string) Checker {
		return func(a string) Checker { return &HTTP{Addr: a, Request: get, Expect: expects(t, ex...)} }
	}
	return []diffCase{
		{"tcp ok", "", "", http200, func(a string) Checker { return &TCP{Addr: a} }},
		{"tcp refused", "", "", nil, func(a string) Checker { return &TCP{Addr: a} }},
		{"tcp connect timeout", "", "", fullBacklog, func(a string) Checker { return &TCP{Addr: a} }},
		{"http connect timeout", "option httpchk GET /", "", fullBacklog, httpc()},
		{"http ok", "option httpchk GET /", "", http200, httpc()},
		{"http 404", "option httpchk GET /", "", reply("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"), httpc()},
		{"http refused", "option httpchk GET /", "", nil, httpc()},
		{"http garbage", "option httpchk GET /", "", reply("hello\r\n\r\n"), httpc()},
		{"http closed", "option httpchk GET /", "", reply(""), httpc()},
		{"http silent", "option httpchk GET /", "", func(c net.Conn) { io.Copy(io.Discard, c) }, httpc()},
		{"smtp silent", "option smtpchk", "", func(c net.Conn) { io.Copy(io.Discard, c) }, func(a string) Checker { return &SMTP{Addr: a} }},
		{"mysql silent", "option mysql-check", "", func(c net.Conn) { io.Copy(io.Discard, c) }, func(a string) Checker { return &MySQL{Addr: a} }},
		{"redis-check ok", "option redis-check", "", dialogue("", "+PONG\r\n"), func(a string) Checker { return RedisCheck(a) }},
		{"redis-check loading", "option redis-check", "", dialogue("", "-LOADING\r\n"), func(a string) Checker { return RedisCheck(a) }},
		{"redis-check error", "option redis-check", "", reply("-ERR unknown command\r\n"), func(a string) Checker { return RedisCheck(a) }},
		{"http disable-on-404", "option httpchk GET /\n    http-check disable-on-404", "", reply("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
			func(a string) Checker { return &HTTP{Addr: a, Request: get, DisableOn404: true} }},
		{"http disable-on-404 200", "option httpchk GET /\n    http-check disable-on-404", "", http200,
			func(a string) Checker { return &HTTP{Addr: a, Request: get, DisableOn404: true} }},
		{"http expect status miss", "option httpchk GET /\n    http-check expect status 201", "", http200, httpc("status 201")},
		{"http expect string miss", "option httpchk GET /\n    http-check expect string master", "", http200, httpc("string master")},
		{"http expect ! string", "option httpchk GET /\n    http-check expect ! string hello", "", http200, httpc("! string hello")},
		{"http expect rstring ok", "option httpchk GET /\n    http-check expect rstring wor.d", "", http200, httpc("rstring wor.d")},
		{"tcp-check ok", "option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG", "",
			dialogue("", "+PONG\r\n"),
			func(a string) Checker {
				return &TCPCheck{Addr: a, Steps: steps(t, []string{"send", "PING\r\n"}, []string{"expect", "string", "+PONG"})}
			}},
		{"tcp-check miss", "option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG", "",
			dialogue("", "-ERR\r\n"),
			func(a string) Checker {
				return &TCPCheck{Addr: a, Steps: steps(t, []string{"send", "PING\r\n"}, []string{"expect", "string", "+PONG"})}
			}},
		{"tcp-check explicit connect miss", "option tcp-check\n    tcp-check connect\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG", "",
			dialogue("", "-ERR\r\n"),
			func(a string) Checker {
				return &TCPCheck{Addr: a, Steps: steps(t, []string{"connect"}, []string{"send", "PING\r\n"}, []string{"expect", "string", "+PONG"})}
			}},
		{"tcp-check ! string", "option tcp-check\n    tcp-check expect ! string ERR", "",
			dialogue("-ERR x\r\n"),
			func(a string) Checker {
				return &TCPCheck{Addr: a, Steps: steps(t, []string{"expect", "!", "string", "ERR"})}
			}},
		{"tcp-check binary", "option tcp-check\n    tcp-check send-binary 50494e470d0a\n    tcp-check expect binary 2b504f4e47", "",
			dialogue("", "+PONG\r\n"),
			func(a string) Checker {
				return &TCPCheck{Addr: a, Steps: steps(t, []string{"send-binary", "50494e470d0a"}, []string{"expect", "binary", "2b504f4e47"})}
			}},
		{"tcp-check refused", "option tcp-check\n    tcp-check send PING\\r\\n", "", nil,
			func(a string) Checker { return &TCPCheck{Addr: a, Steps: steps(t, []string{"send", "PING\r\n"})} }},
		{"smtp ok", "option smtpchk", "", dialogue("220 mx.example ESMTP\r\n", "250 mx.example\r\n", "221 bye\r\n"),
			func(a string) Checker { return &SMTP{Addr: a} }},
		{"smtp ehlo multiline", "option smtpchk EHLO me.example", "", dialogue("220 mx ESMTP\r\n", "250-mx hello\r\n250 SIZE 100\r\n", "221 bye\r\n"),
			func(a string) Checker { return &SMTP{Addr: a, Verb: "EHLO", Domain: "me.example"} }},
		{"smtp banner 554", "option smtpchk", "", dialogue("554 go away\r\n"),
			func(a string) Checker { return &SMTP{Addr: a} }},
		{"smtp helo 502", "option smtpchk", "", dialogue("220 mx ESMTP\r\n", "502 no helo\r\n"),
			func(a string) Checker { return &SMTP{Addr: a} }},
		{"mysql greeting", "option mysql-check", "", mysqlServer(nil),
			func(a string) Checker { return &MySQL{Addr: a} }},
		{"mysql error", "option mysql-check", "", func(c net.Conn) { c.Write(mysqlErr(0, 1040, "Too many connections")) },
			func(a string) Checker { return &MySQL{Addr: a} }},
		{"mysql user ok", "option mysql-check user haproxy post-41", "", mysqlServer(mysqlPkt(2, []byte{0, 0, 0, 2, 0, 0, 0})),
			func(a string) Checker { return &MySQL{Addr: a, User: "haproxy"} }},
		{"mysql user denied", "option mysql-check user haproxy post-41", "", mysqlServer(mysqlErr(2, 1045, "Access denied for user 'haproxy'")),
			func(a string) Checker { return &MySQL{Addr: a, User: "haproxy"} }},
	}
}

// haproxyStat returns check_status, check_code and last_chk of every
// server (keyed by backend name) once every check has run at least once.
func haproxyStat(t *testing.T, sock string, n int) map[string][3]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string][3]string{}
		if c, err := net.Dial("unix", sock); err == nil {
			io.WriteString(c, "show stat\n")
			data, _ := io.ReadAll(c)
			c.Close()
			for line := range strings.SplitSeq(string(data), "\n") {
				f := strings.Split(line, ",")
				if len(f) > 56 && f[1] == "s" {
					st := strings.TrimPrefix(f[36], "* ")
					if st != "INI" && st != "" {
						got[f[0]] = [3]string{st, f[37], f[56]}
					}
				}
			}
		}
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy reported %d of %d checks within 10s: %v", len(got), n, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestChecksMatchHAProxy(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	cases := diffCases(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "stats.sock")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global\n    stats socket %s mode 600 level admin\n", sock)
	fmt.Fprintf(&cfg, "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 500ms\n")
	fmt.Fprintf(&cfg, "frontend fe\n    bind %s\n    default_backend b0\n", closedPort(t))
	addrs := make([]string, len(cases))
	for i, c := range cases {
		switch h := c.handler.(type) {
		case func(*testing.T) string:
			addrs[i] = h(t)
		case func(net.Conn):
			addrs[i] = serve(t, h)
		default:
			addrs[i] = serve(t, nil)
		}
		fmt.Fprintf(&cfg, "backend b%d\n    %s\n    server s %s check inter 1s %s\n", i, c.cfg, addrs[i], c.srv)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxy, "-db", "-f", path)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) } // by PID
	defer stop()
	results := make([]Result, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() { results[i] = Run(t.Context(), c.ours(addrs[i]), time.Second) })
	}
	theirs := haproxyStat(t, sock, len(cases))
	wg.Wait()
	for i, c := range cases {
		r := results[i]
		code := ""
		if r.Status.HasCode() {
			code = fmt.Sprint(r.Code)
		}
		ours := [3]string{r.Status.String(), code, r.Info}
		if ours != theirs[fmt.Sprintf("b%d", i)] {
			t.Errorf("%s: haproxy %q, we %q", c.name, theirs[fmt.Sprintf("b%d", i)], ours)
		}
	}
	if t.Failed() {
		stop()
		t.Logf("config:\n%s\nhaproxy output:\n%s", cfg.String(), out.String())
	}
}
