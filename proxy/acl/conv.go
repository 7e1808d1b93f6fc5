package acl

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"hapair/parser/haproxy"
	"hapair/proxy/balance"
)

// conv is a compiled converter: it maps one sample to another, or fails
// (no sample).
type conv func(s sample) (sample, bool)

// compileConv builds converter c.
func compileConv(c haproxy.Converter, env *Env) (conv, error) {
	a := c.Args
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	intArg := func(i int) (int64, error) {
		n, err := strconv.ParseInt(arg(i), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("converter '%s': invalid integer '%s'", c.Name, arg(i))
		}
		return n, nil
	}
	str := func(f func(string) string) conv {
		return func(s sample) (sample, bool) { return sample{typ: tStr, s: f(s.str())}, true }
	}
	integer := func(f func(int64) int64) conv {
		return func(s sample) (sample, bool) {
			n, ok := s.integer()
			if !ok {
				return sample{}, false
			}
			return sample{typ: tInt, i: f(n)}, true
		}
	}
	hashConv := func(h func(string) uint32) (conv, error) {
		avalanche := arg(0) == "1"
		return func(s sample) (sample, bool) {
			v := h(s.str())
			if avalanche {
				v = balance.FullHash(v)
			}
			return sample{typ: tInt, i: int64(v)}, true
		}, nil
	}
	switch c.Name {
	case "lower":
		return str(asciiLower), nil
	case "upper":
		return str(asciiUpper), nil
	case "length":
		return func(s sample) (sample, bool) { return sample{typ: tInt, i: int64(len(s.str()))}, true }, nil
	case "base64":
		return str(func(v string) string { return base64.StdEncoding.EncodeToString([]byte(v)) }), nil
	case "b64dec":
		return func(s sample) (sample, bool) {
			b, err := base64.StdEncoding.DecodeString(s.str())
			return sample{typ: tStr, s: string(b)}, err == nil
		}, nil
	case "hex":
		return str(func(v string) string { return strings.ToUpper(hex.EncodeToString([]byte(v))) }), nil
	case "url_dec":
		return func(s sample) (sample, bool) {
			v, err := url.QueryUnescape(s.str())
			return sample{typ: tStr, s: v}, err == nil
		}, nil
	case "url_enc":
		return str(urlEncode), nil
	case "ltrim":
		return str(func(v string) string { return strings.TrimLeft(v, arg(0)) }), nil
	case "rtrim":
		return str(func(v string) string { return strings.TrimRight(v, arg(0)) }), nil
	case "bytes":
		off, err := intArg(0)
		if err != nil {
			return nil, err
		}
		n := int64(-1)
		if len(a) > 1 {
			if n, err = intArg(1); err != nil {
				return nil, err
			}
		}
		return func(s sample) (sample, bool) {
			v := s.str()
			if off >= int64(len(v)) {
				return sample{typ: tStr}, true
			}
			v = v[off:]
			if n >= 0 && n < int64(len(v)) {
				v = v[:n]
			}
			return sample{typ: tStr, s: v}, true
		}, nil
	case "field", "word":
		n, err := intArg(0)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("converter '%s': invalid index '%s'", c.Name, arg(0))
		}
		delims := arg(1)
		count := int64(1)
		if len(a) > 2 {
			if count, err = intArg(2); err != nil {
				return nil, err
			}
		}
		if c.Name == "field" {
			return func(s sample) (sample, bool) { return sample{typ: tStr, s: field(s.str(), delims, n, count)}, true }, nil
		}
		return func(s sample) (sample, bool) { return sample{typ: tStr, s: word(s.str(), delims, n, count)}, true }, nil
	case "regsub":
		expr := arg(0)
		global := false
		for _, f := range arg(2) {
			switch f {
			case 'i':
				expr = "(?i)" + expr
			case 'g':
				global = true
			default:
				return nil, fmt.Errorf("converter 'regsub': invalid flag '%c'", f)
			}
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("converter 'regsub': invalid regex '%s': %v", arg(0), err)
		}
		repl := regsubTemplate(arg(1))
		return str(func(v string) string { return regsub(re, v, repl, global) }), nil
	case "ipmask":
		m4, err := maskBits(arg(0), 32)
		if err != nil {
			return nil, err
		}
		m6 := 128
		if len(a) > 1 {
			if m6, err = maskBits(arg(1), 128); err != nil {
				return nil, err
			}
		}
		return func(s sample) (sample, bool) {
			ip, ok := s.addr()
			if !ok {
				return sample{}, false
			}
			bits := m6
			if ip.Is4() {
				bits = m4
			}
			p, err := ip.Prefix(bits)
			return sample{typ: tIP, ip: p.Addr()}, err == nil
		}, nil
	case "sdbm", "djb2", "wt6", "crc32":
		h, _ := balance.HashFunc(c.Name)
		return hashConv(h)
	case "sha1":
		return str(func(v string) string { h := sha1.Sum([]byte(v)); return string(h[:]) }), nil
	case "sha2":
		bits := arg(0)
		return str(func(v string) string {
			switch bits {
			case "224":
				h := sha256.Sum224([]byte(v))
				return string(h[:])
			case "384":
				h := sha512.Sum384([]byte(v))
				return string(h[:])
			case "512":
				h := sha512.Sum512([]byte(v))
				return string(h[:])
			}
			h := sha256.Sum256([]byte(v))
			return string(h[:])
		}), nil
	case "add", "sub", "mul", "div", "mod", "and", "or", "xor":
		n, err := intArg(0)
		if err != nil {
			return nil, err
		}
		op := c.Name
		return func(s sample) (sample, bool) {
			v, ok := s.integer()
			if !ok {
				return sample{}, false
			}
			switch op {
			case "add":
				v += n
			case "sub":
				v -= n
			case "mul":
				v *= n
			case "div":
				if n == 0 {
					v = 1<<63 - 1
				} else {
					v /= n
				}
			case "mod":
				if n == 0 {
					v = 0
				} else {
					v %= n
				}
			case "and":
				v &= n
			case "or":
				v |= n
			case "xor":
				v ^= n
			}
			return sample{typ: tInt, i: v}, true
		}, nil
	case "neg":
		return integer(func(v int64) int64 { return -v }), nil
	case "cpl":
		return integer(func(v int64) int64 { return int64(^uint64(v)) }), nil
	case "not", "bool", "odd", "even":
		op := c.Name
		return func(s sample) (sample, bool) {
			v, ok := s.integer()
			if !ok {
				return sample{}, false
			}
			var r bool
			switch op {
			case "not":
				r = v == 0
			case "bool":
				r = v != 0
			case "odd":
				r = v&1 == 1
			case "even":
				r = v&1 == 0
			}
			return sample{typ: tBool, i: b2i(r)}, true
		}, nil
	case "iif":
		t, f := arg(0), arg(1)
		return func(s sample) (sample, bool) {
			v, ok := s.integer()
			if ok && v != 0 {
				return sample{typ: tStr, s: t}, true
			}
			return sample{typ: tStr, s: f}, true
		}, nil
	case "host_only":
		return str(func(v string) string {
			if strings.HasPrefix(v, "[") {
				if i := strings.IndexByte(v, ']'); i > 0 {
					return v[:i+1]
				}
			}
			if i := strings.LastIndexByte(v, ':'); i >= 0 && strings.Count(v, ":") == 1 {
				return v[:i]
			}
			return v
		}), nil
	case "port_only":
		return func(s sample) (sample, bool) {
			v := s.str()
			i := strings.LastIndexByte(v, ':')
			if i < 0 || strings.HasSuffix(v, "]") {
				return sample{typ: tInt}, true
			}
			n, _ := strconv.ParseInt(v[i+1:], 10, 64)
			return sample{typ: tInt, i: n}, true
		}, nil
	case "json":
		return str(func(v string) string {
			q := strconv.Quote(v)
			return q[1 : len(q)-1]
		}), nil
	case "debug":
		return func(s sample) (sample, bool) { return s, true }, nil
	}
	if strings.HasPrefix(c.Name, "map") {
		return compileMapConv(c, env)
	}
	return nil, fmt.Errorf("converter '%s' is not supported by goproxy", c.Name)
}

