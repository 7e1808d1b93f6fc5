package keepalived

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

func startInstance(w *walker, s stmt) {
	name := ""
	if len(s.Args) > 0 {
		name = s.Args[0]
	}
	w.inst = &Instance{Pos: s.Pos, Name: name, State: "BACKUP", Priority: 100, AdvertInt: time.Second, Version: w.cfg.Global.VRRPVersion}
	w.cfg.Instances = append(w.cfg.Instances, w.inst)
}

// endInstance applies what keepalived derives once the block is read.
func endInstance(w *walker) {
	in := w.inst
	if in.Interface == "" && !in.UnicastSrcIP.IsValid() {
		w.d.Errorf(in.Pos, "(%s) Unknown interface !", in.Name)
	}
	if in.VRID == 0 && !w.vridSeen[in] {
		w.d.Errorf(in.Pos, "(%s) the virtual router id must be set", in.Name)
	}
	for _, v := range in.VIPs {
		if v.Prefix.Addr().Is6() {
			in.IPv6 = true
			if in.Version == 2 {
				// keepalived uses VRRPv3 for IPv6 instances.
				in.Version = 3
			}
		}
	}
}

func instanceTable() table {
	in := func(f func(w *walker, in *Instance, s stmt)) keyword {
		return keyword{handle: func(w *walker, s stmt) { f(w, w.inst, s) }}
	}
	script := func(set func(in *Instance, v string)) keyword {
		return in(func(w *walker, i *Instance, s stmt) {
			set(i, s.joinArgs())
			if i.ScriptWords == nil {
				i.ScriptWords = map[string]ScriptWords{}
			}
			i.ScriptWords[s.Kw] = s.scriptWords()
		})
	}
	dur := func(set func(in *Instance, v time.Duration)) keyword {
		return in(func(w *walker, i *Instance, s stmt) {
			if v, ok := w.secArg(s, 0); ok {
				set(i, v)
			}
		})
	}
	flag := func(set func(in *Instance)) keyword { return in(func(w *walker, i *Instance, s stmt) { set(i) }) }
	t := table{
		"state": in(func(w *walker, i *Instance, s stmt) {
			v, _ := w.arg(s, 0)
			i.StateSet = true
			switch strings.ToUpper(v) {
			case "MASTER", "BACKUP":
				i.State = strings.ToUpper(v)
			default:
				w.d.Errorf(s.Pos, "(%s) unknown state '%s', defaulting to BACKUP", i.Name, v)
				i.State = "BACKUP"
			}
		}),
		"interface": in(func(w *walker, i *Instance, s stmt) {
			if v, ok := w.arg(s, 0); ok {
				i.Interface, i.InterfacePos = v, s.Pos
			}
		}),
		"lvs_sync_daemon_interface": in(func(w *walker, i *Instance, s stmt) {
			w.d.Errorf(s.Pos, "(%s) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.", i.Name)
			w.d.Errorf(s.Pos, "        Please use global lvs_sync_daemon")
		}),
		"virtual_router_id": in(func(w *walker, i *Instance, s stmt) {
			w.vridSeen[i] = true
			v, ok := w.intArg(s, 0, 1, 255)
			if !ok {
				w.d.Errorf(s.Pos, "(%s): VRID '%s' not valid - must be between 1 & 255", i.Name, strings.Join(s.Args, " "))
				return
			}
			i.VRID = v
		}),
		"priority": in(func(w *walker, i *Instance, s stmt) {
			v, ok := w.intArg(s, 0, 1, 255)
			if !ok {
				w.d.Errorf(s.Pos, "(%s) Priority not valid! must be between 1 & 255. Using default 100", i.Name)
				return
			}
			i.Priority = v
		}),
		"advert_int": in(func(w *walker, i *Instance, s stmt) {
			v, ok := w.secArg(s, 0)
			if !ok || v < 10*time.Millisecond || v > 255*time.Second {
				w.d.Errorf(s.Pos, "(%s) Advert interval (%s) not valid! Must be between 0.01 and 255 seconds. Using default 1", i.Name, strings.Join(s.Args, " "))
				return
			}
			i.AdvertInt = v
		}),
		"version": in(func(w *walker, i *Instance, s stmt) {
			if v, ok := w.intArg(s, 0, 2, 3); ok {
				i.Version = v
			}
		}),
		"authentication": {sub: func(*walker) table { return authTable() }},
		"virtual_ipaddress": {list: func(w *walker, s stmt) {
			v, ok := w.parseVIP(s)
			if !ok {
				return
			}
			if n := len(w.inst.VIPs); n > 0 && w.inst.VIPs[0].Prefix.Addr().Is4() != v.Prefix.Addr().Is4() {
				// keepalived: the first address sets the instance's family.
				w.d.Errorf(s.Pos, "(%s): address family must match VRRP instance [%s] - ignoring", w.inst.Name, s.Kw)
				return
			}
			w.inst.VIPs = append(w.inst.VIPs, v)
		}},
		"virtual_ipaddress_excluded": {list: func(w *walker, s stmt) {
			if v, ok := w.parseVIP(s); ok {
				w.inst.ExcludedVIPs = append(w.inst.ExcludedVIPs, v)
			}
		}},
		"virtual_routes": {list: func(w *walker, s stmt) {
			if r, ok := w.parseRoute(s, true); ok {
				w.inst.Routes = append(w.inst.Routes, r)
			}
		}},
		"virtual_rules": {list: func(w *walker, s stmt) {
			if r, ok := w.parseRule(s); ok {
				w.inst.Rules = append(w.inst.Rules, r)
			}
		}},
		"unicast_src_ip": in(func(w *walker, i *Instance, s stmt) {
			if a, ok := w.addrArg(s, 0); ok {
				i.UnicastSrcIP = a
			}
		}),
		"unicast_peer": {list: func(w *walker, s stmt) {
			a, err := netip.ParseAddr(s.Kw)
			if err != nil {
				w.d.Errorf(s.Pos, "Configuration error: VRRP instance[%s] malformed unicast peer address[%s]. Skipping...", w.inst.Name, s.Kw)
				return
			}
			w.inst.UnicastPeers = append(w.inst.UnicastPeers, a)
		}},
		"mcast_src_ip": in(func(w *walker, i *Instance, s stmt) {
			if a, ok := w.addrArg(s, 0); ok {
				i.McastSrcIP = a
			}
		}),
		"nopreempt": flag(func(i *Instance) { i.NoPreempt = true }),
		"preempt":   flag(func(i *Instance) { i.NoPreempt = false }),
		"preempt_delay": in(func(w *walker, i *Instance, s stmt) {
			v, ok := w.secArg(s, 0)
			if !ok {
				return
			}
			if v > 1000*time.Second {
				w.d.Errorf(s.Pos, "number '%s' outside range [0.000000, 1000.000000]", s.Args[0])
				w.d.Errorf(s.Pos, "(%s) Preempt_delay not valid! must be between 0-1000", i.Name)
				return
			}
			i.PreemptDelay = v
		}),
		"track_interface": {list: func(w *walker, s stmt) {
			ti := TrackedInterface{Pos: s.Pos, Name: s.Kw}
			w.trackWeight(s, &ti.Weight, &ti.HasWeight, &ti.Reverse)
			w.inst.TrackInterfaces = append(w.inst.TrackInterfaces, ti)
		}},
		"track_script": {list: func(w *walker, s stmt) {
			ts := TrackedScript{Pos: s.Pos, Name: s.Kw}
			w.trackWeight(s, &ts.Weight, &ts.HasWeight, &ts.Reverse)
			w.inst.TrackScripts = append(w.inst.TrackScripts, ts)
		}},
		"track_file": {list: func(w *walker, s stmt) {
			ts := TrackedScript{Name: s.Kw}
			w.trackWeight(s, &ts.Weight, &ts.HasWeight, &ts.Reverse)
			w.inst.TrackFiles = append(w.inst.TrackFiles, ts)
		}},
		"notify_master":              script(func(i *Instance, v string) { i.NotifyMaster = v }),
		"notify_backup":              script(func(i *Instance, v string) { i.NotifyBackup = v }),
		"notify_fault":               script(func(i *Instance, v string) { i.NotifyFault = v }),
		"notify_stop":                script(func(i *Instance, v string) { i.NotifyStop = v }),
		"notify":                     script(func(i *Instance, v string) { i.Notify = v }),
		"notify_master_rx_lower_pri": script(func(i *Instance, v string) { i.NotifyMasterRxLowerPri = v }),
		"smtp_alert":                 in(func(w *walker, i *Instance, s stmt) { i.SMTPAlert = w.boolArg(s) }),
		"notify_priority_changes":    in(func(w *walker, i *Instance, s stmt) { i.NotifyPriorityChanges = w.boolArg(s) }),
		"garp_master_delay":          dur(func(i *Instance, v time.Duration) { i.GarpMasterDelay = v }),
		"garp_master_repeat": in(func(w *walker, i *Instance, s stmt) {
			if v, ok := w.intArg(s, 0, 1, 255); ok {
				i.GarpMasterRepeat = v
			}
		}),
		"garp_master_refresh": dur(func(i *Instance, v time.Duration) { i.GarpMasterRefresh = v }),
		"garp_master_refresh_repeat": in(func(w *walker, i *Instance, s stmt) {
			if v, ok := w.intArg(s, 0, 1, 255); ok {
				i.GarpRefreshRepeat = v
			}
		}),
		"garp_lower_prio_delay": dur(func(i *Instance, v time.Duration) { i.GarpLowerPrioDelay = v }),
		"garp_lower_prio_repeat": in(func(w *walker, i *Instance, s stmt) {
			if v, ok := w.intArg(s, 0, 0, 255); ok {
				i.GarpLowerPrioRepeat = v
			}
		}),
		"lower_prio_no_advert":    in(func(w *walker, i *Instance, s stmt) { i.LowerPrioNoAdvert = w.boolArg(s) }),
		"higher_prio_send_advert": in(func(w *walker, i *Instance, s stmt) { i.HigherPrioSendAdvert = w.boolArg(s) }),
		"use_vmac": in(func(w *walker, i *Instance, s stmt) {
			i.UseVMAC = true
			if len(s.Args) > 0 {
				i.VMACName = s.Args[0]
			}
		}),
		"vmac_xmit_base":      flag(func(i *Instance) { i.VMACXmitBase = true }),
		"native_ipv6":         flag(func(i *Instance) { i.NativeIPv6 = true }),
		"dont_track_primary":  flag(func(i *Instance) { i.DontTrackPrimary = true }),
		"accept":              in(func(w *walker, i *Instance, s stmt) { v := true; i.Accept = &v }),
		"no_accept":           in(func(w *walker, i *Instance, s stmt) { v := false; i.Accept = &v }),
		"skip_check_adv_addr": in(func(w *walker, i *Instance, s stmt) { i.SkipCheckAdvAddr = w.boolArg(s) }),
		"strict_mode":         in(func(w *walker, i *Instance, s stmt) { i.Strict = *w.boolArg(s) }),
		"debug": in(func(w *walker, i *Instance, s stmt) {
			i.Debug = 1
			if len(s.Args) > 0 {
				i.Debug, _ = strconv.Atoi(s.Args[0])
			}
		}),
	}
	for _, k := range []string{"kernel_rx_buf_size", "unicast_ttl", "unicast_fault_no_peer", "old_unicast_checksum",
		"track_process", "track_bfd", "linkbeat_use_polling", "down_timer_adverts", "notify_deleted",
		"mcast_dst_ip", "check_unicast_src", "promote_secondaries", "no_accept", "vrrp_garp_lower_prio_repeat",
		"track_src_ip", "ipsets", "nftables", "version"} {
		if _, dup := t[k]; !dup {
			t[k] = keyword{handle: ignore}
		}
	}
	t["track_process"] = keyword{list: ignore}
	t["track_bfd"] = keyword{list: ignore}
	return t
}

