package lvs

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"hapair/checks"
	"hapair/parser/keepalived"
)

// maxWeight is IPVS_WEIGHT_MAX: weights are clamped to 0..maxWeight.
const maxWeight = 65535

// Ref names one checker: the virtual_server, its real_server and the
// checker's position in Probes(real_server), all counted from 0 in
// configuration order.
type Ref struct{ VS, RS, Check int }

// ActionKind says what an Action asks the runner to do.
type ActionKind int

// The kinds of Action.
const (
	ActAddService ActionKind = iota // create the virtual service(s)
	ActDelService                   // remove the virtual service(s)
	ActAddDest                      // add a real server (IPVS_CMD_NEW_DEST)
	ActUpdateDest                   // change its weight (IPVS_CMD_SET_DEST)
	ActDelDest                      // remove it (IPVS_CMD_DEL_DEST)
	ActScript                       // run a notify/quorum script
	ActAlert                        // send an SMTP alert
	ActLog                          // log a line
	ActFifo                         // write a line to notify_fifo / lvs_notify_fifo
)

// Action is one thing the Model decided. VS indexes the virtual_server;
// Dest is set for the *Dest kinds, Script for ActScript, Subject and Body
// for ActAlert, Msg for ActLog and ActFifo (the line without its newline).
type Action struct {
	Kind          ActionKind
	VS            int
	Dest          Dest
	Script        string
	Subject, Body string
	Msg           string
}

// String is a compact form used by tests and debug logs.
func (a Action) String() string {
	switch a.Kind {
	case ActAddService:
		return fmt.Sprintf("vs%d add-service", a.VS)
	case ActDelService:
		return fmt.Sprintf("vs%d del-service", a.VS)
	case ActAddDest:
		return fmt.Sprintf("vs%d add %s w%d", a.VS, netip.AddrPortFrom(a.Dest.Addr, a.Dest.Port), a.Dest.Weight)
	case ActUpdateDest:
		return fmt.Sprintf("vs%d set %s w%d", a.VS, netip.AddrPortFrom(a.Dest.Addr, a.Dest.Port), a.Dest.Weight)
	case ActDelDest:
		return fmt.Sprintf("vs%d del %s", a.VS, netip.AddrPortFrom(a.Dest.Addr, a.Dest.Port))
	case ActScript:
		return "script " + a.Script
	case ActAlert:
		return "alert " + a.Subject + " | " + a.Body
	case ActFifo:
		return "fifo " + a.Msg
	}
	return "log " + a.Msg
}

// Model is keepalived 2.2.7's checker logic (ipwrapper.c) as a pure state
// machine: Start, then Result for every check result and Transition for
// every checker that changed state, then Stop. Each returns the Actions to
// carry out, in order. It is not safe for concurrent use: one goroutine
// owns it.
type Model struct {
	routerID string
	mail     bool // notification_email and smtp_server are set
	vss      []*vsState
	started  bool
}

type vsState struct {
	name               string
	proto              string
	method             uint32
	port               uint16 // service port, for DR/TUN destinations
	fwmark             bool
	quorum, hysteresis int
	quorumUp           bool
	alert              bool
	omega              bool
	quorumUpScript     string
	quorumDownScript   string
	rss                []*rsState
	sorry              *rsState
}

type rsState struct {
	name               string
	addr               netip.Addr
	port               uint16
	iweight, weight    int
	inhibit            bool
	alive, set         bool
	progWeight         int // the weight last programmed while set
	failed             int
	alert              bool
	notifyUp, notifyDn string
	checks             []*chkState
}

type chkState struct {
	cfg      *keepalived.Checker
	disabled bool
	up       bool
	hasRun   bool
	alpha    bool
	dynamic  bool
	lastCode int
}