// compileMapConv builds map, map_<match> and map_<match>_<output>.
func compileMapConv(c haproxy.Converter, env *Env) (conv, error) {
	if len(c.Args) < 1 || len(c.Args) > 2 {
		return nil, fmt.Errorf("converter '%s' expects a map file and an optional default", c.Name)
	}
	parts := strings.Split(c.Name, "_")
	match, out := "str", "str"
	if len(parts) > 1 {
		match = parts[1]
	}
	if len(parts) > 2 {
		out = parts[2]
	}
	kind, ok := matchKinds[match]
	if !ok || len(parts) > 3 || out != "str" && out != "int" && out != "ip" {
		return nil, fmt.Errorf("unknown converter '%s'", c.Name)
	}
	m, err := env.loadMap(c.Args[0])
	if err != nil {
		return nil, err
	}
	if err := m.prepare(kind); err != nil {
		return nil, err
	}
	def, hasDef := "", len(c.Args) > 1
	if hasDef {
		def = c.Args[1]
	}
	mk := func(v string) (sample, bool) {
		switch out {
		case "int":
			n, ok := leadingInt(v)
			return sample{typ: tInt, i: n}, ok
		case "ip":
			a, err := netip.ParseAddr(v)
			return sample{typ: tIP, ip: a}, err == nil
		}
		return sample{typ: tStr, s: v}, true
	}
	return func(s sample) (sample, bool) {
		if v, ok := m.lookup(kind, s); ok {
			return mk(v)
		}
		if hasDef {
			return mk(def)
		}
		return sample{}, false
	}, nil
}

