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

// fromWords reads a notify keyword as the parser kept it (words and the
// quoting of the first), falling back to the joined text when the words
// are not there (a Config built by hand).
func fromWords(words map[string]keepalived.ScriptWords, kw, joined string) *Command {
	if sw, ok := words[kw]; ok && len(sw.Words) > 0 {
		c, err := ParseCommand(sw.Words, sw.Quoted)
		if err == nil {
			return c
		}
		return &Command{Argv: strings.Fields(strings.Join(sw.Words, " "))}
	}
	return fromJoined(joined)
}

// fromJoined reads a notify setting given as one string: it is split like
// a quoted string (the common `notify_master "/path/notify.sh master"`
// form).
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
		NoEmailFaults:        g.NoEmailFaults,
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
		w := in.ScriptWords
		cfg.Instances[in.Name] = Scripts{
			Master: fromWords(w, "notify_master", in.NotifyMaster), Backup: fromWords(w, "notify_backup", in.NotifyBackup),
			Fault: fromWords(w, "notify_fault", in.NotifyFault), Stop: fromWords(w, "notify_stop", in.NotifyStop),
			Generic: fromWords(w, "notify", in.Notify), MasterRxLowerPri: fromWords(w, "notify_master_rx_lower_pri", in.NotifyMasterRxLowerPri),
			SMTPAlert: alert(in.SMTPAlert),
		}
	}
	for _, sg := range c.SyncGroups {
		w := sg.ScriptWords
		cfg.Groups[sg.Name] = Scripts{
			Master: fromWords(w, "notify_master", sg.NotifyMaster), Backup: fromWords(w, "notify_backup", sg.NotifyBackup),
			Fault: fromWords(w, "notify_fault", sg.NotifyFault), Stop: fromWords(w, "notify_stop", sg.NotifyStop),
			Generic: fromWords(w, "notify", sg.Notify), SMTPAlert: alert(sg.SMTPAlert),
		}
	}
	for _, f := range []struct{ path, kw, script string }{{g.NotifyFifo, "notify_fifo_script", g.NotifyFifoScript}, {g.VRRPNotifyFifo, "vrrp_notify_fifo_script", g.VRRPNotifyFifoScript}} {
		if f.path == "" {
			continue
		}
		cfg.FIFOs = append(cfg.FIFOs, FIFO{Path: f.path, Script: fromWords(g.ScriptWords, f.kw, f.script)})
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
