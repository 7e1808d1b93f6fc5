package acl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// smpType is a sample's type.
type smpType uint8

const (
	tStr smpType = iota
	tInt
	tIP
	tBool
)

// sample is one value produced by a fetch or a converter.
type sample struct {
	typ smpType
	s   string
	i   int64 // tInt, and tBool (0/1)
	ip  netip.Addr
}

// str returns the sample as a string (HAProxy's implicit cast).
func (s sample) str() string {
	switch s.typ {
	case tInt, tBool:
		return strconv.FormatInt(s.i, 10)
	case tIP:
		return s.ip.String()
	}
	return s.s
}

// integer returns the sample as an integer: strings are parsed like
// HAProxy's strl2ic (leading digits; anything else is 0).
func (s sample) integer() (int64, bool) {
	switch s.typ {
	case tInt, tBool:
		return s.i, true
	case tStr:
		return leadingInt(s.s)
	}
	return 0, false
}

// addr returns the sample as an address.
func (s sample) addr() (netip.Addr, bool) {
	switch s.typ {
	case tIP:
		return s.ip, true
	case tStr:
		a, err := netip.ParseAddr(strings.TrimSpace(s.s))
		return a, err == nil
	}
	return netip.Addr{}, false
}

// leadingInt parses an optional sign and the digits that follow; a string
// without digits is not an integer.
func leadingInt(s string) (int64, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if i == start {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// fetchKind identifies a sample fetch.
type fetchKind uint8

const (
	fHdr         fetchKind = iota // comma-split header values
	fFhdr                         // full header lines
	fHdrCnt                       // number of comma-split values
	fFhdrCnt                      // number of header lines
	fHdrVal                       // header values as integers
	fHdrIP                        // header values as addresses
	fPath                         // path without query
	fURL                          // request target
	fQuery                        // text after '?'
	fBase                         // Host + path
	fPathQ                        // path with query
	fURLParam                     // query parameter values
	fURLParamVal                  // ... as integers
	fMethod                       // request method
	fVer                          // "1.0" / "1.1"
	fProtoHTTP                    // request parsed as HTTP
	fSrc                          // client address
	fDst                          // local address
	fSrcPort                      // client port
	fDstPort                      // local port
	fCook                         // cookie values
	fCookCnt                      // number of cookies called name
	fCookVal                      // cookie values as integers
	fAuth                         // http_auth(userlist)
	fAuthGroup                    // http_auth_group(userlist): the user's groups
	fConst                        // constant (always_true/false, str(), int(), env(), hostname, ...)
	fFeName                       // frontend name
	fBeName                       // backend name
	fNow                          // date / now
	fRand                         // rand([range])
	fReqLen                       // req.len / req.body_len
	fVar                          // var(name[,default])
	fNbSrv                        // nbsrv([backend]) through Env.NbSrv
	fSrvIsUp                      // srv_is_up(backend/server) through Env.ServerUp
	fSSLSNI                       // req.ssl_sni
	fSSLHello                     // req.ssl_hello_type
	fSSLVer                       // req.ssl_ver
	fSSLALPN                      // req.ssl_alpn
	fPayload                      // req.payload(off,len)
	fSSLFc                        // ssl_fc
	fSSLFcSNI                     // ssl_fc_sni
	fStatus                       // status
	fCounter                      // stick counters through Env.Counter
	fNone                         // a fetch goproxy cannot answer here (counters, certificates): no sample
)

// fetch is a compiled sample fetch.
type fetch struct {
	kind  fetchKind
	name  string // header, cookie or parameter name
	occ   int    // hdr(name,occ): 0 all, >0 n-th, <0 n-th from the end
	delim byte   // url_param delimiter
	c     sample // fConst
	ul    *userlist
	rnd   int64
	res   bool    // reads the response
	def   *string // var() default
	nbsrv func(string) int
	srvUp func(string, string) bool
	arg2  string
	ctr   func(*Txn) (int64, bool)
}

// cursor is an iteration position over a multi-valued fetch.
type cursor struct{ a, b int }

// done marks an exhausted cursor.
var done = cursor{-1, 0}

type fetchDef struct {
	kind fetchKind
	// nameArg: the first argument is a header/cookie/param name.
	nameArg bool
	// res: the fetch reads the response (res.*, shdr, scook, status).
	res bool
}

// fetchDefs maps HAProxy fetch names (base forms; the ACL keyword forms
// such as hdr_beg are reduced to them) to their implementation.
var fetchDefs = map[string]fetchDef{
	"hdr": {fHdr, true, false}, "req.hdr": {fHdr, true, false}, "fhdr": {fFhdr, true, false}, "req.fhdr": {fFhdr, true, false},
	"hdr_cnt": {fHdrCnt, true, false}, "req.hdr_cnt": {fHdrCnt, true, false}, "req.fhdr_cnt": {fFhdrCnt, true, false},
	"hdr_val": {fHdrVal, true, false}, "req.hdr_val": {fHdrVal, true, false}, "hdr_ip": {fHdrIP, true, false}, "req.hdr_ip": {fHdrIP, true, false},
	"path": {fPath, false, false}, "url": {fURL, false, false}, "query": {fQuery, false, false}, "base": {fBase, false, false},
	"pathq": {fPathQ, false, false}, "url_param": {fURLParam, true, false}, "urlp": {fURLParam, true, false},
	"urlp_val": {fURLParamVal, true, false}, "method": {fMethod, false, false}, "req.ver": {fVer, false, false}, "req_ver": {fVer, false, false},
	"req.proto_http": {fProtoHTTP, false, false}, "req_proto_http": {fProtoHTTP, false, false},
	"src": {fSrc, false, false}, "dst": {fDst, false, false}, "src_port": {fSrcPort, false, false}, "dst_port": {fDstPort, false, false},
	"cook": {fCook, true, false}, "req.cook": {fCook, true, false}, "cook_cnt": {fCookCnt, true, false}, "req.cook_cnt": {fCookCnt, true, false},
	"cook_val": {fCookVal, true, false}, "req.cook_val": {fCookVal, true, false},
	"http_auth": {fAuth, false, false}, "http_auth_group": {fAuthGroup, false, false},
	"always_true": {fConst, false, false}, "always_false": {fConst, false, false}, "wait_end": {fConst, false, false},
	"str": {fConst, false, false}, "int": {fConst, false, false}, "bool": {fConst, false, false}, "ipv4": {fConst, false, false},
	"ipv6": {fConst, false, false}, "env": {fConst, false, false}, "hostname": {fConst, false, false}, "pid": {fConst, false, false},
	"nbproc": {fConst, false, false}, "thread": {fConst, false, false}, "proc": {fConst, false, false}, "stopping": {fConst, false, false},
	"req.ssl_sni": {fSSLSNI, false, false}, "req_ssl_sni": {fSSLSNI, false, false},
	"req.ssl_hello_type": {fSSLHello, false, false}, "req_ssl_hello_type": {fSSLHello, false, false},
	"req.ssl_ver": {fSSLVer, false, false}, "req_ssl_ver": {fSSLVer, false, false}, "req.ssl_alpn": {fSSLALPN, false, false},
	"req.payload": {fPayload, false, false}, "payload": {fPayload, false, false},
	"ssl_fc": {fSSLFc, false, false}, "ssl_fc_sni": {fSSLFcSNI, false, false}, "ssl_sni": {fSSLFcSNI, false, false},
	"ssl_c_used": {fConst, false, false}, "ssl_fc_has_crt": {fConst, false, false},
	"http_first_req": {fConst, false, false},
	"fe_name":        {fFeName, false, false}, "be_name": {fBeName, false, false},
	"date": {fNow, false, false}, "now": {fNow, false, false}, "rand": {fRand, false, false},
	"var": {fVar, true, false}, "nbsrv": {fNbSrv, true, false}, "srv_is_up": {fSrvIsUp, true, false},
	"status": {fStatus, false, true}, "res.ver": {fVer, false, true}, "resp_ver": {fVer, false, true},
	"res.hdr": {fHdr, true, true}, "shdr": {fHdr, true, true}, "res.fhdr": {fFhdr, true, true},
	"res.hdr_cnt": {fHdrCnt, true, true}, "shdr_cnt": {fHdrCnt, true, true}, "res.fhdr_cnt": {fFhdrCnt, true, true},
	"res.hdr_val": {fHdrVal, true, true}, "shdr_val": {fHdrVal, true, true}, "res.hdr_ip": {fHdrIP, true, true},
	"res.cook": {fCook, true, true}, "scook": {fCook, true, true}, "res.cook_cnt": {fCookCnt, true, true},
	"scook_cnt": {fCookCnt, true, true}, "res.cook_val": {fCookVal, true, true}, "scook_val": {fCookVal, true, true},
	"req.len": {fReqLen, false, false}, "req_len": {fReqLen, false, false},
}

// matchSuffixes are the ACL keyword forms FETCH_SUFFIX of a base fetch.
var matchSuffixes = []string{"_beg", "_end", "_sub", "_reg", "_dom", "_dir", "_len", "_found"}

// baseFetch reduces an ACL keyword such as hdr_beg or path_len to the fetch
// it reads (the parser has already set the match method it implies).
func baseFetch(name string) string {
	if _, ok := fetchDefs[name]; ok {
		return name
	}
	for _, s := range matchSuffixes {
		if b, ok := strings.CutSuffix(name, s); ok {
			if _, ok := fetchDefs[b]; ok {
				return b
			}
		}
	}
	if name == "url_param_reg" {
		return "url_param"
	}
	return name
}

// compileFetch builds a fetch. inACL selects HAProxy's ACL defaults
// (all occurrences of a header) rather than the sample-expression ones
// (the last occurrence).
func compileFetch(name string, args []string, inACL bool, env *Env) (*fetch, error) {
	base := baseFetch(name)
	def, ok := fetchDefs[base]
	if !ok && env != nil && env.Counter != nil {
		fn, known, err := env.Counter(base, args, env.Section)
		if err != nil {
			return nil, fmt.Errorf("fetch method '%s': %w", name, err)
		}
		if known {
			return &fetch{kind: fCounter, ctr: fn}, nil
		}
	}
	if !ok {
		if fi, known := haproxy.Fetches[name]; known {
			// Parsed but not answerable here (variables, TLS details,
			// stick counters, server states): it never yields a sample.
			_ = fi
			return &fetch{kind: fNone}, nil
		}
		return nil, fmt.Errorf("unknown fetch method '%s'", name)
	}
	f := &fetch{kind: def.kind, delim: '&', res: def.res}
	if def.nameArg && len(args) > 0 {
		f.name = args[0]
	}
	switch def.kind {
	case fHdr, fFhdr, fHdrVal, fHdrIP:
		if !inACL {
			f.occ = -1
		}
		if len(args) > 1 {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return nil, fmt.Errorf("fetch method '%s': invalid occurrence '%s'", name, args[1])
			}
			f.occ = n
		}
	case fURLParam, fURLParamVal:
		if len(args) > 1 {
			if len(args[1]) != 1 {
				return nil, fmt.Errorf("fetch method '%s': the delimiter must be one character", name)
			}
			f.delim = args[1][0]
		}
	case fAuth, fAuthGroup:
		if len(args) != 1 {
			return nil, fmt.Errorf("fetch method '%s' expects a userlist name", name)
		}
		ul, err := env.userlist(args[0])
		if err != nil {
			return nil, fmt.Errorf("fetch method '%s': %w", name, err)
		}
		f.ul = ul
	case fPayload:
		if len(args) != 2 {
			return nil, fmt.Errorf("fetch method '%s' expects an offset and a length", name)
		}
		off, err1 := strconv.Atoi(args[0])
		n, err2 := strconv.Atoi(args[1])
		if err1 != nil || err2 != nil || off < 0 || n < 0 {
			return nil, fmt.Errorf("fetch method '%s': invalid offset or length", name)
		}
		f.occ, f.rnd = off, int64(n)
	case fVar:
		if len(args) == 0 {
			return nil, fmt.Errorf("fetch method 'var' expects a variable name")
		}
		if len(args) > 1 {
			d := args[1]
			f.def = &d
		}
	case fNbSrv:
		if env == nil || env.NbSrv == nil {
			return &fetch{kind: fNone}, nil
		}
		f.nbsrv = env.NbSrv
	case fSrvIsUp:
		if env == nil || env.ServerUp == nil {
			return &fetch{kind: fNone}, nil
		}
		be, srv, ok := strings.Cut(f.name, "/")
		if !ok {
			be, srv = "", f.name
		}
		f.name, f.arg2 = be, srv
		f.srvUp = env.ServerUp
	case fRand:
		if len(args) > 0 {
			n, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("fetch method 'rand': invalid range '%s'", args[0])
			}
			f.rnd = n
		}
	case fConst:
		c, err := constFetch(base, args)
		if err != nil {
			return nil, err
		}
		f.c = c
	}
	return f, nil
}

