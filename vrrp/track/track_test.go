package track

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"hapair/parser/keepalived"
)

func TestContribution(t *testing.T) {
	ok := Status{Known: true, OK: true}
	ko := Status{Known: true}
	for _, tc := range []struct {
		name           string
		t              Tracker
		s              Status
		delta          int
		fault, pending bool
	}{
		{"plus ok", Tracker{Weight: 2}, ok, 2, false, false},
		{"plus failed", Tracker{Weight: 2}, ko, 0, false, false},
		{"minus ok", Tracker{Weight: -20}, ok, 0, false, false},
		{"minus failed", Tracker{Weight: -20}, ko, -20, false, false},
		{"plus reverse ok", Tracker{Weight: 10, Reverse: true}, ok, -10, false, false},
		{"plus reverse failed", Tracker{Weight: 10, Reverse: true}, ko, 0, false, false},
		{"minus reverse failed", Tracker{Weight: -10, Reverse: true}, ko, 10, false, false},
		{"zero failed is fault", Tracker{}, ko, 0, true, false},
		{"zero ok", Tracker{}, ok, 0, false, false},
		{"zero reverse ok is fault", Tracker{Reverse: true}, ok, 0, true, false},
		{"zero unknown pending", Tracker{}, Status{}, 0, false, true},
		{"weighted unknown", Tracker{Weight: -5}, Status{}, 0, false, false},
		{"iface down zero", Tracker{Kind: KindInterface}, ko, 0, true, false},
		{"iface down weight", Tracker{Kind: KindInterface, Weight: -30}, ko, -30, false, false},
		{"file 3*5", Tracker{Kind: KindFile, Weight: 5}, Status{Known: true, Value: 3}, 15, false, false},
		{"file reverse", Tracker{Kind: KindFile, Weight: 5, Reverse: true}, Status{Known: true, Value: 3}, -15, false, false},
		{"file capped", Tracker{Kind: KindFile, Weight: 100}, Status{Known: true, Value: 3}, 253, false, false},
		{"file -253 ok", Tracker{Kind: KindFile, Weight: 1}, Status{Known: true, Value: -253}, -253, false, false},
		{"file -254 fault", Tracker{Kind: KindFile, Weight: 1}, Status{Known: true, Value: -254}, 0, true, false},
		{"file w0 nonzero fault", Tracker{Kind: KindFile}, Status{Known: true, Value: 7}, 0, true, false},
		{"file w0 zero", Tracker{Kind: KindFile}, Status{Known: true}, 0, false, false},
	} {
		d, f, p := Contribution(tc.t, tc.s)
		if d != tc.delta || f != tc.fault || p != tc.pending {
			t.Errorf("%s: got (%d,%v,%v), want (%d,%v,%v)", tc.name, d, f, p, tc.delta, tc.fault, tc.pending)
		}
	}
}

func TestEffective(t *testing.T) {
	for _, tc := range []struct{ base, delta, want int }{
		{100, 2, 102}, {100, -99, 1}, {100, -200, 1}, {200, 100, 254}, {255, -100, 255}, {254, 1, 254}, {1, 0, 1},
	} {
		if got := Effective(tc.base, tc.delta); got != tc.want {
			t.Errorf("Effective(%d,%d) = %d, want %d", tc.base, tc.delta, got, tc.want)
		}
	}
}

