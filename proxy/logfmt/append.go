package logfmt

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Append appends the log message for r in format f to dst and returns the
// extended slice. It allocates nothing when dst has room.
func Append(dst []byte, f *Format, r *Record) []byte { return f.Append(dst, r) }

// Append appends the log message for r to dst, as Append does.
func (f *Format) Append(dst []byte, r *Record) []byte {
	lastSpace := true // HAProxy drops a leading separator
	for i := range f.nodes {
		n := &f.nodes[i]
		switch n.kind {
		case kSep:
			if !lastSpace {
				dst = append(dst, ' ')
				lastSpace = true
			}
			continue
		case kText:
			dst = append(dst, n.text...)
		case kCI:
			dst = appendIP(dst, r.Client, n.opts)
		case kCP:
			dst = appendPort(dst, r.Client, n.opts)
		case kFI:
			dst = appendIP(dst, r.FrontendAddr, n.opts)
		case kFP:
			dst = appendPort(dst, r.FrontendAddr, n.opts)
		case kBI:
			dst = appendIP(dst, r.BackendSrc, n.opts)
		case kBP:
			dst = appendPort(dst, r.BackendSrc, n.opts)
		case kSI:
			dst = appendIP(dst, r.ServerAddr, n.opts)
		case kSP:
			dst = appendPort(dst, r.ServerAddr, n.opts)
		case kDate:
			dst = appendDate(dst, r.Accept)
		case kDateReq:
			dst = appendDate(dst, r.RequestDate())
		case kDateGMT:
			dst = appendDateZone(dst, r.Accept.UTC())
		case kDateReqGMT:
			dst = appendDateZone(dst, r.RequestDate().UTC())
		case kDateLoc:
			dst = appendDateZone(dst, r.Accept)
		case kDateReqLoc:
			dst = appendDateZone(dst, r.RequestDate())
		case kTs:
			dst = appendNum(dst, r.Accept.Unix(), n.opts, 4)
		case kMs:
			ms := int64(r.Accept.Nanosecond() / 1e6)
			if n.opts&optHex != 0 {
				dst = appendHex(dst, uint64(ms), 2)
			} else {
				dst = append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
			}
		case kF:
			dst = appendText(dst, r.Frontend, n.opts)
		case kFT:
			if n.opts&optQuote != 0 {
				dst = append(dst, '"')
			}
			dst = append(dst, r.Frontend...)
			if r.FrontendSSL {
				dst = append(dst, '~')
			}
			if n.opts&optQuote != 0 {
				dst = append(dst, '"')
			}
		case kB:
			dst = appendText(dst, backendName(r), n.opts)
		case kS:
			dst = appendText(dst, serverName(r), n.opts)
		case kTh:
			dst = strconv.AppendInt(dst, r.Th, 10)
		case kTi:
			dst = strconv.AppendInt(dst, r.Ti, 10)
		case kTR:
			dst = strconv.AppendInt(dst, r.TR, 10)
		case kTq:
			dst = strconv.AppendInt(dst, r.Tq(), 10)
		case kTw:
			dst = strconv.AppendInt(dst, r.Tw, 10)
		case kTc:
			dst = strconv.AppendInt(dst, r.Tc, 10)
		case kTr:
			dst = strconv.AppendInt(dst, r.Tr, 10)
		case kTd:
			dst = strconv.AppendInt(dst, r.Td, 10)
		case kTa:
			dst = appendASAP(dst, r.LogASAP, r.Ta())
		case kTt:
			dst = appendASAP(dst, r.LogASAP, r.Tt)
		case kTu:
			dst = appendASAP(dst, r.LogASAP, r.Tt-max(r.Ti, 0))
		case kST:
			dst = strconv.AppendInt(dst, int64(r.Status), 10)
		case kBytes:
			dst = appendASAP(dst, r.LogASAP, r.BytesRead)
		case kBytesUp:
			dst = strconv.AppendInt(dst, r.BytesUploaded, 10)
		case kCC:
			dst = appendText(dst, r.ReqCookie, n.opts)
		case kCS:
			dst = appendText(dst, r.ResCookie, n.opts)
		case kTermState:
			dst = append(dst, termChar(r.TermState[0]), termChar(r.TermState[1]))
		case kTermStateCk:
			dst = append(dst, termChar(r.TermState[0]), termChar(r.TermState[1]),
				termChar(r.TermState[2]), termChar(r.TermState[3]))
		case kAC:
			dst = strconv.AppendInt(dst, int64(r.ActConn), 10)
		case kFC:
			dst = strconv.AppendInt(dst, int64(r.FeConn), 10)
		case kBC:
			dst = strconv.AppendInt(dst, int64(r.BeConn), 10)
		case kSC:
			dst = strconv.AppendInt(dst, int64(r.SrvConn), 10)
		case kRC:
			if r.Redispatched {
				dst = append(dst, '+')
			}
			dst = strconv.AppendInt(dst, int64(r.Retries), 10)
		case kSQ:
			dst = strconv.AppendInt(dst, int64(r.SrvQueue), 10)
		case kBQ:
			dst = strconv.AppendInt(dst, int64(r.BackendQueue), 10)
		case kHR, kHS:
			caps := r.ReqCaptures
			if n.kind == kHS {
				caps = r.ResCaptures
			}
			if len(caps) == 0 {
				continue // nothing at all, not even a separator
			}
			dst = appendCaptures(dst, caps, n.opts)
		case kHRL, kHSL:
			caps := r.ReqCaptures
			if n.kind == kHSL {
				caps = r.ResCaptures
			}
			if len(caps) == 0 {
				continue
			}
			dst = appendCaptureList(dst, caps, n.opts)
		case kReq, kHM, kHU, kHP, kHPO, kHQ, kHV:
			if n.opts&optQuote != 0 {
				dst = append(dst, '"')
			}
			dst = appendEncoded(dst, requestPart(n.kind, r.RequestLine), urlEncode)
			if n.opts&optQuote != 0 {
				dst = append(dst, '"')
			}
		case kRT:
			dst = appendNum(dst, int64(r.ReqCounter), n.opts, 4)
		case kLC:
			dst = appendNum(dst, int64(r.LogCount), n.opts, 4)
		case kHost:
			dst = appendText(dst, r.Hostname, n.opts)
		case kPID:
			dst = appendNum(dst, int64(r.PID), n.opts, 4)
		case kID:
			dst = appendText(dst, r.UniqueID, n.opts)
		case kNoSSL:
			dst = appendText(dst, "", n.opts)
		case kExpr:
			v, _ := fetch(n.arg, r)
			dst = appendText(dst, v, n.opts)
		}
		lastSpace = false
	}
	return dst
}