func constFetch(name string, args []string) (sample, error) {
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	switch name {
	case "always_true", "wait_end":
		return sample{typ: tBool, i: 1}, nil
	case "always_false", "ssl_c_used", "ssl_fc_has_crt", "stopping":
		return sample{typ: tBool}, nil
	case "http_first_req":
		return sample{typ: tBool, i: 1}, nil
	case "str":
		return sample{typ: tStr, s: arg}, nil
	case "int":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return sample{}, fmt.Errorf("fetch method 'int': invalid integer '%s'", arg)
		}
		return sample{typ: tInt, i: n}, nil
	case "bool":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return sample{}, fmt.Errorf("fetch method 'bool': invalid integer '%s'", arg)
		}
		return sample{typ: tBool, i: b2i(n != 0)}, nil
	case "ipv4", "ipv6":
		a, err := netip.ParseAddr(arg)
		if err != nil {
			return sample{}, fmt.Errorf("fetch method '%s': invalid address '%s'", name, arg)
		}
		return sample{typ: tIP, ip: a}, nil
	case "env":
		return sample{typ: tStr, s: os.Getenv(arg)}, nil
	case "hostname":
		h, _ := os.Hostname()
		return sample{typ: tStr, s: h}, nil
	case "pid":
		return sample{typ: tInt, i: int64(os.Getpid())}, nil
	case "nbproc", "proc":
		return sample{typ: tInt, i: 1}, nil
	case "thread":
		return sample{typ: tInt}, nil
	}
	return sample{}, fmt.Errorf("unknown fetch method '%s'", name)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// next returns the value after cursor c, HAProxy's multi-value fetch loop.
