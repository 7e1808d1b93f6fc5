package acl

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// matchKind is an ACL match method (-m).
type matchKind uint8

const (
	mStr matchKind = iota
	mBeg
	mEnd
	mSub
	mReg
	mDom
	mDir
	mLen
	mInt
	mIP
	mBool
	mFound
	mBin // hexadecimal patterns compared as bytes
)

var matchKinds = map[string]matchKind{
	"str": mStr, "bin": mBin, "beg": mBeg, "end": mEnd, "sub": mSub, "reg": mReg, "dom": mDom,
	"dir": mDir, "len": mLen, "int": mInt, "ip": mIP, "bool": mBool, "found": mFound,
}

// intRange is an integer pattern: a value, a range lo:hi with open ends,
// or an operator form (eq/ge/gt/le/lt value).
type intRange struct {
	lo, hi       int64
	hasLo, hasHi bool
}

func (r intRange) contains(v int64) bool {
	return (!r.hasLo || v >= r.lo) && (!r.hasHi || v <= r.hi)
}

// patterns is a compiled pattern list for one match method.
type patterns struct {
	kind  matchKind
	icase bool
	strs  []string         // beg end sub dom dir, and str when few
	set   map[string]bool  // str: exact lookup (lower-cased with -i)
	regs  []*regexp.Regexp // reg
	ints  []intRange       // int len
	nets  []netip.Prefix   // ip
	// method: HAProxy matches the known methods (GET, POST, ...) exactly,
	// whatever -i says, and only other methods as strings.
	method bool
}

// knownMethod reports whether m is one of the methods HAProxy parses into
// a code rather than keeping as text.
func knownMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return true
	}
	return false
}

// compilePatterns prepares the patterns of an ACL for matching.
func compilePatterns(kind matchKind, icase, noDNS bool, pats []string) (*patterns, error) {
	p := &patterns{kind: kind, icase: icase}
	switch kind {
	case mStr:
		if len(pats) > 4 {
			p.set = make(map[string]bool, len(pats))
			for _, s := range pats {
				if icase {
					s = asciiLower(s)
				}
				p.set[s] = true
			}
		} else {
			p.strs = pats
		}
	case mBeg, mEnd, mSub:
		p.strs = pats
	case mBin:
		for _, s := range pats {
			b, err := hex.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("'%s' is not a valid hexadecimal binary string", s)
			}
			p.strs = append(p.strs, string(b))
		}
		p.kind = mStr
	case mDom, mDir:
		delims := "/?.:"
		if kind == mDir {
			delims = "/?"
		}
		for _, s := range pats {
			p.strs = append(p.strs, strings.Trim(s, delims))
		}
	case mReg:
		for _, s := range pats {
			expr := s
			if icase {
				expr = "(?i)" + s
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("regex '%s' is invalid: %v", s, err)
			}
			p.regs = append(p.regs, re)
		}
	case mInt, mLen:
		for _, s := range pats {
			r, err := parseIntPattern(s)
			if err != nil {
				return nil, err
			}
			p.ints = append(p.ints, r)
		}
	case mIP:
		for _, s := range pats {
			nets, err := parseIPPattern(s, noDNS)
			if err != nil {
				return nil, err
			}
			p.nets = append(p.nets, nets...)
		}
	case mBool, mFound:
	}
	return p, nil
}

// parseIntPattern parses "N", "lo:hi", "lo:", ":hi" and "op N".
func parseIntPattern(s string) (intRange, error) {
	bad := fmt.Errorf("'%s' is neither a number nor a supported operator", s)
	num := func(x string) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, bad
		}
		return n, nil
	}
	if op, v, ok := strings.Cut(s, " "); ok {
		// HAProxy 2.6 reads the operand without its sign ("le -7" is
		// "le 7", verified against haproxy).
		n, err := num(strings.TrimPrefix(strings.TrimSpace(v), "-"))
		if err != nil {
			return intRange{}, err
		}
		switch op {
		case "eq":
			return intRange{n, n, true, true}, nil
		case "ge":
			return intRange{lo: n, hasLo: true}, nil
		case "gt":
			return intRange{lo: n + 1, hasLo: true}, nil
		case "le":
			return intRange{hi: n, hasHi: true}, nil
		case "lt":
			return intRange{hi: n - 1, hasHi: true}, nil
		}
		return intRange{}, bad
	}
	lo, hi, isRange := strings.Cut(s, ":")
	if !isRange {
		n, err := num(s)
		return intRange{n, n, true, true}, err
	}
	var r intRange
	var err error
	if lo != "" {
		if r.lo, err = num(lo); err != nil {
			return r, err
		}
		r.hasLo = true
	}
	if hi != "" {
		if r.hi, err = num(hi); err != nil {
			return r, err
		}
		r.hasHi = true
	}
	if !r.hasLo && !r.hasHi {
		return r, bad
	}
	return r, nil
}