// backendName is the backend, or the frontend when none was chosen (HAProxy
// starts every stream with the frontend as its backend).
func backendName(r *Record) string {
	if r.Backend == "" {
		return r.Frontend
	}
	return r.Backend
}

func serverName(r *Record) string {
	if r.Server == "" {
		return "<NOSRV>"
	}
	return r.Server
}

func termChar(c byte) byte {
	if c == 0 {
		return '-'
	}
	return c
}

func appendASAP(dst []byte, asap bool, v int64) []byte {
	if asap {
		dst = append(dst, '+')
	}
	return strconv.AppendInt(dst, v, 10)
}

const hexDigits = "0123456789ABCDEF"

// appendHex writes v in upper-case hexadecimal, at least width digits.
func appendHex(dst []byte, v uint64, width int) []byte {
	var b [16]byte
	i := len(b)
	for v > 0 || len(b)-i < width {
		i--
		b[i] = hexDigits[v&15]
		v >>= 4
	}
	return append(dst, b[i:]...)
}

func appendNum(dst []byte, v int64, opts uint8, hexWidth int) []byte {
	if opts&optHex != 0 {
		return appendHex(dst, uint64(uint32(v)), hexWidth)
	}
	return strconv.AppendInt(dst, v, 10)
}

func appendIP(dst []byte, ap netip.AddrPort, opts uint8) []byte {
	a := ap.Addr()
	if !a.IsValid() {
		return appendText(dst, "", opts)
	}
	a = a.Unmap()
	if opts&optHex != 0 && a.Is4() {
		b := a.As4()
		return appendHex(dst, uint64(b[0])<<24|uint64(b[1])<<16|uint64(b[2])<<8|uint64(b[3]), 8)
	}
	if opts&optQuote != 0 {
		dst = append(dst, '"')
		dst = a.AppendTo(dst)
		return append(dst, '"')
	}
	return a.AppendTo(dst)
}

