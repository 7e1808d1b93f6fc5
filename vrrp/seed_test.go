package vrrp_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// TestSeedConfigRuns runs govrrpd on the seed's keepalived.conf as written
// (its vrrp_script lacks a '}' and the file ends with a stray one), with
// only the documentation address for the VIP and a stand-in for
// check_haproxy.sh: VI_1 becomes MASTER, takes the VIP and advertises
// priority 150 + 2 while chk_http_port succeeds; when the script fails its
// weight is withdrawn and the adverts carry 150 (issue 6: govrrpd runs VI_1
// with chk_http_port tracked, as the author meant).
func TestSeedConfigRuns(t *testing.T) {
	bin := govrrpd(t)
	l := newLab(t, 1)
	seed, err := os.ReadFile("../testdata/keepalived/seed-haproxy-master.conf")
	if err != nil {
		t.Fatal(err)
	}
	down := filepath.Join(l.dir, "haproxy-down")
	script := filepath.Join(l.dir, "check_haproxy.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntest ! -e "+down+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("192.168.1.200", "192.0.2.200", "/etc/keepalived/check_haproxy.sh", script).Replace(string(seed))
	adverts := l.capture("-v", "vrrp")
	p := l.start(0, bin, conf)
	l.expectSole(0, "192.0.2.200", 8*time.Second, "seed VI_1 takes the VIP")
	// prio reports whether an advert after the first `from` captured
	// lines carries priority n.
	prio := func(n, from int) func() bool {
		return func() bool {
			adverts.mu.Lock()
			defer adverts.mu.Unlock()
			for _, l := range adverts.lines[min(from, len(adverts.lines)):] {
				if strings.Contains(l, "prio "+itoa(n)+",") {
					return true
				}
			}
			return false
		}
	}
	if _, ok := waitFor(4*time.Second, prio(152, 0)); !ok {
		t.Fatalf("no advert with priority 152 (150 + weight 2 of chk_http_port):\n%s", adverts.text())
	}
	adverts.mu.Lock()
	mark := len(adverts.lines)
	adverts.mu.Unlock()
	if err := os.WriteFile(down, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// interval 2, fall 1: the next run fails and the weight goes.
	if took, ok := waitFor(6*time.Second, prio(150, mark)); !ok {
		t.Fatalf("priority did not drop to 150 after the script failed:\n%s", adverts.text())
	} else {
		t.Logf("priority 152 -> 150 %v after the script started failing", took)
	}
	log, _ := os.ReadFile(p.log.Name())
	for _, want := range []string{"(VI_1) Entering MASTER STATE", "Changing effective priority from 152 to 150"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	l.stays(0, "192.0.2.200", 500*time.Millisecond, "single node keeps the VIP at priority 150")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestVIPAddressesMatchKeepalived: the VIPs govrrpd configures look the
// same in `ip addr` as keepalived 2.2.7's: no broadcast address unless
// `brd` says so, /32 without a length, secondary flags from the kernel.
func TestVIPAddressesMatchKeepalived(t *testing.T) {
	ka := testenv.LookPath(t, "keepalived")
	bin := govrrpd(t)
	l := newLab(t, 1)
	conf := `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 9
  priority 255
  advert_int 1
  virtual_ipaddress {
    192.0.2.150/24
    192.0.2.151/24 brd 192.0.2.255
    192.0.2.152
    192.0.2.153/25 brd +
    192.0.2.154/24 label eth0:vip
  }
}
`
	vips := func() []string {
		out, _ := l.nodes[0].Command("ip", "-4", "-o", "addr", "show", "dev", "eth0").Output()
		var got []string
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 3 && strings.HasPrefix(f[3], "192.0.2.15") {
				got = append(got, strings.Join(f[2:len(f)-2], " "))
			}
		}
		sort.Strings(got)
		return got
	}
	var seen [2][]string
	for i, d := range []string{ka, bin} {
		p := l.start(0, d, conf)
		if _, ok := waitFor(5*time.Second, func() bool { return len(vips()) == 5 }); !ok {
			t.Fatalf("%s: VIPs %q", d, vips())
		}
		seen[i] = vips()
		p.term(t)
		if _, ok := waitFor(3*time.Second, func() bool { return len(vips()) == 0 }); !ok {
			t.Fatalf("%s left VIPs %q", d, vips())
		}
	}
	if !slices.Equal(seen[0], seen[1]) {
		t.Errorf("VIPs differ:\nkeepalived %q\ngovrrpd    %q", seen[0], seen[1])
	}
}
