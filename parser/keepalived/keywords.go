package keepalived

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Helpers shared by the keyword handlers.

func (w *walker) arg(s stmt, i int) (string, bool) {
	if i >= len(s.Args) {
		w.d.Errorf(s.Pos, "%s requires an argument", s.Kw)
		return "", false
	}
	return s.Args[i], true
}

// intArg parses argument i in [lo, hi] with keepalived's message.
func (w *walker) intArg(s stmt, i, lo, hi int) (int, bool) {
	a, ok := w.arg(s, i)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(a)
	if err != nil {
		w.d.Errorf(s.Pos, "invalid number '%s'", a)
		return 0, false
	}
	if v < lo || v > hi {
		w.d.Errorf(s.Pos, "number '%s' outside range [%d, %d]", a, lo, hi)
		return v, false
	}
	return v, true
}

// secArg parses a time in seconds that may have a fraction (advert_int 0.1).
func (w *walker) secArg(s stmt, i int) (time.Duration, bool) {
	a, ok := w.arg(s, i)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(a, 64)
	if err != nil || f < 0 || f > 1e6 {
		w.d.Errorf(s.Pos, "invalid time '%s'", a)
		return 0, false
	}
	return time.Duration(f * float64(time.Second)).Round(time.Microsecond), true
}

func (w *walker) boolArg(s stmt) *bool {
	v := true
	if len(s.Args) > 0 {
		switch strings.ToLower(s.Args[0]) {
		case "false", "no", "off", "0":
			v = false
		case "true", "yes", "on", "1":
		default:
			w.d.Errorf(s.Pos, "invalid boolean '%s' for %s", s.Args[0], s.Kw)
		}
	}
	return &v
}

func ignore(*walker, stmt) {}

// topTable is the top level of keepalived.conf.
func topTable() table {
	return table{
		"global_defs":     {sub: func(*walker) table { return globalTable() }},
		"vrrp_script":     {handle: startScript, sub: func(*walker) table { return scriptTable() }, end: endScript},
		"vrrp_track_file": {handle: startTrackFile, sub: func(*walker) table { return trackFileTable() }},
		"track_file":      {handle: startTrackFile, sub: func(*walker) table { return trackFileTable() }},
		"vrrp_instance":   {handle: startInstance, sub: func(*walker) table { return instanceTable() }, end: endInstance},
		"vrrp_sync_group": {handle: startGroup, sub: func(*walker) table { return groupTable() }},
		"virtual_server":  {handle: startVS, sub: func(*walker) table { return vsTable() }},
		"virtual_server_group": {handle: startVSG, list: func(w *walker, s stmt) {
			w.vsg.Entries = append(w.vsg.Entries, strings.TrimSpace(s.Kw+" "+s.joinArgs()))
		}},
		"static_ipaddress": {list: func(w *walker, s stmt) {
			if v, ok := w.parseVIP(s); ok {
				w.cfg.StaticAddrs = append(w.cfg.StaticAddrs, v)
			}
		}},
		"static_routes": {list: func(w *walker, s stmt) {
			if r, ok := w.parseRoute(s, false); ok {
				w.cfg.StaticRoutes = append(w.cfg.StaticRoutes, r)
			}
		}},
		"static_rules": {list: func(w *walker, s stmt) {
			if r, ok := w.parseRule(s); ok {
				w.cfg.StaticRules = append(w.cfg.StaticRules, r)
			}
		}},
		"linkbeat_interfaces": {list: ignore},
		"garp_group": {sub: func(*walker) table {
			return table{"garp_interval": {}, "gna_interval": {}, "interface": {}, "interfaces": {list: ignore}}
		}},
		"net_namespace":   {handle: ignore},
		"instance":        {handle: ignore},
		"use_pid_dir":     {handle: ignore},
		"child_wait_time": {handle: ignore},
	}
}