func appendPort(dst []byte, ap netip.AddrPort, opts uint8) []byte {
	if !ap.Addr().IsValid() {
		return appendText(dst, "", opts)
	}
	if opts&optHex != 0 {
		return appendHex(dst, uint64(ap.Port()), 4)
	}
	return strconv.AppendUint(dst, uint64(ap.Port()), 10)
}

// appendText writes a string field: quoted with +Q (empty then is ""),
// "-" when empty otherwise, backslash-escaped with +E.
func appendText(dst []byte, s string, opts uint8) []byte {
	q := opts&optQuote != 0
	if q {
		dst = append(dst, '"')
	} else if s == "" {
		return append(dst, '-')
	}
	if opts&optEsc != 0 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c == ']' {
				dst = append(dst, '\\')
			}
			dst = append(dst, s[i])
		}
	} else {
		dst = append(dst, s...)
	}
	if q {
		dst = append(dst, '"')
	}
	return dst
}

// Encoding maps: which bytes HAProxy writes as '#' and two hex digits.
type encodeMap [256]bool

var hdrEncode, urlEncode = func() (*encodeMap, *encodeMap) {
	var h, u encodeMap
	for c := 0; c < 256; c++ {
		if c < 32 || c >= 127 {
			h[c], u[c] = true, true
		}
	}
	for _, c := range []byte("\"#{|}") {
		h[c] = true
	}
	for _, c := range []byte("\"#") {
		u[c] = true
	}
	return &h, &u
}()