func (f *fetch) next(t *Txn, c cursor) (sample, cursor, bool) {
	if c.a < 0 {
		return sample{}, done, false
	}
	switch f.kind {
	case fHdr, fFhdr, fHdrVal, fHdrIP:
		var v string
		var ok bool
		if f.occ != 0 {
			if c != (cursor{}) {
				return sample{}, done, false
			}
			v, ok = hdrOcc(f.header(t), f.name, f.kind != fFhdr, f.occ)
			c = done
		} else {
			v, c, ok = nextHdr(f.header(t), f.name, f.kind != fFhdr, c)
		}
		if !ok {
			return sample{}, done, false
		}
		switch f.kind {
		case fHdrVal:
			n, _ := leadingInt(v)
			return sample{typ: tInt, i: n}, c, true
		case fHdrIP:
			a, err := netip.ParseAddr(v)
			if err != nil {
				// HAProxy skips values that are not addresses.
				return f.next(t, c)
			}
			return sample{typ: tIP, ip: a}, c, true
		}
		return sample{typ: tStr, s: v}, c, true
	case fCook, fCookVal:
		v, c, ok := f.nextCookie(t, c)
		if !ok {
			return sample{}, done, false
		}
		if f.kind == fCookVal {
			n, _ := leadingInt(v)
			return sample{typ: tInt, i: n}, c, true
		}
		return sample{typ: tStr, s: v}, c, true
	case fURLParam, fURLParamVal:
		q, ok := queryOf(t.Target)
		if !ok {
			return sample{}, done, false
		}
		v, c, ok := nextParam(q, f.name, f.delim, c)
		if !ok {
			return sample{}, done, false
		}
		if f.kind == fURLParamVal {
			n, _ := leadingInt(v)
			return sample{typ: tInt, i: n}, c, true
		}
		return sample{typ: tStr, s: v}, c, true
	case fSSLALPN:
		h, ok := parseClientHello(t.Payload)
		if !ok || c.a >= len(h.alpn) {
			return sample{}, done, false
		}
		return sample{typ: tStr, s: h.alpn[c.a]}, cursor{c.a + 1, 0}, true
	case fAuthGroup:
		u := f.ul.check(t.Header)
		if u == nil || c.a >= len(u.groups) {
			return sample{}, done, false
		}
		return sample{typ: tStr, s: u.groups[c.a]}, cursor{c.a + 1, 0}, true
	}
	// Single-valued fetches.
	s, ok := f.one(t)
	return s, done, ok
}