// NewModel builds the state of every virtual_server of cfg, with
// keepalived's validation of quorum and hysteresis. The returned lines
// are keepalived's warnings about the configuration.
func NewModel(cfg *keepalived.Config) (*Model, []string) {
	m := &Model{routerID: cfg.Global.RouterID}
	m.mail = len(cfg.Global.NotificationEmail) > 0 && cfg.Global.SMTPServer != ""
	var warn []string
	rsAlert, vsAlert := true, false
	if a := cfg.Global.SMTPAlert; a != nil {
		rsAlert, vsAlert = *a, *a
	}
	if a := cfg.Global.SMTPAlertChecker; a != nil {
		rsAlert, vsAlert = *a, *a
	}
	for _, vc := range cfg.VirtualServers {
		vs := &vsState{
			name:             VSName(vc),
			proto:            strings.ToLower(protoName(Protocol(vc.Protocol))),
			method:           ForwardingMethod(vc.LBKind),
			port:             uint16(vc.Port),
			fwmark:           vc.FWMark != 0,
			quorum:           max(vc.Quorum, 1),
			hysteresis:       vc.Hysteresis,
			alert:            vsAlert,
			omega:            vc.Omega,
			quorumUpScript:   vc.QuorumUp,
			quorumDownScript: vc.QuorumDown,
		}
		total := 0
		for _, rc := range vc.RealServers {
			rs := &rsState{
				addr:     rc.IP.Unmap(),
				port:     uint16(rc.Port),
				iweight:  rc.Weight,
				weight:   rc.Weight,
				inhibit:  rc.InhibitOnFailure,
				alert:    rsAlert,
				notifyUp: rc.NotifyUp,
				notifyDn: rc.NotifyDown,
			}
			rs.name = trio(rs.addr, vs.proto, rs.port)
			probes, skipped := Probes(rc)
			for _, k := range skipped {
				warn = append(warn, fmt.Sprintf("%s: %s of real server %s is not supported by govrrpd - ignoring it", rc.Pos, k, rs.name))
			}
			for _, p := range probes {
				vs := vc.Alpha
				if rc.Alpha != nil {
					vs = *rc.Alpha // real_server alpha (keepalived: the checker's default)
				}
				if v, ok := p.Options["alpha"]; ok {
					vs = v == "" || boolWord(v)
				}
				rs.checks = append(rs.checks, &chkState{cfg: p, up: true, alpha: vs, dynamic: p.Kind == "MISC_CHECK" && p.MiscDynamic})
			}
			total += realWeight(rs.weight)
			vs.rss = append(vs.rss, rs)
		}
		if vc.SorryServer != "" {
			if s, err := sorryServer(vc.SorryServer, vs); err != nil {
				warn = append(warn, fmt.Sprintf("%s: %v", vc.Pos, err))
			} else {
				vs.sorry = s
			}
		}
		if total > 0 && vs.quorum > total {
			warn = append(warn, fmt.Sprintf("Warning - quorum %d for %s exceeds total weight of real servers %d, reducing quorum to %d", vs.quorum, vs.name, total, total))
			vs.quorum = total
		}
		if vs.hysteresis >= vs.quorum {
			warn = append(warn, fmt.Sprintf("Virtual server %s: hysteresis %d >= quorum %d; setting hysteresis to %d", vs.name, vs.hysteresis, vs.quorum, vs.quorum-1))
			vs.hysteresis = vs.quorum - 1
		}
		m.vss = append(m.vss, vs)
	}
	return m, warn
}

func sorryServer(spec string, vs *vsState) (*rsState, error) {
	f := strings.Fields(spec)
	a, err := netip.ParseAddr(f[0])
	if err != nil {
		return nil, fmt.Errorf("Invalid sorry server IP address %s - skipping", f[0])
	}
	s := &rsState{addr: a.Unmap(), iweight: 1, weight: 1}
	if len(f) > 1 {
		p, err := strconv.Atoi(f[1])
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("Invalid sorry server port %s - skipping", f[1])
		}
		s.port = uint16(p)
	}
	if vs.fwmark {
		s.port = 0
	}
	s.name = trio(s.addr, vs.proto, s.port)
	return s, nil
}

func boolWord(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "on", "true", "1":
		return true
	}
	return false
}