func TestStateChanges(t *testing.T) {
	insts := []Instance{
		{Name: "VI_1", Priority: 100, Trackers: []Tracker{
			{Kind: KindScript, Name: "chk", Weight: 2},
			{Kind: KindInterface, Name: "eth1"},
		}},
		{Name: "VI_2", Priority: 90, Trackers: []Tracker{{Kind: KindScript, Name: "chk", Weight: -20}}},
	}
	s := NewState(insts, nil)
	if c, _ := s.Current("VI_1"); c.Priority != 100 || c.Fault || c.Pending {
		t.Fatalf("initial VI_1 %+v", c)
	}
	got := s.Set(KindScript, "chk", Status{Known: true, OK: true})
	want := []Change{{Instance: "VI_1", Delta: 2, Priority: 102}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ok: got %+v, want %+v", got, want)
	}
	got = s.Set(KindScript, "chk", Status{Known: true, OK: false})
	want = []Change{{Instance: "VI_1", Priority: 100}, {Instance: "VI_2", Delta: -20, Priority: 70}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ko: got %+v, want %+v", got, want)
	}
	if got := s.Set(KindScript, "chk", Status{Known: true, OK: false}); got != nil {
		t.Fatalf("repeat: %+v", got)
	}
	got = s.Set(KindInterface, "eth1", Status{Known: true})
	want = []Change{{Instance: "VI_1", Priority: 100, Fault: true, Reason: []string{"interface eth1"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("link down: got %+v, want %+v", got, want)
	}
	if got := s.Set(KindInterface, "other", Status{Known: true}); got != nil {
		t.Fatalf("untracked: %+v", got)
	}
}

func writeConf(t *testing.T, text string) *keepalived.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := keepalived.Load(p, keepalived.Options{})
	if c == nil {
		t.Fatal("no config")
	}
	return c
}

func TestFromKeepalived(t *testing.T) {
	dir := t.TempDir()
	tf := filepath.Join(dir, "tf")
	c := writeConf(t, `
global_defs {
  script_user root
  enable_script_security
}
vrrp_script chk {
  script "/bin/true a 'b c'"
  interval 2
  weight 2
  rise 3
  fall 4
}
vrrp_script zero {
  script /bin/true
}
vrrp_script unused {
  script /bin/true
}
track_file f1 {
  file "`+tf+`"
  weight 3
  init_file 7 overwrite
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  track_script {
    chk
    zero
  }
  track_interface {
    eth1 weight -10
  }
  track_file {
    f1 weight -2 reverse
  }
}
vrrp_instance VI_OWN {
  interface eth0
  virtual_router_id 2
  priority 255
  track_script {
    chk weight 5
    zero
  }
  track_interface {
    eth1 weight 5
  }
  track_file {
    f1 weight 0
  }
}
vrrp_instance VI_S {
  interface eth0
  dont_track_primary
  virtual_router_id 3
  track_script {
    chk
  }
  track_interface {
    eth1 weight 5
  }
  track_file {
    f1
  }
}
vrrp_sync_group G {
  group {
    VI_S
  }
  track_script {
    zero
  }
}
`)
	cfg, warns := FromKeepalived(c)
	wantInst := []Instance{
		{Name: "VI_1", Priority: 100, Trackers: []Tracker{
			{Kind: KindInterface, Name: "eth0"},
			{Kind: KindInterface, Name: "eth1", Weight: -10},
			{Kind: KindScript, Name: "chk", Weight: 2},
			{Kind: KindScript, Name: "zero"},
			{Kind: KindFile, Name: "f1", Weight: -2, Reverse: true},
		}},
		{Name: "VI_OWN", Priority: 255, Trackers: []Tracker{
			{Kind: KindInterface, Name: "eth0"},
			{Kind: KindScript, Name: "zero"},
			{Kind: KindFile, Name: "f1"},
		}},
		{Name: "VI_S", Priority: 100, Trackers: []Tracker{
			{Kind: KindInterface, Name: "eth1"},
			{Kind: KindScript, Name: "zero"},
		}},
	}
	if !reflect.DeepEqual(cfg.Instances, wantInst) {
		t.Errorf("instances:\n got %+v\nwant %+v", cfg.Instances, wantInst)
	}
	wantWarn := []string{
		"(VI_OWN) ignoring eth1 tracked interface due to address owner",
		"(VI_OWN) ignoring tracked script chk with weights due to address_owner",
		"(VI_S) ignoring eth1 tracked interface weight due to SYNC group",
		"(VI_S) ignoring tracked script chk with weights due to SYNC group",
		"(VI_S) ignoring tracked file f1 with weight 3 due to SYNC group",
		"Warning - script unused is not used",
	}
	if !reflect.DeepEqual(warns, wantWarn) {
		t.Errorf("warnings:\n got %q\nwant %q", warns, wantWarn)
	}
	if len(cfg.Scripts) != 2 || cfg.Scripts[0].Name != "chk" || cfg.Scripts[0].Rise != 3 || cfg.Scripts[0].Fall != 4 ||
		!reflect.DeepEqual(cfg.Scripts[0].Argv, []string{"/bin/true", "a", "b c"}) || cfg.Scripts[0].Credential != nil {
		t.Errorf("scripts: %+v", cfg.Scripts)
	}
	if len(cfg.Files) != 1 || cfg.Files[0].Path != tf || cfg.Files[0].Init == nil || *cfg.Files[0].Init != 7 || !cfg.Files[0].InitOverwrite {
		t.Errorf("files: %+v", cfg.Files)
	}
}

func TestParseLeadingInt(t *testing.T) {
	for in, want := range map[string]int{"": 0, "12\n": 12, "  -7x": -7, "abc": 0, "+3": 3, "99999999999": 1<<31 - 1} {
		if got := parseLeadingInt(in); got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
}

// TestSyncGroupTracking: a vrrp_sync_group's track_interface, track_file
// and track_script apply to every member, with weight 0 (any failure is a
// FAULT) unless sync_group_tracking_weight keeps the weights, which also
// keeps the members' own weighted trackers.
func TestSyncGroupTracking(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		opt := ""
		if weighted {
			opt = "sync_group_tracking_weight"
		}
		c := writeConf(t, `
global_defs {
  script_user root
  enable_script_security
}
vrrp_script chk {
  script /bin/true
  weight 3
}
vrrp_track_file tf {
  file /run/govrrpd-track-test
  init_file
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress { 192.0.2.1 }
  track_interface { eth2 weight 4 }
}
vrrp_instance VI_B {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress { 192.0.2.2 }
}
vrrp_sync_group G {
  group { VI_A VI_B }
  `+opt+`
  track_interface { eth1 weight -10 }
  track_file { tf weight 5 }
  track_script { chk }
}
`)
		cfg, _ := FromKeepalived(c)
		w := func(n int) int {
			if weighted {
				return n
			}
			return 0
		}
		want := []Instance{
			{Name: "VI_A", Priority: 100, Trackers: []Tracker{
				{Kind: KindInterface, Name: "eth0"},
				{Kind: KindInterface, Name: "eth2", Weight: w(4)},
				{Kind: KindInterface, Name: "eth1", Weight: w(-10)},
				{Kind: KindScript, Name: "chk", Weight: w(3)},
				{Kind: KindFile, Name: "tf", Weight: w(5)},
			}},
			{Name: "VI_B", Priority: 100, Trackers: []Tracker{
				{Kind: KindInterface, Name: "eth0"},
				{Kind: KindInterface, Name: "eth1", Weight: w(-10)},
				{Kind: KindScript, Name: "chk", Weight: w(3)},
				{Kind: KindFile, Name: "tf", Weight: w(5)},
			}},
		}
		if !reflect.DeepEqual(cfg.Instances, want) {
			t.Errorf("weighted=%v:\n got %+v\nwant %+v", weighted, cfg.Instances, want)
		}
		if len(cfg.Files) != 1 || cfg.Files[0].Init == nil || *cfg.Files[0].Init != 0 {
			t.Errorf("init_file without value: %+v", cfg.Files)
		}
	}
}
