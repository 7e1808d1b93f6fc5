package proxy

import (
	"testing"
	"time"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// TestFreqCtr: HAProxy's sliding-window rate: events of the current
// period plus the previous period's count weighted by what is left of it.
func TestFreqCtr(t *testing.T) {
	p := 10 * time.Second
	t0 := time.Unix(1000, 0)
	var f freqCtr
	for i := 0; i < 4; i++ {
		f.add(t0, p, 1)
	}
	if got := f.read(t0.Add(time.Second), p); got != 4 {
		t.Fatalf("same period: %d, want 4", got)
	}
	// Half of the next period: the 4 previous events count for half.
	if got := f.read(t0.Add(15*time.Second), p); got != 2 {
		t.Fatalf("half a period later: %d, want 2", got)
	}
	f.add(t0.Add(15*time.Second), p, 1)
	if got := f.read(t0.Add(15*time.Second), p); got != 3 {
		t.Fatalf("after rotation: %d, want 3", got)
	}
	if got := f.read(t0.Add(40*time.Second), p); got != 0 {
		t.Fatalf("two periods idle: %d, want 0", got)
	}
}

// TestStickTableExpireAndSize: entries expire after `expire` unless
// tracked, and the least recently used goes when the table is full.
func TestStickTableExpireAndSize(t *testing.T) {
	st := newStickTable("t", &haproxy.StickTable{Type: "ip", Size: "2", Expire: time.Minute, Store: []string{"conn_cur", "http_req_rate(10s)"}})
	now := time.Unix(1000, 0)
	st.mu.Lock()
	a := st.getLocked("a", now)
	st.getLocked("b", now.Add(time.Second))
	st.getLocked("c", now.Add(2*time.Second)) // evicts a (oldest)
	st.mu.Unlock()
	if _, ok := st.entries["a"]; ok || len(st.entries) != 2 {
		t.Fatalf("entries %v", st.entries)
	}
	st.track(a, now, true)
	st.mu.Lock()
	if e := st.lookupLocked("b", now.Add(2*time.Minute)); e != nil {
		t.Fatal("b did not expire")
	}
	st.mu.Unlock()
	if v, ok := st.value(a, "conn_cur", now); !ok || v != 1 {
		t.Fatalf("conn_cur %d %v", v, ok)
	}
	if _, ok := st.value(a, "http_err_rate", now); ok {
		t.Fatal("http_err_rate is not stored: no sample expected")
	}
}

// TestCookieRequestEdits: the request-side cookie edits of each mode.
func TestCookieRequestEdits(t *testing.T) {
	be := &Backend{Servers: []*Server{{Name: "a", Cfg: &haproxy.Server{ServerParams: haproxy.ServerParams{Cookie: "a"}}}}}
	be.Servers[0].up.Store(true)
	cases := []struct {
		mode     string
		indirect bool
		in, out  string
		direct   bool
	}{
		{"insert", true, "x=1; SRV=a; y=2", "x=1; y=2", true},
		{"insert", true, "SRV=a", "", true},
		{"insert", false, "SRV=a; y=2", "SRV=a; y=2", true},
		{"prefix", false, "SRV=a~abc; y=2", "SRV=abc; y=2", true},
		{"prefix", false, "SRV=abc", "SRV=abc", false},
		{"rewrite", false, "SRV=b", "SRV=b", false},
	}
	for _, c := range cases {
		cp := newCookiePersist(&haproxy.Proxy{Cookie: &haproxy.Cookie{Name: "SRV", Mode: c.mode, Indirect: c.indirect}})
		h := http1.Header{{Name: "Host", Value: "x"}, {Name: "Cookie", Value: c.in}}
		st := cp.request(be, &h)
		if got := h.Get("cookie"); got != c.out || st.direct != c.direct {
			t.Errorf("%s indirect=%v %q: got %q direct=%v, want %q direct=%v", c.mode, c.indirect, c.in, got, st.direct, c.out, c.direct)
		}
	}
}

// FuzzCookieRequest: the request cookie edits never panic, whatever the
// Cookie headers hold, in every mode.
func FuzzCookieRequest(f *testing.F) {
	for _, s := range []string{"SRV=a", "x=1; SRV=a; y=2", "SRV=a~b", "SRV=", ";;SRV=a;;", "SRV", " SRV = a ~ ; ", "SRV=a|1|2", "SRV=a~"} {
		f.Add(s, s)
	}
	be := &Backend{Servers: []*Server{{Name: "a", Cfg: &haproxy.Server{ServerParams: haproxy.ServerParams{Cookie: "a"}}}}}
	be.Servers[0].up.Store(true)
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		for _, mode := range []string{"insert", "prefix", "rewrite", ""} {
			for _, ind := range []bool{false, true} {
				cp := newCookiePersist(&haproxy.Proxy{Cookie: &haproxy.Cookie{Name: "SRV", Mode: mode, Indirect: ind}})
				h := http1.Header{{Name: "Cookie", Value: v1}, {Name: "X", Value: "y"}, {Name: "cookie", Value: v2}}
				cp.request(be, &h)
				resp := &http1.Response{Status: 200, Header: http1.Header{{Name: "Set-Cookie", Value: v1}, {Name: "set-cookie", Value: v2}}}
				cp.response(resp, be.Servers[0], false, "GET")
			}
		}
	})
}
