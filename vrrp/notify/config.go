package notify

import (
	"errors"
	"os"
	"strings"

	"hapair/checks"
	"hapair/internal/mail"
	"hapair/parser/keepalived"
	"hapair/vrrp/track"
)

// ParseCommand reads a notify keyword's words as keepalived 2.2.7 does:
// when the first word was quoted it is split into argv (shell-like
// quoting inside it, no shell); otherwise only that word is run. The
// following words, if any, are the user and group to run it as
// (measured: `notify_backup /s backup` runs /s as the user "backup").
func ParseCommand(words []string, quoted bool) (*Command, error) {
	if len(words) == 0 {
		return nil, errors.New("missing script")
	}
	c := &Command{Argv: []string{words[0]}}
	if quoted {
		argv, err := checks.SplitCommand(words[0])
		if err != nil {
			return nil, err
		}
		if len(argv) == 0 {
			return nil, errors.New("empty script")
		}
		c.Argv = argv
	}
	if len(words) > 1 {
		c.User = words[1]
	}
	if len(words) > 2 {
		c.Group = words[2]
	}
	return c, nil
}

// fromJoined reads a notify setting as the parser stores it today: the
// words joined by spaces, quoting lost. It is split like a quoted string
// (the common `notify_master "/path/notify.sh master"` form); an
// unquoted `script user group` line is therefore mis-read as arguments
// until the parser keeps the quoting.
func fromJoined(s string) *Command {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	c, err := ParseCommand([]string{s}, true)
	if err != nil {
		return &Command{Argv: strings.Fields(s)}
	}
	return c
}

func scripts(master, backup, fault, stop, generic, rxLower string, alert bool) Scripts {
	return Scripts{
		Master: fromJoined(master), Backup: fromJoined(backup), Fault: fromJoined(fault),
		Stop: fromJoined(stop), Generic: fromJoined(generic), MasterRxLowerPri: fromJoined(rxLower),
		SMTPAlert: alert,
	}
}

// FromKeepalived builds a Notifier's Config from keepalived.conf: the
// notify scripts of every instance and sync group, notify_fifo and
// vrrp_notify_fifo with their scripts, and SMTP alerts. An instance or
// group mails when its own smtp_alert says so, else global_defs'
// smtp_alert_vrrp, else smtp_alert (default off); mail needs
// smtp_server and at least one notification_email.
func FromKeepalived(c *keepalived.Config) Config {
	g := c.Global
	cfg := Config{
		RouterID:    g.RouterID,
		Instances:   map[string]Scripts{},
		Groups:      map[string]Scripts{},
		ScriptUser:  g.ScriptUser,
		ScriptGroup: g.ScriptGroup,

		EnableScriptSecurity: g.EnableScriptSecurity,
	}
	if cfg.RouterID == "" {
		cfg.RouterID, _ = os.Hostname()
	}
	alert := func(own *bool) bool {
		switch {
		case own != nil:
			return *own
		case g.SMTPAlertVRRP != nil:
			return *g.SMTPAlertVRRP
		case g.SMTPAlert != nil:
			return *g.SMTPAlert
		}
		return false
	}
	for _, in := range c.Instances {
		cfg.Instances[in.Name] = scripts(in.NotifyMaster, in.NotifyBackup, in.NotifyFault, in.NotifyStop, in.Notify, in.NotifyMasterRxLowerPri, alert(in.SMTPAlert))
	}
	for _, sg := range c.SyncGroups {
		cfg.Groups[sg.Name] = scripts(sg.NotifyMaster, sg.NotifyBackup, sg.NotifyFault, sg.NotifyStop, sg.Notify, "", alert(sg.SMTPAlert))
	}
	for _, f := range []struct{ path, script string }{{g.NotifyFifo, g.NotifyFifoScript}, {g.VRRPNotifyFifo, g.VRRPNotifyFifoScript}} {
		if f.path == "" {
			continue
		}
		cfg.FIFOs = append(cfg.FIFOs, FIFO{Path: f.path, Script: fromJoined(f.script)})
	}
	if g.SMTPServer != "" && len(g.NotificationEmail) > 0 {
		cfg.Mail = &mail.Server{
			Addr: g.SMTPServer, Port: g.SMTPPort, HeloName: g.SMTPHeloName,
			From: g.NotificationEmailFrom, Timeout: g.SMTPConnectTimeout,
		}
		cfg.To = g.NotificationEmail
	}
	return cfg
}

// scriptCredential is the identity a notify script runs as (see
// track.ScriptCredential: user, else keepalived_script, else ours).
var scriptCredential = track.ScriptCredential
