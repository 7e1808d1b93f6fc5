package haproxy

import (
	"net/netip"
	"time"
)

// Config is a validated haproxy.cfg: what the runtime builds from. Defaults
// sections are already applied to every proxy; the runtime never sees text
// nor defaults.
type Config struct {
	Files     []string
	Global    Global
	Proxies   []*Proxy // frontend, backend and listen sections in file order
	Userlists []*Userlist
	// Other sections (resolvers, peers, mailers, http-errors, cache,
	// program, ring) are kept as parsed lines: accepted, not run yet.
	Sections []*Section
}

// Proxy returns the frontend, backend or listen section with that name and
// capability, or nil.
func (c *Config) Proxy(name string, cap Cap) *Proxy {
	for _, p := range c.Proxies {
		if p.Name == name && p.Cap&cap == cap {
			return p
		}
	}
	return nil
}

// Global holds the global section.
type Global struct {
	Pos            Pos
	Maxconn        int
	Daemon         bool
	MasterWorker   bool
	Nbthread       int
	PidFile        string
	User, Group    string
	UID, GID       int // -1 when not set
	Chroot         string
	UlimitN        int
	Logs           []LogTarget
	LogTag         string
	LogSendHost    string // log-send-hostname: "" absent, else the name
	StatsSockets   []StatsSocket
	StatsTimeout   time.Duration
	SpreadChecks   int // percent
	HardStopAfter  time.Duration
	TuneBufsize    int
	TuneMaxrewrite int
	Quiet          bool
	Description    string
	Node           string
}

// StatsSocket is a `stats socket` line of the global section.
type StatsSocket struct {
	Pos      Pos
	Addr     Addr
	Mode     uint32 // file mode for unix sockets, 0 = default
	Level    string // user, operator, admin
	ExposeFD bool   // expose-fd listeners
	User     string
	Group    string
}

// Cap is a proxy's capability: accept connections (frontend), pick
// servers (backend), or both (listen, defaults).
type Cap uint8

// Capabilities.
const (
	CapFE Cap = 1 << iota
	CapBE
	CapListen = CapFE | CapBE
)

// Mode is a proxy's mode.
type Mode int

// Modes: TCP forwards bytes, HTTP analyses requests.
const (
	ModeTCP Mode = iota
	ModeHTTP
)

func (m Mode) String() string {
	if m == ModeHTTP {
		return "http"
	}
	return "tcp"
}

// Proxy is a frontend, backend or listen section with its defaults applied.
type Proxy struct {
	Pos      Pos
	Kind     string // "frontend", "backend" or "listen"
	Name     string
	Cap      Cap
	ID       int // HAProxy's iid: explicit `id`, else numbered from 1 in file order
	Disabled bool
	Mode     Mode
	Desc     string

	Binds    []*Bind
	Maxconn  int // frontend: 0 = HAProxy's default (the global maxconn)
	Fullconn int
	Backlog  int
	Retries  int
	Timeouts Timeouts
	Options  Options

	Balance       Balance
	HashType      HashType
	Servers       []*Server
	DefaultServer ServerParams

	ACLs           []*ACL
	UseBackends    []*SwitchRule
	DefaultBackend string
	UseServers     []*SwitchRule
	HTTPRequest    []*Rule
	HTTPResponse   []*Rule
	TCPRequest     []*Rule // tcp-request connection|content|session
	TCPResponse    []*Rule
	Redirects      []*Rule // `redirect` lines, as http-request redirect rules

	Stats          Stats
	ErrorFiles     map[int]string // status -> file contents (read at load)
	ErrorFilesFrom []string       // errorfiles <http-errors section>
	Captures       []Capture
	MonitorURI     string
	Cookie         *Cookie
	StickTable     *StickTable
	StickRules     []*Rule
	Logs           []LogTarget // resolved: `log global` expanded to the global targets
	NoLog          bool
	LogFormat      string
	LogTag         string
	UniqueIDFormat string

	HTTPCheck HTTPCheck
	TCPCheck  []TCPCheckStep
	CheckKind CheckKind
	HTTPReuse string // never, safe (default), aggressive, always

	// Defaults names the defaults section this proxy inherited from.
	Defaults string
}

