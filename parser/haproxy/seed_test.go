package haproxy

import (
	"strings"
	"testing"
	"time"
)

// TestSeed loads the seed's HAProxy 1.4 configuration: it must be accepted,
// with warnings naming the modern keywords, and mean what 1.4 meant.
func TestSeed(t *testing.T) {
	cfg, d := Load([]string{"../../testdata/haproxy/seed.cfg"}, LoadOptions{
		Resolve: func(h string) ([]string, error) { return []string{h}, nil },
	})
	if cfg == nil {
		t.Fatalf("seed refused:\n%s", d)
	}
	for _, want := range []string{"timeout connect", "timeout client", "timeout server", "nbproc", "nogroup", "http-check send"} {
		if !strings.Contains(d.String(), want) {
			t.Errorf("diagnostics do not mention %q:\n%s", want, d)
		}
	}
	fe := cfg.Proxy("http_server", CapFE)
	if fe == nil || fe.Timeouts.Client != 30*time.Second || fe.Timeouts.Connect != 5*time.Second {
		t.Fatalf("frontend timeouts not inherited: %+v", fe)
	}
	if fe.Stats.URI != "/admin?stats" || !fe.Stats.Enabled || fe.Options.Forwardfor == nil {
		t.Errorf("stats/forwardfor not inherited: %+v %+v", fe.Stats, fe.Options.Forwardfor)
	}
	be := cfg.Proxy("info_cache", CapBE)
	if be == nil || be.Balance.Algo != "source" || len(be.Servers) != 1 {
		t.Fatalf("backend info_cache: %+v", be)
	}
	s := be.Servers[0]
	if !s.Check || s.Inter != 5*time.Second || s.Fall != 3 || s.Rise != 2 || s.Addr.Port != 80 {
		t.Errorf("server inst2: %+v", s)
	}
	hc := be.HTTPCheck
	if hc.Method != "HEAD" || hc.URI != "/haproxy.txt" || hc.Version != "HTTP/1.1" || len(hc.Headers) != 1 || hc.Headers[0] != (Header{"Host", "192.168.1.187"}) {
		t.Errorf("httpchk: %+v", hc)
	}
}