func globalTable() table {
	g := func(f func(w *walker, g *Global, s stmt)) keyword {
		return keyword{handle: func(w *walker, s stmt) { f(w, &w.cfg.Global, s) }}
	}
	str := func(set func(g *Global, v string)) keyword {
		return g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				set(gl, v)
			}
		})
	}
	dur := func(set func(g *Global, v time.Duration)) keyword {
		return g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.secArg(s, 0); ok {
				set(gl, v)
			}
		})
	}
	flag := func(set func(g *Global)) keyword { return g(func(w *walker, gl *Global, s stmt) { set(gl) }) }
	t := table{
		"router_id":               str(func(g *Global, v string) { g.RouterID = v }),
		"notification_email":      {list: func(w *walker, s stmt) { w.cfg.Global.NotificationEmail = append(w.cfg.Global.NotificationEmail, s.Kw) }},
		"notification_email_from": str(func(g *Global, v string) { g.NotificationEmailFrom = v }),
		"smtp_server": g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				gl.SMTPServer = v
			}
			if len(s.Args) > 1 {
				if p, ok := w.intArg(s, 1, 1, 65535); ok {
					gl.SMTPPort = p
				}
			}
		}),
		"smtp_helo_name":         str(func(g *Global, v string) { g.SMTPHeloName = v }),
		"smtp_connect_timeout":   dur(func(g *Global, v time.Duration) { g.SMTPConnectTimeout = v }),
		"smtp_alert":             g(func(w *walker, gl *Global, s stmt) { gl.SMTPAlert = w.boolArg(s) }),
		"smtp_alert_vrrp":        g(func(w *walker, gl *Global, s stmt) { gl.SMTPAlertVRRP = w.boolArg(s) }),
		"smtp_alert_checker":     g(func(w *walker, gl *Global, s stmt) { gl.SMTPAlertChecker = w.boolArg(s) }),
		"enable_script_security": flag(func(g *Global) { g.EnableScriptSecurity = true }),
		"script_user": g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				gl.ScriptUser = v
			}
			if len(s.Args) > 1 {
				gl.ScriptGroup = s.Args[1]
			}
		}),
		"max_auto_priority": g(func(w *walker, gl *Global, s stmt) {
			gl.MaxAutoPriority = 99
			if len(s.Args) > 0 {
				if v, ok := w.intArg(s, 0, -1, 99); ok {
					gl.MaxAutoPriority = v
				}
			}
		}),
		"vrrp_version": g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.intArg(s, 0, 2, 3); ok {
				gl.VRRPVersion = v
			}
		}),
		"vrrp_strict":            flag(func(g *Global) { g.VRRPStrict = true }),
		"vrrp_iptables":          g(func(w *walker, gl *Global, s stmt) { gl.VRRPIPTables = s.Args }),
		"vrrp_garp_master_delay": dur(func(g *Global, v time.Duration) { g.VRRPGarpMasterDelay = v }),
		"vrrp_garp_master_repeat": g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.intArg(s, 0, 1, 255); ok {
				gl.VRRPGarpMasterRepeat = v
			}
		}),
		"vrrp_garp_master_refresh": dur(func(g *Global, v time.Duration) { g.VRRPGarpMasterRefresh = v }),
		"vrrp_garp_master_refresh_repeat": g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.intArg(s, 0, 1, 255); ok {
				gl.VRRPGarpRefreshRepeat = v
			}
		}),
		"vrrp_garp_interval":           dur(func(g *Global, v time.Duration) { g.VRRPGarpInterval = v }),
		"vrrp_gna_interval":            dur(func(g *Global, v time.Duration) { g.VRRPGnaInterval = v }),
		"vrrp_lower_prio_no_advert":    flag(func(g *Global) { g.VRRPLowerPrioNoAdvert = true }),
		"vrrp_higher_prio_send_advert": flag(func(g *Global) { g.VRRPHigherPrioSendAdvert = true }),
		"vrrp_skip_check_adv_addr":     flag(func(g *Global) { g.VRRPSkipCheckAdvAddr = true }),
		"vrrp_mcast_group4": g(func(w *walker, gl *Global, s stmt) {
			if a, ok := w.addrArg(s, 0); ok {
				gl.VRRPMcastGroup4 = a
			}
		}),
		"vrrp_mcast_group6": g(func(w *walker, gl *Global, s stmt) {
			if a, ok := w.addrArg(s, 0); ok {
				gl.VRRPMcastGroup6 = a
			}
		}),
		"enable_traps": flag(func(g *Global) { g.EnableTraps = true }),
		"notify_fifo":  str(func(g *Global, v string) { g.NotifyFifo = v }),
		"notify_fifo_script": g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				gl.NotifyFifoScript = v
			}
			if gl.ScriptWords == nil {
				gl.ScriptWords = map[string]ScriptWords{}
			}
			gl.ScriptWords[s.Kw] = s.scriptWords()
		}),
		"vrrp_notify_fifo": str(func(g *Global, v string) { g.VRRPNotifyFifo = v }),
		"vrrp_notify_fifo_script": g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				gl.VRRPNotifyFifoScript = v
			}
			if gl.ScriptWords == nil {
				gl.ScriptWords = map[string]ScriptWords{}
			}
			gl.ScriptWords[s.Kw] = s.scriptWords()
		}),
		"lvs_notify_fifo": str(func(g *Global, v string) { g.LVSNotifyFifo = v }),
		"lvs_notify_fifo_script": g(func(w *walker, gl *Global, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				gl.LVSNotifyFifoScript = v
			}
			if gl.ScriptWords == nil {
				gl.ScriptWords = map[string]ScriptWords{}
			}
			gl.ScriptWords[s.Kw] = s.scriptWords()
		}),
		"no_email_faults":              flag(func(g *Global) { g.NoEmailFaults = true }),
		"dynamic_interfaces":           flag(func(g *Global) { g.DynamicInterfaces = true }),
		"vrrp_notify_priority_changes": g(func(w *walker, gl *Global, s stmt) { gl.NotifyPriorityChanges = *w.boolArg(s) }),
	}
	// Accepted keywords whose effect is not needed by govrrpd or not
	// implemented yet; keepalived accepts them silently as well.
	for _, k := range []string{"lvs_id", "lvs_sync_daemon", "lvs_flush", "lvs_timeouts", "lvs_flush_onstop",
		"vrrp_check_unicast_src", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat",
		"vrrp_priority", "checker_priority", "bfd_priority", "vrrp_no_swap", "checker_no_swap",
		"vrrp_rt_priority", "checker_rt_priority", "vrrp_cpu_affinity", "checker_cpu_affinity",
		"vrrp_min_garp", "vrrp_startup_delay",
		"snmp_socket", "enable_snmp_vrrp", "enable_snmp_checker", "enable_snmp_rfc", "enable_snmp_rfcv2",
		"enable_snmp_rfcv3", "enable_snmp_keepalived", "enable_dbus", "process_names", "process_name",
		"vrrp_process_name", "checker_process_name", "checker_log_all_failures",
		"script_security", "umask", "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs",
		"checker_netlink_cmd_rcv_bufs", "checker_netlink_monitor_rcv_bufs", "vrrp_rx_bufs_policy",
		"vrrp_rx_bufs_multiplier", "default_interface", "local_name", "instance", "net_namespace",
		"vrrp_ipsets", "nftables", "nftables_priority", "nftables_counters", "nftables_ifindex",
		"vrrp_mcast_group4_addr", "random_seed", "reload_check_config", "reload_time_file",
		"config_save_dir", "data_use_instance", "json_version", "vrrp_startup_delay",
		"vrrp_garp_extra_if", "vrrp_gna_interval", "notify_fifo_script", "fifo_write_vrrp_states_on_reload",
		"vrrp_version", "vrrp_strict"} {
		if _, dup := t[k]; !dup {
			t[k] = keyword{handle: ignore}
		}
	}
	return t
}