// trackWeight parses "weight N [reverse]" after a tracked name.
func (w *walker) trackWeight(s stmt, weight *int, has, reverse *bool) {
	for i := 0; i < len(s.Args); i++ {
		switch s.Args[i] {
		case "weight":
			if i+1 < len(s.Args) {
				v, err := strconv.Atoi(s.Args[i+1])
				if err != nil || v < -254 || v > 254 {
					w.d.Errorf(s.Pos, "(%s) weight for %s must be between [-254..254] inclusive. Ignoring...", w.inst.Name, s.Kw)
					return
				}
				*weight, *has = v, true
				i++
			}
		case "reverse":
			*reverse = true
		default:
			w.d.Errorf(s.Pos, "(%s) unknown track option '%s' for %s", w.inst.Name, s.Args[i], s.Kw)
		}
	}
}

func authTable() table {
	return table{
		"auth_type": {handle: func(w *walker, s stmt) {
			v, _ := w.arg(s, 0)
			switch v {
			case "PASS", "AH":
				w.inst.AuthType = v
			default:
				w.d.Errorf(s.Pos, "(%s) unknown authentication type '%s'", w.inst.Name, v)
			}
		}},
		"auth_pass": {handle: func(w *walker, s stmt) {
			v, ok := w.arg(s, 0)
			if !ok {
				return
			}
			if len(v) > 8 {
				// keepalived truncates, and so must every peer.
				w.d.Errorf(s.Pos, "Truncating auth_pass to 8 characters")
				v = v[:8]
			}
			w.inst.AuthPass = v
		}},
	}
}

