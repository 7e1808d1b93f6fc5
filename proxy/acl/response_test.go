package acl

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// respHeader is what the test server answers, as the fetches see it.
var respHeader = http1.Header{
	{Name: "X-A", Value: "1, 2"}, {Name: "X-A", Value: "3"},
	{Name: "Set-Cookie", Value: "sid=abc; Path=/"}, {Name: "Set-Cookie", Value: "lang=en"},
}

var respExprs = []string{
	"%[status]", "%[res.ver]", "%[res.hdr(x-a)]", "%[res.hdr(x-a,1)]", "%[res.fhdr(x-a,1)]", "%[res.hdr_cnt(x-a)]",
	"%[res.fhdr_cnt(x-a)]", "%[shdr(x-a)]", "%[res.cook(lang)]", "%[scook(sid)]", "%[res.cook_cnt(sid)]", "%[res.hdr_val(x-a)]",
}

var respConds = []string{
	"{ status 201 }", "{ status 200 }", "{ res.cook(sid) abc }", "{ shdr(x-a) 2 }", "{ res.hdr_val(x-a) gt 2 }",
	"{ res.hdr(x-a) 4 }", "{ scook(lang) -m beg e }", "{ res.fhdr(x-a) -m found } { status 200:299 }",
}

// TestHAProxyResponseFetches compares the response fetches with haproxy:
// http-response set-header renders each expression and each condition
// into a header of the answer.
func TestHAProxyResponseFetches(t *testing.T) {
	bin := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, f := range respHeader {
			w.Header().Add(f.Name, f.Value)
		}
		w.WriteHeader(201)
	})}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })

	ports, release := freePorts(t, 1)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "defaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n")
	fmt.Fprintf(&cfg, "frontend f\n  bind 127.0.0.1:%d\n  default_backend b\nbackend b\n  server s %s\n", ports[0], l.Addr())
	for i, e := range respExprs {
		fmt.Fprintf(&cfg, "  http-response set-header X-E%d \"%s\"\n", i, e)
	}
	for i, c := range respConds {
		fmt.Fprintf(&cfg, "  http-response set-header X-C%d yes if %s\n", i, c)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	release()
	cmd := exec.Command(bin, "-db", "-f", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitListen(t, fmt.Sprintf("127.0.0.1:%d", ports[0]), &stderr)

	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw, _ := io.ReadAll(c)
	c.Close()
	got := map[string]string{}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			got[strings.ToLower(k)] = v
		}
	}

	conf, diags := haproxy.Parse(path, []byte(cfg.String()), haproxy.LoadOptions{})
	if conf == nil {
		t.Fatalf("parse: %v", diags)
	}
	t.Logf("haproxy answered: %q", raw)
	be := conf.Proxy("b", haproxy.CapBE)
	tx := &Txn{HTTP: true, Method: "GET", Target: "/", Minor: 1, Header: http1.Header{{Name: "Host", Value: "x"}},
		Status: 201, RespMinor: 1, RespHeader: respHeader}
	env := &Env{}
	for i, e := range respExprs {
		ce, err := CompileExpr(e, env)
		if err != nil {
			t.Fatal(err)
		}
		if ours, hap := ce.Eval(tx), got[fmt.Sprintf("x-e%d", i)]; ours != hap {
			t.Errorf("%s: haproxy %q, goproxy %q", e, hap, ours)
		}
	}
	for i, r := range be.HTTPResponse[len(respExprs):] {
		cond, err := CompileCond(r.Cond, env)
		if err != nil {
			t.Fatal(err)
		}
		hap := got[fmt.Sprintf("x-c%d", i)] == "yes"
		if ours := cond.Match(tx); ours != hap {
			t.Errorf("if %s: haproxy %v, goproxy %v", respConds[i], hap, ours)
		}
	}
}
