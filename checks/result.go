package checks

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Status is a check outcome named like HAProxy's check statuses (the
// check_status column of the stats CSV and the "reason" of log lines), so
// goproxy can print them unchanged.
type Status int

// The statuses, in HAProxy's order (HCHK_STATUS_*). Whether a status
// passes is given by Status.OK.
const (
	StatusUnknown  Status = iota // UNK: no result yet
	StatusInit                   // INI: initializing, before the first check
	StatusSockErr                // SOCKERR: socket error before connecting
	StatusL4OK                   // L4OK: layer 4 check passed (TCP connect, ICMP reply)
	StatusL4TOUT                 // L4TOUT: layer 4 timeout (connect, ICMP)
	StatusL4CON                  // L4CON: layer 4 connection problem (refused, unreachable)
	StatusL6OK                   // L6OK: layer 6 check passed
	StatusL6TOUT                 // L6TOUT: layer 6 timeout
	StatusL6RSP                  // L6RSP: layer 6 invalid response
	StatusL7TOUT                 // L7TOUT: layer 7 timeout (response not complete in time)
	StatusL7RSP                  // L7RSP: layer 7 invalid response (not HTTP, closed early, content mismatch)
	StatusL7OK                   // L7OK: layer 7 check passed
	StatusL7OKC                  // L7OKC: layer 7 check conditionally passed
	StatusL7STS                  // L7STS: layer 7 wrong status (HTTP code, SMTP/MySQL error)
	StatusProcErr                // PROCERR: external check (script) failed: non-zero exit
	StatusProcTOUT               // PROCTOUT: external check (script) timed out
	StatusProcOK                 // PROCOK: external check (script) passed
)

var statusNames = [...]struct{ name, desc string }{
	StatusUnknown:  {"UNK", "Unknown"},
	StatusInit:     {"INI", "Initializing"},
	StatusSockErr:  {"SOCKERR", "Socket error"},
	StatusL4OK:     {"L4OK", "Layer4 check passed"},
	StatusL4TOUT:   {"L4TOUT", "Layer4 timeout"},
	StatusL4CON:    {"L4CON", "Layer4 connection problem"},
	StatusL6OK:     {"L6OK", "Layer6 check passed"},
	StatusL6TOUT:   {"L6TOUT", "Layer6 timeout"},
	StatusL6RSP:    {"L6RSP", "Layer6 invalid response"},
	StatusL7TOUT:   {"L7TOUT", "Layer7 timeout"},
	StatusL7RSP:    {"L7RSP", "Layer7 invalid response"},
	StatusL7OK:     {"L7OK", "Layer7 check passed"},
	StatusL7OKC:    {"L7OKC", "Layer7 check conditionally passed"},
	StatusL7STS:    {"L7STS", "Layer7 wrong status"},
	StatusProcErr:  {"PROCERR", "External check error"},
	StatusProcTOUT: {"PROCTOUT", "External check timeout"},
	StatusProcOK:   {"PROCOK", "External check passed"},
}

// String returns HAProxy's short name (for the check_status CSV column).
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "UNK"
	}
	return statusNames[s].name
}

// Description returns HAProxy's long name, the "reason" of log lines
// ("Layer4 connection problem").
func (s Status) Description() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "Unknown"
	}
	return statusNames[s].desc
}

// OK reports whether the status counts as a passed check.
func (s Status) OK() bool {
	switch s {
	case StatusL4OK, StatusL6OK, StatusL7OK, StatusL7OKC, StatusProcOK:
		return true
	}
	return false
}

// HasCode reports whether HAProxy prints the code with this status
// (", code: 404" in logs, the check_code column): layer 7 results and
// external checks.
func (s Status) HasCode() bool { return s >= StatusL7OK }

// Result is the outcome of one check.
type Result struct {
	// Status is HAProxy's check status.
	Status Status
	// Code is the HTTP status, SMTP reply code, MySQL error number or a
	// script's exit status; meaningful when Status.HasCode().
	Code int
	// Info is the human detail HAProxy prints as info: "Connection
	// refused", the HTTP reason phrase, a script's "exited with status 1".
	Info string
	// Duration is how long the check took (check_duration, in ms in logs).
	Duration time.Duration
	// Time is when the check finished (last_chk is derived from it).
	Time time.Time
}

// OK reports whether the check passed.
func (r Result) OK() bool { return r.Status.OK() }

// Reason formats the result like HAProxy's health-check log lines, e.g.
// `reason: Layer4 connection problem, info: "Connection refused", check
// duration: 0ms`, so that goproxy can log `Server be/s1 is DOWN, ` + Reason().
func (r Result) Reason() string {
	var b strings.Builder
	b.WriteString("reason: ")
	b.WriteString(r.Status.Description())
	if r.Status.HasCode() {
		fmt.Fprintf(&b, ", code: %d", r.Code)
	}
	if r.Info != "" {
		fmt.Fprintf(&b, ", info: %q", r.Info)
	}
	fmt.Fprintf(&b, ", check duration: %dms", r.Duration.Milliseconds())
	return b.String()
}

// Checker performs one probe. Implementations honour ctx's deadline (the
// check timeout) and map it to the right timeout status themselves,
// because only they know the phase (connect versus response) it hit.
type Checker interface {
	Check(ctx context.Context) Result
}

// CheckerFunc adapts a function to Checker (handy in tests and for
// callers with a one-off probe).
type CheckerFunc func(ctx context.Context) Result

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context) Result { return f(ctx) }

// Run runs c once under timeout (0: no timeout) and stamps the result's
// Duration and Time. keepalived's LVS checkers (retry, delay_before_retry)
// call it directly; Monitor uses it for every check.
func Run(ctx context.Context, c Checker, timeout time.Duration) Result {
	start := time.Now()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	r := c.Check(ctx)
	r.Time = time.Now()
	r.Duration = r.Time.Sub(start)
	return r
}

// Timeouts returns the connect timeout and the whole-check timeout HAProxy
// uses for a server: without `timeout check`, inter bounds the whole check
// (connect and response); with it, the connect is bounded by
// min(timeout connect, inter) and the response by `timeout check` after
// that. Zero timeoutConnect means unset.
func Timeouts(inter, timeoutConnect, timeoutCheck time.Duration) (connect, total time.Duration) {
	if timeoutCheck <= 0 {
		return inter, inter
	}
	connect = inter
	if timeoutConnect > 0 && timeoutConnect < connect {
		connect = timeoutConnect
	}
	return connect, connect + timeoutCheck
}
