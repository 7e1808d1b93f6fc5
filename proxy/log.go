package proxy

import (
	"net/netip"
	"time"
)

// LogRecord is what HAProxy's log line for one transaction (HTTP request or
// TCP session) is made of: the fields of the httplog/tcplog formats. The
// proxy fills one per transaction and hands it to Options.Log; formatting
// and sending belong to the logging package.
type LogRecord struct {
	Client     netip.AddrPort // %ci:%cp
	Frontend   netip.AddrPort // %fi:%fp: the address the client connected to
	Accept     time.Time      // %t: when the connection was accepted
	Start      time.Time      // when this request started (keep-alive: after the previous)
	FrontName  string         // %f
	BackName   string         // %b ("<NOSRV>"-style values are the formatter's job)
	ServerName string         // %s; "" when no server was reached
	HTTP       bool           // HTTP transaction (httplog) rather than TCP (tcplog)

	// Timers in milliseconds, -1 when the step did not happen, as HAProxy.
	Tq int // time to receive the full request head (Th+Ti+TR in 2.x)
	Tw int // time waiting in queues
	Tc int // time to connect to the server
	Tr int // time for the server to send the response head
	Tt int // total session/transaction time

	Status    int    // HTTP status sent, -1 for TCP
	BytesRead int64  // bytes sent to the client (%B)
	BytesIn   int64  // bytes received from the client (%U)
	TermState string // two characters: who ended it and in which phase, e.g. "--", "cD", "SC"

	Actconn, Feconn, Beconn, SrvConn int64 // %ac/%fc/%bc/%sc
	Retries                          int   // %rc (with a '+' when redispatched)
	Redispatched                     bool
	SrvQueue, BackendQueue           int64 // %sq/%bq

	RequestLine string   // %r, e.g. "GET / HTTP/1.1"
	ReqCaptures []string // capture request header values in declaration order
	ResCaptures []string // capture response header values
}

// Termination-state first character (who/what ended the session), as in
// HAProxy's documentation.
const (
	termNone          = '-'
	termClientAbort   = 'C'
	termServerAbort   = 'S'
	termProxy         = 'P'
	termResource      = 'R'
	termInternal      = 'I'
	termDown          = 'D'
	termLocal         = 'L'
	termClientTimeout = 'c'
	termServerTimeout = 's'
)

// Termination-state second character (the session's phase).
const (
	phaseRequest = 'R'
	phaseQueue   = 'Q'
	phaseConnect = 'C'
	phaseHeaders = 'H'
	phaseData    = 'D'
	phaseLast    = 'L'
	phaseTarpit  = 'T'
	phaseNone    = '-'
)

func termState(who, phase byte) string {
	return string([]byte{who, phase})
}
