package keepalived

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// load parses text written to a temporary keepalived.conf with every
// interface present and no file-system script checks.
func load(t *testing.T, text string) (*Config, *Diagnostics) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path, Options{ConfigID: "lb1", InterfaceExists: func(string) bool { return true }, SkipScriptSecurity: true})
}

func messages(d *Diagnostics) []string {
	var out []string
	for _, x := range d.List {
		out = append(out, x.String())
	}
	return out
}

// TestSeedHAProxyMaster checks the seed's keepalived.conf the way its
// author meant it (and the way `keepalived -t` reads it): VI_1 tracks
// chk_http_port although vrrp_script lacks its '}', and both mistakes are
// reported with their lines.
func TestSeedHAProxyMaster(t *testing.T) {
	cfg, d := Load("../../testdata/keepalived/seed-haproxy-master.conf", Options{ConfigID: "lb1", InterfaceExists: func(string) bool { return true }, SkipScriptSecurity: true})
	if cfg == nil {
		t.Fatal(d)
	}
	if len(cfg.Instances) != 1 {
		t.Fatalf("instances: %d", len(cfg.Instances))
	}
	in := cfg.Instances[0]
	if in.Name != "VI_1" || in.State != "MASTER" || in.Interface != "eth0" || in.VRID != 51 || in.Priority != 150 || in.AdvertInt != time.Second {
		t.Errorf("VI_1 = %+v", in)
	}
	if in.AuthType != "PASS" || in.AuthPass != "1111" {
		t.Errorf("auth %q %q", in.AuthType, in.AuthPass)
	}
	if len(in.VIPs) != 1 || in.VIPs[0].Prefix != netip.MustParsePrefix("192.168.1.200/32") {
		t.Errorf("VIPs %+v", in.VIPs)
	}
	if len(in.TrackScripts) != 1 || in.TrackScripts[0].Name != "chk_http_port" {
		t.Fatalf("track scripts %+v", in.TrackScripts)
	}
	sc := cfg.Script("chk_http_port")
	if sc == nil || sc.Interval != 2*time.Second || sc.Weight != 2 || !slices.Equal(sc.Script, []string{"/etc/keepalived/check_haproxy.sh"}) {
		t.Errorf("chk_http_port = %+v", sc)
	}
	msgs := strings.Join(messages(d), "\n")
	for _, want := range []string{
		"Line 6) Unknown keyword 'global_defs'",
		"Line 6) 'global_defs' inside 'vrrp_script chk_http_port' opened at line 2: that block is probably missing its '}'",
		"Line 26) Unknown keyword '}'",
		"Line 26) stray '}' at top level",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("missing %q in\n%s", want, msgs)
		}
	}
	if got := d.ExitCode(); got != 5 {
		t.Errorf("exit code %d, want 5", got)
	}
}

// TestSeedVIPPair checks the article's two-VIP pair: each host has the
// higher priority for one VRID and the lower for the other.
func TestSeedVIPPair(t *testing.T) {
	for _, c := range []struct {
		file  string
		state map[string]string
		prio  map[string]int
	}{
		// Both start BACKUP; the priorities decide who holds which VIP.
		{"seed-vip-pair-master.conf", map[string]string{"VI_141": "BACKUP", "VI_142": "BACKUP"}, map[string]int{"VI_141": 50, "VI_142": 100}},
		{"seed-vip-pair-backup.conf", map[string]string{"VI_141": "BACKUP", "VI_142": "BACKUP"}, map[string]int{"VI_141": 100, "VI_142": 50}},
	} {
		cfg, d := Load("../../testdata/keepalived/"+c.file, Options{InterfaceExists: func(string) bool { return true }, SkipScriptSecurity: true})
		if cfg == nil || d.ExitCode() != 0 {
			t.Fatalf("%s: %v", c.file, d)
		}
		for name, st := range c.state {
			in := cfg.Instance(name)
			if in == nil {
				t.Fatalf("%s: no %s", c.file, name)
			}
			if in.State != st || in.Priority != c.prio[name] || len(in.VIPs) != 1 {
				t.Errorf("%s: %s state %s VIPs %v", c.file, name, in.State, in.VIPs)
			}
		}
	}
}

