package checks

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"time"
)

// SMTP is HAProxy's `option smtpchk [HELO|EHLO <domain>]` and keepalived's
// SMTP_CHECK: the banner must be 2xx, then HELO (or EHLO) and QUIT must be
// answered with 2xx. The result carries the last reply: L7OK, code 221,
// info "bye" for a server answering "221 bye" to QUIT, as HAProxy 2.6
// reports it. A banner with another code is L7STS with code and text. Like
// HAProxy, a non-2xx reply to HELO or QUIT is not judged at once: the check
// keeps waiting for a 2xx line, so it ends in L7TOUT if the server keeps
// the connection open (measured) and in L7RSP if it closes it.
type SMTP struct {
	Addr           string
	ConnectTimeout time.Duration
	// Verb is "HELO" (default) or "EHLO"; Domain defaults to "localhost".
	Verb, Domain string
}

// Check runs the exchange.
func (c *SMTP) Check(ctx context.Context) Result {
	conn, fail := dial(ctx, c.Addr, c.ConnectTimeout, nil)
	if fail != nil {
		return *fail
	}
	defer conn.Close()
	defer watch(ctx, conn)()
	setDeadline(ctx, conn)
	br := bufio.NewReaderSize(conn, 4096)
	if r := smtpReply(br); r.Status != StatusL7OK {
		return r
	}
	verb, domain := c.Verb, c.Domain
	if verb == "" {
		verb = "HELO"
	}
	if domain == "" {
		domain = "localhost"
	}
	var r Result
	for _, cmd := range []string{verb + " " + domain, "QUIT"} {
		if _, err := io.WriteString(conn, cmd+"\r\n"); err != nil {
			return ioFailure(err, StatusL7TOUT, StatusL7RSP)
		}
		for {
			r = smtpReply(br)
			if r.Status == StatusL7OK {
				break
			}
			if r.Status != StatusL7STS {
				return Result{Status: r.Status}
			}
		}
	}
	return r
}

// smtpReply reads one (possibly multi-line) reply and judges it: 2xx is
// L7OK, another code L7STS, garbage L7RSP, nothing in time L7TOUT. The
// info is the text of the reply's last line.
func smtpReply(br *bufio.Reader) Result {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if isTimeout(err) {
				return Result{Status: StatusL7TOUT}
			}
			return Result{Status: StatusL7RSP}
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return Result{Status: StatusL7RSP, Info: line}
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return Result{Status: StatusL7RSP, Info: line}
		}
		if len(line) > 3 && line[3] == '-' {
			continue // continuation of a multi-line reply
		}
		info := strings.TrimSpace(line[3:])
		if code < 200 || code > 299 {
			return Result{Status: StatusL7STS, Code: code, Info: info}
		}
		return Result{Status: StatusL7OK, Code: code, Info: info}
	}
}
