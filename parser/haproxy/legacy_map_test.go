package haproxy

import (
	"strings"
	"testing"
	"time"
)

// TestLegacyKeywords checks each HAProxy 1.x keyword that 2.6 refuses:
// goproxy accepts it, warns naming the modern form, and gives it the
// modern meaning.
func TestLegacyKeywords(t *testing.T) {
	for _, c := range []struct {
		line   string // in a listen section (or global when it starts with "global ")
		modern string // must appear in the warning
		check  func(*Config) bool
	}{
		{"contimeout 5000", "timeout connect", func(c *Config) bool { return lp(c).Timeouts.Connect == 5*time.Second }},
		{"clitimeout 30000", "timeout client", func(c *Config) bool { return lp(c).Timeouts.Client == 30*time.Second }},
		{"srvtimeout 30s", "timeout server", func(c *Config) bool { return lp(c).Timeouts.Server == 30*time.Second }},
		{"redispatch", "option redispatch", func(c *Config) bool { return lp(c).Options.Redispatch }},
		{"option forceclose", "option httpclose", func(c *Config) bool { return lp(c).Options.HTTPClose }},
		{"option http-tunnel", "http-keep-alive", nil},
		{"reqadd X-Proto:\\ http", "http-request add-header X-Proto http", func(c *Config) bool {
			r := lp(c).HTTPRequest
			return len(r) == 1 && r[0].Action == "add-header" && r[0].Name == "X-Proto" && r[0].Value == "http"
		}},
		{"rspadd X-Served-By:\\ me", "http-response add-header X-Served-By me", func(c *Config) bool {
			r := lp(c).HTTPResponse
			return len(r) == 1 && r[0].Action == "add-header" && r[0].Name == "X-Served-By"
		}},
		{"reqidel ^X-Forwarded-For:.*", "http-request del-header X-Forwarded-For", func(c *Config) bool {
			r := lp(c).HTTPRequest
			return len(r) == 1 && r[0].Action == "del-header" && r[0].Name == "X-Forwarded-For"
		}},
		{"rspidel ^Server:\\ .*", "http-response del-header Server", func(c *Config) bool {
			r := lp(c).HTTPResponse
			return len(r) == 1 && r[0].Action == "del-header" && r[0].Name == "Server"
		}},
		{"block if { path /x }", "http-request deny", func(c *Config) bool {
			r := lp(c).HTTPRequest
			return len(r) == 1 && r[0].Action == "deny" && r[0].Cond != nil
		}},
		{"monitor-net 10.0.0.0/8", "http-request return status 200", nil},
		{"grace 10s", "hard-stop-after", nil},
		{"appsession JSESSIONID len 52 timeout 3h", "stick", nil},
		{"option httpchk GET /c HTTP/1.1\\r\\nHost:\\ a.b", "http-check send", func(c *Config) bool {
			h := lp(c).HTTPCheck
			return h.Method == "GET" && h.URI == "/c" && h.Version == "HTTP/1.1" && len(h.Headers) == 1 && h.Headers[0] == Header{"Host", "a.b"}
		}},
		{"global nbproc 1", "nbproc", nil},
	} {
		t.Run(c.line, func(t *testing.T) {
			global, line := "", c.line
			if g, ok := strings.CutPrefix(line, "global "); ok {
				global, line = "global\n    "+g+"\n", ""
			}
			src := global + "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n" +
				"listen l\n    bind 127.0.0.1:8000\n    " + line + "\n    server s 127.0.0.1:9000\n"
			cfg, d := Parse("legacy.cfg", []byte(src), LoadOptions{Resolve: fakeResolve})
			if cfg == nil {
				t.Fatalf("refused:\n%s", d)
			}
			warned := false
			for _, x := range d.List {
				if x.Severity == Warning && strings.Contains(x.Msg, c.modern) && strings.Contains(x.Msg, "1.x") {
					warned = true
				}
			}
			if !warned {
				t.Errorf("no warning naming %q as the modern form:\n%s", c.modern, d)
			}
			if c.check != nil && !c.check(cfg) {
				t.Errorf("legacy line not given its modern meaning:\n%s", dumpString(cfg))
			}
		})
	}
}

// TestLegacyListenAddress checks `listen NAME ADDR:PORT` and `frontend NAME
// ADDR:PORT`, the 1.x way to give a listening address.
func TestLegacyListenAddress(t *testing.T) {
	src := "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n" +
		"listen l 127.0.0.1:8000,127.0.0.1:8001\n    server s 127.0.0.1:9000\n" +
		"frontend f :8002\n    default_backend b\nbackend b\n    server s 127.0.0.1:9001\n"
	cfg, d := Parse("legacy.cfg", []byte(src), LoadOptions{Resolve: fakeResolve})
	if cfg == nil {
		t.Fatalf("refused:\n%s", d)
	}
	l := cfg.Proxy("l", CapListen)
	if len(l.Binds) != 1 || len(l.Binds[0].Addrs) != 2 || l.Binds[0].Addrs[1].Port != 8001 {
		t.Errorf("listen binds: %s", dumpString(cfg))
	}
	f := cfg.Proxy("f", CapFE)
	if len(f.Binds) != 1 || f.Binds[0].Addrs[0].Port != 8002 {
		t.Errorf("frontend binds: %s", dumpString(cfg))
	}
	if n := strings.Count(d.String(), "accepted as 'bind"); n != 2 {
		t.Errorf("%d warnings naming 'bind', want 2:\n%s", n, d)
	}
}

// TestLegacyRegexRewriteRefused checks that the 1.x regex rewrites with no
// exact modern equivalent are refused with HAProxy's pointer to the modern
// keywords rather than silently dropped.
func TestLegacyRegexRewriteRefused(t *testing.T) {
	src := "defaults\n    mode http\nlisten l\n    bind :8000\n    reqirep ^([^\\ :]*)\\ /old/(.*) \\1\\ /new/\\2\n"
	cfg, d := Parse("legacy.cfg", []byte(src), LoadOptions{Resolve: fakeResolve})
	if cfg != nil || !strings.Contains(d.String(), "legacy.cfg:5: The 'reqirep' directive is not supported anymore") {
		t.Errorf("reqirep not refused with HAProxy's message:\n%s", d)
	}
}

// lp returns the listen section "l" of the legacy tests.
func lp(c *Config) *Proxy { return c.Proxy("l", CapListen) }

func dumpString(c *Config) string {
	var b strings.Builder
	Dump(&b, c)
	return b.String()
}