// TestKeywordMessages pins keepalived 2.2.7's message (and so the exit
// code) for one snippet per rule; each was read from `keepalived -t`.
func TestKeywordMessages(t *testing.T) {
	inst := func(body string) string {
		return "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n" + body + "\n virtual_ipaddress {\n  192.0.2.10\n }\n}\n"
	}
	for _, c := range []struct {
		name, text string
		want       string // substring of one message; "" = clean
		code       int
	}{
		{"clean", inst(" priority 100"), "", 0},
		{"unknown top", "foo_bar 1\n", "Line 1) Unknown keyword 'foo_bar'", 5},
		{"unknown in instance", inst(" colour blue"), "Line 4) Unknown keyword 'colour'", 5},
		{"vrid range", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 256\n}\n", "VRID '256' not valid - must be between 1 & 255", 5},
		{"priority range", inst(" priority 256"), "number '256' outside range", 5},
		{"bad vip", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.300\n }\n}\n", "Line 5) VRRP parsed invalid IP 192.0.2.300. skipping IP...", 5},
		{"missing track script", inst(" track_script {\n  nope\n }"), "Line 5) (VI_1) track script nope not found, ignoring...", 5},
		{"family mismatch", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n  2001:db8::1\n }\n}\n", "(VI_1): address family must match VRRP instance [2001:db8::1] - ignoring", 5},
		{"extra brace", inst("") + "}\n", "Extra '}' found", 5},
		{"unexpected brace", inst(" nopreempt {"), "Unexpected '{' - ignoring", 5},
		{"bad unicast peer", inst(" unicast_peer {\n  x.y\n }"), "malformed unicast peer address[x.y]", 5},
		{"preempt delay", inst(" preempt_delay 1001"), "Preempt_delay not valid! must be between 0-1000", 5},
		{"AH master", inst(" state MASTER\n authentication {\n  auth_type AH\n  auth_pass x\n }"), "(VI_1) Initial state master is incompatible with AH authentication - clearing", 5},
		{"route gw", inst(" virtual_routes {\n  198.51.100.0/24 gw 192.0.2.1 dev eth0\n }"), `"gw" for routes is deprecated. Please use "via"`, 5},
		{"route untracked", inst(" virtual_routes {\n  198.51.100.0/24 via 192.0.2.1\n }"), "cannot track route 198.51.100.0/24 with no interface specified", 5},
		{"rule no pref", "static_rules {\n from 192.0.2.0/24 table 1\n}\n", "Rule has no preference specified - setting to 16384", 5},
		{"empty sync group", "vrrp_sync_group G {\n}\n", "Sync group G has no virtual router(s). removing", 5},
		{"vs without real servers", "virtual_server 192.0.2.1 80 {\n lb_algo rr\n}\n", "Virtual server [192.0.2.1]:none:80 has no real servers - ignoring", 5},
		{"script unset", "vrrp_script s {\n interval 1\n}\n", "Line 3) No script set for vrrp_script s - removing", 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, d := load(t, c.text)
			if cfg == nil {
				t.Fatal(d)
			}
			msgs := messages(d)
			if c.want == "" && len(msgs) > 0 {
				t.Errorf("want no message, got %q", msgs)
			}
			if c.want != "" && !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, c.want) }) {
				t.Errorf("want %q, got %q", c.want, msgs)
			}
			if d.ExitCode() != c.code {
				t.Errorf("exit code %d, want %d", d.ExitCode(), c.code)
			}
		})
	}
}