// VSName formats a virtual_server as keepalived's FMT_VS does in logs,
// alerts and FIFO lines: "[192.0.2.1]:tcp:80", "FWM 7", "[group]:0".
func VSName(vs *keepalived.VirtualServer) string {
	switch {
	case vs.FWMark != 0:
		return fmt.Sprintf("FWM %d", vs.FWMark)
	case vs.Group != "":
		return fmt.Sprintf("[%s]:%d", vs.Group, vs.Port)
	}
	return trio(vs.IP.Unmap(), strings.ToLower(protoName(Protocol(vs.Protocol))), uint16(vs.Port))
}

// trio is keepalived's inet_sockaddrtotrio: "[addr]:proto:port".
func trio(a netip.Addr, proto string, port uint16) string {
	return fmt.Sprintf("[%s]:%s:%d", a, proto, port)
}

func realWeight(w int) int { return min(max(w, 0), maxWeight) }

// Disable makes checker r count as passing for good, as if it were not
// configured (keepalived drops checkers it cannot run at configuration
// time). Call it before Start.
func (m *Model) Disable(r Ref) {
	if _, _, c := m.lookup(r); c != nil && !m.started {
		c.alpha, c.up, c.dynamic, c.disabled = false, true, false, true
	}
}

// CheckerUp reports whether checker r is up now (a Monitor for it starts
// in that state).
func (m *Model) CheckerUp(r Ref) bool {
	_, _, c := m.lookup(r)
	return c != nil && c.up
}

// Table returns, per virtual_server, the destinations the Model has put
// in IPVS (real servers and the sorry server) with the weights it
// programmed: what the kernel's table holds if every call succeeded.
func (m *Model) Table() [][]Dest {
	out := make([][]Dest, len(m.vss))
	for vi, vs := range m.vss {
		for _, rs := range vs.rss {
			if rs.set {
				out[vi] = append(out[vi], m.dest(vs, rs, rs.progWeight))
			}
		}
		if s := vs.sorry; s != nil && s.set {
			out[vi] = append(out[vi], m.dest(vs, s, s.progWeight))
		}
	}
	return out
}