// parseIPPattern parses an address, a network (prefix length or dotted
// mask), or a host name resolved now (unless noDNS), as HAProxy does at
// load.
func parseIPPattern(s string, noDNS bool) ([]netip.Prefix, error) {
	if addr, mask, ok := strings.Cut(s, "/"); ok {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", s)
		}
		bits, err := strconv.Atoi(mask)
		if err != nil {
			m, err2 := netip.ParseAddr(mask)
			if err2 != nil || !m.Is4() || !a.Is4() {
				return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", s)
			}
			ones, size := net.IPMask(m.AsSlice()).Size()
			if size == 0 {
				return nil, fmt.Errorf("'%s' has a non-contiguous mask", s)
			}
			bits = ones
		}
		p, err := a.Prefix(bits)
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", s)
		}
		return []netip.Prefix{normPrefix(p)}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return []netip.Prefix{normPrefix(netip.PrefixFrom(a, a.BitLen()))}, nil
	}
	if noDNS {
		return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", s)
	}
	ips, err := net.LookupIP(s)
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", s)
	}
	var out []netip.Prefix
	for _, ip := range ips {
		a, _ := netip.AddrFromSlice(ip)
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// normPrefix turns an IPv4-mapped IPv6 network into its IPv4 form, so
// that IPv4 clients match it as HAProxy does.
func normPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// match reports whether sample s matches one of the patterns.
func (p *patterns) match(s sample) bool {
	switch p.kind {
	case mFound:
		return true
	case mBool:
		n, ok := s.integer()
		return ok && n != 0
	case mInt:
		n, ok := s.integer()
		if !ok {
			return false
		}
		for _, r := range p.ints {
			if r.contains(n) {
				return true
			}
		}
		return false
	case mLen:
		n := int64(len(s.str()))
		for _, r := range p.ints {
			if r.contains(n) {
				return true
			}
		}
		return false
	case mIP:
		a, ok := s.addr()
		if !ok {
			return false
		}
		a = a.Unmap()
		for _, n := range p.nets {
			if n.Contains(a) {
				return true
			}
		}
		return false
	}
	v := s.s
	if s.typ != tStr {
		v = s.str()
	}
	switch p.kind {
	case mStr:
		if p.method && knownMethod(v) {
			for _, x := range p.strs {
				if v == x {
					return true
				}
			}
			return false
		}
		if p.set != nil {
			if p.icase {
				if len(v) <= 128 {
					var buf [128]byte
					for i := 0; i < len(v); i++ {
						buf[i] = lowerByte(v[i])
					}
					return p.set[string(buf[:len(v)])] // no allocation for a map index
				}
				return p.set[asciiLower(v)]
			}
			return p.set[v]
		}
		for _, x := range p.strs {
			if v == x || p.icase && foldEq(v, x) {
				return true
			}
		}
	case mBeg:
		for _, x := range p.strs {
			if len(v) >= len(x) && (v[:len(x)] == x || p.icase && foldEq(v[:len(x)], x)) {
				return true
			}
		}
	case mEnd:
		for _, x := range p.strs {
			if len(v) >= len(x) && (v[len(v)-len(x):] == x || p.icase && foldEq(v[len(v)-len(x):], x)) {
				return true
			}
		}
	case mSub:
		for _, x := range p.strs {
			if containsFold(v, x, p.icase) {
				return true
			}
		}
	case mReg:
		for _, re := range p.regs {
			if re.MatchString(v) {
				return true
			}
		}
	case mDom, mDir:
		for _, x := range p.strs {
			if matchWord(v, x, p.icase, p.kind == mDom) {
				return true
			}
		}
	}
	return false
}

// lowerByte folds an ASCII letter to lower case, as HAProxy's tolower().
func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// asciiLower lower-cases the ASCII letters of s, byte by byte as
// HAProxy's tolower(); s is returned as is when it has no upper case.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		b[i] = lowerByte(b[i])
	}
	return string(b)
}

// asciiUpper upper-cases the ASCII letters of s.
func asciiUpper(s string) string {
	i := 0
	for i < len(s) && !(s[i] >= 'a' && s[i] <= 'z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func containsFold(v, x string, icase bool) bool {
	if !icase {
		return strings.Contains(v, x)
	}
	for i := 0; i+len(x) <= len(v); i++ {
		if foldEq(v[i:i+len(x)], x) {
			return true
		}
	}
	return false
}

func isDelim(c byte, dom bool) bool {
	return c == '/' || c == '?' || dom && (c == '.' || c == ':')
}

// matchWord is HAProxy's match_word: pattern x (delimiters already trimmed
// from its ends) appears in v starting at the beginning or after a
// delimiter, and ending at the end or before a delimiter.
func matchWord(v, x string, icase, dom bool) bool {
	if x == "" || len(x) > len(v) {
		return false
	}
	may := true
	for i := 0; i+len(x) <= len(v); i++ {
		if isDelim(v[i], dom) {
			may = true
			continue
		}
		if !may {
			continue
		}
		w := v[i : i+len(x)]
		if (w == x || icase && foldEq(w, x)) && (i+len(x) == len(v) || isDelim(v[i+len(x)], dom)) {
			return true
		}
		may = false
	}
	return false
}

// foldEq compares ASCII case-insensitively, like HAProxy's strncasecmp
// (Unicode folding such as the Kelvin sign does not apply).
func foldEq(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}
