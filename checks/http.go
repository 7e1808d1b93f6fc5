package checks

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Header is one request header, kept in order.
type Header struct {
	Name, Value string
}

// HTTPRequest is the request an HTTP check sends.
type HTTPRequest struct {
	Method, URI, Version string
	Headers              []Header
	Body                 string
	// Verbatim turns off HAProxy's additions (content-length for a body,
	// `connection: close` for HTTP/1.1): keepalived's HTTP_GET sends its
	// request as written.
	Verbatim bool
}

// LegacyHTTPCheck builds the request of `option httpchk [<method> <uri>
// [<version>]]` as HAProxy 2.6 does, including the 1.x trick of hiding
// headers and a body in the version string ("HTTP/1.1\r\nHost:x"). version
// is taken as HAProxy's config parser delivers it (escapes resolved); a
// literal backslash-r-backslash-n is accepted too. Header names are lower
// cased and values trimmed; Bytes adds content-length and `connection:
// close`. Measured on the wire from HAProxy 2.6.12: `option httpchk HEAD
// /haproxy.txt HTTP/1.1\r\nHost:192.168.1.187` sends
// "HEAD /haproxy.txt HTTP/1.1\r\nhost: 192.168.1.187\r\nconnection: close\r\n\r\n";
// bare `option httpchk` sends "OPTIONS / HTTP/1.0\r\n\r\n".
func LegacyHTTPCheck(method, uri, version string) HTTPRequest {
	if method == "" {
		method = "OPTIONS"
	}
	if uri == "" {
		uri = "/"
	}
	version = strings.ReplaceAll(version, `\r\n`, "\r\n")
	if version == "" {
		version = "HTTP/1.0"
	}
	r := HTTPRequest{Method: method, URI: uri}
	head, rest, _ := strings.Cut(version, "\r\n")
	r.Version = head
	hdrs, body, _ := strings.Cut(rest, "\r\n\r\n")
	for line := range strings.SplitSeq(hdrs, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			continue
		}
		r.Headers = append(r.Headers, Header{strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)})
	}
	r.Body = body
	return r
}

// HTTPCheckSend applies one `http-check send` line (args after "send":
// meth M, uri U, ver V, hdr NAME VALUE (repeatable), body STRING) to the
// request of `option httpchk`, as HAProxy 2.x does: given fields replace
// the defaults, headers are added with lower-cased names. Measured:
// `http-check send meth GET uri /h ver HTTP/1.1 hdr Host foo hdr X-A b body
// hello` sends "GET /h HTTP/1.1\r\nhost: foo\r\nx-a: b\r\ncontent-length:
// 5\r\nconnection: close\r\n\r\nhello".
func HTTPCheckSend(base HTTPRequest, args []string) (HTTPRequest, error) {
	r := base
	r.Headers = append([]Header(nil), base.Headers...)
	for i := 0; i < len(args); i++ {
		need := 1
		if args[i] == "hdr" {
			need = 2
		}
		if i+need >= len(args) {
			return r, fmt.Errorf("http-check send: %q expects %d argument(s)", args[i], need)
		}
		switch args[i] {
		case "meth":
			r.Method = args[i+1]
		case "uri", "uri-lf":
			r.URI = args[i+1]
		case "ver":
			r.Version = args[i+1]
		case "hdr":
			r.Headers = append(r.Headers, Header{strings.ToLower(args[i+1]), args[i+2]})
		case "body", "body-lf":
			r.Body = args[i+1]
		default:
			return r, fmt.Errorf("http-check send: unknown argument %q (expects meth, uri, ver, hdr, body)", args[i])
		}
		i += need
	}
	return r, nil
}

// Bytes serializes the request as it goes on the wire.
func (r HTTPRequest) Bytes() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", r.Method, r.URI, r.Version)
	hasLen, hasConn := false, false
	for _, h := range r.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h.Name, h.Value)
		hasLen = hasLen || strings.EqualFold(h.Name, "content-length")
		hasConn = hasConn || strings.EqualFold(h.Name, "connection")
	}
	if !r.Verbatim {
		if r.Body != "" && !hasLen {
			fmt.Fprintf(&b, "content-length: %d\r\n", len(r.Body))
		}
		if r.Version != "HTTP/1.0" && !hasConn {
			b.WriteString("connection: close\r\n")
		}
	}
	b.WriteString("\r\n")
	b.WriteString(r.Body)
	return b.Bytes()
}

