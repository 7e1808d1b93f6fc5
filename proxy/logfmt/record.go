// Package logfmt builds the message part of HAProxy's log lines, byte for
// byte as HAProxy 2.6 writes them: the built-in formats (`option tcplog`,
// `option httplog`, `option httplog clf`), custom `log-format` strings with
// the common %-variables, the "Connect from" line of proxies without a log
// format, and the event messages (server UP/DOWN, backend without server,
// proxy stopped).
//
// The syslog framing (`<prio>Mmm dd hh:mm:ss tag[pid]: `) is added by
// internal/syslog; this package only produces what follows it. It does not
// import the proxy engine: the engine fills a Record per transaction and
// calls Append with a compiled Format.
package logfmt

import (
	"net/netip"
	"time"
)

// Capture is one captured header value (`capture request header` or
// `capture response header`). Set is false when the header was absent from
// the message: HAProxy prints nothing for it in %hr and "-" in %hrl.
type Capture struct {
	Value string
	Set   bool
}

// Record holds everything a log line can show about one transaction (HTTP)
// or connection (TCP). Timers are in milliseconds, -1 when the step did not
// happen, and follow HAProxy's definitions:
//
//	Th  handshake time (accept to connection ready)
//	Ti  idle time before the first request byte (HTTP keep-alive)
//	TR  time to receive the full request headers
//	Tw  time waiting in queues
//	Tc  time to connect to the server
//	Tr  server response time (headers)
//	Td  data transfer time
//	Tt  total time from accept to close
//
// The derived timers are computed the way HAProxy computes them:
// Tq = Th+Ti+TR (or -1), Ta = Tt-(Th+Ti), Tu = Tt-Ti.
type Record struct {
	// Addresses: client (%ci/%cp), the frontend address it connected to
	// (%fi/%fp), the local address of the server connection (%bi/%bp) and
	// the server's address (%si/%sp). A zero AddrPort prints "-".
	Client       netip.AddrPort
	FrontendAddr netip.AddrPort
	BackendSrc   netip.AddrPort
	ServerAddr   netip.AddrPort
	// Accept is the accept date (%t, %T, %ms, %Ts); its Location decides
	// the local time shown, HAProxy uses the process' local time zone.
	Accept time.Time

	// Frontend, Backend and Server names. An empty Server prints
	// "<NOSRV>"; the engine passes "<STATS>" for the stats applet. An
	// empty Backend means none was chosen (bad request, early deny): %b
	// then shows the frontend's name, as HAProxy does, and the be_name
	// fetch finds nothing.
	Frontend    string
	FrontendSSL bool // %ft appends "~" for SSL listeners
	Backend     string
	Server      string
	// HTTP says the backend works in HTTP mode (changes %Td).
	HTTP bool

	Th, Ti, TR, Tw, Tc, Tr, Td, Tt int64

	// Status is the HTTP status (%ST), -1 when no response was produced.
	Status int
	// BytesRead counts bytes sent to the client (%B), BytesUploaded the
	// bytes received from it (%U).
	BytesRead     int64
	BytesUploaded int64
	// LogASAP marks lines emitted before the end (option logasap): %Tt,
	// %Ta, %Tu and %B get a '+' prefix.
	LogASAP bool

	// ReqCookie and ResCookie are the captured cookies (%CC, %CS).
	ReqCookie, ResCookie string
	// TermState is the four-character termination state: cause, session
	// state at termination, persistence cookie, cookie update ("--" of
	// %ts and "----" of %tsc when zero).
	TermState [4]byte

	ActConn, FeConn, BeConn, SrvConn int
	Retries                          int
	Redispatched                     bool // %rc gets a '+' prefix
	SrvQueue, BackendQueue           int

	// ReqCaptures and ResCaptures are the captured headers, in capture
	// declaration order. Nil when the frontend captures none: %hr/%hs then
	// print nothing at all.
	ReqCaptures, ResCaptures []Capture

	// RequestLine is the request line as received ("GET /x HTTP/1.1");
	// empty for a request that could not be parsed, shown "<BADREQ>".
	RequestLine string
	UniqueID    string // %ID

	// Process-wide values: %H, %pid, %rt (request counter), %lc (log
	// counter of the frontend).
	Hostname   string
	PID        int
	ReqCounter uint64
	LogCount   uint64
}

// Tq returns Th+Ti+TR, the time to get the full request since accept, or
// -1 when the request was not complete.
func (r *Record) Tq() int64 {
	if r.TR < 0 {
		return -1
	}
	return r.Th + r.Ti + r.TR
}

// Ta returns the active time, Tt minus handshake and idle times.
func (r *Record) Ta() int64 {
	if r.Ti >= 0 {
		return r.Tt - (r.Ti + r.Th)
	}
	return r.Tt
}

// RequestDate returns the date of the start of the request (%tr): the
// accept date plus handshake and idle times.
func (r *Record) RequestDate() time.Time {
	if r.Ti >= 0 {
		return r.Accept.Add(time.Duration(r.Ti+r.Th) * time.Millisecond)
	}
	return r.Accept
}

// Termination causes (first character of the termination state), as
// HAProxy defines them.
const (
	TermNone     = '-' // normal end
	TermLocal    = 'L' // handled locally by the proxy (stats, redirect)
	TermCliTO    = 'c' // client timeout
	TermCliClose = 'C' // client aborted
	TermSrvTO    = 's' // server timeout
	TermSrvClose = 'S' // server aborted or refused
	TermProxy    = 'P' // proxy refused (deny, bad request, ...)
	TermResource = 'R' // resource exhausted
	TermInternal = 'I' // internal error
	TermDown     = 'D' // server went down
	TermKilled   = 'K' // killed by the admin
	TermUp       = 'U' // killed because a backup server came up
)

// Session states at termination (second character).
const (
	FinNone    = '-'
	FinRequest = 'R' // waiting for the request
	FinQueue   = 'Q' // waiting in a queue
	FinConnect = 'C' // connecting to the server
	FinHeaders = 'H' // waiting for response headers
	FinData    = 'D' // transferring data
	FinLast    = 'L' // sending the last data to the client
	FinTarpit  = 'T' // tarpitted
)

// IsError says whether HAProxy counts the transaction as an error for
// `option log-separate-errors` and `option dontlog-normal`: a redispatch,
// an abnormal termination cause, retries, or an HTTP status >= 500.
func (r *Record) IsError() bool {
	c := r.TermState[0]
	if r.Redispatched || (c != 0 && c != TermNone && c != TermLocal) {
		return true
	}
	if (c == 0 || c == TermNone) && r.Retries > 0 {
		return true
	}
	return r.HTTP && r.Status >= 500
}

// Options are the proxy options that decide whether and at which level a
// transaction is logged.
type Options struct {
	DontLogNull    bool // option dontlognull
	DontLogNormal  bool // option dontlog-normal
	SeparateErrors bool // option log-separate-errors
}

// Level returns the syslog level for the record (6 info, or 3 err for an
// error with log-separate-errors) and false when the record must not be
// logged: dontlog-normal on a normal transaction, or dontlognull on a
// connection that never sent a byte.
func (o Options) Level(r *Record) (int, bool) {
	if o.DontLogNull && r.BytesUploaded == 0 {
		return 0, false
	}
	err := r.IsError()
	if o.DontLogNormal && !err {
		return 0, false
	}
	if err && o.SeparateErrors {
		return 3, true
	}
	return 6, true
}
