package haproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// largeConfig writes the scale test: 10,000 backends and 20,000
// acl/use_backend lines (one acl and one use_backend per backend), with
// host-based routing as in the seed. All addresses are literal so that the
// figure measures parsing, not DNS.
func largeConfig(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("global\n    maxconn 100000\n\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n    option forwardfor\n\nfrontend www\n    bind :8080\n")
	const n = 10000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    acl host_%d hdr_dom(host) -i site%d.example.com\n", i, i)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    use_backend be_%d if host_%d\n", i, i)
	}
	b.WriteString("    default_backend be_0\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\nbackend be_%d\n    balance roundrobin\n    server s%d 127.0.%d.%d:80 check inter 5s fall 3\n",
			i, i, i/250, i%250+1)
	}
	path := filepath.Join(tb.TempDir(), "large.cfg")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkLoadLarge measures parse + compile + validation of the large
// configuration on one core (GOMAXPROCS=1). Compare with
// `time haproxy -c -f large.cfg` on the same file (TestLargeConfig logs
// writes the file to $GOPROXY_LARGE_CFG when that is set).
func BenchmarkLoadLarge(b *testing.B) {
	path := largeConfig(b)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cfg, d := Load([]string{path}, LoadOptions{Resolve: fakeResolve})
		if cfg == nil {
			b.Fatalf("large config refused:\n%s", d)
		}
	}
}

// TestLargeConfig loads the large configuration and checks the result.
// Its speed is measured by BenchmarkLoadLarge (go test -bench LoadLarge
// ./parser/haproxy), never asserted here: a shared CI machine would make a
// timed assertion flaky.
func TestLargeConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("large configuration skipped in -short mode")
	}
	path := largeConfig(t)
	if out := os.Getenv("GOPROXY_LARGE_CFG"); out != "" {
		src, _ := os.ReadFile(path)
		if err := os.WriteFile(out, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, d := Load([]string{path}, LoadOptions{Resolve: fakeResolve})
	if cfg == nil {
		t.Fatalf("large config refused:\n%s", d)
	}
	if len(cfg.Proxies) != 10001 {
		t.Errorf("%d proxies, want 10001", len(cfg.Proxies))
	}
	fe := cfg.Proxy("www", CapFE)
	if fe == nil || len(fe.ACLs) != 10000 || len(fe.UseBackends) != 10000 {
		t.Fatalf("frontend www: %d acls, %d use_backend", len(fe.ACLs), len(fe.UseBackends))
	}
	if last := fe.UseBackends[9999]; last.Target != "be_9999" || last.Cond == nil || last.Cond.Terms[0][0].Name != "host_9999" {
		t.Errorf("last use_backend: %+v", last)
	}
}