// Reload takes over the state of old, the Model of the previous
// configuration, as keepalived's reload does (clear_diff_services,
// migrate_checkers): a virtual server with the same name keeps its quorum
// state, a real server with the same address and port keeps its alive
// state, table entry and effective weight, and a checker at the same
// position with the same kind keeps its state. New real servers start as
// in Start, and the quorum of every virtual server is evaluated again.
// The returned Actions include the IPVS calls of that evaluation; a
// runner reconciles the kernel table by comparing old.Table() with
// Table() instead, and carries out the rest (scripts, alerts, logs).
func (m *Model) Reload(old *Model) []Action {
	var out []Action
	m.started = true
	// What the new configuration drops: live servers are reported gone
	// ("=> Removing <="), virtual servers with quorum lose it.
	var gone []Action
	for _, ovs := range old.vss {
		var nvs *vsState
		for _, v := range m.vss {
			if v.name == ovs.name {
				nvs = v
			}
		}
		for _, ors := range ovs.rss {
			kept := false
			if nvs != nil {
				for _, r := range nvs.rss {
					kept = kept || (r.addr == ors.addr && r.port == ors.port)
				}
			}
			if !kept && ors.alive {
				gone = append(gone, Action{Kind: ActLog, Msg: fmt.Sprintf("service %s no longer exist", ors.name)})
				gone = old.rsGone(gone, ovs, ors, "=> Removing <=")
			}
		}
		if nvs == nil && ovs.quorumUp {
			th := ovs.quorum - ovs.hysteresis
			gone = old.vsGone(gone, ovs, fmt.Sprintf("=> Lost quorum %d+%d=%d <= %d <=", ovs.quorum, ovs.hysteresis, th, 0))
		}
	}
	for _, a := range gone {
		a.VS = -1 // the old model's index means nothing now
		out = append(out, a)
	}
	for vi, vs := range m.vss {
		var ovs *vsState
		for _, o := range old.vss {
			if o.name == vs.name {
				ovs = o
			}
		}
		if ovs != nil {
			vs.quorumUp = ovs.quorumUp
			if vs.sorry != nil && ovs.sorry != nil && vs.sorry.addr == ovs.sorry.addr && vs.sorry.port == ovs.sorry.port {
				vs.sorry.alive, vs.sorry.set, vs.sorry.progWeight = ovs.sorry.alive, ovs.sorry.set, ovs.sorry.progWeight
			}
		} else {
			out = append(out, Action{Kind: ActAddService, VS: vi})
		}
		for _, rs := range vs.rss {
			var ors *rsState
			if ovs != nil {
				for _, o := range ovs.rss {
					if o.addr == rs.addr && o.port == rs.port {
						ors = o
					}
				}
			}
			if ors == nil {
				for _, c := range rs.checks {
					if c.alpha {
						c.up = false
						rs.failed++
					}
				}
				if (rs.failed == 0 && !rs.alive) || (rs.inhibit && !rs.set) {
					out = m.ipvsAdd(out, vi, rs)
					if rs.failed == 0 {
						rs.alive = true
					}
				}
				continue
			}
			rs.alive, rs.set, rs.progWeight = ors.alive, ors.set, ors.progWeight
			if ors.weight != ors.iweight { // a misc_dynamic weight stays
				rs.weight = ors.weight
			}
			for ci, c := range rs.checks {
				if ci < len(ors.checks) && ors.checks[ci].cfg.Kind == c.cfg.Kind && !c.disabled {
					oc := ors.checks[ci]
					c.up, c.hasRun, c.lastCode = oc.up, oc.hasRun, oc.lastCode
				} else if c.alpha {
					c.up = false
				}
				if !c.up {
					rs.failed++
				}
			}
			switch {
			case rs.failed == 0 && !rs.alive:
				out = m.svrState(out, vi, rs, true)
				continue
			case rs.failed > 0 && rs.alive:
				out = m.svrState(out, vi, rs, false)
				continue
			}
			// Same state: bring the entry in line with the new settings
			// (weight, inhibit_on_failure, a sorry server gone or new).
			sorryActive := vs.sorry != nil && vs.sorry.alive
			want, w := false, 0
			switch {
			case rs.alive && !sorryActive:
				want, w = true, realWeight(rs.weight)
			case rs.inhibit:
				want = true
			}
			switch {
			case want && !rs.set:
				rs.set, rs.progWeight = true, w
				out = append(out, Action{Kind: ActAddDest, VS: vi, Dest: m.dest(vs, rs, w)})
			case want && rs.progWeight != w:
				rs.progWeight = w
				out = append(out, Action{Kind: ActUpdateDest, VS: vi, Dest: m.dest(vs, rs, w)})
			case !want && rs.set:
				rs.set = false
				out = append(out, Action{Kind: ActDelDest, VS: vi, Dest: m.dest(vs, rs, rs.progWeight)})
			}
		}
		out = m.updateQuorum(out, vi, true)
	}
	return out
}

// Start brings up every virtual service as keepalived's init_services
// does: the service is created, real servers whose checkers all start up
// (not alpha) are added with their weight, inhibit_on_failure servers that
// start down are added with weight 0, and the quorum is evaluated (which
// may bring in the sorry server and runs quorum_up or quorum_down).
func (m *Model) Start() []Action {
	var out []Action
	m.started = true
	for vi, vs := range m.vss {
		out = append(out, Action{Kind: ActAddService, VS: vi})
		for _, rs := range vs.rss {
			for _, c := range rs.checks {
				if c.alpha {
					c.up = false
					rs.failed++
				}
			}
			if (rs.failed == 0 && !rs.alive) || (rs.inhibit && !rs.set) {
				out = m.ipvsAdd(out, vi, rs)
				if rs.failed == 0 {
					rs.alive = true
				}
			}
		}
		out = m.updateQuorum(out, vi, true)
	}
	return out
}

