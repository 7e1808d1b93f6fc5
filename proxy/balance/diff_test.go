package balance

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
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

// diffCase is one backend configured identically in haproxy and in a
// Balancer; the same requests must land on the same servers.
type diffCase struct {
	name     string
	balance  string // the `balance` line's arguments
	hashType string // the `hash-type` line's arguments, "" for none
	weights  []int
	reqs     []diffReq
	// flags are per-server `server` keywords: "backup", "disabled" or
	// both ("backup disabled"); allBackups is `option allbackups`.
	flags      []string
	allBackups bool
}

type diffReq struct {
	src    string // client address, 127.0.0.0/8
	target string
	header http1.Header
}

func seqReqs(n int) []diffReq {
	out := make([]diffReq, n)
	for i := range out {
		out[i] = diffReq{src: "127.0.0.1", target: "/"}
	}
	return out
}

func srcReqs(n int) []diffReq {
	var out []diffReq
	for i := 1; i <= n; i++ {
		out = append(out, diffReq{src: fmt.Sprintf("127.0.%d.%d", i%7, i*37%250+1), target: "/"})
	}
	return out
}

func uriReqs() []diffReq {
	var out []diffReq
	for _, u := range []string{"/", "/a", "/b", "/img/logo.png", "/img/x.png", "/api/v1/users?id=3", "/api/v1/users?id=4",
		"/api/v2/x/y/z", "/index.html", "/static/css/site.css", "/q?x=1&y=2", "/q?y=2&x=1", "/deep/a/b/c/d/e",
		"/A", "/B", "/C", "/D", "/E", "/F", "/G", "/H", "/0123456789abcdef", "/user/1", "/user/2", "/user/3"} {
		out = append(out, diffReq{src: "127.0.0.1", target: u})
	}
	return out
}

func paramReqs() []diffReq {
	var out []diffReq
	for i := range 30 {
		t := fmt.Sprintf("/p?foo=1&user=u%d&x=y", i)
		if i%7 == 3 {
			t = "/p?nouser=1"
		}
		out = append(out, diffReq{src: "127.0.0.1", target: t})
	}
	return out
}

func missingParamReqs() []diffReq {
	var out []diffReq
	for i := range 16 {
		t := "/p?nouser=1"
		if i%5 == 4 {
			t = fmt.Sprintf("/p?user=u%d", i)
		}
		out = append(out, diffReq{src: "127.0.0.1", target: t})
	}
	return out
}

func hostReqs() []diffReq {
	var out []diffReq
	for _, h := range []string{"example.com", "www.example.com", "a.example.org", "b.example.org", "test.com", "test.domain.com",
		"foo.bar.baz.net", "localhost", "x.y", "shop.example.net", "api.example.net", "cdn.example.io", "one", "two", "three", "four"} {
		out = append(out, diffReq{src: "127.0.0.1", target: "/", header: http1.Header{{Name: "Host", Value: h}}})
	}
	return out
}

