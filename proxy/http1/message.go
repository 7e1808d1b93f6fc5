package http1

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"unsafe"
)

// DefaultMaxHead is the largest message head HAProxy 2.6 accepts with its
// default tune.bufsize (16384) minus tune.maxrewrite (1024).
const DefaultMaxHead = 16384 - 1024

// Error is a malformed or refused message. Status is the status HAProxy
// 2.6 answers with (400 for a bad request head, 422 for a transfer coding
// it cannot process, 502 for a bad response head).
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "http1: " + strconv.Itoa(e.Status) + ": " + e.Reason }

func badReq(reason string) error  { return &Error{Status: 400, Reason: reason} }
func badResp(reason string) error { return &Error{Status: 502, Reason: reason} }

// Framing says how a message body is delimited. Length is the
// Content-Length, 0 for no body, or -1 when the body runs until the
// connection closes (responses only). Chunked overrides Length.
type Framing struct {
	Chunked bool
	Length  int64
	hadCL   bool // chunked with a Content-Length too (removed)
}

// Request is an HTTP/1.x request head. Its strings point into a buffer
// owned by the Request and stay valid until the Request is read into again.
type Request struct {
	Method, Target string
	// Minor is the x in HTTP/1.x (HAProxy forwards other versions as 1.1).
	Minor  int
	Header Header
	Body   Framing
	// Close: the client asked to close after this exchange (Connection:
	// close, or HTTP/1.0 without keep-alive).
	Close bool
	// KeepAlive: an HTTP/1.0 client sent Connection: keep-alive.
	KeepAlive bool
	// Upgrade: Connection: upgrade with an Upgrade header (WebSocket).
	Upgrade   bool
	Expect100 bool
	// HeadLen is the size of the head as received, in bytes.
	HeadLen int

	buf   []byte
	lines []int
}

// Response is an HTTP/1.x response head, with the same string lifetime as
// Request.
type Response struct {
	Minor     int
	Status    int
	Reason    string
	Header    Header
	Body      Framing
	Close     bool
	KeepAlive bool
	Upgrade   bool
	HeadLen   int

	buf   []byte
	lines []int
}

// ReadRequest reads a request head from r, refusing heads larger than
// maxHead bytes (0 = DefaultMaxHead). Leading empty lines are skipped as
// HAProxy does. Malformed input yields an *Error with HAProxy's status;
// io.EOF means the connection closed before any byte of a request.
func ReadRequest(r *bufio.Reader, maxHead int) (*Request, error) {
	req := new(Request)
	return req, req.Read(r, maxHead)
}

// ReadResponse reads a response head from r. reqMethod is the method of the
// request it answers: HEAD responses and 1xx/204/304 carry no body.
func ReadResponse(r *bufio.Reader, maxHead int, reqMethod string) (*Response, error) {
	resp := new(Response)
	return resp, resp.Read(r, maxHead, reqMethod)
}