// TestValues checks typed values: defaults, fractions, VIP options,
// IPv6 instances on VRRPv3, LVS fields.
func TestValues(t *testing.T) {
	cfg, d := load(t, `global_defs {
  notification_email {
    ops@example.net
  }
  smtp_server 192.0.2.25 2525
  vrrp_garp_master_delay 2
}
vrrp_script chk {
  script "/bin/check --port 80"
  interval 0.5
  weight -20 reverse
  fall 3
}
vrrp_instance V6 {
  interface eth1
  virtual_router_id 9
  advert_int 0.25
  virtual_ipaddress {
    2001:db8::9/64 dev eth1 label eth1:v6
  }
  track_script {
    chk weight 5
  }
  notify "/etc/keepalived/notify.sh"
}
virtual_server 192.0.2.80 80 {
  protocol TCP
  lb_algo wrr
  lb_kind DR
  real_server 192.0.2.81 80 {
    weight 3
    HTTP_GET {
      url {
        path /ok
        status_code 200
      }
    }
  }
}
`)
	if d.ExitCode() != 0 {
		t.Fatal(d)
	}
	g := cfg.Global
	if !slices.Equal(g.NotificationEmail, []string{"ops@example.net"}) || g.SMTPServer != "192.0.2.25" || g.SMTPPort != 2525 || g.VRRPGarpMasterDelay != 2*time.Second {
		t.Errorf("global %+v", g)
	}
	sc := cfg.Script("chk")
	if !slices.Equal(sc.Script, []string{"/bin/check", "--port", "80"}) || sc.Interval != 500*time.Millisecond || sc.Timeout != 500*time.Millisecond || sc.Weight != -20 || !sc.Reverse || sc.Fall != 3 || sc.Rise != 1 {
		t.Errorf("script %+v", sc)
	}
	in := cfg.Instance("V6")
	if !in.IPv6 || in.Version != 3 || in.AdvertInt != 250*time.Millisecond || in.Priority != 100 || in.GarpMasterDelay != 2*time.Second {
		t.Errorf("instance %+v", in)
	}
	if v := in.VIPs[0]; v.Prefix != netip.MustParsePrefix("2001:db8::9/64") || v.Dev != "eth1" || v.Label != "eth1:v6" {
		t.Errorf("VIP %+v", v)
	}
	if ts := in.TrackScripts[0]; ts.Weight != 5 || !ts.HasWeight {
		t.Errorf("track %+v", ts)
	}
	vs := cfg.VirtualServers[0]
	if vs.LBAlgo != "wrr" || vs.LBKind != "DR" || vs.RealServers[0].Weight != 3 || vs.RealServers[0].Checkers[0].URLs[0].Path != "/ok" {
		t.Errorf("vs %+v", vs)
	}
}

// TestIncludeConditionalsDefinitions covers include globs relative to the
// including file, @id lines and $VAR definitions (also multi-line).
func TestIncludeConditionalsDefinitions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("conf.d/10-a.conf", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n@lb1 priority 150\n@^lb1 priority 50\n virtual_ipaddress {\n  $VIP\n }\n}\n")
	write("conf.d/20-b.conf", "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n $BODY\n}\n")
	write("main.conf", "$VIP=192.0.2.1/24\n$BODY=priority 77 \\\n virtual_ipaddress { \\\n 192.0.2.2 \\\n }\ninclude conf.d/*.conf\n")
	for _, c := range []struct {
		id   string
		prio int
	}{{"lb1", 150}, {"lb2", 50}} {
		cfg, d := Load(filepath.Join(dir, "main.conf"), Options{ConfigID: c.id, InterfaceExists: func(string) bool { return true }})
		if d.ExitCode() != 0 {
			t.Fatalf("%s: %v", c.id, d)
		}
		a, b := cfg.Instance("A"), cfg.Instance("B")
		if a == nil || b == nil {
			t.Fatalf("instances %v", cfg.Instances)
		}
		if a.Priority != c.prio || len(a.VIPs) != 1 || a.VIPs[0].Prefix != netip.MustParsePrefix("192.0.2.1/24") {
			t.Errorf("%s: A = prio %d VIPs %v", c.id, a.Priority, a.VIPs)
		}
		if b.Priority != 77 || len(b.VIPs) != 1 || b.VIPs[0].Prefix.Addr() != netip.MustParseAddr("192.0.2.2") {
			t.Errorf("%s: B = prio %d VIPs %v", c.id, b.Priority, b.VIPs)
		}
		if !strings.HasSuffix(a.Pos.File, "10-a.conf") || a.Pos.Line != 1 {
			t.Errorf("A position %v", a.Pos)
		}
	}
}