// ExpectKind is what an `http-check expect` rule looks at.
type ExpectKind int

// The kinds of `http-check expect`.
const (
	ExpectStatus  ExpectKind = iota // status <codes>: list "200,301" and ranges "200-299"
	ExpectRStatus                   // rstatus <regex> on the 3-digit status
	ExpectString                    // string <text> contained in the body
	ExpectRString                   // rstring <regex> on the body
)

// HTTPExpect is one `http-check expect [!] <kind> <pattern>` rule.
type HTTPExpect struct {
	Kind    ExpectKind
	Negate  bool
	Pattern string
	re      *regexp.Regexp
	ranges  [][2]int
}

// ParseHTTPExpect parses the arguments after `http-check expect`, for
// example ["status", "200"], ["!", "string", "maintenance"],
// ["rstatus", "^2"]. It is also how keepalived's status_code list
// ("200 301-302") is expressed: Kind ExpectStatus with a pattern.
func ParseHTTPExpect(args []string) (HTTPExpect, error) {
	var e HTTPExpect
	if len(args) > 0 && args[0] == "!" {
		e.Negate, args = true, args[1:]
	}
	if len(args) != 2 {
		return e, fmt.Errorf("http-check expect: expects [!] <status|rstatus|string|rstring> <pattern>, got %q", strings.Join(args, " "))
	}
	e.Pattern = args[1]
	switch args[0] {
	case "status":
		e.Kind = ExpectStatus
		rs, err := parseCodeRanges(args[1])
		if err != nil {
			return e, fmt.Errorf("http-check expect status: %w", err)
		}
		e.ranges = rs
	case "rstatus", "rstring":
		e.Kind = ExpectRStatus
		if args[0] == "rstring" {
			e.Kind = ExpectRString
		}
		re, err := regexp.Compile(args[1])
		if err != nil {
			return e, fmt.Errorf("http-check expect %s: %w", args[0], err)
		}
		e.re = re
	case "string":
		e.Kind = ExpectString
	default:
		return e, fmt.Errorf("http-check expect: unsupported match %q (supported: status, rstatus, string, rstring)", args[0])
	}
	return e, nil
}

// parseCodeRanges parses "200", "200,301", "200-299", "200 301-302".
func parseCodeRanges(s string) ([][2]int, error) {
	var rs [][2]int
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad status code %q", f)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad status range %q", f)
			}
		}
		rs = append(rs, [2]int{a, b})
	}
	if len(rs) == 0 {
		return nil, errors.New("no status code")
	}
	return rs, nil
}

func (e *HTTPExpect) needsBody() bool { return e.Kind == ExpectString || e.Kind == ExpectRString }

// match evaluates the rule, before negation.
func (e *HTTPExpect) match(code int, body []byte) bool {
	switch e.Kind {
	case ExpectStatus:
		for _, r := range e.ranges {
			if code >= r[0] && code <= r[1] {
				return true
			}
		}
		return false
	case ExpectRStatus:
		return e.re.MatchString(strconv.Itoa(code))
	case ExpectString:
		return bytes.Contains(body, []byte(e.Pattern))
	default:
		return e.re.Match(body)
	}
}

// HTTP is an HTTP health check: HAProxy's `option httpchk` with
// `http-check send/expect`, and keepalived's HTTP_GET (status_code list
// and MD5 digest of the body). Without Expect rules a 2xx or 3xx status
// passes (L7OK) and anything else is L7STS with the code, as in HAProxy.
// Infos are HAProxy 2.6's (measured from its stats last_chk column): none
// for L7OK, the reason phrase for L7STS, "HTTP content check did not
// match" or "HTTP check matched unwanted content" for body rules (L7RSP).
type HTTP struct {
	// Addr is host:port (see CheckAddr).
	Addr string
	// ConnectTimeout bounds the connect (0: only the check's context).
	ConnectTimeout time.Duration
	// Request is what is sent.
	Request HTTPRequest
	// Expect rules must all hold (in order; the first failing one decides).
	Expect []HTTPExpect
	// Digest, when set, is the lower-case hex MD5 the whole body must
	// have (keepalived's `digest`).
	Digest string
	// MaxBody caps the body read for string rules and the digest
	// (0: 16 KiB for rules, like HAProxy's check buffer; 16 MiB for a
	// digest).
	MaxBody int
	// TLS, when set, speaks HTTPS (HAProxy's `check-ssl`, keepalived's
	// SSL_GET); a failed handshake is L6RSP, a slow one L6TOUT.
	TLS *tls.Config
	// DisableOn404 is `http-check disable-on-404`: a 404 is L7OKC
	// ("conditionally passed"): the server stays up but the caller should
	// stop sending it new traffic (HAProxy's NOLB state).
	DisableOn404 bool
}

