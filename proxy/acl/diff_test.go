package acl

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
	"hapair/parser/haproxy"
)

// TestHAProxyDifferential runs every condition and expression case through
// haproxy 2.6 (`http-request return` answering "yes"/"no" or the rendered
// log-format string) and through this package, and requires the same
// answers; it also checks them against the expectations written in the
// cases.
func TestHAProxyDifferential(t *testing.T) {
	bin := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()
	for n, c := range mapFiles() {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nFront := len(condCases) + len(exprCases)
	ports, release := freePorts(t, nFront)
	var cfg strings.Builder
	cfg.WriteString("global\n  maxconn 500\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n")
	cfg.WriteString(userlistCfg)
	for i, c := range condCases {
		cfg.WriteString(frontendCfg(fmt.Sprintf("c%d", i), c, fmt.Sprintf("127.0.0.1:%d", ports[i]),
			"http-request return status 201"))
		cfg.WriteString("  http-request return status 202\n")
	}
	exprs := make([]string, len(exprCases))
	for i, c := range exprCases {
		exprs[i] = strings.ReplaceAll(c.expr, "MAPDIR", dir)
		q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(exprs[i])
		fmt.Fprintf(&cfg, "frontend e%d\n  bind 127.0.0.1:%d\n  http-request return status 200 content-type text/plain lf-string \"%s\"\n",
			i, ports[len(condCases)+i], q)
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
	waitListen(t, fmt.Sprintf("127.0.0.1:%d", ports[nFront-1]), &stderr)

	// Our side compiles the same text with the project's parser.
	conf, diags := haproxy.Parse(path, []byte(cfg.String()), haproxy.LoadOptions{})
	if conf == nil {
		t.Fatalf("parser rejects the configuration haproxy accepts: %v", diags)
	}
	env := &Env{Userlists: conf.Userlists}
	for i, c := range condCases {
		t.Run("cond/"+c.name, func(t *testing.T) {
			p := conf.Proxy(fmt.Sprintf("c%d", i), haproxy.CapFE)
			cond, err := CompileCond(p.HTTPRequest[0].Cond, env)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.reqs {
				hap := askStatus(t, ports[i], r.r) == 201
				ours := cond.Match(r.r.txn(uint16(ports[i])))
				if hap != ours || hap != r.want {
					t.Errorf("%s on %v: haproxy %v, goproxy %v, test expects %v", c.cond, r.r, hap, ours, r.want)
				}
			}
		})
	}
	for i, c := range exprCases {
		t.Run("expr/"+c.expr, func(t *testing.T) {
			e, err := CompileExpr(exprs[i], env)
			if err != nil {
				t.Fatal(err)
			}
			port := ports[len(condCases)+i]
			hap := askHAProxy(t, port, c.r)
			ours := e.Eval(c.r.txn(uint16(port)))
			if hap != ours || hap != c.want {
				t.Errorf("%s on %v: haproxy %q, goproxy %q, test expects %q", c.expr, c.r, hap, ours, c.want)
			}
		})
	}
}

// freePorts reserves n distinct free ports on 127.0.0.1; release frees
// them just before haproxy binds (haproxy uses SO_REUSEPORT, so a port
// handed out twice would be shared silently).
func freePorts(t *testing.T, n int) ([]int, func()) {
	t.Helper()
	var out []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, func() {
		for _, l := range ls {
			l.Close()
		}
	}
}

// askHAProxy sends r from its source address and returns the body of
// the 200 answer.
func askHAProxy(t *testing.T, port int, r req) string {
	t.Helper()
	head, body := exchange(t, port, r)
	if !strings.Contains(head, " 200 ") {
		t.Fatalf("haproxy answered %q to %q", head, r.raw())
	}
	return body
}

// askStatus sends r and returns the status code.
func askStatus(t *testing.T, port int, r req) int {
	t.Helper()
	head, _ := exchange(t, port, r)
	var code int
	if _, err := fmt.Sscanf(head, "HTTP/1.%d %d", new(int), &code); err != nil {
		t.Fatalf("haproxy answered %q to %q", head, r.raw())
	}
	return code
}

func exchange(t *testing.T, port int, r req) (head, body string) {
	t.Helper()
	src := r.src
	if src == "" {
		src = "127.0.0.1"
	}
	d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conn, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, r.raw())
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ = strings.Cut(string(b), "\r\n\r\n")
	return head, body
}

func waitListen(t *testing.T, addr string, stderr *strings.Builder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("haproxy did not listen on %s: %s", addr, stderr.String())
}