// readHead reads the raw head (up to and including the empty line) into
// buf and returns the line boundaries. Bare LF line ends are accepted.
func readHead(r *bufio.Reader, maxHead int, buf []byte, lines []int, isReq bool) ([]byte, []int, error) {
	if maxHead <= 0 {
		maxHead = DefaultMaxHead
	}
	buf = buf[:0]
	lines = lines[:0]
	cur := 0 // start of the current line in buf
	for {
		line, err := r.ReadSlice('\n')
		if len(buf)+len(line) > maxHead {
			if isReq {
				return buf, lines, badReq("head too large")
			}
			return buf, lines, badResp("head too large")
		}
		buf = append(buf, line...)
		if err != nil {
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF && len(buf) == 0 {
				return buf, lines, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, lines, err
		}
		l := trimEOL(buf[cur:])
		if len(l) == 0 {
			if len(lines) == 0 {
				if isReq {
					// Leading empty lines before a request are skipped.
					buf = buf[:0]
					cur = 0
					continue
				}
				return buf, lines, badResp("empty status line")
			}
			return buf, lines, nil
		}
		lines = append(lines, len(buf))
		cur = len(buf)
	}
}

// trimEOL removes the trailing LF or CRLF.
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// isTchar reports whether c is a token character (RFC 9110 tchar).
func isTchar(c byte) bool {
	return tcharTable[c]
}

var tcharTable = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()

// Read reads a request head into req, reusing its buffers.
func (req *Request) Read(r *bufio.Reader, maxHead int) error {
	buf, lines, err := readHead(r, maxHead, req.buf, req.lines, true)
	req.buf, req.lines = buf, lines
	if err != nil {
		// HeadLen tells how much of a head arrived before the error.
		req.HeadLen = len(buf)
		return err
	}
	*req = Request{buf: buf, lines: lines, Header: req.Header[:0], HeadLen: len(buf)}
	first := trimEOL(buf[:lines[0]])
	// method SP+ target SP+ HTTP/x.y
	i := 0
	for i < len(first) && isTchar(first[i]) {
		i++
	}
	if i == 0 || i >= len(first) || first[i] != ' ' {
		return badReq("bad method")
	}
	req.Method = str(first[:i])
	for i < len(first) && first[i] == ' ' {
		i++
	}
	j := i
	for j < len(first) && first[j] != ' ' {
		c := first[j]
		if c < 0x21 || c == 0x7f {
			return badReq("bad character in target")
		}
		j++
	}
	if j == i {
		return badReq("missing target")
	}
	req.Target = str(first[i:j])
	for j < len(first) && first[j] == ' ' {
		j++
	}
	minor, ok := parseVersion(first[j:])
	if !ok {
		return badReq("bad version")
	}
	req.Minor = minor
	conn, err := parseFields(buf, lines, &req.Header, true)
	if err != nil {
		return err
	}
	req.Body, err = framing(&req.Header, true)
	if err != nil {
		return err
	}
	if !req.Body.Chunked && req.Body.Length < 0 {
		req.Body.Length = 0
	}
	req.Close, req.KeepAlive, req.Upgrade = conn.close, conn.keepAlive, conn.upgrade && req.Header.Has("Upgrade")
	if req.Upgrade {
		conn.restore(&req.Header)
		if k := req.Header.Get("Sec-WebSocket-Key"); k != "" && !validWebSocketKey(k) {
			return badReq("invalid Sec-WebSocket-Key")
		}
	}
	if req.Minor == 0 && !conn.keepAlive {
		req.Close = true
	}
	if req.Body.hadCL {
		// HAProxy closes the client connection after a request that
		// had both Transfer-Encoding and Content-Length (smuggling defence).
		req.Close = true
		req.Body.hadCL = false
	}
	if req.Header.countHost() > 1 {
		return badReq("several Host headers")
	}
	if v := req.Header.Get("Expect"); len(v) == 12 && equalFoldASCII(v, "100-continue") {
		req.Expect100 = true
	}
	return nil
}

// Read reads a response head into resp, reusing its buffers.
func (resp *Response) Read(r *bufio.Reader, maxHead int, reqMethod string) error {
	buf, lines, err := readHead(r, maxHead, resp.buf, resp.lines, false)
	resp.buf, resp.lines = buf, lines
	if err != nil {
		resp.HeadLen = len(buf)
		if e, ok := err.(*Error); ok {
			e.Status = 502
		}
		return err
	}
	*resp = Response{buf: buf, lines: lines, Header: resp.Header[:0], HeadLen: len(buf)}
	first := trimEOL(buf[:lines[0]])
	if len(first) < 12 || first[8] != ' ' {
		return badResp("bad status line")
	}
	minor, ok := parseVersion(first[:8])
	if !ok {
		return badResp("bad version")
	}
	resp.Minor = minor
	st := first[9:12]
	if st[0] < '1' || st[0] > '9' || st[1] < '0' || st[1] > '9' || st[2] < '0' || st[2] > '9' {
		return badResp("bad status")
	}
	resp.Status = int(st[0]-'0')*100 + int(st[1]-'0')*10 + int(st[2]-'0')
	if len(first) > 12 {
		if first[12] != ' ' {
			return badResp("bad status")
		}
		resp.Reason = str(first[13:])
	}
	conn, err := parseFields(buf, lines, &resp.Header, false)
	if err != nil {
		return err
	}
	resp.Body, err = framing(&resp.Header, false)
	if err != nil {
		return err
	}
	resp.Close, resp.KeepAlive = conn.close, conn.keepAlive
	if resp.Minor == 0 && !conn.keepAlive {
		resp.Close = true
	}
	switch {
	case reqMethod == "HEAD" || resp.Status < 200 || resp.Status == 204 || resp.Status == 304:
		resp.Body = Framing{}
	case reqMethod == "CONNECT" && resp.Status < 300:
		resp.Body = Framing{Length: -1}
	}
	if resp.Status == 101 {
		resp.Upgrade = true
		conn.restore(&resp.Header)
	}
	return nil
}

// parseVersion parses "HTTP/x.y". HAProxy accepts any digit pair and
// forwards versions other than 1.0 as 1.1.
func parseVersion(v []byte) (int, bool) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, false
	}
	if v[5] == '1' && v[7] == '0' {
		return 0, true
	}
	return 1, true
}

type connTokens struct {
	close, keepAlive, upgrade bool
	// The first Connection field, kept to be put back for upgrades
	// (HAProxy forwards it as received then).
	field Field
	pos   int
}