// TestIncludeLoop: a file including itself is cut at the depth limit
// with a message, not a hang.
func TestIncludeLoop(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "self.conf")
	if err := os.WriteFile(p, []byte("include self.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, d := Load(p, Options{})
	if !strings.Contains(d.String(), "include depth exceeds") {
		t.Errorf("got %v", d)
	}
}

// FuzzLoad: no input panics or hangs; includes resolve to the same input
// so recursion is exercised.
func FuzzLoad(f *testing.F) {
	for _, g := range []string{"../../testdata/keepalived/*.conf", "../../testdata/keepalived/cases/*.conf"} {
		m, _ := filepath.Glob(g)
		for _, p := range m {
			b, err := os.ReadFile(p)
			if err == nil {
				f.Add(string(b))
			}
		}
	}
	f.Add("include x\n$A=$A$A\n$A\n@x y {\n}}}{{{\n")
	f.Fuzz(func(t *testing.T, s string) {
		Load("/fuzz/keepalived.conf", Options{
			ConfigID:           "x",
			ReadFile:           func(string) ([]byte, error) { return []byte(s), nil },
			InterfaceExists:    func(string) bool { return true },
			SkipScriptSecurity: true,
		})
	})
}

// TestSeq expands ~SEQ and ~SEQx lines (man keepalived.conf); the
// hexadecimal values that make invalid IPv4 addresses are reported like
// keepalived does (the differential test runs this file too).
func TestSeq(t *testing.T) {
	cfg, d := Load("../../testdata/keepalived/cases/seq.conf", Options{InterfaceExists: func(string) bool { return true }})
	var got []string
	for _, v := range cfg.Instances[0].VIPs {
		got = append(got, v.Prefix.String())
	}
	want := []string{"192.0.2.1/32", "192.0.2.3/32", "192.0.2.5/32", "192.0.2.7/32", "192.0.2.190/32"}
	if !slices.Equal(got, want) {
		t.Errorf("VIPs %v, want %v", got, want)
	}
	if !strings.Contains(d.String(), "Line 6) VRRP parsed invalid IP 192.0.2.1a0. skipping IP...") {
		t.Errorf("diagnostics: %v", d)
	}
}

// TestNotifyWordsAndGroupTracking: notify keywords keep their words and
// quoting (keepalived runs an unquoted first word alone, with user and
// group after it); no_email_faults, notify_priority_changes,
// sync_group_tracking_weight, a sync group's track_interface/track_file
// and an init_file without value are parsed, with no warning.
func TestNotifyWordsAndGroupTracking(t *testing.T) {
	cfg, d := load(t, `global_defs {
  no_email_faults
  vrrp_notify_priority_changes
  notify_fifo /run/ka.fifo
  notify_fifo_script /bin/fifo.sh www
}
vrrp_track_file tf {
  file /run/tf
  init_file
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress { 192.0.2.1 }
  notify_master /bin/m.sh nobody nogroup
  notify_backup "/bin/b.sh backup now"
  notify_priority_changes false
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress { 192.0.2.2 }
}
vrrp_sync_group G {
  group { VI_1 VI_2 }
  notify "/bin/n.sh"
  sync_group_tracking_weight
  track_interface { eth1 weight -10 }
  track_file { tf weight 5 }
}
`)
	if len(d.List) != 0 {
		t.Fatalf("diagnostics: %v", messages(d))
	}
	in := cfg.Instances[0]
	if got := in.ScriptWords["notify_master"]; got.Quoted || !slices.Equal(got.Words, []string{"/bin/m.sh", "nobody", "nogroup"}) {
		t.Errorf("notify_master %+v", got)
	}
	if got := in.ScriptWords["notify_backup"]; !got.Quoted || !slices.Equal(got.Words, []string{"/bin/b.sh backup now"}) {
		t.Errorf("notify_backup %+v", got)
	}
	if in.NotifyPriorityChanges == nil || *in.NotifyPriorityChanges {
		t.Errorf("notify_priority_changes %v", in.NotifyPriorityChanges)
	}
	g := cfg.Global
	if !g.NoEmailFaults || !g.NotifyPriorityChanges || !slices.Equal(g.ScriptWords["notify_fifo_script"].Words, []string{"/bin/fifo.sh", "www"}) {
		t.Errorf("global %+v", g)
	}
	sg := cfg.SyncGroups[0]
	if !sg.TrackingWeight || len(sg.TrackInterfaces) != 1 || sg.TrackInterfaces[0].Weight != -10 ||
		len(sg.TrackFiles) != 1 || sg.TrackFiles[0].Weight != 5 || !sg.ScriptWords["notify"].Quoted {
		t.Errorf("sync group %+v", sg)
	}
	if tf := cfg.TrackFiles[0]; !tf.InitFileSet || tf.InitFile != "" {
		t.Errorf("track file %+v", tf)
	}
}

// TestLVSDefaultsAndInheritance: keepalived 2.2.7's virtual_server
// defaults (UDP, wlc, NAT), per-kind retry defaults (MISC_CHECK 0,
// DNS_CHECK 3, others 1) and checker settings inherited from the real
// server, then the virtual server (check_api.c).
func TestLVSDefaultsAndInheritance(t *testing.T) {
	cfg, _ := load(t, `virtual_server 192.0.2.1 80 {
  delay_loop 10
  real_server 192.0.2.21 80 { TCP_CHECK { } }
  real_server 192.0.2.22 80 { MISC_CHECK { misc_path /bin/true } }
  real_server 192.0.2.23 80 { DNS_CHECK { } }
  real_server 192.0.2.24 80 { HTTP_GET { url { path / } } }
}
virtual_server 192.0.2.2 80 {
  protocol TCP
  lb_algo rr
  lb_kind DR
  retry 4
  delay_before_retry 2
  connect_timeout 4
  warmup 3
  inhibit_on_failure
  real_server 192.0.2.31 80 {
    delay_loop 7
    retry 2
    TCP_CHECK { }
    TCP_CHECK { retry 9
      delay_loop 1 }
  }
}
`)
	vs := cfg.VirtualServers[0]
	if vs.Protocol != "UDP" || vs.LBAlgo != "wlc" || vs.LBKind != "NAT" {
		t.Errorf("defaults %s %s %s", vs.Protocol, vs.LBAlgo, vs.LBKind)
	}
	for i, want := range []struct {
		retry int
		dbr   time.Duration
	}{{1, time.Second}, {0, time.Second}, {3, 10 * time.Second}, {1, 3 * time.Second}} {
		ch := vs.RealServers[i].Checkers[0]
		if ch.Retry != want.retry || ch.DelayBeforeRetry != want.dbr || ch.DelayLoop != 10*time.Second || ch.Warmup != 10*time.Second || ch.ConnectTimeout != 5*time.Second {
			t.Errorf("%s: %+v", ch.Kind, ch)
		}
	}
	vs2 := cfg.VirtualServers[1]
	rs := vs2.RealServers[0]
	if !rs.InhibitOnFailure {
		t.Error("inhibit_on_failure not inherited")
	}
	a, b := rs.Checkers[0], rs.Checkers[1]
	if a.Retry != 2 || a.DelayLoop != 7*time.Second || a.DelayBeforeRetry != 2*time.Second || a.ConnectTimeout != 4*time.Second || a.Warmup != 3*time.Second {
		t.Errorf("inherited: %+v", a)
	}
	if b.Retry != 9 || b.DelayLoop != time.Second {
		t.Errorf("own: %+v", b)
	}
}
