package lvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"hapair/checks"
	"hapair/parser/keepalived"
)

func TestNewProbeMapping(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 7
    virtualhost vs.example
    real_server 192.0.2.21 8080 {
        TCP_CHECK {
            connect_ip 127.0.0.5
            connect_port 81
            connect_timeout 2
            bindto 127.0.0.1
        }
        HTTP_GET {
            url {
                path /a
                status_code 200 301-302
            }
            url {
                path /b
                digest ABCDEF
            }
            http_protocol 1.1
        }
        SSL_GET {
            url { path /s }
            virtualhost chk.example
            enable_sni
        }
        MISC_CHECK {
            misc_path "/bin/echo 'a b' c"
            misc_dynamic
        }
        SMTP_CHECK {
            helo_name mx.example
            host {
                connect_ip 127.0.0.6
                connect_port 2525
            }
            host {
                connect_ip 127.0.0.7
            }
        }
        PING_CHECK { }
        UDP_CHECK { }
        DNS_CHECK { }
    }
}`
	cfg := loadConf(t, conf)
	vs := cfg.VirtualServers[0]
	rs := vs.RealServers[0]
	probes, skipped := Probes(rs)
	if !slices.Equal(skipped, []string{"UDP_CHECK", "DNS_CHECK"}) {
		t.Fatalf("skipped %q", skipped)
	}
	var kinds []string
	for _, p := range probes {
		kinds = append(kinds, p.Kind)
	}
	if want := []string{"TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "SMTP_CHECK", "SMTP_CHECK", "PING_CHECK"}; !slices.Equal(kinds, want) {
		t.Fatalf("kinds %q want %q", kinds, want)
	}
	mk := func(i int) checks.Checker {
		c, err := NewProbe(&cfg.Global, vs, rs, probes[i])
		if err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		return c
	}
	tcp := mk(0).(*checks.TCP)
	if tcp.Addr != "127.0.0.5:81" || tcp.ConnectTimeout != 2*time.Second || tcp.Source.String() != "127.0.0.1:0" {
		t.Fatalf("tcp %+v", tcp)
	}
	http := mk(1).(multi)
	if len(http) != 2 {
		t.Fatalf("%d urls", len(http))
	}
	a, b := http[0].(*checks.HTTP), http[1].(*checks.HTTP)
	if a.Addr != "192.0.2.21:8080" || a.Request.URI != "/a" || a.Request.Version != "HTTP/1.1" || b.Digest != "abcdef" || a.TLS != nil ||
		a.Expect[0].Pattern != "200,301-302" || b.Expect[0].Pattern != "200-299" {
		t.Fatalf("http %+v %+v", a, b)
	}
	if host := header(a.Request, "Host"); host != "vs.example" {
		t.Fatalf("Host %q (the virtual server's virtualhost)", host)
	}
	ssl := mk(2).(multi)[0].(*checks.HTTP)
	if ssl.TLS == nil || !ssl.TLS.InsecureSkipVerify || ssl.TLS.ServerName != "chk.example" || header(ssl.Request, "Host") != "chk.example" {
		t.Fatalf("ssl %+v", ssl)
	}
	if _, ok := mk(3).(dynamic); !ok {
		t.Fatal("misc_dynamic not wrapped")
	}
	s1, s2 := mk(4).(*checks.SMTP), mk(5).(*checks.SMTP)
	if s1.Addr != "127.0.0.6:2525" || s2.Addr != "127.0.0.7:8080" || s1.Domain != "mx.example" {
		t.Fatalf("smtp %+v %+v", s1, s2)
	}
	if p := mk(6).(*checks.ICMP); p.Addr != "192.0.2.21" {
		t.Fatalf("ping %+v", p)
	}
	tm := TimingOf(vs, probes[1])
	if tm.DelayLoop != 7*time.Second || tm.DelayBeforeRetry != 3*time.Second || tm.Timeout != 5*time.Second || tm.Warmup != 7*time.Second {
		t.Fatalf("http timing %+v", tm)
	}
	if tm := TimingOf(vs, probes[3]); tm.Timeout != 7*time.Second || tm.DelayBeforeRetry != time.Second {
		t.Fatalf("misc timing %+v (misc_timeout defaults to delay_loop)", tm)
	}
}

func header(r checks.HTTPRequest, name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func TestNewProbeErrors(t *testing.T) {
	vs := &keepalived.VirtualServer{DelayLoop: time.Second}
	rs := &keepalived.RealServer{}
	for _, c := range []*keepalived.Checker{
		{Kind: "HTTP_GET"},
		{Kind: "MISC_CHECK", MiscPath: "'unterminated"},
		{Kind: "TCP_CHECK", Options: map[string]string{"bindto": "nonsense"}},
		{Kind: "HTTP_GET", URLs: []keepalived.URLCheck{{Path: "/", StatusCode: []string{"abc"}}}},
		{Kind: "UDP_CHECK"},
	} {
		if _, err := NewProbe(nil, vs, rs, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestUnbuildableCheckerIgnored: a checker that cannot be built is
// dropped (it neither holds its server down in alpha mode nor runs).
func TestUnbuildableCheckerIgnored(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	conf := fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    alpha
    real_server 127.0.0.1 %d {
        TCP_CHECK { }
        HTTP_GET { }
    }
}`, port)
	f := newFake()
	_, logs := run(t, conf, Options{IPVS: f})
	waitFor(t, "added by TCP_CHECK alone", waitLong, func() bool { _, ok := f.Weight("TCP 192.0.2.1:80", fmt.Sprintf("127.0.0.1:%d", port)); return ok })
	if logs.Count("has no urls specified - ignoring this checker") != 1 {
		t.Fatalf("logs:\n%s", strings.Join(logs.Lines(), "\n"))
	}
}

func TestNoVirtualServers(t *testing.T) {
	c, err := New(loadConf(t, "global_defs { router_id x }\n"), Options{Logf: func(string, ...any) { t.Fatal("logged") }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := c.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("Run: %v (ctx %v)", err, ctx.Err())
	}
	if err := c.Run(ctx); err == nil {
		t.Fatal("second Run accepted")
	}
	if _, err := New(nil, Options{}); err == nil || errors.Is(err, context.Canceled) {
		t.Fatal("nil config accepted")
	}
}
