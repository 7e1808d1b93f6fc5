// Package keepalived reads keepalived.conf as keepalived 2.2.7 does: nested
// keyword blocks, `include` with globs, `@id` conditional lines, `$NAME`
// definitions, `!` and `#` comments, and keepalived's leniency (an unknown
// keyword is reported and skipped, the daemon still runs). The result is a
// typed configuration with keepalived's defaults applied and every node's
// file and line.
package keepalived

import (
	"net/netip"
	"strconv"
	"time"
)

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// Config is a parsed keepalived.conf.
type Config struct {
	Files          []string
	Global         Global
	Scripts        []*VRRPScript
	TrackFiles     []*TrackFile
	Instances      []*Instance
	SyncGroups     []*SyncGroup
	VirtualServers []*VirtualServer
	VSGroups       []*VirtualServerGroup
	StaticAddrs    []VIP
	StaticRoutes   []Route
	StaticRules    []Route
}

// Script returns the vrrp_script with that name, or nil.
func (c *Config) Script(name string) *VRRPScript {
	for _, s := range c.Scripts {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Instance returns the vrrp_instance with that name, or nil.
func (c *Config) Instance(name string) *Instance {
	for _, i := range c.Instances {
		if i.Name == name {
			return i
		}
	}
	return nil
}

// Global is global_defs.
type Global struct {
	Pos                      Pos
	RouterID                 string // default: the host name
	NotificationEmail        []string
	NotificationEmailFrom    string // default keepalived@<host name>
	SMTPServer               string
	SMTPPort                 int // default 25
	SMTPHeloName             string
	SMTPConnectTimeout       time.Duration // default 30s
	SMTPAlert                *bool
	SMTPAlertVRRP            *bool
	SMTPAlertChecker         *bool
	EnableScriptSecurity     bool
	ScriptUser, ScriptGroup  string
	MaxAutoPriority          int
	VRRPVersion              int // default 2
	VRRPStrict               bool
	VRRPIPTables             []string
	VRRPGarpMasterDelay      time.Duration // default 5s
	VRRPGarpMasterRepeat     int           // default 5
	VRRPGarpMasterRefresh    time.Duration
	VRRPGarpRefreshRepeat    int // default 1
	VRRPGarpInterval         time.Duration
	VRRPGnaInterval          time.Duration
	VRRPLowerPrioNoAdvert    bool
	VRRPHigherPrioSendAdvert bool
	VRRPSkipCheckAdvAddr     bool
	VRRPMcastGroup4          netip.Addr // default 224.0.0.18
	VRRPMcastGroup6          netip.Addr // default ff02::12
	EnableTraps              bool
	NotifyFifo               string
	NotifyFifoScript         string
	VRRPNotifyFifo           string
	VRRPNotifyFifoScript     string
	LVSNotifyFifo            string
	LVSNotifyFifoScript      string
	// NoEmailFaults is no_email_faults: FAULT transitions are not mailed.
	NoEmailFaults bool
	// NotifyPriorityChanges is vrrp_notify_priority_changes: priority
	// changes are written to the notify FIFOs.
	NotifyPriorityChanges bool
	// DynamicInterfaces is dynamic_interfaces: interfaces that do not
	// exist yet are allowed (the instance waits in FAULT for them).
	DynamicInterfaces bool
	// ScriptWords keeps notify_fifo_script, vrrp_notify_fifo_script and
	// lvs_notify_fifo_script as written, by keyword.
	ScriptWords map[string]ScriptWords
}

// ScriptWords is a notify-type keyword's words as written. keepalived
// 2.2.7 runs a quoted first word as a whole command line (split into argv,
// no shell) and an unquoted one as the script alone, the next words being
// the user and group to run it as: `notify_master /s.sh www` runs /s.sh
// as www, `notify_master "/s.sh www"` runs /s.sh with the argument www.
type ScriptWords struct {
	Words  []string
	Quoted bool // the first word was quoted
}

// VRRPScript is a vrrp_script block.
type VRRPScript struct {
	Pos      Pos
	Name     string
	Script   []string // argv, split as keepalived splits it
	Raw      string
	Interval time.Duration // default 1s
	Timeout  time.Duration // default: Interval
	Weight   int
	Reverse  bool
	Rise     int // default 1
	Fall     int // default 1
	User     string
	Group    string
	InitFail bool
	// Insecure is set when enable_script_security found the script
	// writable by a non-root user: keepalived disables it.
	Insecure bool
	// Missing is set when the program does not exist: keepalived
	// disables the script.
	Missing bool
}

// TrackFile is a vrrp_track_file / track_file block.
type TrackFile struct {
	Pos      Pos
	Name     string
	File     string
	Weight   int
	Reverse  bool
	InitFile string
	// InitFileSet records init_file, which may have no value (then the
	// file is created with 0).
	InitFileSet bool
}

// VIP is one line of virtual_ipaddress (or excluded, or static_ipaddress):
// ADDR[/LEN] [brd X] [dev IF] [scope S] [label L] [no_track] ...
type VIP struct {
	Pos       Pos
	Prefix    netip.Prefix // /32 or /128 when no length is given
	Broadcast string
	Dev       string
	Scope     string
	Label     string
	NoTrack   bool
	Peer      string
	Raw       string
}

// Route is one line of virtual_routes/static_routes or, for Rules, of
// virtual_rules/static_rules. Words keeps the line as written; the fields
// hold what govrrpd understood of it.
type Route struct {
	Pos   Pos
	Words []string
	Type  string       // route type: "" (unicast), blackhole, unreachable, prohibit, throw
	Dst   netip.Prefix // routes: destination
	Src   netip.Addr   // routes: "src" preferred source
	Via   []netip.Addr // routes: gateways ("via", "gw", "or", "nexthop via")
	Dev   string
	Table string
	// NoTrack is set by no_track, or when the route names no interface
	// (keepalived cannot track it then).
	NoTrack bool
	From    netip.Prefix // rules: from
	To      netip.Prefix // rules: to
	Pref    int          // rules: preference (keepalived assigns one when absent)
}

// TrackedScript is an entry of track_script.
type TrackedScript struct {
	Pos       Pos
	Name      string
	Weight    int
	HasWeight bool
	Reverse   bool
}

// TrackedInterface is an entry of track_interface.
type TrackedInterface struct {
	Pos       Pos
	Name      string
	Weight    int
	HasWeight bool
	Reverse   bool
}

// Instance is a vrrp_instance block with keepalived's defaults applied.
type Instance struct {
	Pos   Pos
	Name  string
	State string // MASTER or BACKUP (the initial wish)
	// StateSet records that `state` was written: keepalived 2.2.7 makes
	// an address owner (priority 255) start as MASTER only when the file
	// does not say `state` (an explicit BACKUP, even an unknown word that
	// defaults to BACKUP, starts in BACKUP and waits the master-down
	// interval).
	StateSet               bool
	Interface              string
	InterfacePos           Pos
	VRID                   int
	Priority               int           // default 100
	AdvertInt              time.Duration // default 1s
	Version                int           // from vrrp_version, default 2
	AuthType               string        // "", PASS, AH
	AuthPass               string        // truncated to 8 bytes
	VIPs                   []VIP
	ExcludedVIPs           []VIP
	Routes                 []Route
	Rules                  []Route
	UnicastSrcIP           netip.Addr
	UnicastPeers           []netip.Addr
	McastSrcIP             netip.Addr
	NoPreempt              bool
	PreemptDelay           time.Duration
	TrackInterfaces        []TrackedInterface
	TrackScripts           []TrackedScript
	TrackFiles             []TrackedScript
	NotifyMaster           string
	NotifyBackup           string
	NotifyFault            string
	NotifyStop             string
	Notify                 string
	NotifyMasterRxLowerPri string
	// ScriptWords keeps the notify keywords (notify, notify_master,
	// notify_backup, notify_fault, notify_stop,
	// notify_master_rx_lower_pri) as written, by keyword.
	ScriptWords map[string]ScriptWords
	// NotifyPriorityChanges is notify_priority_changes (nil: global
	// vrrp_notify_priority_changes).
	NotifyPriorityChanges *bool
	SMTPAlert             *bool
	GarpMasterDelay       time.Duration
	GarpMasterRepeat      int
	GarpMasterRefresh     time.Duration
	GarpRefreshRepeat     int
	GarpLowerPrioDelay    time.Duration
	GarpLowerPrioRepeat   int
	LowerPrioNoAdvert     *bool
	HigherPrioSendAdvert  *bool
	UseVMAC               bool
	VMACName              string
	VMACXmitBase          bool
	NativeIPv6            bool
	DontTrackPrimary      bool
	Accept                *bool
	SkipCheckAdvAddr      *bool
	Strict                bool
	Debug                 int
	IPv6                  bool // the VIPs are IPv6 (keepalived uses v3 then)
}

// SyncGroup is a vrrp_sync_group block.
type SyncGroup struct {
	Pos          Pos
	Name         string
	Group        []string
	NotifyMaster string
	NotifyBackup string
	NotifyFault  string
	NotifyStop   string
	Notify       string
	TrackScripts []TrackedScript
	SMTPAlert    *bool
	// ScriptWords keeps the notify keywords as written, by keyword.
	ScriptWords map[string]ScriptWords
	// TrackInterfaces and TrackFiles are the group's track_interface and
	// track_file entries: keepalived tracks them on every member.
	TrackInterfaces []TrackedInterface
	TrackFiles      []TrackedScript
	// TrackingWeight is sync_group_tracking_weight: members keep the
	// weights of their tracked scripts, interfaces and files instead of
	// dropping them.
	TrackingWeight bool
}

// VirtualServer is an LVS virtual_server block.
type VirtualServer struct {
	Pos                Pos
	Addr               string // "IP PORT", "fwmark N" or "group NAME"
	IP                 netip.Addr
	Port               int
	FWMark             int
	Group              string
	DelayLoop          time.Duration // default 60s
	LBAlgo             string        // default wlc (keepalived 2.2.7)
	LBKind             string        // NAT (default), DR, TUN
	PersistenceTimeout time.Duration
	Protocol           string // TCP, UDP (default, keepalived 2.2.7), SCTP
	protocolSet        bool
	SorryServer        string
	// SorryServerInhibit is sorry_server_inhibit (after sorry_server).
	SorryServerInhibit bool
	// InhibitOnFailure and SMTPAlert given here apply to every real
	// server that does not say otherwise.
	InhibitOnFailure bool
	SMTPAlert        *bool
	// Defaults are the checker settings written at this level.
	Defaults     CheckDefaults
	Quorum       int
	Hysteresis   int
	QuorumUp     string
	QuorumDown   string
	Alpha, Omega bool
	VirtualHost  string
	RealServers  []*RealServer
}

// RealServer is a real_server block.
type RealServer struct {
	Pos              Pos
	IP               netip.Addr
	Port             int
	Weight           int // default 1
	InhibitOnFailure bool
	NotifyUp         string
	NotifyDown       string
	Checkers         []*Checker
	// SMTPAlert, Alpha and VirtualHost: this real server's, else its
	// virtual server's.
	SMTPAlert   *bool
	Alpha       *bool
	VirtualHost string
	// Defaults are the checker settings written at this level.
	Defaults CheckDefaults
}

// Checker is a health checker of a real server (TCP_CHECK, HTTP_GET,
// SSL_GET, MISC_CHECK, SMTP_CHECK, DNS_CHECK, PING_CHECK, UDP_CHECK).
type Checker struct {
	Pos         Pos
	Kind        string
	ConnectIP   netip.Addr
	ConnectPort int
	// The timing below is resolved like keepalived's check_api.c: the
	// checker's own setting, else its real server's, else its virtual
	// server's, else the kind's default (see CheckDefaults).
	ConnectTimeout   time.Duration // default 5s
	Retry            int           // retry / nb_get_retry
	DelayBeforeRetry time.Duration
	DelayLoop        time.Duration
	Warmup           time.Duration // upper bound of the random first delay
	own              CheckDefaults
	URLs             []URLCheck
	MiscPath         string
	MiscTimeout      time.Duration
	MiscDynamic      bool
	VirtualHost      string
	Options          map[string]string // other keywords, as written
	// Hosts are SMTP_CHECK's host blocks: each a target of its own.
	Hosts []*Checker
}

// URLCheck is a url block of HTTP_GET/SSL_GET.
type URLCheck struct {
	Path       string
	Digest     string
	StatusCode []string
}

// VirtualServerGroup is a virtual_server_group block.
type VirtualServerGroup struct {
	Pos     Pos
	Name    string
	Entries []string
}