// Timeouts are a proxy's timeouts; zero means not set.
type Timeouts struct {
	Connect, Client, Server, Queue, HTTPRequest, HTTPKeepAlive,
	Tunnel, Tarpit, Check, ClientFin, ServerFin time.Duration
}

// Options are the `option` keywords a proxy has, after `no option` and
// defaults inheritance.
type Options struct {
	Forwardfor                      *Forwardfor
	HTTPLog                         bool
	HTTPLogCLF                      bool
	TCPLog                          bool
	DontLogNull                     bool
	DontLogNormal                   bool
	LogHealthChecks                 bool // log every check result that moves a server's health
	LogSeparateErrors               bool
	LogASAP                         bool
	Redispatch                      bool
	RedispatchInterval              int
	HTTPServerClose                 bool
	HTTPClose                       bool
	HTTPKeepAlive                   bool
	HTTPPretendKA                   bool
	HTTPBufferRequest               bool
	AbortOnClose                    bool
	AllBackups                      bool
	TCPKA, ClientTCPKA, ServerTCPKA bool
	Splice                          bool
	OriginalTo                      *Forwardfor // option originalto: Except, Header
	HTTPUseProxyHeader              bool
	Persist                         bool
	PreferLastServer                bool
	Transparent                     bool
	HTTPIgnoreProbes                bool
	IgnoreUnknown                   []string // options accepted and ignored (with a warning)
}

// Forwardfor is `option forwardfor [except NET] [header NAME] [if-none]`.
type Forwardfor struct {
	Except *netip.Prefix
	Header string // default X-Forwarded-For
	IfNone bool
}

// Balance is a backend's load-balancing algorithm and its argument.
type Balance struct {
	Algo string // roundrobin static-rr leastconn first source uri url_param hdr random rdp-cookie
	// Arg is the header name (hdr), the parameter name (url_param), the
	// cookie name (rdp-cookie) or the number of draws (random).
	Arg string
	// uri options
	URILen, URIDepth int
	URIWhole         bool
	URIPathOnly      bool
	// hdr(name) use_domain_only
	UseDomainOnly bool
	// url_param check_post
	CheckPost bool
}

// HashType is `hash-type map-based|consistent [sdbm|djb2|wt6|crc32] [avalanche]`.
type HashType struct {
	Method    string // map-based (default) or consistent
	Function  string // sdbm, djb2, wt6, crc32; "" when not written (sdbm, and `consistent` then avalanches)
	Avalanche bool
}

// Addr is a listening or connecting address as HAProxy writes it.
type Addr struct {
	Net     string // "tcp", "tcp4", "tcp6", "unix", "abns", "udp", "fd", "sockpair"
	Host    string // empty: all addresses; for unix: the path
	Port    int
	PortEnd int  // port ranges (bind :8000-8010), else == Port
	PortOff bool // +N / -N: port offset (servers)
	NoPort  bool // server without port: use the client's destination port
	Raw     string
}

// Bind is one `bind` line: one or more addresses and their options.
type Bind struct {
	Pos          Pos
	Addrs        []Addr
	Name         string
	V4V6, V6Only bool
	AcceptProxy  bool
	Transparent  bool
	Interface    string
	Backlog      int
	Maxconn      int
	Process      string
	Mode         uint32 // unix socket mode
	User, Group  string
	SSL          bool
	Crt          []string
	CAFile       string
	Verify       string
	ALPN         string
	Defer        bool // defer-accept
	TFO          bool
	Options      []string // other options, accepted as written
}