func (w *walker) addrArg(s stmt, i int) (netip.Addr, bool) {
	a, ok := w.arg(s, i)
	if !ok {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(a)
	if err != nil {
		w.d.Errorf(s.Pos, "invalid address '%s' for %s", a, s.Kw)
		return netip.Addr{}, false
	}
	return ip, true
}

func startScript(w *walker, s stmt) {
	name := ""
	if len(s.Args) > 0 {
		name = s.Args[0]
	}
	w.script = &VRRPScript{Pos: s.Pos, Name: name, Interval: time.Second, Rise: 1, Fall: 1}
	w.cfg.Scripts = append(w.cfg.Scripts, w.script)
}

func endScript(w *walker) {
	sc := w.script
	// keepalived reports a vrrp_script's problems at its closing brace.
	for i := range w.refs {
		if w.refs[i].script == sc {
			w.refs[i].pos = w.closed
		}
	}
	if sc.Timeout == 0 {
		// keepalived: the default timeout is the interval.
		sc.Timeout = sc.Interval
	}
	if len(sc.Script) == 0 {
		w.d.Errorf(w.closed, "No script set for vrrp_script %s - removing", sc.Name)
		w.cfg.removeScript(sc)
	}
}

func scriptTable() table {
	sc := func(f func(w *walker, sc *VRRPScript, s stmt)) keyword {
		return keyword{handle: func(w *walker, s stmt) { f(w, w.script, s) }}
	}
	return table{
		"script": sc(func(w *walker, sc *VRRPScript, s stmt) {
			sc.Raw = s.joinArgs()
			sc.Script = splitScript(s)
		}),
		"interval": sc(func(w *walker, sc *VRRPScript, s stmt) {
			if v, ok := w.secArg(s, 0); ok && v > 0 {
				sc.Interval = v
			}
		}),
		"timeout": sc(func(w *walker, sc *VRRPScript, s stmt) {
			if v, ok := w.secArg(s, 0); ok {
				sc.Timeout = v
			}
		}),
		"weight": sc(func(w *walker, sc *VRRPScript, s stmt) {
			if v, ok := w.intArg(s, 0, -253, 253); ok {
				sc.Weight = v
			}
			if len(s.Args) > 1 && s.Args[1] == "reverse" {
				sc.Reverse = true
			}
		}),
		"rise": sc(func(w *walker, sc *VRRPScript, s stmt) {
			if v, ok := w.intArg(s, 0, 1, 1<<30); ok {
				sc.Rise = v
			}
		}),
		"fall": sc(func(w *walker, sc *VRRPScript, s stmt) {
			if v, ok := w.intArg(s, 0, 1, 1<<30); ok {
				sc.Fall = v
			}
		}),
		"user": sc(func(w *walker, sc *VRRPScript, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				sc.User = v
			}
			if len(s.Args) > 1 {
				sc.Group = s.Args[1]
			}
		}),
		"init_fail": sc(func(w *walker, sc *VRRPScript, s stmt) { sc.InitFail = true }),
	}
}