// Result records one check result of checker r, before any Transition the
// same result causes. It applies MISC_CHECK misc_dynamic weights (exit
// 0 restores the configured weight, 2..255 sets weight = status-2; the
// caller counts those as successes) and, on a checker's first result,
// keepalived's first-run notification: an alpha-mode checker that is
// confirmed down runs notify_down.
func (m *Model) Result(r Ref, res checks.Result) []Action {
	vs, rs, c := m.lookup(r)
	if c == nil || c.disabled {
		return nil
	}
	var out []Action
	if c.dynamic && res.Status.OK() {
		code := res.Code
		if code != c.lastCode {
			w := rs.iweight
			if code >= 2 {
				w = code - 2
			}
			c.lastCode = code
			out = m.updateWeight(out, r.VS, rs, w)
		}
	} else if c.dynamic {
		c.lastCode = res.Code
	}
	if !c.hasRun {
		c.hasRun = true
		if !res.Status.OK() && !c.up {
			out = m.rsNotifies(out, vs, rs)
		}
	}
	return out
}

// Transition records that checker r changed state (keepalived's
// update_svr_checker_state): a real server goes down when its first checker
// fails and comes back when its last failed checker recovers. res is the
// result that caused it; it picks the alert text.
func (m *Model) Transition(r Ref, up bool, res checks.Result) []Action {
	vs, rs, c := m.lookup(r)
	if c == nil || c.disabled || c.up == up {
		return nil
	}
	var out []Action
	c.hasRun = true
	if up {
		if rs.failed <= 1 {
			out = m.svrState(out, r.VS, rs, true)
		}
		c.up = true
		if rs.failed > 0 {
			rs.failed--
		}
	} else {
		if rs.failed == 0 {
			out = m.svrState(out, r.VS, rs, false)
		}
		c.up = false
		rs.failed++
	}
	if rs.alert && m.mail {
		state := "DOWN"
		if rs.alive {
			state = "UP"
		}
		out = append(out, Action{Kind: ActAlert, VS: r.VS,
			Subject: fmt.Sprintf("[%s] Realserver %s of virtual server %s - %s", m.routerID, rs.name, vs.name, state),
			Body:    alertBody(c.cfg.Kind, up, res)})
	}
	return out
}

// alertBody is the body keepalived's checkers send on a state change.
func alertBody(kind string, up bool, res checks.Result) string {
	switch kind {
	case "TCP_CHECK":
		if up {
			return "=> TCP CHECK succeed on service <="
		}
		return "=> TCP CHECK failed on service <="
	case "PING_CHECK":
		if up {
			return "=> ICMP CHECK succeed on service <="
		}
		return "=> ICMP CHECK failed on service <="
	case "MISC_CHECK":
		switch {
		case up:
			return "=> MISC CHECK succeeded on service <="
		case res.Status == checks.StatusProcTOUT:
			return "=> MISC CHECK timed out on service <="
		}
		return "=> MISC CHECK failed on service <="
	case "SMTP_CHECK":
		if up {
			return "=> CHECK succeed on service <="
		}
		info := res.Info
		if info == "" {
			info = res.Status.Description()
		}
		return "=> CHECK failed on service : " + info + " <="
	}
	if up {
		return "=> CHECK succeed on service <="
	}
	return "=> CHECK failed on service : HTTP request failed <="
}

// Stop removes the real servers and the services, as keepalived's
// clear_services does at shutdown: inhibited servers are deleted too, and
// in omega mode the notify_down and quorum_down scripts run.
func (m *Model) Stop() []Action {
	var out []Action
	if !m.started {
		return nil
	}
	m.started = false
	for vi, vs := range m.vss {
		if s := vs.sorry; s != nil && s.set {
			out = append(out, Action{Kind: ActDelDest, VS: vi, Dest: m.dest(vs, s, s.weight)})
			s.set, s.alive = false, false
		}
		for _, rs := range vs.rss {
			out = append(out, Action{Kind: ActLog, VS: vi, Msg: fmt.Sprintf("Shutting down %sservice %s from VS %s", ifs(rs.inhibit && !rs.alive, "(inhibited) ", ""), rs.name, vs.name)})
			if rs.set {
				out = append(out, Action{Kind: ActDelDest, VS: vi, Dest: m.dest(vs, rs, realWeight(rs.weight))})
				rs.set = false
			}
			if rs.alive {
				if vs.omega {
					out = m.rsGone(out, vs, rs, "=> Shutting down <=")
				}
				rs.alive = false
			}
		}
		if vs.quorumUp {
			if vs.omega {
				out = m.vsGone(out, vs, "=> Shutting down <=")
			}
			vs.quorumUp = false
		}
		out = append(out, Action{Kind: ActDelService, VS: vi})
	}
	return out
}

