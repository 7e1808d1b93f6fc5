package acl

import (
	"crypto/tls"
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

// clientHelloBytes returns the first TLS record Go's client sends.
func clientHelloBytes(t testing.TB, sni string, alpn []string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tc := tls.Client(c, &tls.Config{ServerName: sni, NextProtos: alpn, InsecureSkipVerify: true})
		tc.Handshake()
		c.Close()
	}()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(s, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

func TestParseClientHello(t *testing.T) {
	b := clientHelloBytes(t, "a.example", []string{"h2", "http/1.1"})
	h, ok := parseClientHello(b)
	if !ok || h.sni != "a.example" || strings.Join(h.alpn, ",") != "h2,http/1.1" || h.version != 0x0303 {
		t.Fatalf("%+v %v", h, ok)
	}
	for n := range len(b) {
		if _, ok := parseClientHello(b[:n]); ok {
			t.Fatalf("truncated hello (%d of %d bytes) accepted", n, len(b))
		}
	}
	if _, ok := parseClientHello([]byte("GET / HTTP/1.1\r\n")); ok {
		t.Fatal("HTTP accepted as TLS")
	}
}

func FuzzClientHello(f *testing.F) {
	f.Add(clientHelloBytes(f, "x.example", []string{"h2"}))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { parseClientHello(b) })
}

// TestHAProxySNIRouting routes TCP connections on their ClientHello in
// haproxy (tcp-request inspect-delay + use_backend on req.ssl_sni and
// friends) and through the compiled conditions, and compares the backends.
func TestHAProxySNIRouting(t *testing.T) {
	bin := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()
	backends := []string{"ba", "bb", "bc", "bd", "bp"}
	var cfg strings.Builder
	ports, release := freePorts(t, 1)
	fmt.Fprintf(&cfg, "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n")
	fmt.Fprintf(&cfg, `frontend t
  bind 127.0.0.1:%d
  tcp-request inspect-delay 2s
  tcp-request content accept if { req.ssl_hello_type 1 }
  acl tls req.ssl_hello_type 1
  use_backend ba if tls { req.ssl_sni -i a.example }
  use_backend bb if { req.ssl_sni -m end .b.example }
  use_backend bc if { req.ssl_alpn h2 } !{ req.ssl_sni -m found }
  use_backend bp if { req.payload(0,1) -m bin 16 } { req.len gt 1000 }
  default_backend bd
`, ports[0])
	for _, name := range backends {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, name)
				c.Close()
			}
		}()
		fmt.Fprintf(&cfg, "backend %s\n  server s %s\n", name, l.Addr())
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

	conf, diags := haproxy.Parse(path, []byte(cfg.String()), haproxy.LoadOptions{})
	if conf == nil {
		t.Fatalf("parse: %v", diags)
	}
	fe := conf.Proxy("t", haproxy.CapFE)
	env := &Env{}
	type rule struct {
		be   string
		cond *Cond
	}
	var rules []rule
	for _, r := range fe.UseBackends {
		c, err := CompileCond(r.Cond, env)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, rule{r.Target, c})
	}
	route := func(payload []byte) string {
		tx := &Txn{Payload: payload}
		for _, r := range rules {
			if r.cond.Match(tx) {
				return r.be
			}
		}
		return fe.DefaultBackend
	}
	for _, c := range []struct {
		sni  string
		alpn []string
	}{
		{"a.example", nil}, {"A.EXAMPLE", []string{"h2"}}, {"x.b.example", nil}, {"b.example", nil},
		{"", []string{"h2"}}, {"", []string{"http/1.1"}}, {"other.example", []string{"h2"}},
	} {
		hello := clientHelloBytes(t, c.sni, c.alpn)
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write(hello)
		got, _ := io.ReadAll(conn)
		conn.Close()
		t.Logf("sni %q alpn %v: %s", c.sni, c.alpn, got)
		if want := route(hello); string(got) != want {
			t.Errorf("sni %q alpn %v (%d bytes): haproxy routes to %q, goproxy to %q", c.sni, c.alpn, len(hello), got, want)
		}
	}
}
