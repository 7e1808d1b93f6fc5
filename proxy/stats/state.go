package stats

import (
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// ServerState is one line of `show servers state`: the volatile state of
// a server that HAProxy saves across reloads (server-state-file).
type ServerState struct {
	BackendID int
	Backend   string
	ID        int
	Name      string
	Addr      string // IP only
	Port      int
	// OpState is HAProxy's srv_op_state: 0 stopped, 1 starting,
	// 2 running, 3 stopping.
	OpState int
	// AdminFlags is srv_admin_state: 0x01 forced maintenance, 0x08
	// forced drain.
	AdminFlags       int
	UWeight, IWeight int
	LastChange       int64 // seconds
	// CheckStatus is the last check's status name (L4OK...), "" for
	// none; CheckResult 0 unknown, 2 failed, 3 passed.
	CheckStatus string
	CheckResult int
	CheckHealth int
	// CheckState is srv_check_state: 0x02 configured, 0x04 enabled,
	// 0x08 paused (maintenance).
	CheckState int
}

// Admin state flags of ServerState.AdminFlags.
const (
	AdminFlagMaint = 0x01
	AdminFlagDrain = 0x08
)

// ServerStater is implemented by controls that can report
// `show servers state`.
type ServerStater interface {
	// ServersState returns the servers of backend (all backends when
	// empty) in configuration order; ok is false for an unknown backend.
	ServersState(backend string) (st []ServerState, ok bool)
}

// checkStatusCodes are HAProxy 2.6's HCHK_STATUS_* numbers, as `show
// servers state` prints them.
var checkStatusCodes = map[string]int{
	"UNK": 0, "INI": 1, "START": 2, "CHECKED": 3, "HANA": 4, "SOCKERR": 5,
	"L4OK": 6, "L4TOUT": 7, "L4CON": 8, "L6OK": 9, "L6TOUT": 10, "L6RSP": 11,
	"L7TOUT": 12, "L7RSP": 13, "L7OK": 14, "L7OKC": 15, "L7STS": 16,
	"PROCERR": 17, "PROCTOUT": 18, "PROCOK": 19,
}

const serversStateHeader = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"

// WriteServersState writes `show servers state [backend]` as HAProxy 2.6
// does (format version 1). Controls that are not a ServerStater get the
// header only.
func WriteServersState(w io.Writer, ctl ServerControl, backend string) error {
	ss, ok := ctl.(ServerStater)
	var list []ServerState
	if ss != nil {
		list, ok = ss.ServersState(backend)
		if !ok {
			return fmt.Errorf("Can't find backend.")
		}
	}
	io.WriteString(w, serversStateHeader)
	for _, s := range list {
		code, ok := checkStatusCodes[strings.TrimPrefix(s.CheckStatus, "* ")]
		if !ok {
			code = 1
		}
		fmt.Fprintf(w, "%d %s %d %s %s %d %d %d %d %d %d %d %d %d 0 0 0 - %d - 0 0 - - 0\n",
			s.BackendID, s.Backend, s.ID, s.Name, s.Addr, s.OpState, s.AdminFlags, s.UWeight, s.IWeight,
			s.LastChange, code, s.CheckResult, s.CheckHealth, s.CheckState, s.Port)
	}
	return nil
}

// SessionInfo is one client session for `show sess`.
type SessionInfo struct {
	ID       uint64
	Start    time.Time
	Proto    string // "tcpv4", "tcpv6", "unix_stream"
	Src      net.Addr
	Frontend string
	Backend  string // "<NONE>" when not chosen yet
	Server   string // "<none>" when not connected
}

// SessionLister is implemented by controls that can list the current
// sessions for `show sess`.
type SessionLister interface {
	Sessions() []SessionInfo
}

// WriteSessions writes the summary form of `show sess`: one line per
// session with its age, protocol, source and the frontend, backend and
// server it uses. HAProxy also prints pointers and buffer flags, which
// have no meaning here; the named fields keep HAProxy's spelling.
func WriteSessions(w io.Writer, list []SessionInfo, now time.Time) {
	for _, s := range list {
		be, srv := s.Backend, s.Server
		if be == "" {
			be = "<NONE>"
		}
		if srv == "" {
			srv = "<none>"
		}
		src := "?"
		if s.Src != nil {
			src = s.Src.String()
		}
		age := int64(now.Sub(s.Start) / time.Second)
		fmt.Fprintf(w, "0x%x: proto=%s src=%s fe=%s be=%s srv=%s age=%s\n", s.ID, s.Proto, src, s.Frontend, be, srv, humanTime(age))
	}
}

// HideLegends blanks the columns HAProxy shows only with legends (the
// page's `stats show-legends`, the CLI from level operator): server
// addresses, cookies and the balancing algorithm.
func HideLegends(rows []Row) {
	for i := range rows {
		rows[i][FAddr], rows[i][FCookie], rows[i][FAlgo] = "", "", ""
	}
}