// splitScript returns the argv keepalived runs for a script line. A quoted
// string is split on white space with shell-like quoting inside it; an
// unquoted line runs only its first word (measured on keepalived 2.2.7:
// `script /path a b` runs /path without arguments).
func splitScript(s stmt) []string {
	if len(s.Args) == 0 {
		return nil
	}
	if !s.Quoted[0] {
		return []string{s.Args[0]}
	}
	var out []string
	var cur strings.Builder
	in := false
	quote := byte(0)
	str := s.Args[0]
	for i := 0; i < len(str); i++ {
		c := str[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(str) {
				i++
				cur.WriteByte(str[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(str):
			i++
			cur.WriteByte(str[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func startTrackFile(w *walker, s stmt) {
	tf := &TrackFile{Pos: s.Pos}
	if len(s.Args) > 0 {
		tf.Name = s.Args[0]
	}
	w.trackFile = tf
	w.cfg.TrackFiles = append(w.cfg.TrackFiles, tf)
}

func trackFileTable() table {
	return table{
		"file": {handle: func(w *walker, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				w.trackFile.File = v
			}
		}},
		"weight": {handle: func(w *walker, s stmt) {
			if v, ok := w.intArg(s, 0, -254, 254); ok {
				w.trackFile.Weight = v
			}
			w.trackFile.Reverse = len(s.Args) > 1 && s.Args[1] == "reverse"
		}},
		"init_file": {handle: func(w *walker, s stmt) {
			w.trackFile.InitFile = s.joinArgs()
			w.trackFile.InitFileSet = true
		}},
	}
}