var diffCases = []diffCase{
	{name: "rr-disabled", balance: "roundrobin", weights: []int{1, 2, 3}, reqs: seqReqs(24), flags: []string{"", "disabled", ""}},
	{name: "rr-first-backup", balance: "roundrobin", weights: []int{1, 1, 1, 2}, reqs: seqReqs(12), flags: []string{"disabled", "disabled", "backup", "backup"}},
	{name: "rr-allbackups", balance: "roundrobin", weights: []int{1, 1, 1, 2}, reqs: seqReqs(12), flags: []string{"disabled", "disabled", "backup", "backup"}, allBackups: true},
	{name: "rr-backup-unused", balance: "roundrobin", weights: []int{1, 1, 1}, reqs: seqReqs(9), flags: []string{"", "disabled", "backup"}},
	{name: "rr-first-backup-disabled", balance: "roundrobin", weights: []int{1, 1, 1}, reqs: seqReqs(6), flags: []string{"disabled", "backup disabled", "backup"}},
	{name: "static-rr-allbackups", balance: "static-rr", weights: []int{1, 3, 1}, reqs: seqReqs(12), flags: []string{"disabled", "backup", "backup"}, allBackups: true},
	{name: "source-disabled", balance: "source", weights: []int{1, 2, 1, 1}, reqs: srcReqs(40), flags: []string{"", "", "disabled", ""}},
	{name: "source-consistent-disabled", balance: "source", hashType: "consistent", weights: []int{1, 1, 1, 1}, reqs: srcReqs(40), flags: []string{"", "disabled", "", ""}},
	{name: "source-allbackups", balance: "source", weights: []int{1, 1, 1}, reqs: srcReqs(30), flags: []string{"disabled", "backup", "backup"}, allBackups: true},
	{name: "leastconn-idle", balance: "leastconn", weights: []int{1, 1, 1}, reqs: seqReqs(9)},
	{name: "leastconn-idle-weighted", balance: "leastconn", weights: []int{2, 1, 3}, reqs: seqReqs(12)},
	{name: "url_param-missing", balance: "url_param user", weights: []int{1, 2, 1}, reqs: missingParamReqs()},
	{name: "url_param-missing-consistent", balance: "url_param user", hashType: "consistent", weights: []int{1, 1, 1}, reqs: missingParamReqs()},
	{name: "first-idle", balance: "first", weights: []int{1, 1}, reqs: seqReqs(4)},
	{name: "first-disabled", balance: "first", weights: []int{1, 1, 1}, reqs: seqReqs(4), flags: []string{"disabled", "", ""}},
	{"rr-equal", "roundrobin", "", []int{1, 1, 1}, seqReqs(12), nil, false},
	{"rr-3-1", "roundrobin", "", []int{3, 1}, seqReqs(24), nil, false},
	{"rr-5-2-1", "roundrobin", "", []int{5, 2, 1}, seqReqs(40), nil, false},
	{"rr-1-2-3-4", "roundrobin", "", []int{1, 2, 3, 4}, seqReqs(50), nil, false},
	{"rr-10-7-3", "roundrobin", "", []int{10, 7, 3}, seqReqs(60), nil, false},
	{"rr-256-1", "roundrobin", "", []int{256, 1}, seqReqs(300), nil, false},
	{"static-rr", "static-rr", "", []int{3, 1, 2}, seqReqs(24), nil, false},
	{"static-rr-gcd", "static-rr", "", []int{20, 10, 30}, seqReqs(24), nil, false},
	{"source-equal", "source", "", []int{1, 1, 1}, srcReqs(40), nil, false},
	{"source-weighted", "source", "", []int{2, 3, 1, 4}, srcReqs(40), nil, false},
	{"source-consistent", "source", "consistent", []int{1, 1, 1, 1}, srcReqs(40), nil, false},
	{"source-consistent-weighted", "source", "consistent", []int{1, 3, 2}, srcReqs(40), nil, false},
	{"source-avalanche", "source", "map-based sdbm avalanche", []int{1, 1, 1}, srcReqs(40), nil, false},
	{"uri-sdbm", "uri", "", []int{1, 1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-djb2", "uri", "map-based djb2", []int{1, 1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-wt6", "uri", "map-based wt6", []int{1, 1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-crc32", "uri", "map-based crc32", []int{1, 1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-consistent", "uri", "consistent", []int{1, 1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-consistent-wt6-aval", "uri", "consistent wt6 avalanche", []int{1, 2, 1}, uriReqs(), nil, false},
	{"uri-consistent-sdbm-aval", "uri", "consistent sdbm avalanche", []int{1, 1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-consistent-sdbm", "uri", "consistent sdbm", []int{1, 1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-path-only", "uri path-only", "", []int{1, 1, 1, 1}, uriReqs(), nil, false},
	{"hdr-consistent", "hdr(host)", "consistent djb2", []int{2, 1, 1, 3}, hostReqs(), nil, false},
	{"hdr-consistent-sdbm", "hdr(host)", "consistent", []int{1, 1, 1, 1}, hostReqs(), nil, false},
	{"uri-consistent-djb2", "uri", "consistent djb2", []int{1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-consistent-w", "uri", "consistent", []int{2, 1, 1, 3}, uriReqs(), nil, false},
	{"uri-consistent-wt6", "uri", "consistent wt6", []int{1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-consistent-crc32", "uri", "consistent crc32", []int{1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-consistent-djb2-aval", "uri", "consistent djb2 avalanche", []int{1, 1, 1, 1}, uriReqs(), nil, false},
	// "consistent sdbm" (explicit function, no avalanche) is left out: the
	// parser reports it exactly like "consistent", which implies avalanche.
	{"uri-whole", "uri whole", "", []int{1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-depth", "uri depth 2", "", []int{1, 1, 1, 1}, uriReqs(), nil, false},
	{"uri-len", "uri len 5", "", []int{1, 1, 1, 1}, uriReqs(), nil, false},
	{"url_param", "url_param user", "", []int{1, 1, 1}, paramReqs(), nil, false},
	{"hdr", "hdr(host)", "", []int{1, 1, 1, 1}, hostReqs(), nil, false},
	{"hdr-domain", "hdr(host) use_domain_only", "", []int{1, 1, 1, 1}, hostReqs(), nil, false},
}

// freePorts returns n distinct, currently free TCP ports on 127.0.0.1
// (all held open until the end, so that none is handed out twice: haproxy
// binds with SO_REUSEPORT and would silently share a duplicate).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out
}

// TestHAProxyDifferential sends the same requests through haproxy 2.6 and
// through a Balancer built from the same settings, and requires the same
// server for every request.
func TestHAProxyDifferential(t *testing.T) {
	bin := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()

	// Backend servers answer with their name.
	maxServers := 0
	for _, c := range diffCases {
		maxServers = max(maxServers, len(c.weights))
	}
	var srvAddrs []string
	for i := range maxServers {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("s%d", i+1)
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		})}
		go hs.Serve(l)
		t.Cleanup(func() { hs.Close() })
		srvAddrs = append(srvAddrs, l.Addr().String())
	}

	var cfg strings.Builder
	cfg.WriteString("global\n  maxconn 1000\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n  option httpclose\n")
	ports := freePorts(t, len(diffCases))
	for n, c := range diffCases {
		fmt.Fprintf(&cfg, "frontend f%d\n  bind 127.0.0.1:%d\n  default_backend b%d\n", n, ports[n], n)
		fmt.Fprintf(&cfg, "backend b%d\n  balance %s\n", n, c.balance)
		if c.allBackups {
			cfg.WriteString("  option allbackups\n")
		}
		if c.hashType != "" {
			fmt.Fprintf(&cfg, "  hash-type %s\n", c.hashType)
		}
		for i, w := range c.weights {
			fmt.Fprintf(&cfg, "  server s%d %s weight %d %s\n", i+1, srvAddrs[i], w, flag(c, i))
		}
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
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
	waitListen(t, fmt.Sprintf("127.0.0.1:%d", ports[len(ports)-1]), &stderr)

	for n, c := range diffCases {
		t.Run(c.name, func(t *testing.T) {
			bal, ht := parseBalance(t, c.balance, c.hashType)
			var members []Member
			for i, w := range c.weights {
				members = append(members, Member{Name: fmt.Sprintf("s%d", i+1), ID: i + 1, Weight: w, Backup: strings.Contains(flag(c, i), "backup")})
			}
			b, err := New(bal, ht, members, c.allBackups)
			if err != nil {
				t.Fatal(err)
			}
			for i := range members {
				if strings.Contains(flag(c, i), "disabled") {
					b.SetUp(i, false)
				}
			}
			var got, want []string
			for _, r := range c.reqs {
				want = append(want, ask(t, ports[n], r))
				i := b.Pick(Key{Src: netip.MustParseAddr(r.src), Target: r.target, Header: r.header}, nil)
				if i < 0 {
					t.Fatalf("no server for %+v", r)
				}
				b.Done(i)
				got = append(got, members[i].Name)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("balance %s hash-type %q weights %v:\n haproxy: %v\n goproxy: %v", c.balance, c.hashType, c.weights, want, got)
			}
		})
	}
}

func flag(c diffCase, i int) string {
	if i < len(c.flags) {
		return c.flags[i]
	}
	return ""
}

// parseBalance builds the parser's types from the words of the config lines.
func parseBalance(t *testing.T, balance, hashType string) (haproxy.Balance, haproxy.HashType) {
	t.Helper()
	cfg := "defaults\n mode http\nbackend b\n balance " + balance + "\n"
	if hashType != "" {
		cfg += " hash-type " + hashType + "\n"
	}
	c, diags := haproxy.Parse("t.cfg", []byte(cfg), haproxy.LoadOptions{})
	if c == nil || diags.HasAlerts() {
		t.Fatalf("parse %q: %v", cfg, diags)
	}
	for _, p := range c.Proxies {
		if p.Name == "b" {
			return p.Balance, p.HashType
		}
	}
	t.Fatal("backend b not found")
	return haproxy.Balance{}, haproxy.HashType{}
}

// ask sends one request through haproxy from r.src and returns the server
// name that answered.
func ask(t *testing.T, port int, r diffReq) string {
	t.Helper()
	d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(r.src)}}
	conn, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	host := "x"
	var extra strings.Builder
	for _, f := range r.header {
		if strings.EqualFold(f.Name, "host") {
			host = f.Value
			continue
		}
		fmt.Fprintf(&extra, "%s: %s\r\n", f.Name, f.Value)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n", r.target, host, extra.String())
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	resp := string(b)
	if !strings.HasPrefix(resp, "HTTP/1.1 200") {
		t.Fatalf("haproxy answered %q", resp)
	}
	_, body, _ := strings.Cut(resp, "\r\n\r\n")
	return body
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