func appendEncoded(dst []byte, s string, m *encodeMap) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if m[c] {
			dst = append(dst, '#', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func appendCaptures(dst []byte, caps []Capture, opts uint8) []byte {
	if opts&optQuote != 0 {
		dst = append(dst, '"')
	}
	dst = append(dst, '{')
	for i, c := range caps {
		if i > 0 {
			dst = append(dst, '|')
		}
		if c.Set {
			dst = appendEncoded(dst, c.Value, hdrEncode)
		}
	}
	dst = append(dst, '}')
	if opts&optQuote != 0 {
		dst = append(dst, '"')
	}
	return dst
}

func appendCaptureList(dst []byte, caps []Capture, opts uint8) []byte {
	q := opts&optQuote != 0
	for i, c := range caps {
		if i > 0 {
			dst = append(dst, ' ')
		}
		if q {
			dst = append(dst, '"')
		}
		if c.Set {
			dst = appendEncoded(dst, c.Value, hdrEncode)
		} else if !q {
			dst = append(dst, '-')
		}
		if q {
			dst = append(dst, '"')
		}
	}
	return dst
}

const badReq = "<BADREQ>"

func isSPHT(c byte) bool { return c == ' ' || c == '\t' }

// requestPart extracts what %r, %HM, %HU, %HP, %HPO, %HQ or %HV show from
// the request line, with HAProxy's rules for odd lines.
func requestPart(k kind, line string) string {
	if line == "" {
		return badReq
	}
	if k == kReq {
		return line
	}
	// method
	i := 0
	for i < len(line) && !isSPHT(line[i]) {
		i++
	}
	if k == kHM {
		if i == len(line) {
			return badReq
		}
		return line[:i]
	}
	if k == kHQ {
		q := strings.IndexByte(line, '?')
		if q < 0 {
			return ""
		}
		e := q
		for e < len(line) && !isSPHT(line[e]) {
			e++
		}
		return line[q:e]
	}
	spaces := 0
	for i < len(line) && isSPHT(line[i]) {
		i++
		spaces++
	}
	if spaces == 0 {
		return badReq
	}
	uriStart := i
	for i < len(line) && !isSPHT(line[i]) {
		i++
	}
	uri := line[uriStart:i]
	switch k {
	case kHU:
		return uri
	case kHP:
		if q := strings.IndexByte(uri, '?'); q >= 0 {
			return uri[:q]
		}
		return uri
	case kHPO:
		return pathOnly(uri)
	}
	// kHV
	for i < len(line) && isSPHT(line[i]) {
		i++
	}
	if i == len(line) {
		return "HTTP/0.9"
	}
	return line[i:]
}

// pathOnly strips scheme and authority of an absolute URI and the query.
func pathOnly(uri string) string {
	if j := strings.Index(uri, "://"); j > 0 && !strings.HasPrefix(uri, "/") {
		rest := uri[j+3:]
		if k := strings.IndexByte(rest, '/'); k >= 0 {
			uri = rest[k:]
		} else {
			uri = ""
		}
	}
	if q := strings.IndexByte(uri, '?'); q >= 0 {
		uri = uri[:q]
	}
	return uri
}

// fetch answers the supported sample fetches from the record; false when
// the sample does not exist (printed "-").
func fetch(arg int, r *Record) (string, bool) {
	idx := arg & 0xffff
	switch arg >> 16 {
	case fSrc:
		return addrString(r.Client)
	case fSrcPort:
		return portString(r.Client)
	case fDst:
		return addrString(r.FrontendAddr)
	case fDstPort:
		return portString(r.FrontendAddr)
	case fFeName:
		return r.Frontend, true
	case fBeName:
		return r.Backend, r.Backend != ""
	case fSrvName:
		return r.Server, r.Server != "" && r.Server[0] != '<'
	case fStatus:
		if r.Status <= 0 {
			return "", false
		}
		return strconv.Itoa(r.Status), true
	case fMethod, fReqMethod:
		v := requestPart(kHM, r.RequestLine)
		return v, v != badReq
	case fPath:
		v := requestPart(kHP, r.RequestLine)
		return v, v != badReq
	case fQuery:
		v := requestPart(kHQ, r.RequestLine)
		if len(v) > 0 {
			return v[1:], true
		}
		return "", false
	case fURL, fReqURI:
		v := requestPart(kHU, r.RequestLine)
		return v, v != badReq
	case fReqVer:
		v := requestPart(kHV, r.RequestLine)
		return v, v != badReq
	case fUniqueID:
		return r.UniqueID, r.UniqueID != ""
	case fReqHdr:
		if idx < len(r.ReqCaptures) && r.ReqCaptures[idx].Set {
			return r.ReqCaptures[idx].Value, true
		}
	case fResHdr:
		if idx < len(r.ResCaptures) && r.ResCaptures[idx].Set {
			return r.ResCaptures[idx].Value, true
		}
	}
	return "", false
}

func addrString(ap netip.AddrPort) (string, bool) {
	if !ap.Addr().IsValid() {
		return "", false
	}
	return ap.Addr().Unmap().String(), true
}

func portString(ap netip.AddrPort) (string, bool) {
	if !ap.Addr().IsValid() {
		return "", false
	}
	return strconv.Itoa(int(ap.Port())), true
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

// appendDay writes dd/Mon/yyyy:HH:MM:SS.
func appendDay(dst []byte, t time.Time) []byte {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	dst = append2(dst, d)
	dst = append(dst, '/')
	dst = append(dst, months[m-1]...)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, int64(y), 10)
	dst = append(dst, ':')
	dst = append2(dst, hh)
	dst = append(dst, ':')
	dst = append2(dst, mm)
	dst = append(dst, ':')
	return append2(dst, ss)
}

// appendDate writes HAProxy's date2str_log: 25/Nov/2026:06:27:09.923.
func appendDate(dst []byte, t time.Time) []byte {
	dst = appendDay(dst, t)
	ms := t.Nanosecond() / 1e6
	return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

// appendDateZone writes 25/Nov/2026:06:27:09 +0000 (gmt2str_log and
// localdate2str_log).
func appendDateZone(dst []byte, t time.Time) []byte {
	dst = appendDay(dst, t)
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, ' ', sign)
	dst = append2(dst, off/3600)
	return append2(dst, off/60%60)
}
