package notify

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"hapair/parser/keepalived"
)

func TestFromKeepalived(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(p, []byte(`global_defs {
  router_id lb1
  notification_email {
    ops@example.org
    noc@example.org
  }
  notification_email_from ka@lb1
  smtp_server 192.0.2.25 2525
  smtp_helo_name lb1.example
  smtp_connect_timeout 7
  smtp_alert_vrrp
  notify_fifo /run/ka.fifo
  notify_fifo_script "/usr/bin/logger -t ka"
}
vrrp_sync_group G1 {
  group {
    VI_1
  }
  notify_fault "/bin/echo gf"
  smtp_alert false
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  notify_master "/bin/echo master 'x y'"
  notify /bin/echo
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 2
  smtp_alert false
}
`), 0o644)
	c, _ := keepalived.Load(p, keepalived.Options{})
	cfg := FromKeepalived(c)
	if cfg.RouterID != "lb1" {
		t.Errorf("router id %q", cfg.RouterID)
	}
	v1 := cfg.Instances["VI_1"]
	if !reflect.DeepEqual(v1.Master.Argv, []string{"/bin/echo", "master", "x y"}) || !reflect.DeepEqual(v1.Generic.Argv, []string{"/bin/echo"}) || v1.Backup != nil || !v1.SMTPAlert {
		t.Errorf("VI_1 %+v", v1)
	}
	if cfg.Instances["VI_2"].SMTPAlert {
		t.Error("VI_2: its own smtp_alert false must win over smtp_alert_vrrp")
	}
	g := cfg.Groups["G1"]
	if g.SMTPAlert || g.Fault == nil || !reflect.DeepEqual(g.Fault.Argv, []string{"/bin/echo", "gf"}) {
		t.Errorf("G1 %+v", g)
	}
	if len(cfg.FIFOs) != 1 || cfg.FIFOs[0].Path != "/run/ka.fifo" || !reflect.DeepEqual(cfg.FIFOs[0].Script.Argv, []string{"/usr/bin/logger", "-t", "ka"}) {
		t.Errorf("fifos %+v", cfg.FIFOs)
	}
	if cfg.Mail == nil || cfg.Mail.Addr != "192.0.2.25" || cfg.Mail.Port != 2525 || cfg.Mail.HeloName != "lb1.example" || cfg.Mail.From != "ka@lb1" || cfg.Mail.Timeout != 7*time.Second {
		t.Errorf("mail %+v", cfg.Mail)
	}
	if !reflect.DeepEqual(cfg.To, []string{"ops@example.org", "noc@example.org"}) {
		t.Errorf("to %q", cfg.To)
	}
}

// TestNewDisablesBadScripts: a missing notify script is disabled with
// keepalived's message, the others stay.
func TestNewDisablesBadScripts(t *testing.T) {
	var logs []string
	n, err := New(Config{
		Instances: map[string]Scripts{"VI_1": {Master: &Command{Argv: []string{"/nonexistent/x.sh"}}, Generic: &Command{Argv: []string{"/bin/true"}}}},
		Log:       func(s string) { logs = append(logs, s) },
	})
	if err == nil || err.Error() != "Script /nonexistent/x.sh cannot be accessed - No such file or directory" {
		t.Errorf("err %v", err)
	}
	if s := n.cfg.Instances["VI_1"]; s.Master != nil || s.Generic == nil {
		t.Errorf("scripts after checks: %+v", s)
	}
	if len(logs) != 1 {
		t.Errorf("logs %q", logs)
	}
}
