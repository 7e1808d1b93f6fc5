package keepalived

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

func startVS(w *walker, s stmt) {
	vs := &VirtualServer{Pos: s.Pos, Addr: s.joinArgs(), DelayLoop: 60 * time.Second, Quorum: 1}
	switch {
	case len(s.Args) >= 2 && s.Args[0] == "fwmark":
		vs.FWMark, _ = strconv.Atoi(s.Args[1])
	case len(s.Args) >= 2 && s.Args[0] == "group":
		vs.Group = s.Args[1]
	case len(s.Args) >= 1:
		ip, err := netip.ParseAddr(s.Args[0])
		if err != nil {
			w.d.Errorf(s.Pos, "Invalid virtual server IP address %s - skipping", s.Args[0])
		}
		vs.IP = ip
		if len(s.Args) > 1 {
			vs.Port, _ = strconv.Atoi(s.Args[1])
		}
	default:
		w.d.Errorf(s.Pos, "virtual_server requires an address")
	}
	w.vs = vs
	w.cfg.VirtualServers = append(w.cfg.VirtualServers, vs)
}

func startVSG(w *walker, s stmt) {
	g := &VirtualServerGroup{Pos: s.Pos}
	if len(s.Args) > 0 {
		g.Name = s.Args[0]
	}
	w.vsg = g
	w.cfg.VSGroups = append(w.cfg.VSGroups, g)
}

var lbAlgos = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true,
	"dh": true, "sh": true, "sed": true, "nq": true, "fo": true, "ovf": true, "mh": true, "twos": true}