func (f *fetch) one(t *Txn) (sample, bool) {
	switch f.kind {
	case fHdrCnt, fFhdrCnt:
		n := 0
		if f.kind == fFhdrCnt {
			for _, h := range f.header(t) {
				if f.name == "" || strings.EqualFold(h.Name, f.name) {
					n++
				}
			}
		} else {
			for c := (cursor{}); ; n++ {
				var ok bool
				if _, c, ok = nextHdr(f.header(t), f.name, true, c); !ok {
					break
				}
			}
		}
		return sample{typ: tInt, i: int64(n)}, true
	case fPath:
		if !t.HTTP {
			return sample{}, false
		}
		p, ok := pathOf(t.Target)
		return sample{typ: tStr, s: p}, ok
	case fPathQ:
		if !t.HTTP {
			return sample{}, false
		}
		p, ok := pathQOf(t.Target)
		return sample{typ: tStr, s: p}, ok
	case fURL:
		return sample{typ: tStr, s: t.Target}, t.HTTP
	case fQuery:
		q, ok := queryOf(t.Target)
		return sample{typ: tStr, s: q}, ok && t.HTTP
	case fBase:
		if !t.HTTP {
			return sample{}, false
		}
		p, _ := pathOf(t.Target)
		h := t.Header.Get("Host")
		if h == "" {
			return sample{typ: tStr, s: p}, true
		}
		return sample{typ: tStr, s: h + p}, true
	case fMethod:
		return sample{typ: tStr, s: t.Method}, t.HTTP
	case fStatus:
		return sample{typ: tInt, i: int64(t.Status)}, t.Status != 0
	case fVer:
		if !t.HTTP || f.res && t.Status == 0 {
			return sample{}, false
		}
		minor := t.Minor
		if f.res {
			minor = t.RespMinor
		}
		if minor == 0 {
			return sample{typ: tStr, s: "1.0"}, true
		}
		return sample{typ: tStr, s: "1.1"}, true
	case fProtoHTTP:
		return sample{typ: tBool, i: b2i(t.HTTP)}, true
	case fSrc:
		return sample{typ: tIP, ip: t.Src.Addr().Unmap()}, t.Src.IsValid()
	case fDst:
		return sample{typ: tIP, ip: t.Dst.Addr().Unmap()}, t.Dst.IsValid()
	case fSrcPort:
		return sample{typ: tInt, i: int64(t.Src.Port())}, t.Src.IsValid()
	case fDstPort:
		return sample{typ: tInt, i: int64(t.Dst.Port())}, t.Dst.IsValid()
	case fCookCnt:
		n := 0
		for c := (cursor{}); ; n++ {
			var ok bool
			if _, c, ok = f.nextCookie(t, c); !ok {
				break
			}
		}
		return sample{typ: tInt, i: int64(n)}, true
	case fAuth:
		return sample{typ: tBool, i: b2i(f.ul.check(t.Header) != nil)}, true
	case fConst:
		return f.c, true
	case fFeName:
		return sample{typ: tStr, s: t.Frontend}, t.Frontend != ""
	case fBeName:
		return sample{typ: tStr, s: t.Backend}, t.Backend != ""
	case fNow:
		return sample{typ: tInt, i: time.Now().Unix()}, true
	case fRand:
		if f.rnd > 0 {
			return sample{typ: tInt, i: rand.Int64N(f.rnd)}, true
		}
		return sample{typ: tInt, i: int64(rand.Uint32())}, true
	case fReqLen:
		if !t.HTTP {
			if t.Payload != nil {
				return sample{typ: tInt, i: int64(len(t.Payload))}, true
			}
			return sample{typ: tInt, i: int64(t.ReqLen)}, true
		}
		// HAProxy counts the buffered request, head included (verified:
		// REQ_CONTENT is true for a GET without body in HTTP mode).
		n := len(t.Method) + len(t.Target) + 12
		for _, h := range t.Header {
			n += len(h.Name) + len(h.Value) + 4
		}
		return sample{typ: tInt, i: int64(n)}, true
	case fSSLSNI, fSSLHello, fSSLVer:
		h, ok := parseClientHello(t.Payload)
		if !ok {
			return sample{}, false
		}
		switch f.kind {
		case fSSLSNI:
			return sample{typ: tStr, s: h.sni}, h.sni != ""
		case fSSLHello:
			return sample{typ: tInt, i: 1}, true
		}
		return sample{typ: tInt, i: int64(h.version>>8)<<16 | int64(h.version&0xff)}, true
	case fPayload:
		off, n := f.occ, int(f.rnd)
		if n == 0 {
			n = len(t.Payload) - off
		}
		if off+n > len(t.Payload) || n < 0 {
			return sample{}, false
		}
		return sample{typ: tStr, s: string(t.Payload[off : off+n])}, true
	case fSSLFc:
		return sample{typ: tBool, i: b2i(t.TLS)}, true
	case fSSLFcSNI:
		return sample{typ: tStr, s: t.SNI}, t.TLS && t.SNI != ""
	case fCounter:
		n, ok := f.ctr(t)
		return sample{typ: tInt, i: n}, ok
	case fVar:
		if v, ok := t.Vars[f.name]; ok {
			return sample{typ: tStr, s: v}, true
		}
		if f.def != nil {
			return sample{typ: tStr, s: *f.def}, true
		}
		return sample{}, false
	case fNbSrv:
		be := f.name
		if be == "" {
			be = t.Backend
		}
		return sample{typ: tInt, i: int64(f.nbsrv(be))}, true
	case fSrvIsUp:
		be := f.name
		if be == "" {
			be = t.Backend
		}
		return sample{typ: tBool, i: b2i(f.srvUp(be, f.arg2))}, true
	}
	return sample{}, false
}