// ServerParams are the settings a `server` line and `default-server` share.
type ServerParams struct {
	Check         bool
	Inter         time.Duration // default 2s
	FastInter     time.Duration // 0 = Inter
	DownInter     time.Duration // 0 = Inter
	Rise          int           // default 2
	Fall          int           // default 3
	Weight        int           // default 1
	Backup        bool
	Disabled      bool
	Maxconn       int
	Maxqueue      int
	Minconn       int
	SendProxy     int // 0, 1 (send-proxy) or 2 (send-proxy-v2)
	Slowstart     time.Duration
	Cookie        string
	CheckPort     int
	CheckAddr     string
	CheckSSL      bool
	Agent         *AgentCheck
	Resolvers     string
	ResolvePrefer string
	InitAddr      string
	SSL           bool
	Verify        string
	CAFile        string
	SNI           string
	Observe       string
	OnError       string
	ErrorLimit    int
	Redir         string
	Track         string
	NoCheckSSL    bool
	Options       []string // other options, accepted as written
}

// AgentCheck is `agent-check agent-port N agent-inter T`.
type AgentCheck struct {
	Port  int
	Inter time.Duration
	Addr  string
	Send  string
}

// Server is a `server` line.
type Server struct {
	Pos  Pos
	Name string
	ID   int
	Addr Addr
	ServerParams
}

// ACL is an `acl` line (or an anonymous `{ ... }` ACL in a condition):
// a sample fetch, converters, a match method and patterns.
type ACL struct {
	Pos        Pos
	Name       string // empty for anonymous ACLs
	Fetch      string // e.g. hdr_dom, path_beg, src, req.hdr
	FetchArgs  []string
	Converters []Converter
	Match      string // str beg end sub reg dom dir len int ip bool found
	IgnoreCase bool   // -i
	NoDNS      bool   // -n
	Patterns   []string
	// PatternFiles lists -f files; their lines are already appended to
	// Patterns (comments and blank lines removed).
	PatternFiles []string
	Expr         string // the expression as written, for messages
}

// Converter is a sample converter such as lower or map(file,default).
type Converter struct {
	Name string
	Args []string
}

// Cond is an `if` or `unless` condition: an OR of ANDs of ACL terms.
type Cond struct {
	Unless bool
	Terms  [][]CondTerm
	Raw    []string
}

// CondTerm is one ACL reference in a condition, possibly negated.
type CondTerm struct {
	Negate bool
	Name   string // named ACL (or predefined such as TRUE, METH_GET, HTTP)
	// ACL is the resolved ACL: the last of that name, or the anonymous one.
	ACL *ACL `dump:"-"`
	// Alts holds every ACL declared with that name so far: HAProxy ORs
	// same-name ACLs.
	Alts []*ACL `dump:"-"`
}

// SwitchRule is `use_backend NAME [if|unless cond]` or `use-server`.
type SwitchRule struct {
	Pos     Pos
	Target  string // a name, or a log-format expression such as %[req.hdr(host),lower,map(f)]
	Dynamic bool   // Target contains a %[...] expression
	Cond    *Cond
}

// Rule is an http-request, http-response, tcp-request, redirect or stick
// rule: an action with its arguments and an optional condition.
type Rule struct {
	Pos    Pos
	Kind   string // "http-request", "tcp-request content", "redirect", ...
	Action string // set-header, deny, redirect, accept, ...
	Args   []string
	Cond   *Cond
	// Parsed arguments of the common actions.
	Status      int    // deny_status, redirect code, return status
	Name        string // header name, var name
	Value       string // header value / log-format string
	Regex       string // replace-header / replace-value / replace-path
	Redirect    *Redirect
	ContentType string
	Body        string // return string / file contents
	Realm       string
}

// Redirect describes a redirect rule.
type Redirect struct {
	Type        string // location, prefix, scheme
	Target      string
	Code        int // 301, 302 (default), 303, 307, 308
	DropQuery   bool
	AppendSlash bool
	SetCookie   string
	ClearCookie string
}

