package checks

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// StepKind is the action of one `tcp-check` rule.
type StepKind int

// The tcp-check rules supported.
const (
	StepConnect StepKind = iota // connect [port N] [addr A]
	StepSend                    // send <string> / send-binary <hex>
	StepExpect                  // expect [!] string|rstring|binary|rbinary <pattern>
	StepComment                 // comment <text>: names the next rule in errors
)

// TCPStep is one `tcp-check` rule.
type TCPStep struct {
	Kind StepKind
	// Port and Addr override the check address for a connect step.
	Port int
	Addr string
	// Data is what a send step writes.
	Data []byte
	// Match is the expect rule's kind: "string", "rstring", "binary", "rbinary".
	Match   string
	Negate  bool
	Pattern []byte // literal for string/binary
	Text    string // the pattern as written (for info texts) or the comment
	re      *regexp.Regexp
	// OKInfo, ErrorStatus and ErrorInfoLine mirror HAProxy's expect
	// options on-success, error-status and an on-error of the received
	// first line, used by its built-in rule sets (see RedisCheck). With
	// ErrorInfoLine set a timeout carries no info, as in HAProxy.
	OKInfo        string
	ErrorStatus   Status
	ErrorInfoLine bool
}

// ParseTCPCheckRule parses the arguments after `tcp-check`, with escapes
// already resolved by the config parser: ["connect", "port", "6379"],
// ["send", "PING\r\n"], ["send-binary", "0a00"], ["expect", "string",
// "+PONG"], ["expect", "!", "rstring", "^-ERR"], ["comment", "text"].
func ParseTCPCheckRule(args []string) (TCPStep, error) {
	if len(args) == 0 {
		return TCPStep{}, fmt.Errorf("tcp-check: missing action")
	}
	switch args[0] {
	case "connect":
		s := TCPStep{Kind: StepConnect}
		for i := 1; i < len(args); i++ {
			switch args[i] {
			case "port", "addr":
				if i+1 >= len(args) {
					return s, fmt.Errorf("tcp-check connect: %q expects an argument", args[i])
				}
				if args[i] == "addr" {
					s.Addr = args[i+1]
				} else {
					p, err := strconv.Atoi(args[i+1])
					if err != nil || p < 1 || p > 65535 {
						return s, fmt.Errorf("tcp-check connect: bad port %q", args[i+1])
					}
					s.Port = p
				}
				i++
			case "comment":
				if i+1 < len(args) {
					s.Text = args[i+1]
				}
				i++
			default:
				// send-proxy, ssl, linger, ...: not supported; ignored so
				// that configs still load (the caller may warn).
			}
		}
		return s, nil
	case "send":
		if len(args) < 2 {
			return TCPStep{}, fmt.Errorf("tcp-check send: expects a string")
		}
		return TCPStep{Kind: StepSend, Data: []byte(args[1])}, nil
	case "send-binary":
		if len(args) < 2 {
			return TCPStep{}, fmt.Errorf("tcp-check send-binary: expects a hex string")
		}
		b, err := hex.DecodeString(args[1])
		if err != nil {
			return TCPStep{}, fmt.Errorf("tcp-check send-binary: %w", err)
		}
		return TCPStep{Kind: StepSend, Data: b}, nil
	case "comment":
		return TCPStep{Kind: StepComment, Text: strings.Join(args[1:], " ")}, nil
	case "expect":
		s := TCPStep{Kind: StepExpect}
		a := args[1:]
		if len(a) > 0 && a[0] == "!" {
			s.Negate, a = true, a[1:]
		}
		if len(a) < 2 {
			return s, fmt.Errorf("tcp-check expect: expects [!] <string|rstring|binary|rbinary> <pattern>")
		}
		s.Match, s.Text = a[0], a[1]
		var err error
		switch a[0] {
		case "string":
			s.Pattern = []byte(a[1])
		case "binary":
			s.Pattern, err = hex.DecodeString(a[1])
		case "rstring":
			s.re, err = regexp.Compile(a[1])
		case "rbinary":
			s.re, err = regexp.Compile(a[1]) // matched against the hex dump, as HAProxy does
		default:
			return s, fmt.Errorf("tcp-check expect: unsupported match %q (supported: string, rstring, binary, rbinary)", a[0])
		}
		if err != nil {
			return s, fmt.Errorf("tcp-check expect %s: %w", a[0], err)
		}
		return s, nil
	}
	return TCPStep{}, fmt.Errorf("tcp-check: unsupported action %q (supported: connect, send, send-binary, expect, comment)", args[0])
}

// TCPCheck runs a `tcp-check` rule sequence (`option tcp-check`). Without
// a leading connect rule the check connects to Addr first, as HAProxy
// does. It passes with L4OK when there were only connects and with L7OK
// "(tcp-check)" when data was exchanged; a mismatch is L7RSP "TCPCHK did not
// match content '...' at step N". Like HAProxy, an expect keeps reading
// while the server keeps the connection open, so a wrong answer from a
// server that does not close ends in L7TOUT " at step N of tcp-check
// (expect string '...')" (the leading space is HAProxy's). Infos were
// measured against HAProxy 2.6 (see TestChecksMatchHAProxy).
type TCPCheck struct {
	Addr           string
	ConnectTimeout time.Duration
	Steps          []TCPStep
	// MaxRead caps what an expect reads before giving up (0: 16 KiB,
	// HAProxy's check buffer).
	MaxRead int
}