// parseFields parses the header lines into h. Connection fields are
// consumed (their tokens returned), as HAProxy rebuilds that header.
// Obsolete line folding is unfolded with spaces, as HAProxy does.
func parseFields(buf []byte, lines []int, h *Header, isReq bool) (connTokens, error) {
	var ct connTokens
	bad := badReq
	if !isReq {
		bad = badResp
	}
	for k := 1; k < len(lines); k++ {
		start := lines[k-1]
		line := trimEOL(buf[start:lines[k]])
		if line[0] == ' ' || line[0] == '\t' {
			if len(*h) == 0 {
				return ct, bad("folded line without header")
			}
			// Unfold as HAProxy does: the line end becomes spaces.
			last := &(*h)[len(*h)-1]
			sp := "  "
			if buf[start-2] != '\r' {
				sp = " "
			}
			last.Value = last.Value + sp + string(trimOWSRight(line))
			continue
		}
		i := 0
		for i < len(line) && isTchar(line[i]) {
			i++
		}
		if i == 0 || i >= len(line) || line[i] != ':' {
			return ct, bad("bad header name")
		}
		name := line[:i]
		val := trimOWS(line[i+1:])
		if len(name) == 10 && equalFoldASCII(str(name), "Connection") {
			if ct.field.Name == "" {
				ct.field, ct.pos = Field{Name: str(name), Value: str(val)}, len(*h)
			}
			parseConnection(val, &ct)
			continue
		}
		*h = append(*h, Field{Name: str(name), Value: str(val)})
	}
	return ct, nil
}

func parseConnection(v []byte, ct *connTokens) {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		tok := str(trimOWS(v[:i]))
		switch {
		case equalFoldASCII(tok, "close"):
			ct.close = true
		case equalFoldASCII(tok, "keep-alive"):
			ct.keepAlive = true
		case equalFoldASCII(tok, "upgrade"):
			ct.upgrade = true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
}

func trimOWSRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x|0x20 != y|0x20 || (x|0x20) < 'a' || (x|0x20) > 'z' {
			if x != y {
				return false
			}
		}
	}
	return true
}

func (h Header) countHost() int {
	n := 0
	for _, f := range h {
		if len(f.Name) == 4 && equalFoldASCII(f.Name, "Host") {
			n++
		}
	}
	return n
}

// framing derives the body framing from Content-Length and
// Transfer-Encoding the way HAProxy 2.6 does: several equal lengths
// collapse to one, different ones are refused, a non-final or non-chunked
// coding is refused, and chunked wins over Content-Length (which is
// then removed, as HAProxy does to defeat request smuggling).
func framing(h *Header, isReq bool) (Framing, error) {
	bad := badReq
	if !isReq {
		bad = badResp
	}
	f := Framing{Length: -1}
	var te, cl, ncl int
	for k, fl := range *h {
		switch {
		case len(fl.Name) == 17 && equalFoldASCII(fl.Name, "Transfer-Encoding"):
			te++
			v := fl.Value
			chunkedLast, other := false, false
			for len(v) > 0 {
				i := 0
				for i < len(v) && v[i] != ',' {
					i++
				}
				tok := string(trimOWS([]byte(v[:i])))
				if tok != "" {
					if chunkedLast {
						return f, bad("chunked is not the last coding")
					}
					if equalFoldASCII(tok, "chunked") {
						chunkedLast = true
					} else {
						other = true
					}
				}
				if i == len(v) {
					break
				}
				v = v[i+1:]
			}
			if !chunkedLast {
				return f, bad("transfer coding without chunked last")
			}
			if other && isReq {
				return f, &Error{Status: 422, Reason: "unsupported transfer coding"}
			}
			f.Chunked = true
		case len(fl.Name) == 14 && equalFoldASCII(fl.Name, "Content-Length"):
			v := fl.Value
			if len(trimOWS([]byte(v))) == 0 {
				return f, bad("empty content-length")
			}
			for len(v) > 0 {
				i := 0
				for i < len(v) && v[i] != ',' {
					i++
				}
				n, ok := parseLength(trimOWS([]byte(v[:i])))
				if !ok {
					return f, bad("bad content-length")
				}
				if ncl > 0 && n != f.Length {
					return f, bad("conflicting content-length")
				}
				f.Length = n
				ncl++
				if i == len(v) {
					break
				}
				v = v[i+1:]
			}
			if cl == 0 {
				// Normalise a list to the single value.
				(*h)[k].Value = strconv.FormatInt(f.Length, 10)
			}
			cl++
		}
	}
	if f.Chunked {
		if cl > 0 {
			f.hadCL = true
		}
		h.Del("Content-Length")
		f.Length = 0
	} else if cl > 1 {
		// Keep only the first Content-Length.
		seen := false
		out := (*h)[:0]
		for _, fl := range *h {
			if len(fl.Name) == 14 && equalFoldASCII(fl.Name, "Content-Length") {
				if seen {
					continue
				}
				seen = true
			}
			out = append(out, fl)
		}
		*h = out
	}
	return f, nil
}

func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// ErrBadChunk reports a malformed chunked body.
var ErrBadChunk = errors.New("http1: malformed chunked body")

// restore puts the Connection field back where it was received.
func (ct *connTokens) restore(h *Header) {
	if ct.field.Name == "" {
		return
	}
	*h = append(*h, Field{})
	copy((*h)[ct.pos+1:], (*h)[ct.pos:])
	(*h)[ct.pos] = ct.field
}

// validWebSocketKey reports whether k is the base64 form of 16 bytes, as
// HAProxy 2.6 requires of Sec-WebSocket-Key (else 400, measured).
func validWebSocketKey(k string) bool {
	if len(k) != 24 || k[22] != '=' || k[23] != '=' {
		return false
	}
	for i := 0; i < 22; i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