// header returns the request or response header the fetch reads.
func (f *fetch) header(t *Txn) http1.Header {
	if f.res {
		return t.RespHeader
	}
	return t.Header
}

// nextCookie iterates over the request's Cookie headers, or the
// response's Set-Cookie headers (only their first name=value pair).
func (f *fetch) nextCookie(t *Txn, c cursor) (string, cursor, bool) {
	if f.res {
		return nextSetCookie(t.RespHeader, f.name, c)
	}
	return nextCookie(t.Header, f.name, c)
}

// nextSetCookie returns the value of the next Set-Cookie called name.
func nextSetCookie(h http1.Header, name string, c cursor) (string, cursor, bool) {
	for i := c.a; i < len(h); i++ {
		if !strings.EqualFold(h[i].Name, "Set-Cookie") {
			continue
		}
		v := h[i].Value
		if j := strings.IndexByte(v, ';'); j >= 0 {
			v = v[:j]
		}
		k, val, ok := strings.Cut(v, "=")
		if ok && (name == "" || trimOWS(k) == name) {
			return trimOWS(val), cursor{i + 1, 0}, true
		}
	}
	return "", done, false
}

// nextHdr returns the value of header name after cursor c (a = field
// index, b = offset of the next comma-separated part); name "" means every
// header.
func nextHdr(h http1.Header, name string, split bool, c cursor) (string, cursor, bool) {
	for i := c.a; i < len(h); i++ {
		if name != "" && !strings.EqualFold(h[i].Name, name) {
			c.b = 0
			continue
		}
		v := h[i].Value
		if !split {
			return trimOWS(v), cursor{i + 1, 0}, true
		}
		if c.b > len(v) {
			c.b = 0
			continue
		}
		rest := v[c.b:]
		j := strings.IndexByte(rest, ',')
		if j < 0 {
			return trimOWS(rest), cursor{i + 1, 0}, true
		}
		return trimOWS(rest[:j]), cursor{i, c.b + j + 1}, true
	}
	return "", done, false
}