func maskBits(s string, size int) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= size {
		return n, nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.BitLen() == size {
		b := a.AsSlice()
		ones := 0
		for _, x := range b {
			for x&0x80 != 0 {
				ones++
				x <<= 1
			}
			if x != 0 {
				return 0, fmt.Errorf("converter 'ipmask': non-contiguous mask '%s'", s)
			}
		}
		return ones, nil
	}
	return 0, fmt.Errorf("converter 'ipmask': invalid mask '%s'", s)
}

// field returns field n (1-based; negative counts from the end) of v
// split on any byte of delims, with count-1 following fields (count 0: all
// the rest), as the sub-string of v that holds them.
func field(v, delims string, n, count int64) string {
	fs := make([][2]int, 0, 16)
	start := 0
	for i := 0; i < len(v); i++ {
		if strings.IndexByte(delims, v[i]) >= 0 {
			fs = append(fs, [2]int{start, i})
			start = i + 1
		}
	}
	fs = append(fs, [2]int{start, len(v)})
	return pickFields(v, fs, n, count)
}

// word is field where consecutive delimiters count as one (no empty words).
func word(v, delims string, n, count int64) string {
	fs := make([][2]int, 0, 16)
	start := -1
	for i := 0; i <= len(v); i++ {
		if i == len(v) || strings.IndexByte(delims, v[i]) >= 0 {
			if start >= 0 {
				fs = append(fs, [2]int{start, i})
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return pickFields(v, fs, n, count)
}

// pickFields selects fields by position: from field n, count fields
// forwards (n > 0) or backwards (n < 0); count 0 means all of them.
func pickFields(v string, fs [][2]int, n, count int64) string {
	total := int64(len(fs))
	var first, last int64
	if n > 0 {
		first = n - 1
		last = total - 1
		if count > 0 {
			last = min(last, first+count-1)
		}
	} else {
		last = total + n
		first = 0
		if count > 0 {
			first = max(0, last-count+1)
		}
	}
	if first < 0 || last < 0 || first >= total || last >= total || first > last {
		return ""
	}
	return v[fs[first][0]:fs[last][1]]
}

// regsubTemplate turns HAProxy's substitution (\\1..\\9 back-references)
// into a regexp template.
func regsubTemplate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			b.WriteString("${")
			b.WriteByte(s[i+1])
			b.WriteString("}")
			i++
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// regsub replaces the first match of re in v (every match when global).
func regsub(re *regexp.Regexp, v, tmpl string, global bool) string {
	if global {
		return re.ReplaceAllString(v, tmpl)
	}
	m := re.FindStringSubmatchIndex(v)
	if m == nil {
		return v
	}
	out := re.ExpandString(nil, tmpl, v, m)
	return v[:m[0]] + string(out) + v[m[1]:]
}

// urlEncode percent-encodes every byte but the unreserved characters of
// RFC 3986, as HAProxy's url_enc does (a space is %20).
func urlEncode(v string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}
