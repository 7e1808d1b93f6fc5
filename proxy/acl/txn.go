package acl

import (
	"net/netip"
	"os"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// Txn is what a condition or expression can look at: the connection's
// addresses and, in HTTP mode, the request head.
type Txn struct {
	Src, Dst netip.AddrPort
	Method   string
	Target   string // request target as received (origin-form, absolute-form or *)
	Minor    int    // HTTP/1.<Minor>
	Header   http1.Header
	HTTP     bool // an HTTP request was parsed (mode http)
	Frontend string
	Backend  string // the backend chosen so far, if any
	// Vars holds the transaction's variables by full name ("txn.user",
	// "req.x", "sess.y"), set by http-request set-var; var() reads them.
	Vars map[string]string
	// ReqLen is the number of request bytes buffered so far in TCP mode
	// (req.len, REQ_CONTENT) when Payload is not given; in HTTP mode the
	// request head counts.
	ReqLen int
	// Payload is the start of the request as buffered in TCP mode
	// (tcp-request content with inspect-delay): req.payload, req.len and
	// the TLS ClientHello fetches (req.ssl_sni, req.ssl_hello_type,
	// req.ssl_ver, req.ssl_alpn) read it.
	Payload []byte
	// TLS and SNI describe a TLS front connection (ssl_fc, ssl_fc_sni).
	TLS bool
	SNI string
	// Status, RespHeader and RespMinor describe the response once it is
	// received (http-response rules): status, res.hdr/shdr, res.cook/scook
	// (Set-Cookie), res.ver. Status 0 means no response yet.
	Status     int
	RespHeader http1.Header
	RespMinor  int
	// Stick is the proxy's view of the stick counters the transaction
	// tracks (track-sc0..2); fetches compiled by Env.Counter read it.
	Stick any
}

// Env is what compiling needs from the rest of the configuration. It also
// caches what was compiled (ACLs, map files, userlists), so one Env per
// configuration load shares them; compile from one goroutine at a time.
type Env struct {
	// Userlists are the configuration's userlist sections (http_auth).
	Userlists []*haproxy.Userlist
	// ReadFile reads map files; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// NbSrv, if set, returns the number of usable servers of a backend
	// (nbsrv fetch; "" is the transaction's backend). Without it nbsrv
	// yields no sample.
	NbSrv func(backend string) int
	// ServerUp, if set, reports whether backend/server is up (srv_is_up).
	ServerUp func(backend, server string) bool
	// Counter, if set, compiles the stick-table fetches (sc_*, scN_*,
	// src_*, table_*): ok is false for a name it does not know. Section
	// is the proxy whose rules are being compiled (the default table).
	// Without it those fetches yield no sample.
	Counter func(name string, args []string, section string) (fn func(t *Txn) (int64, bool), ok bool, err error)
	// Section is the proxy section being compiled (set by the caller
	// before compiling each section's rules).
	Section string

	maps map[string]*mapFile // map files read so far, shared by every expression compiled with this Env
	auth map[string]*userlist
	acls map[*haproxy.ACL]*acl // ACLs compiled so far (a named ACL is often used by several rules)
}

func (e *Env) readFile(name string) ([]byte, error) {
	if e == nil || e.ReadFile == nil {
		return os.ReadFile(name)
	}
	return e.ReadFile(name)
}