// Check sends the request and judges the response.
func (c *HTTP) Check(ctx context.Context) Result {
	conn, fail := dial(ctx, c.Addr, c.ConnectTimeout, nil)
	if fail != nil {
		return *fail
	}
	defer conn.Close()
	defer watch(ctx, conn)()
	setDeadline(ctx, conn)
	if c.TLS != nil {
		tc, fail := handshake(ctx, conn, c.TLS)
		if fail != nil {
			return *fail
		}
		conn = tc
	}
	if _, err := conn.Write(c.Request.Bytes()); err != nil {
		return ioFailure(err, StatusL7TOUT, StatusL4CON)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: c.Request.Method})
	if err != nil {
		if isTimeout(err) {
			return Result{Status: StatusL7TOUT}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Result{Status: StatusL7RSP}
		}
		return Result{Status: StatusL7RSP} // HAProxy 2.6 gives no info either
	}
	defer resp.Body.Close()
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	needBody := c.Digest != ""
	for i := range c.Expect {
		needBody = needBody || c.Expect[i].needsBody()
	}
	var body []byte
	if needBody {
		limit := c.MaxBody
		if limit <= 0 {
			limit = 16 << 10
			if c.Digest != "" {
				limit = 16 << 20
			}
		}
		body, err = io.ReadAll(io.LimitReader(resp.Body, int64(limit)))
		if err != nil && isTimeout(err) {
			return Result{Status: StatusL7TOUT, Code: resp.StatusCode}
		}
	}
	if c.DisableOn404 && resp.StatusCode == 404 {
		return Result{Status: StatusL7OKC, Code: 404} // no info, as HAProxy 2.6
	}
	if len(c.Expect) == 0 {
		if resp.StatusCode < 200 || resp.StatusCode > 399 {
			return Result{Status: StatusL7STS, Code: resp.StatusCode, Info: reason}
		}
	}
	for i := range c.Expect {
		e := &c.Expect[i]
		if e.match(resp.StatusCode, body) != e.Negate {
			continue
		}
		if e.needsBody() {
			if e.Negate {
				return Result{Status: StatusL7RSP, Info: "HTTP check matched unwanted content"}
			}
			return Result{Status: StatusL7RSP, Info: "HTTP content check did not match"}
		}
		return Result{Status: StatusL7STS, Code: resp.StatusCode, Info: reason}
	}
	if c.Digest != "" {
		sum := md5.Sum(body)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, c.Digest) {
			return Result{Status: StatusL7RSP, Code: resp.StatusCode, Info: "MD5 digest mismatch: got " + got}
		}
	}
	return Result{Status: StatusL7OK, Code: resp.StatusCode}
}

// KeepalivedHTTPGet builds the request keepalived's HTTP_GET and SSL_GET
// send for a url block: host is the virtualhost, else the checked
// "ip:port"; protocol is http_protocol: "1.0" (default), "1.0C" (1.0 with
// Connection: close) or "1.1" (with Connection: close). Measured with
// keepalived 2.2.7's genhash (keepalived -T), byte for byte:
// "GET /haproxy.txt HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:28301\r\n\r\n".
func KeepalivedHTTPGet(path, host, protocol string) HTTPRequest {
	r := HTTPRequest{Method: "GET", URI: path, Version: "HTTP/1.0", Verbatim: true}
	r.Headers = []Header{{"User-Agent", "KeepAliveClient"}}
	switch strings.ToUpper(protocol) {
	case "1.1":
		r.Version = "HTTP/1.1"
		r.Headers = append(r.Headers, Header{"Connection", "close"})
	case "1.0C":
		r.Headers = append(r.Headers, Header{"Connection", "close"})
	}
	r.Headers = append(r.Headers, Header{"Host", host})
	return r
}

// ioFailure maps an error while talking to a connected peer.
func ioFailure(err error, timeout, other Status) Result {
	if isTimeout(err) {
		return Result{Status: timeout}
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return Result{Status: other, Info: ne.Err.Error()}
	}
	return Result{Status: other, Info: err.Error()}
}