// hdrOcc returns occurrence occ (1-based; negative counts from the end).
func hdrOcc(h http1.Header, name string, split bool, occ int) (string, bool) {
	if occ > 0 {
		c := cursor{}
		for n := 1; ; n++ {
			v, nc, ok := nextHdr(h, name, split, c)
			if !ok {
				return "", false
			}
			if n == occ {
				return v, true
			}
			c = nc
		}
	}
	total := 0
	for c := (cursor{}); ; total++ {
		var ok bool
		if _, c, ok = nextHdr(h, name, split, c); !ok {
			break
		}
	}
	if -occ > total {
		return "", false
	}
	return hdrOcc(h, name, split, total+occ+1)
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }

// nextCookie returns the value of the next cookie called name (any cookie
// when name is "") in the Cookie headers, after cursor c.
func nextCookie(h http1.Header, name string, c cursor) (string, cursor, bool) {
	for i := c.a; i < len(h); i++ {
		if !strings.EqualFold(h[i].Name, "Cookie") {
			c.b = 0
			continue
		}
		v := h[i].Value
		for c.b < len(v) {
			part := v[c.b:]
			j := strings.IndexByte(part, ';')
			next := c.b + j + 1
			if j < 0 {
				j, next = len(part), len(v)
			}
			part = trimOWS(part[:j])
			c.b = next
			k, val, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			// HAProxy does not return empty cookie values (verified: "SID="
			// is not found by cook(SID) -m found).
			if (name == "" || trimOWS(k) == name) && trimOWS(val) != "" {
				return trimOWS(val), cursor{i, c.b}, true
			}
		}
		c.b = 0
	}
	return "", done, false
}