func vsTable() table {
	vs := func(f func(w *walker, vs *VirtualServer, s stmt)) keyword {
		return keyword{handle: func(w *walker, s stmt) { f(w, w.vs, s) }}
	}
	t := table{
		"delay_loop": vs(func(w *walker, v *VirtualServer, s stmt) {
			if d, ok := w.secArg(s, 0); ok {
				v.DelayLoop = d
			}
		}),
		"lb_algo": vs(func(w *walker, v *VirtualServer, s stmt) {
			a, _ := w.arg(s, 0)
			if !lbAlgos[a] {
				w.d.Errorf(s.Pos, "Invalid lb_algo '%s' - ignoring", a)
				return
			}
			v.LBAlgo = a
		}),
		"lvs_sched": vs(func(w *walker, v *VirtualServer, s stmt) { v.LBAlgo, _ = w.arg(s, 0) }),
		"lb_kind": vs(func(w *walker, v *VirtualServer, s stmt) {
			a, _ := w.arg(s, 0)
			switch strings.ToUpper(a) {
			case "NAT", "DR", "TUN":
				v.LBKind = strings.ToUpper(a)
			default:
				w.d.Errorf(s.Pos, "Invalid lb_kind '%s' - ignoring", a)
			}
		}),
		"lvs_method": vs(func(w *walker, v *VirtualServer, s stmt) { v.LBKind, _ = w.arg(s, 0) }),
		"persistence_timeout": vs(func(w *walker, v *VirtualServer, s stmt) {
			v.PersistenceTimeout = 6 * time.Minute
			if len(s.Args) > 0 {
				if d, ok := w.secArg(s, 0); ok {
					v.PersistenceTimeout = d
				}
			}
		}),
		"protocol": vs(func(w *walker, v *VirtualServer, s stmt) {
			a, _ := w.arg(s, 0)
			switch strings.ToUpper(a) {
			case "TCP", "UDP", "SCTP":
				v.Protocol = strings.ToUpper(a)
				v.protocolSet = true
			default:
				w.d.Errorf(s.Pos, "Unknown protocol %s - ignoring", a)
			}
		}),
		"sorry_server": vs(func(w *walker, v *VirtualServer, s stmt) { v.SorryServer = s.joinArgs() }),
		"sorry_server_inhibit": vs(func(w *walker, v *VirtualServer, s stmt) {
			if v.SorryServer == "" {
				w.d.Errorf(s.Pos, "Ignoring sorry_server inhibit used before or without sorry_server")
				return
			}
			v.SorryServerInhibit = true
		}),
		"quorum": vs(func(w *walker, v *VirtualServer, s stmt) {
			if q, ok := w.intArg(s, 0, 1, 1<<30); ok {
				v.Quorum = q
			}
		}),
		"hysteresis": vs(func(w *walker, v *VirtualServer, s stmt) {
			if q, ok := w.intArg(s, 0, 0, 1<<30); ok {
				v.Hysteresis = q
			}
		}),
		"quorum_up":               vs(func(w *walker, v *VirtualServer, s stmt) { v.QuorumUp = s.joinArgs() }),
		"quorum_down":             vs(func(w *walker, v *VirtualServer, s stmt) { v.QuorumDown = s.joinArgs() }),
		"alpha":                   vs(func(w *walker, v *VirtualServer, s stmt) { v.Alpha = true }),
		"omega":                   vs(func(w *walker, v *VirtualServer, s stmt) { v.Omega = true }),
		"virtualhost":             vs(func(w *walker, v *VirtualServer, s stmt) { v.VirtualHost, _ = w.arg(s, 0) }),
		"real_server":             {handle: startRS, sub: func(*walker) table { return rsTable() }},
		"sorry_server_lvs_method": {handle: ignore},
		"ha_suspend":              {handle: ignore},
		"ops":                     {handle: ignore},
		"persistence_engine":      {handle: ignore},
		"persistence_granularity": {handle: ignore},
		"smtp_alert":              vs(func(w *walker, v *VirtualServer, s stmt) { v.SMTPAlert = w.boolArg(s) }),
		"retry":                   vs(func(w *walker, v *VirtualServer, s stmt) { v.Defaults.retry(w, s) }),
		"delay_before_retry":      vs(func(w *walker, v *VirtualServer, s stmt) { v.Defaults.delayBeforeRetry(w, s) }),
		"warmup":                  vs(func(w *walker, v *VirtualServer, s stmt) { v.Defaults.warmup(w, s) }),
		"connect_timeout":         vs(func(w *walker, v *VirtualServer, s stmt) { v.Defaults.connectTimeout(w, s) }),
		"inhibit_on_failure":      vs(func(w *walker, v *VirtualServer, s stmt) { v.InhibitOnFailure = true }),
		"ip_family":               {handle: ignore},
		"lvs_flags":               {handle: ignore},
		"lb_flags":                {handle: ignore},
		"flag-1":                  {handle: ignore}, "flag-2": {handle: ignore}, "flag-3": {handle: ignore},
		"sh-port": {handle: ignore}, "sh-fallback": {handle: ignore}, "mh-port": {handle: ignore}, "mh-fallback": {handle: ignore},
	}
	return t
}

func startRS(w *walker, s stmt) {
	rs := &RealServer{Pos: s.Pos, Weight: 1}
	if len(s.Args) > 0 {
		ip, err := netip.ParseAddr(s.Args[0])
		if err != nil {
			w.d.Errorf(s.Pos, "Invalid real server ip address %s - skipping", s.Args[0])
		}
		rs.IP = ip
	}
	if len(s.Args) > 1 {
		rs.Port, _ = strconv.Atoi(s.Args[1])
	}
	w.rs = rs
	w.vs.RealServers = append(w.vs.RealServers, rs)
}