// Check runs the sequence.
func (c *TCPCheck) Check(ctx context.Context) Result {
	steps := c.Steps
	if len(steps) == 0 || steps[0].Kind != StepConnect {
		steps = append([]TCPStep{{Kind: StepConnect}}, steps...)
	}
	implicit := len(steps) != len(c.Steps)
	maxRead := c.MaxRead
	if maxRead <= 0 {
		maxRead = 16 << 10
	}
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var buf []byte
	exchanged := false
	okInfo := "(tcp-check)"
	comment := ""
	for i, s := range steps {
		n := i + 1 // HAProxy numbers configured rules from 1
		if implicit {
			n = i
		}
		where := fmt.Sprintf(" at step %d", n)
		if comment != "" {
			where += " comment: '" + comment + "'"
		}
		connectWhere := fmt.Sprintf(" at step %d of tcp-check (connect)", n)
		if implicit && i == 0 {
			connectWhere = " at initial connection step of tcp-check"
		}
		switch s.Kind {
		case StepComment:
			comment = s.Text
			continue
		case StepConnect:
			if conn != nil {
				conn.Close()
			}
			addr, err := CheckAddr(c.Addr, s.Addr, s.Port)
			if err != nil {
				return Result{Status: StatusSockErr, Info: err.Error()}
			}
			var fail *Result
			conn, fail = dial(ctx, addr, c.ConnectTimeout, nil)
			if fail != nil {
				fail.Info = strings.TrimSpace(fail.Info + connectWhere)
				return *fail
			}
			defer watch(ctx, conn)()
			setDeadline(ctx, conn)
			buf = buf[:0]
		case StepSend:
			exchanged = true
			buf = buf[:0]
			if _, err := conn.Write(s.Data); err != nil {
				r := ioFailure(err, StatusL7TOUT, StatusL4CON)
				r.Info = strings.TrimSpace(r.Info + where)
				return r
			}
		case StepExpect:
			exchanged = true
			var matched bool
			var end int
			var err error
			for {
				matched, end = s.match(buf)
				if matched || len(buf) >= maxRead || err != nil {
					break
				}
				tmp := make([]byte, 4096)
				var k int
				k, err = conn.Read(tmp)
				buf = append(buf, tmp[:k]...)
			}
			if matched != s.Negate {
				if matched {
					buf = buf[end:]
				}
				if s.OKInfo != "" {
					okInfo = s.OKInfo
				}
				comment = ""
				continue
			}
			if !matched && err != nil && isTimeout(err) {
				if s.ErrorInfoLine {
					return Result{Status: StatusL7TOUT}
				}
				return Result{Status: StatusL7TOUT, Info: fmt.Sprintf(" at step %d of tcp-check (expect %s '%s')", n, s.Match, s.Text)}
			}
			st := s.ErrorStatus
			if st == 0 {
				st = StatusL7RSP
			}
			if s.ErrorInfoLine {
				line, _, _ := bytes.Cut(buf, []byte("\n"))
				return Result{Status: st, Info: string(bytes.TrimRight(line, "\r"))}
			}
			return Result{Status: st, Info: s.failInfo() + where}
		}
		comment = ""
	}
	if !exchanged {
		return Result{Status: StatusL4OK}
	}
	return Result{Status: StatusL7OK, Info: okInfo}
}

// match reports whether buf satisfies the rule and where the match ends.
func (s *TCPStep) match(buf []byte) (bool, int) {
	switch s.Match {
	case "string", "binary":
		if i := bytes.Index(buf, s.Pattern); i >= 0 {
			return true, i + len(s.Pattern)
		}
	case "rstring":
		if loc := s.re.FindIndex(buf); loc != nil {
			return true, loc[1]
		}
	case "rbinary":
		if loc := s.re.FindStringIndex(strings.ToUpper(hex.EncodeToString(buf))); loc != nil {
			return true, (loc[1] + 1) / 2
		}
	}
	return false, 0
}

func (s *TCPStep) failInfo() string {
	verb := "did not match"
	if s.Negate {
		verb = "matched unwanted"
	}
	switch s.Match {
	case "string":
		return fmt.Sprintf("TCPCHK %s content '%s'", verb, s.Text)
	case "binary":
		return fmt.Sprintf("TCPCHK %s content (binary)", verb)
	default:
		return fmt.Sprintf("TCPCHK %s content (regex)", verb)
	}
}

// RedisCheck is HAProxy's `option redis-check`: PING, expecting +PONG;
// L7OK "Redis server is ok", or L7STS with the reply line (measured on
// HAProxy 2.6).
func RedisCheck(addr string) *TCPCheck {
	return &TCPCheck{Addr: addr, Steps: []TCPStep{
		{Kind: StepSend, Data: []byte("PING\r\n")},
		{Kind: StepExpect, Match: "string", Pattern: []byte("+PONG"), Text: "+PONG",
			OKInfo: "Redis server is ok", ErrorStatus: StatusL7STS, ErrorInfoLine: true},
	}}
}