// nextParam returns the value of the next parameter called name in query
// string q (parameters separated by delim), after cursor c (b = offset).
func nextParam(q, name string, delim byte, c cursor) (string, cursor, bool) {
	for c.b <= len(q) && c.a == 0 {
		rest := q[c.b:]
		j := strings.IndexByte(rest, delim)
		next := c.b + j + 1
		if j < 0 {
			j, next = len(rest), len(q)+1
		}
		p := rest[:j]
		c.b = next
		k, v, _ := strings.Cut(p, "=")
		if p != "" && (name == "" || k == name) {
			return v, cursor{0, c.b}, true
		}
	}
	return "", done, false
}

// pathOf returns the path of a request target: for an absolute URI the
// part after the authority, and never the query.
func pathOf(u string) (string, bool) {
	p, ok := pathQOf(u)
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p, ok
}

func pathQOf(u string) (string, bool) {
	if u == "" {
		return "", false
	}
	if u == "*" {
		return "", false // HAProxy has no path for "OPTIONS *" (verified)
	}
	if u[0] == '/' {
		return u, true
	}
	// Absolute form: the path follows the authority; authority form
	// (CONNECT host:port) has none.
	i := strings.Index(u, "://")
	if i < 0 {
		return "", false
	}
	rest := u[i+3:]
	j := strings.IndexAny(rest, "/?")
	if j < 0 || rest[j] == '?' {
		return "", false
	}
	return rest[j:], true
}

// queryOf returns the text after the first '?'.
func queryOf(u string) (string, bool) {
	i := strings.IndexByte(u, '?')
	if i < 0 {
		return "", false
	}
	return u[i+1:], true
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func pid() int { return os.Getpid() }