var checkerKinds = []string{"TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "SMTP_CHECK", "DNS_CHECK", "PING_CHECK", "UDP_CHECK", "FILE_CHECK", "BFD_CHECK"}

func rsTable() table {
	rs := func(f func(w *walker, r *RealServer, s stmt)) keyword {
		return keyword{handle: func(w *walker, s stmt) { f(w, w.rs, s) }}
	}
	t := table{
		"weight": rs(func(w *walker, r *RealServer, s stmt) {
			if v, ok := w.intArg(s, 0, 0, 65535); ok {
				r.Weight = v
			}
		}),
		"inhibit_on_failure": rs(func(w *walker, r *RealServer, s stmt) { r.InhibitOnFailure = true }),
		"notify_up":          rs(func(w *walker, r *RealServer, s stmt) { r.NotifyUp = s.joinArgs() }),
		"notify_down":        rs(func(w *walker, r *RealServer, s stmt) { r.NotifyDown = s.joinArgs() }),
		"uthreshold":         {handle: ignore},
		"lthreshold":         {handle: ignore},
		"smtp_alert":         rs(func(w *walker, r *RealServer, s stmt) { r.SMTPAlert = w.boolArg(s) }),
		"delay_loop":         rs(func(w *walker, r *RealServer, s stmt) { r.Defaults.delayLoop(w, s) }),
		"retry":              rs(func(w *walker, r *RealServer, s stmt) { r.Defaults.retry(w, s) }),
		"delay_before_retry": rs(func(w *walker, r *RealServer, s stmt) { r.Defaults.delayBeforeRetry(w, s) }),
		"warmup":             rs(func(w *walker, r *RealServer, s stmt) { r.Defaults.warmup(w, s) }),
		"connect_timeout":    rs(func(w *walker, r *RealServer, s stmt) { r.Defaults.connectTimeout(w, s) }),
		"virtualhost":        rs(func(w *walker, r *RealServer, s stmt) { r.VirtualHost, _ = w.arg(s, 0) }),
		"alpha":              rs(func(w *walker, r *RealServer, s stmt) { r.Alpha = w.boolArg(s) }),
		"lvs_method":         {handle: ignore},
	}
	for _, k := range checkerKinds {
		kind := k
		t[kind] = keyword{
			handle: func(w *walker, s stmt) {
				w.checker = &Checker{Pos: s.Pos, Kind: kind, Options: map[string]string{}}
				w.rs.Checkers = append(w.rs.Checkers, w.checker)
			},
			sub: func(*walker) table { return checkerTable() },
		}
	}
	return t
}

func checkerTable() table {
	c := func(f func(w *walker, c *Checker, s stmt)) keyword {
		return keyword{handle: func(w *walker, s stmt) { f(w, w.checker, s) }}
	}
	t := table{
		"connect_ip": c(func(w *walker, ch *Checker, s stmt) {
			if a, ok := w.addrArg(s, 0); ok {
				ch.ConnectIP = a
			}
		}),
		"connect_port": c(func(w *walker, ch *Checker, s stmt) {
			if v, ok := w.intArg(s, 0, 1, 65535); ok {
				ch.ConnectPort = v
			}
		}),
		"connect_timeout":    c(func(w *walker, ch *Checker, s stmt) { ch.own.connectTimeout(w, s) }),
		"retry":              c(func(w *walker, ch *Checker, s stmt) { ch.own.retry(w, s) }),
		"delay_before_retry": c(func(w *walker, ch *Checker, s stmt) { ch.own.delayBeforeRetry(w, s) }),
		"delay_loop":         c(func(w *walker, ch *Checker, s stmt) { ch.own.delayLoop(w, s) }),
		"warmup":             c(func(w *walker, ch *Checker, s stmt) { ch.own.warmup(w, s) }),
		"nb_get_retry": c(func(w *walker, ch *Checker, s stmt) {
			w.d.Errorf(s.Pos, "nb_get_retry is deprecated - please use 'retry'")
			ch.own.retry(w, s)
		}),
		"misc_path":    c(func(w *walker, ch *Checker, s stmt) { ch.MiscPath = s.joinArgs() }),
		"misc_timeout": c(func(w *walker, ch *Checker, s stmt) { ch.MiscTimeout, _ = w.secArg(s, 0) }),
		"misc_dynamic": c(func(w *walker, ch *Checker, s stmt) { ch.MiscDynamic = true }),
		"virtualhost":  c(func(w *walker, ch *Checker, s stmt) { ch.VirtualHost, _ = w.arg(s, 0) }),
		"host": {
			// SMTP_CHECK host { connect_ip ... }: a nested target.
			handle: func(w *walker, s stmt) {
				h := &Checker{Pos: s.Pos, Kind: w.checker.Kind, ConnectTimeout: w.checker.ConnectTimeout, Options: map[string]string{}}
				w.checker.Hosts = append(w.checker.Hosts, h)
				w.hostParent = w.checker
				w.checker = h
			},
			sub: func(*walker) table { return checkerTable() },
			end: func(w *walker) { w.checker, w.hostParent = w.hostParent, nil },
		},
		"url": {
			handle: func(w *walker, s stmt) {
				w.checker.URLs = append(w.checker.URLs, URLCheck{})
				w.url = &w.checker.URLs[len(w.checker.URLs)-1]
			},
			sub: func(*walker) table {
				return table{
					"path":             {handle: func(w *walker, s stmt) { w.url.Path, _ = w.arg(s, 0) }},
					"digest":           {handle: func(w *walker, s stmt) { w.url.Digest, _ = w.arg(s, 0) }},
					"status_code":      {handle: func(w *walker, s stmt) { w.url.StatusCode = append(w.url.StatusCode, s.Args...) }},
					"virtualhost":      {handle: ignore},
					"regex":            {handle: ignore},
					"regex_no_match":   {handle: ignore},
					"regex_options":    {handle: ignore},
					"regex_stack":      {handle: ignore},
					"regex_min_offset": {handle: ignore},
					"regex_max_offset": {handle: ignore},
					"fast_recovery":    {handle: ignore},
				}
			},
		},
	}
	// Checker-specific keywords kept as written.
	for _, k := range []string{"bindto", "bind_port", "bind_if", "fwmark", "helo_name", "type", "name",
		"http_protocol", "enable_sni", "tls_compliant", "protocol", "require_reply", "payload", "ip_family",
		"alpha", "log_all_failures", "dynamic", "user", "timeout", "tcp_check"} {
		key := k
		t[key] = keyword{handle: func(w *walker, s stmt) { w.checker.Options[key] = s.joinArgs() }}
	}
	return t
}

// name is the virtual server as keepalived names it in messages.
func (vs *VirtualServer) name() string {
	switch {
	case vs.FWMark != 0:
		return fmt.Sprintf("FWM %d", vs.FWMark)
	case vs.Group != "":
		return fmt.Sprintf("[%s]:0", vs.Group)
	}
	proto := "none"
	if vs.protocolSet {
		proto = strings.ToLower(vs.Protocol)
	}
	return fmt.Sprintf("[%s]:%s:%d", vs.IP, proto, vs.Port)
}

// CheckDefaults are the checker settings keepalived 2.2.7 lets a
// virtual_server and a real_server give to the checkers below them; nil
// or zero means not written. A checker takes its own value, else its
// real server's, else its virtual server's, else its kind's default
// (check_api.c: retry 1, MISC_CHECK 0, DNS_CHECK 3; delay_before_retry
// 1 s, HTTP_GET/SSL_GET 3 s, DNS_CHECK delay_loop; warmup = delay_loop;
// connect_timeout 5 s).
type CheckDefaults struct {
	DelayLoop        time.Duration
	Retry            *int
	DelayBeforeRetry *time.Duration
	Warmup           *time.Duration
	ConnectTimeout   time.Duration
}

// inherit takes from p what c does not set.
func (c *CheckDefaults) inherit(p CheckDefaults) {
	if c.DelayLoop == 0 {
		c.DelayLoop = p.DelayLoop
	}
	if c.Retry == nil {
		c.Retry = p.Retry
	}
	if c.DelayBeforeRetry == nil {
		c.DelayBeforeRetry = p.DelayBeforeRetry
	}
	if c.Warmup == nil {
		c.Warmup = p.Warmup
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = p.ConnectTimeout
	}
}

func (c *CheckDefaults) retry(w *walker, s stmt) {
	if v, ok := w.intArg(s, 0, 0, 1<<30); ok {
		c.Retry = &v
	}
}

func (c *CheckDefaults) delayBeforeRetry(w *walker, s stmt) {
	if d, ok := w.secArg(s, 0); ok {
		c.DelayBeforeRetry = &d
	}
}

func (c *CheckDefaults) warmup(w *walker, s stmt) {
	if d, ok := w.secArg(s, 0); ok {
		c.Warmup = &d
	}
}

func (c *CheckDefaults) delayLoop(w *walker, s stmt) {
	if d, ok := w.secArg(s, 0); ok && d > 0 {
		c.DelayLoop = d
	}
}

func (c *CheckDefaults) connectTimeout(w *walker, s stmt) {
	if d, ok := w.secArg(s, 0); ok && d > 0 {
		c.ConnectTimeout = d
	}
}

// finishLVS applies keepalived 2.2.7's end-of-block defaults to every
// virtual server, with its messages: protocol UDP, scheduler wlc,
// forwarding NAT; and resolves each checker's timing from the checker,
// its real server and its virtual server.
func finishLVS(c *Config, d *Diagnostics) {
	for _, vs := range c.VirtualServers {
		if vs.FWMark == 0 && !vs.protocolSet {
			d.Errorf(Pos{}, "Virtual server %s: no protocol set - defaulting to UDP", vs.name())
			vs.Protocol, vs.protocolSet = "UDP", true
		}
		if vs.LBAlgo == "" {
			d.Errorf(Pos{}, "Virtual server %s: no scheduler set, setting default 'wlc'", vs.name())
			vs.LBAlgo = "wlc"
		}
		if vs.LBKind == "" {
			d.Errorf(Pos{}, "Virtual server %s: no forwarding method set, setting default NAT", vs.name())
			vs.LBKind = "NAT"
		}
		if vs.FWMark != 0 && vs.Protocol == "" {
			vs.Protocol = "TCP" // not used for fwmark services
		}
		for _, rs := range vs.RealServers {
			rs.InhibitOnFailure = rs.InhibitOnFailure || vs.InhibitOnFailure
			if rs.SMTPAlert == nil {
				rs.SMTPAlert = vs.SMTPAlert
			}
			if rs.Alpha == nil && vs.Alpha {
				rs.Alpha = &vs.Alpha
			}
			if rs.VirtualHost == "" {
				rs.VirtualHost = vs.VirtualHost
			}
			for _, ch := range rs.Checkers {
				ch.resolve(vs, rs)
				for _, h := range ch.Hosts {
					// An SMTP_CHECK host block inherits its checker's
					// own settings first.
					h.own.inherit(ch.own)
					h.resolve(vs, rs)
				}
			}
		}
	}
}

// resolve fills the checker's timing from its own settings, its real
// server's and its virtual server's, then its kind's defaults.
func (ch *Checker) resolve(vs *VirtualServer, rs *RealServer) {
	levels := []*CheckDefaults{&ch.own, &rs.Defaults, &vs.Defaults}
	ch.DelayLoop = vs.DelayLoop
	for _, l := range levels[:2] {
		if l.DelayLoop > 0 {
			ch.DelayLoop = l.DelayLoop
			break
		}
	}
	ch.Retry = 1
	switch ch.Kind {
	case "MISC_CHECK":
		ch.Retry = 0
	case "DNS_CHECK":
		ch.Retry = 3
	}
	for _, l := range levels {
		if l.Retry != nil {
			ch.Retry = *l.Retry
			break
		}
	}
	ch.DelayBeforeRetry = time.Second
	switch ch.Kind {
	case "HTTP_GET", "SSL_GET":
		ch.DelayBeforeRetry = 3 * time.Second
	case "DNS_CHECK":
		ch.DelayBeforeRetry = ch.DelayLoop
	}
	for _, l := range levels {
		if l.DelayBeforeRetry != nil {
			ch.DelayBeforeRetry = *l.DelayBeforeRetry
			break
		}
	}
	ch.Warmup = ch.DelayLoop
	for _, l := range levels {
		if l.Warmup != nil {
			ch.Warmup = *l.Warmup
			break
		}
	}
	ch.ConnectTimeout = 5 * time.Second
	for _, l := range levels {
		if l.ConnectTimeout > 0 {
			ch.ConnectTimeout = l.ConnectTimeout
			break
		}
	}
}