// parseVIP parses one virtual_ipaddress line:
// ADDR[/LEN] [brd X] [dev IF] [scope S] [label L] [no_track] [peer P] ...
func (w *walker) parseVIP(s stmt) (VIP, bool) {
	v := VIP{Pos: s.Pos, Raw: strings.TrimSpace(s.Kw + " " + s.joinArgs())}
	addr := s.Kw
	var pfx netip.Prefix
	var err error
	if strings.Contains(addr, "/") {
		pfx, err = netip.ParsePrefix(addr)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(addr)
		if err == nil {
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		w.d.Errorf(s.Pos, "VRRP parsed invalid IP %s. skipping IP...", addr)
		return v, false
	}
	v.Prefix = pfx
	a := s.Args
	for i := 0; i < len(a); i++ {
		val := ""
		if i+1 < len(a) {
			val = a[i+1]
		}
		switch a[i] {
		case "brd", "broadcast":
			v.Broadcast = val
			i++
		case "dev":
			v.Dev = val
			i++
		case "scope":
			v.Scope = val
			i++
		case "label":
			v.Label = val
			i++
		case "peer":
			v.Peer = val
			i++
		case "no_track":
			v.NoTrack = true
		case "home", "-nodad", "nodad", "noprefixroute", "autojoin", "track":
		case "preferred_lft", "valid_lft":
			i++
		default:
			w.d.Errorf(s.Pos, "Unknown configuration entry '%s' for ip address - ignoring", a[i])
		}
	}
	return v, true
}

func startGroup(w *walker, s stmt) {
	g := &SyncGroup{Pos: s.Pos}
	if len(s.Args) > 0 {
		g.Name = s.Args[0]
	}
	w.group = g
	w.cfg.SyncGroups = append(w.cfg.SyncGroups, g)
}

func groupTable() table {
	g := func(set func(g *SyncGroup, v string)) keyword {
		return keyword{handle: func(w *walker, s stmt) {
			set(w.group, s.joinArgs())
			if w.group.ScriptWords == nil {
				w.group.ScriptWords = map[string]ScriptWords{}
			}
			w.group.ScriptWords[s.Kw] = s.scriptWords()
		}}
	}
	return table{
		// Like keepalived, every word of the block is a member, several
		// on a line too (`group { VI_1 VI_2 }`).
		"group":         {list: func(w *walker, s stmt) { w.group.Group = append(append(w.group.Group, s.Kw), s.Args...) }},
		"notify_master": g(func(g *SyncGroup, v string) { g.NotifyMaster = v }),
		"notify_backup": g(func(g *SyncGroup, v string) { g.NotifyBackup = v }),
		"notify_fault":  g(func(g *SyncGroup, v string) { g.NotifyFault = v }),
		"notify_stop":   g(func(g *SyncGroup, v string) { g.NotifyStop = v }),
		"notify":        g(func(g *SyncGroup, v string) { g.Notify = v }),
		"smtp_alert":    {handle: func(w *walker, s stmt) { w.group.SMTPAlert = w.boolArg(s) }},
		"track_script": {list: func(w *walker, s stmt) {
			ts := TrackedScript{Name: s.Kw}
			for i := 0; i+1 < len(s.Args); i++ {
				if s.Args[i] == "weight" {
					ts.Weight, _ = strconv.Atoi(s.Args[i+1])
					ts.HasWeight = true
				}
			}
			w.group.TrackScripts = append(w.group.TrackScripts, ts)
		}},
		"global_tracking":            {handle: ignore},
		"sync_group_tracking_weight": {handle: func(w *walker, s stmt) { w.group.TrackingWeight = true }},
		"track_interface": {list: func(w *walker, s stmt) {
			ti := TrackedInterface{Pos: s.Pos, Name: s.Kw}
			w.trackWeight(s, &ti.Weight, &ti.HasWeight, &ti.Reverse)
			w.group.TrackInterfaces = append(w.group.TrackInterfaces, ti)
		}},
		"track_file": {list: func(w *walker, s stmt) {
			ts := TrackedScript{Name: s.Kw}
			w.trackWeight(s, &ts.Weight, &ts.HasWeight, &ts.Reverse)
			w.group.TrackFiles = append(w.group.TrackFiles, ts)
		}},
		"track_process":  {list: ignore},
		"track_bfd":      {list: ignore},
		"notify_deleted": {handle: ignore},
	}
}