// Stats is the stats page of a proxy.
type Stats struct {
	Enabled     bool
	URI         string // default /haproxy?stats
	Realm       string
	Auth        []UserPass
	Refresh     time.Duration
	HideVersion bool
	ShowLegends bool
	ShowNode    string
	ShowDesc    string
	Admin       *Cond
	Scope       []string
	HTTPRequest []*Rule
}

// UserPass is a `stats auth user:pass`.
type UserPass struct{ User, Pass string }

// Capture is `capture request|response header NAME len N` or `capture cookie`.
type Capture struct {
	Kind string // "request header", "response header", "cookie"
	Name string
	Len  int
}

// Cookie is the `cookie NAME [rewrite|insert|prefix] [indirect] [nocache]
// [postonly] [preserve] [httponly] [secure] [domain D] [maxidle T]
// [maxlife T] [dynamic] [attr A]` line.
type Cookie struct {
	Name                                                             string
	Mode                                                             string // rewrite, insert, prefix; "" = passive
	Indirect, NoCache, PostOnly, Preserve, HTTPOnly, Secure, Dynamic bool
	Domains                                                          []string
	MaxIdle, MaxLife                                                 time.Duration
	Attrs                                                            []string
}

// StickTable is a `stick-table` line.
type StickTable struct {
	Type    string
	Len     int
	Size    string
	Expire  time.Duration
	Store   []string
	Peers   string
	NoPurge bool
}

// LogTarget is a resolved `log` line.
type LogTarget struct {
	Pos       Pos
	Addr      string // as written: 127.0.0.1, 127.0.0.1:514, /dev/log, stdout...
	Format    string // rfc3164 (default), rfc5424, short, raw, timed, iso, priority
	FormatSet bool
	Len       int
	Facility  string
	Level     string // max level; "" = all
	MinLevel  string
	Sample    string
}

// CheckKind selects the health check a backend runs for `check` servers.
type CheckKind int

// Check kinds.
const (
	CheckTCP      CheckKind = iota // plain connect (L4)
	CheckHTTP                      // option httpchk
	CheckTCPSeq                    // option tcp-check
	CheckMySQL                     // option mysql-check
	CheckSMTP                      // option smtpchk
	CheckPgSQL                     // option pgsql-check
	CheckRedis                     // option redis-check
	CheckSSLHello                  // option ssl-hello-chk
	CheckLDAP                      // option ldap-check
)

// HTTPCheck is the HTTP health check request and expectations
// (`option httpchk` in either form and `http-check send/expect`).
type HTTPCheck struct {
	Method  string // default OPTIONS
	URI     string // default /
	Version string // default HTTP/1.0
	// Headers holds the headers of `http-check send hdr` and those hidden
	// after \r\n in the legacy version string, in order.
	Headers []Header
	Body    string
	Expect  []HTTPExpect
	// Legacy records that the one-string 1.x form was used.
	Legacy bool
	// MySQLUser, SMTPDomain: parameters of the other check kinds.
	MySQLUser  string
	SMTPDomain string
	SMTPCmd    string
}

// Header is a name and value.
type Header struct{ Name, Value string }

// HTTPExpect is `http-check expect [!] status|rstatus|string|rstring|hdr PATTERN`.
type HTTPExpect struct {
	Negate  bool
	Kind    string
	Pattern string
}

// TCPCheckStep is one `tcp-check` rule.
type TCPCheckStep struct {
	Pos    Pos
	Action string // connect, send, send-binary, expect, comment, send-lf...
	Args   []string
}

// Userlist is a `userlist` section, used by http_auth().
type Userlist struct {
	Pos    Pos
	Name   string
	Users  []User
	Groups map[string][]string
}

// User is a userlist user.
type User struct {
	Name     string
	Password string
	Insecure bool
	Groups   []string
}

// Section is a section kept as lines (resolvers, peers, mailers, ...).
type Section struct {
	Pos   Pos
	Kind  string
	Name  string
	Lines []Line
}