// rsGone reports a live real server leaving with its virtual server's
// configuration (shutdown in omega mode, or removed by a reload):
// notify_down, the FIFO line and an alert with body.
func (m *Model) rsGone(out []Action, vs *vsState, rs *rsState, body string) []Action {
	rs.alive = false
	out = m.rsNotifies(out, vs, rs)
	if rs.alert && m.mail {
		out = append(out, Action{Kind: ActAlert, VS: m.index(vs),
			Subject: fmt.Sprintf("[%s] Realserver %s of virtual server %s - DOWN", m.routerID, rs.name, vs.name), Body: body})
	}
	return out
}

// vsGone reports a virtual server with quorum going away: quorum_down,
// the FIFO line and an alert with body.
func (m *Model) vsGone(out []Action, vs *vsState, body string) []Action {
	vs.quorumUp = false
	vi := m.index(vs)
	if vs.quorumDownScript != "" {
		out = append(out, Action{Kind: ActScript, VS: vi, Script: vs.quorumDownScript})
	}
	out = append(out, Action{Kind: ActFifo, VS: vi, Msg: fmt.Sprintf("VS %s DOWN", vs.name)})
	if vs.alert && m.mail {
		out = append(out, Action{Kind: ActAlert, VS: vi, Subject: fmt.Sprintf("[%s] Virtualserver %s - DOWN", m.routerID, vs.name), Body: body})
	}
	return out
}

