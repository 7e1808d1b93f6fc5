package lvs

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestServices(t *testing.T) {
	conf := `
virtual_server_group WEB {
    192.0.2.11-13 80
    2001:db8::a-c 443
    fwmark 7
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_algo wlc
    persistence_timeout 50
    real_server 192.0.2.21 80 { TCP_CHECK { } }
}
virtual_server fwmark 9 {
    lb_algo sh
    real_server 2001:db8::21 80 { TCP_CHECK { } }
}
virtual_server group WEB {
    protocol UDP
    lb_algo rr
    persistence_timeout
    real_server 192.0.2.21 80 { TCP_CHECK { } }
}
virtual_server 2001:db8::1 443 {
    protocol TCP
    real_server 2001:db8::21 443 { TCP_CHECK { } }
}
`
	cfg := loadConf(t, conf)
	want := [][]string{
		{"TCP 192.0.2.1:80 wlc flags=1 timeout=50 mask=ffffffff af=2"},
		{"FWM 9 sh flags=0 timeout=0 mask=0 af=10"},
		{
			"UDP 192.0.2.11:80 rr flags=1 timeout=360 mask=ffffffff af=2",
			"UDP 192.0.2.12:80 rr flags=1 timeout=360 mask=ffffffff af=2",
			"UDP 192.0.2.13:80 rr flags=1 timeout=360 mask=ffffffff af=2",
			"UDP [2001:db8::a]:443 rr flags=1 timeout=360 mask=80 af=10",
			"UDP [2001:db8::b]:443 rr flags=1 timeout=360 mask=80 af=10",
			"UDP [2001:db8::c]:443 rr flags=1 timeout=360 mask=80 af=10",
			"FWM 7 rr flags=1 timeout=360 mask=ffffffff af=2",
		},
		{"TCP [2001:db8::1]:443 wlc flags=0 timeout=0 mask=0 af=10"},
	}
	for i, vs := range cfg.VirtualServers {
		svcs, err := Services(vs, cfg.VSGroups)
		if err != nil {
			t.Fatalf("vs %d: %v", i, err)
		}
		var got []string
		for _, s := range svcs {
			got = append(got, fmt.Sprintf("%s %s flags=%d timeout=%d mask=%x af=%d", s, s.Scheduler, s.Flags, s.Timeout, s.Netmask, s.Family))
		}
		if !slices.Equal(got, want[i]) {
			t.Fatalf("vs %d:\n got %q\nwant %q", i, got, want[i])
		}
	}
	if svcs, _ := Services(cfg.VirtualServers[0], nil); svcs[0].Protocol != unix.IPPROTO_TCP || svcs[0].Family != unix.AF_INET {
		t.Fatalf("%+v", svcs[0])
	}
}

func TestServicesErrors(t *testing.T) {
	for _, c := range []struct{ entries, want string }{
		{"192.0.2.20-10 80", "below its start"},
		{"192.0.2.1-x 80", "bad range end"},
		{"2001:db8::1-ffff 80", "larger than 256"},
		{"fwmark", "needs a number"},
		{"fwmark 0", "bad fwmark"},
		{"192.0.2.1 99999", "bad port"},
		{"nonsense 80", "bad address"},
	} {
		conf := "virtual_server_group G {\n" + c.entries + "\n}\nvirtual_server group G {\n real_server 192.0.2.21 80 { TCP_CHECK { } }\n}\n"
		cfg := loadConf(t, conf)
		_, err := Services(cfg.VirtualServers[0], cfg.VSGroups)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.entries, err, c.want)
		}
	}
	cfg := loadConf(t, "virtual_server group MISSING {\n real_server 192.0.2.21 80 { TCP_CHECK { } }\n}\n")
	if _, err := Services(cfg.VirtualServers[0], cfg.VSGroups); err == nil {
		t.Fatal("missing group accepted")
	}
}

func TestDestForGroupEntries(t *testing.T) {
	conf := `
virtual_server_group G {
    192.0.2.11-12 80
    192.0.2.20 8080
    fwmark 3
}
virtual_server group G {
    protocol TCP
    lb_kind DR
    real_server 192.0.2.21 9000 { TCP_CHECK { } }
}
virtual_server_group N {
    192.0.2.30 80
}
virtual_server group N {
    protocol TCP
    lb_kind NAT
    real_server 192.0.2.21 9000 { TCP_CHECK { } }
}`
	f := newFake()
	c, err := New(loadConf(t, conf), Options{IPVS: f, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	c.apply(c.model.Start())
	want := []string{
		"add-service TCP 192.0.2.11:80", "add-service TCP 192.0.2.12:80", "add-service TCP 192.0.2.20:8080", "add-service FWM 3",
		"add-dest TCP 192.0.2.11:80 192.0.2.21:80 w1", "add-dest TCP 192.0.2.12:80 192.0.2.21:80 w1",
		"add-dest TCP 192.0.2.20:8080 192.0.2.21:8080 w1", "add-dest FWM 3 192.0.2.21:0 w1",
		"add-service TCP 192.0.2.30:80", "add-dest TCP 192.0.2.30:80 192.0.2.21:9000 w1",
	}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if errs := f.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
}