func ifs(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

func (m *Model) lookup(r Ref) (*vsState, *rsState, *chkState) {
	if r.VS < 0 || r.VS >= len(m.vss) {
		return nil, nil, nil
	}
	vs := m.vss[r.VS]
	if r.RS < 0 || r.RS >= len(vs.rss) {
		return nil, nil, nil
	}
	rs := vs.rss[r.RS]
	if r.Check < 0 || r.Check >= len(rs.checks) {
		return nil, nil, nil
	}
	return vs, rs, rs.checks[r.Check]
}

// dest is the IPVS destination of rs in vs: DR and TUN destinations use
// the service's port (0 for fwmark services), NAT ones the real server's.
func (m *Model) dest(vs *vsState, rs *rsState, weight int) Dest {
	d := Dest{Addr: rs.addr, Port: rs.port, Weight: weight, Method: vs.method}
	if vs.method != FwdMasq {
		d.Port = vs.port
		if vs.fwmark {
			d.Port = 0
		}
	}
	return d
}

// ipvsAdd is ipvs_cmd(ADD_DEST): an inhibited server already in the table
// gets its weight back; a new entry of an inhibited, failed server gets
// weight 0.
func (m *Model) ipvsAdd(out []Action, vi int, rs *rsState) []Action {
	vs := m.vss[vi]
	w := realWeight(rs.weight)
	if rs.inhibit && rs.set {
		rs.progWeight = w
		return append(out, Action{Kind: ActUpdateDest, VS: vi, Dest: m.dest(vs, rs, w)})
	}
	if !rs.set {
		rs.set = true
		if rs.inhibit && rs.failed > 0 {
			w = 0
		}
	}
	rs.progWeight = w
	return append(out, Action{Kind: ActAddDest, VS: vi, Dest: m.dest(vs, rs, w)})
}

// ipvsDel is ipvs_cmd(DEL_DEST): an inhibited server stays with weight 0.
func (m *Model) ipvsDel(out []Action, vi int, rs *rsState) []Action {
	vs := m.vss[vi]
	if rs.inhibit {
		rs.progWeight = 0
		return append(out, Action{Kind: ActUpdateDest, VS: vi, Dest: m.dest(vs, rs, 0)})
	}
	rs.set = false
	return append(out, Action{Kind: ActDelDest, VS: vi, Dest: m.dest(vs, rs, realWeight(rs.weight))})
}

// svrState is perform_svr_state: add or remove the server, unless the
// sorry server stands in for the pool, then notify and re-evaluate the
// quorum.
func (m *Model) svrState(out []Action, vi int, rs *rsState, alive bool) []Action {
	vs := m.vss[vi]
	if rs.alive == alive {
		return out
	}
	verb, prep := "Remov", "from"
	switch {
	case alive && rs.inhibit:
		verb, prep = "Enabl", "of"
	case alive:
		verb, prep = "Add", "to"
	case rs.inhibit:
		verb, prep = "Disabl", "of"
	}
	out = append(out, Action{Kind: ActLog, VS: vi, Msg: fmt.Sprintf("%sing service %s %s VS %s", verb, rs.name, prep, vs.name)})
	if vs.quorumUp || vs.sorry == nil || !vs.sorry.alive {
		if alive {
			out = m.ipvsAdd(out, vi, rs)
		} else {
			out = m.ipvsDel(out, vi, rs)
		}
	}
	rs.alive = alive
	out = m.rsNotifies(out, vs, rs)
	return m.updateQuorum(out, vi, false)
}

// rsNotifies runs notify_up or notify_down for the server's current state
// and writes its FIFO line, "RS [rs]:tcp:80 [vs]:tcp:80 UP" (do_rs_notifies).
func (m *Model) rsNotifies(out []Action, vs *vsState, rs *rsState) []Action {
	s, state := rs.notifyDn, "DOWN"
	if rs.alive {
		s, state = rs.notifyUp, "UP"
	}
	vi := m.index(vs)
	if s != "" {
		out = append(out, Action{Kind: ActScript, VS: vi, Script: s})
	}
	return append(out, Action{Kind: ActFifo, VS: vi, Msg: fmt.Sprintf("RS %s %s %s", rs.name, vs.name, state)})
}

func (m *Model) index(vs *vsState) int {
	for i, v := range m.vss {
		if v == vs {
			return i
		}
	}
	return -1
}

// updateWeight is update_svr_wgt: the new weight takes effect at once when
// the server is in the pool, alive and not replaced by the sorry server.
func (m *Model) updateWeight(out []Action, vi int, rs *rsState, w int) []Action {
	vs := m.vss[vi]
	oldW, newW := realWeight(rs.weight), realWeight(w)
	rs.weight = w
	if oldW == newW {
		return out
	}
	out = append(out, Action{Kind: ActLog, VS: vi, Msg: fmt.Sprintf("Changing weight from %d to %d for %sactive service %s of VS %s", oldW, newW, ifs(rs.alive, "", "in"), rs.name, vs.name)})
	if rs.set && rs.alive && (vs.quorumUp || vs.sorry == nil || !vs.sorry.alive) {
		rs.progWeight = newW
		out = append(out, Action{Kind: ActUpdateDest, VS: vi, Dest: m.dest(vs, rs, newW)})
	}
	return m.updateQuorum(out, vi, false)
}

func (vs *vsState) liveWeight() int {
	n := 0
	for _, rs := range vs.rss {
		if rs.alive {
			n += realWeight(rs.weight)
		}
	}
	return n
}

// updateQuorum is update_quorum_state: quorum is gained when the live
// weight reaches quorum+hysteresis and lost when it drops below
// quorum-hysteresis (or to 0). Losing it with a sorry_server moves the
// live servers out and the sorry server in; gaining it moves them back.
func (m *Model) updateQuorum(out []Action, vi int, init bool) []Action {
	vs := m.vss[vi]
	sum := vs.liveWeight()
	threshold := vs.quorum + vs.hysteresis
	if vs.quorumUp {
		threshold = vs.quorum - vs.hysteresis
	}
	log := func(msg string) { out = append(out, Action{Kind: ActLog, VS: vi, Msg: msg}) }
	switch {
	case !vs.quorumUp && sum >= threshold:
		vs.quorumUp = true
		log(fmt.Sprintf("Gained quorum %d+%d=%d <= %d for VS %s", vs.quorum, vs.hysteresis, threshold, sum, vs.name))
		if s := vs.sorry; s != nil && s.alive {
			log(fmt.Sprintf("%s sorry server %s from VS %s", ifs(s.inhibit, "Disabling", "Removing"), s.name, vs.name))
			out = m.ipvsDel(out, vi, s)
			s.alive = false
			out = m.quorumState(out, vi, true)
		}
		out = m.vsNotifies(out, vi, init, threshold, sum)
	case (vs.quorumUp && (sum == 0 || sum < threshold)) || (init && !vs.quorumUp && vs.sorry != nil && !vs.sorry.alive):
		vs.quorumUp = false
		log(fmt.Sprintf("%s %d-%d=%d > %d for VS %s", ifs(init, "Starting with quorum down", "Lost quorum"), vs.quorum, vs.hysteresis, threshold, sum, vs.name))
		if s := vs.sorry; s != nil && !s.alive {
			log(fmt.Sprintf("%s sorry server %s to VS %s", ifs(s.inhibit, "Enabling", "Adding"), s.name, vs.name))
			out = m.quorumState(out, vi, false)
			out = m.ipvsAdd(out, vi, s)
			s.alive = true
		}
		out = m.vsNotifies(out, vi, init, threshold, sum)
	}
	return out
}

// quorumState is perform_quorum_state: add or remove every alive server.
func (m *Model) quorumState(out []Action, vi int, add bool) []Action {
	vs := m.vss[vi]
	out = append(out, Action{Kind: ActLog, VS: vi, Msg: fmt.Sprintf("%s the pool for VS %s", ifs(add, "Adding alive servers to", "Removing alive servers from"), vs.name)})
	for _, rs := range vs.rss {
		if !rs.alive {
			continue
		}
		if add {
			out = m.ipvsAdd(out, vi, rs)
		} else {
			out = m.ipvsDel(out, vi, rs)
		}
	}
	return out
}

// vsNotifies runs quorum_up or quorum_down, writes the FIFO line
// "VS [vs]:tcp:80 UP" and sends the virtual server alert (do_vs_notifies).
func (m *Model) vsNotifies(out []Action, vi int, init bool, threshold, sum int) []Action {
	vs := m.vss[vi]
	s := vs.quorumDownScript
	if vs.quorumUp {
		s = vs.quorumUpScript
	}
	if s != "" {
		out = append(out, Action{Kind: ActScript, VS: vi, Script: s})
	}
	out = append(out, Action{Kind: ActFifo, VS: vi, Msg: fmt.Sprintf("VS %s %s", vs.name, ifs(vs.quorumUp, "UP", "DOWN"))})
	if vs.alert && m.mail {
		what := ifs(init, "Starting with quorum down", "Lost quorum")
		state := "DOWN"
		if vs.quorumUp {
			what, state = ifs(init, "Starting with quorum up", "Gained quorum"), "UP"
		}
		out = append(out, Action{Kind: ActAlert, VS: vi,
			Subject: fmt.Sprintf("[%s] Virtualserver %s - %s", m.routerID, vs.name, state),
			Body:    fmt.Sprintf("=> %s %d+%d=%d <= %d <=", what, vs.quorum, vs.hysteresis, threshold, sum)})
	}
	return out
}

// RealServerState is what the Model knows of one real server.
type RealServerState struct {
	Name   string // "[192.0.2.21]:tcp:80"
	Alive  bool
	InIPVS bool // in the IPVS table (with weight 0 when inhibited and down)
	Weight int  // effective weight
	Failed int  // checkers currently failed
}

// VirtualServerState is what the Model knows of one virtual server.
type VirtualServerState struct {
	Name        string
	QuorumUp    bool
	LiveWeight  int
	SorryActive bool
	RealServers []RealServerState
}

// State returns a snapshot of every virtual server, for status dumps and
// tests.
func (m *Model) State() []VirtualServerState {
	out := make([]VirtualServerState, 0, len(m.vss))
	for _, vs := range m.vss {
		v := VirtualServerState{Name: vs.name, QuorumUp: vs.quorumUp, LiveWeight: vs.liveWeight(), SorryActive: vs.sorry != nil && vs.sorry.alive}
		for _, rs := range vs.rss {
			v.RealServers = append(v.RealServers, RealServerState{Name: rs.name, Alive: rs.alive, InIPVS: rs.set, Weight: rs.weight, Failed: rs.failed})
		}
		out = append(out, v)
	}
	return out
}
