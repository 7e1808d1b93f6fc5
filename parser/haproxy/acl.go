package haproxy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// SampleType is the output type of a sample fetch or converter.
type SampleType int

// Sample types, as HAProxy names them.
const (
	TypeStr SampleType = iota
	TypeInt
	TypeIP
	TypeBool
	TypeBin
)

// FetchInfo describes a sample fetch: what it returns, its default match
// method when used in an ACL, and its arguments. The runtime implements the
// fetches listed here; this table is what the parser validates against.
type FetchInfo struct {
	Type    SampleType
	Match   string // default match method in ACLs
	MinArgs int
	MaxArgs int
	HTTP    bool // needs an HTTP request (mode http)
}

// Fetches lists the sample fetches goproxy knows, including the ACL
// keyword forms such as hdr_dom (hdr with -m dom).
var Fetches = map[string]FetchInfo{}

// Converters lists the converters goproxy knows, with their argument counts.
var Converters = map[string][2]int{
	"lower": {0, 0}, "upper": {0, 0}, "map": {1, 2}, "map_str": {1, 2}, "map_beg": {1, 2},
	"map_sub": {1, 2}, "map_dir": {1, 2}, "map_dom": {1, 2}, "map_end": {1, 2}, "map_reg": {1, 2},
	"map_ip": {1, 2}, "map_int": {1, 2}, "map_str_int": {1, 2}, "map_beg_int": {1, 2}, "map_ip_int": {1, 2},
	"field": {2, 3}, "word": {2, 3}, "regsub": {2, 3}, "base64": {0, 0}, "b64dec": {0, 0}, "hex": {0, 0},
	"ipmask": {1, 2}, "json": {0, 1}, "length": {0, 0}, "bytes": {1, 2}, "debug": {0, 2},
	"sdbm": {0, 1}, "djb2": {0, 1}, "crc32": {0, 1}, "wt6": {0, 1}, "xxh32": {0, 1}, "xxh64": {0, 1},
	"add": {1, 1}, "sub": {1, 1}, "mul": {1, 1}, "div": {1, 1}, "mod": {1, 1}, "neg": {0, 0},
	"not": {0, 0}, "bool": {0, 0}, "and": {1, 1}, "or": {1, 1}, "xor": {1, 1}, "cpl": {0, 0},
	"odd": {0, 0}, "even": {0, 0}, "concat": {1, 3}, "strcmp": {1, 1}, "ltime": {1, 2}, "utime": {1, 2},
	"url_dec": {0, 1}, "digest": {1, 1}, "sha1": {0, 0}, "sha2": {0, 1}, "hmac": {2, 2},
	"host_only": {0, 0}, "port_only": {0, 0}, "set-var": {1, 2}, "unset-var": {1, 1},
	"protobuf": {1, 2}, "ungrpc": {1, 2}, "in_table": {1, 1}, "table_http_req_rate": {1, 1},
	"table_conn_cur": {1, 1}, "table_conn_rate": {1, 1}, "us_ltime": {1, 2}, "ms_ltime": {1, 2},
	"url_enc": {0, 1}, "ltrim": {1, 1}, "rtrim": {1, 1}, "capture-req": {1, 1}, "capture-res": {1, 1},
	"secure_memcmp": {1, 1}, "base2": {0, 0}, "iif": {2, 2}, "x509_v_err_str": {0, 0},
}

func init() {
	str := func(min, max int, http bool) FetchInfo { return FetchInfo{TypeStr, "str", min, max, http} }
	integer := func(min, max int, http bool) FetchInfo { return FetchInfo{TypeInt, "int", min, max, http} }
	ip := func(min, max int, http bool) FetchInfo { return FetchInfo{TypeIP, "ip", min, max, http} }
	boolean := func(min, max int, http bool) FetchInfo { return FetchInfo{TypeBool, "bool", min, max, http} }
	base := map[string]FetchInfo{
		// HTTP request
		"hdr": str(0, 2, true), "req.hdr": str(0, 2, true), "fhdr": str(0, 2, true), "req.fhdr": str(0, 2, true),
		"req.hdrs": str(0, 0, true), "req.hdr_names": str(0, 1, true),
		"hdr_cnt": integer(0, 1, true), "req.hdr_cnt": integer(0, 1, true), "req.fhdr_cnt": integer(0, 1, true),
		"hdr_val": integer(0, 2, true), "req.hdr_val": integer(0, 2, true),
		"hdr_ip": ip(0, 2, true), "req.hdr_ip": ip(0, 2, true),
		"path": str(0, 0, true), "url": str(0, 0, true), "query": str(0, 0, true), "base": str(0, 0, true),
		"pathq": str(0, 0, true), "url_ip": ip(0, 0, true), "url_port": integer(0, 0, true),
		"method":    {TypeStr, "str", 0, 0, true},
		"url_param": str(0, 2, true), "urlp": str(0, 2, true), "urlp_val": integer(0, 2, true),
		"cook": str(0, 1, true), "req.cook": str(0, 1, true), "cook_cnt": integer(0, 1, true),
		"req.cook_cnt": integer(0, 1, true), "cook_val": integer(0, 1, true), "req.cook_val": integer(0, 1, true),
		"req.ver": str(0, 0, true), "req_ver": str(0, 0, true),
		"req.body": {TypeBin, "bin", 0, 0, true}, "req.body_len": integer(0, 0, true),
		"req.body_param": str(0, 2, true),
		"http_auth":      boolean(1, 1, true), "http_auth_group": str(1, 1, true),
		"http_first_req": boolean(0, 0, true),
		"req.proto_http": boolean(0, 0, false), "req_proto_http": boolean(0, 0, false),
		"capture.req.hdr": str(1, 1, true), "capture.req.uri": str(0, 0, true),
		"capture.req.method": str(0, 0, true), "capture.req.ver": str(0, 0, true),
		"unique-id": str(0, 0, true),
		// HTTP response
		"status": integer(0, 0, true), "res.hdr": str(0, 2, true), "shdr": str(0, 2, true),
		"res.fhdr": str(0, 2, true), "res.hdr_cnt": integer(0, 1, true), "shdr_cnt": integer(0, 1, true),
		"res.hdr_val": integer(0, 2, true), "res.cook": str(0, 1, true), "scook": str(0, 1, true),
		"res.ver": str(0, 0, true), "resp_ver": str(0, 0, true), "res.comp": boolean(0, 0, true),
		// connection
		"src": ip(0, 0, false), "dst": ip(0, 0, false), "src_port": integer(0, 0, false),
		"dst_port": integer(0, 0, false), "so_id": integer(0, 0, false), "fe_id": integer(0, 0, false),
		"be_id": integer(0, 0, false), "srv_id": integer(0, 0, false), "fe_name": str(0, 0, false),
		"be_name": str(0, 0, false), "srv_name": str(0, 0, false), "dst_conn": integer(0, 0, false),
		"fc_rtt": integer(0, 1, false), "src_is_local": boolean(0, 0, false), "dst_is_local": boolean(0, 0, false),
		"fe_conn": integer(0, 1, false), "be_conn": integer(0, 1, false), "nbsrv": integer(0, 1, false),
		"connslots": integer(0, 1, false), "queue": integer(0, 1, false), "avg_queue": integer(0, 1, false),
		"srv_conn": integer(1, 1, false), "srv_is_up": boolean(1, 1, false), "be_sess_rate": integer(0, 1, false),
		"fe_sess_rate": integer(0, 1, false), "stopping": boolean(0, 0, false),
		// layer 4-6 content
		"req.len": integer(0, 0, false), "req_len": integer(0, 0, false), "req.payload": {TypeBin, "bin", 2, 2, false},
		"payload": {TypeBin, "bin", 2, 2, false}, "req.payload_lv": {TypeBin, "bin", 2, 3, false},
		"req.ssl_sni": str(0, 0, false), "req_ssl_sni": str(0, 0, false), "req.ssl_hello_type": integer(0, 0, false),
		"req_ssl_hello_type": integer(0, 0, false), "req.ssl_ver": integer(0, 0, false), "req_ssl_ver": integer(0, 0, false),
		"req.ssl_ec_ext": boolean(0, 0, false), "req.rdp_cookie": str(0, 1, false), "rdp_cookie": str(0, 1, false),
		"req.rdp_cookie_cnt": integer(0, 1, false), "rdp_cookie_cnt": integer(0, 1, false),
		"req.ssl_alpn": str(0, 0, false), "wait_end": boolean(0, 0, false),
		// TLS front connection
		"ssl_fc": boolean(0, 0, false), "ssl_fc_sni": str(0, 0, false), "ssl_sni": str(0, 0, false),
		"ssl_fc_has_crt": boolean(0, 0, false), "ssl_c_used": boolean(0, 0, false), "ssl_c_verify": integer(0, 0, false),
		"ssl_fc_protocol": str(0, 0, false), "ssl_fc_alpn": str(0, 0, false), "ssl_c_s_dn": str(0, 2, false),
		// internal
		"always_true": boolean(0, 0, false), "always_false": boolean(0, 0, false),
		"var": str(1, 2, false), "env": str(1, 1, false), "str": str(1, 1, false), "int": integer(1, 1, false),
		"bool": boolean(1, 1, false), "ipv4": ip(1, 1, false), "ipv6": ip(1, 1, false), "bin": {TypeBin, "bin", 1, 1, false},
		"date": integer(0, 2, false), "now": integer(0, 0, false), "rand": integer(0, 1, false),
		"hostname": str(0, 0, false), "uuid": str(0, 1, false), "nbproc": integer(0, 0, false),
		"thread": integer(0, 0, false), "pid": integer(0, 0, false), "proc": integer(0, 0, false),
		"sc_http_req_rate": integer(1, 2, false), "sc0_http_req_rate": integer(0, 1, false),
		"sc1_http_req_rate": integer(0, 1, false), "sc_conn_cur": integer(1, 2, false),
		"src_conn_cur": integer(0, 1, false), "src_conn_rate": integer(0, 1, false),
		"src_http_req_rate": integer(0, 1, false), "src_http_err_rate": integer(0, 1, false),
		"sc0_conn_cur": integer(0, 1, false), "sc0_conn_rate": integer(0, 1, false),
		"src_get_gpc0": integer(0, 1, false), "sc0_get_gpc0": integer(0, 1, false),
		"src_inc_gpc0": integer(0, 1, false), "sc0_inc_gpc0": integer(0, 1, false),
		"src_bytes_out_rate": integer(0, 1, false), "table_cnt": integer(0, 1, false),
	}
	// Stick counters: sc_X(ctr[,table]), scN_X([table]), src_X([table]).
	for _, x := range []string{"conn_cnt", "conn_cur", "conn_rate", "sess_cnt", "sess_rate",
		"http_req_cnt", "http_req_rate", "http_err_cnt", "http_err_rate",
		"get_gpc0", "inc_gpc0", "clr_gpc0", "get_gpt0", "trackers"} {
		base["sc_"+x] = integer(1, 2, false)
		base["src_"+x] = integer(0, 1, false)
		for _, n := range []string{"0", "1", "2"} {
			base["sc"+n+"_"+x] = integer(0, 1, false)
		}
	}
	for k, v := range base {
		Fetches[k] = v
	}
	// The ACL keyword forms: FETCH_SUFFIX = FETCH with a match method.
	derive := func(fetch string, suffixes ...string) {
		b := Fetches[fetch]
		for _, s := range suffixes {
			fi := b
			switch s {
			case "cnt":
				fi = FetchInfo{TypeInt, "int", b.MinArgs, b.MaxArgs, b.HTTP}
			case "val":
				fi = FetchInfo{TypeInt, "int", b.MinArgs, b.MaxArgs, b.HTTP}
			case "ip":
				fi = FetchInfo{TypeIP, "ip", b.MinArgs, b.MaxArgs, b.HTTP}
			default:
				fi.Match = s
			}
			if _, ok := Fetches[fetch+"_"+s]; !ok {
				Fetches[fetch+"_"+s] = fi
			}
		}
	}
	for _, f := range []string{"hdr", "path", "url", "urlp", "cook", "base", "shdr", "req.hdr", "res.hdr", "req.ssl_sni", "ssl_fc_sni", "req_ssl_sni"} {
		derive(f, "beg", "end", "sub", "reg", "dom", "dir", "len", "found")
	}
	Fetches["url_param_reg"] = Fetches["urlp_reg"]
	Fetches["urlp_cnt"] = FetchInfo{TypeInt, "int", 0, 2, true}
}

// predefinedACLs are HAProxy's built-in ACL names.
var predefinedACLs = map[string][]string{
	"TRUE":           {"always_true"},
	"FALSE":          {"always_false"},
	"HTTP":           {"req.proto_http"},
	"HTTP_1.0":       {"req.ver", "1.0"},
	"HTTP_1.1":       {"req.ver", "1.1"},
	"HTTP_2.0":       {"req.ver", "2.0"},
	"HTTP_CONTENT":   {"req.hdr_val(content-length)", "gt", "0"},
	"HTTP_URL_ABS":   {"url_reg", "^[^/:]*://"},
	"HTTP_URL_SLASH": {"url_beg", "/"},
	"HTTP_URL_STAR":  {"url", "*"},
	"LOCALHOST":      {"src", "127.0.0.1/8", "::1"},
	"METH_CONNECT":   {"method", "CONNECT"},
	"METH_DELETE":    {"method", "DELETE"},
	"METH_GET":       {"method", "GET", "HEAD"},
	"METH_HEAD":      {"method", "HEAD"},
	"METH_OPTIONS":   {"method", "OPTIONS"},
	"METH_POST":      {"method", "POST"},
	"METH_PUT":       {"method", "PUT"},
	"METH_TRACE":     {"method", "TRACE"},
	"RDP_COOKIE":     {"req.rdp_cookie_cnt", "gt", "0"},
	"REQ_CONTENT":    {"req.len", "gt", "0"},
	"WAIT_END":       {"wait_end"},
}

var matchMethods = map[string]bool{
	"found": true, "bool": true, "int": true, "ip": true, "bin": true, "len": true,
	"str": true, "sub": true, "reg": true, "beg": true, "end": true, "dir": true, "dom": true,
}

// parseSampleExpr splits "fetch(args),conv(args),..." into its parts.
func parseSampleExpr(expr string) (fetch string, args []string, convs []Converter, err error) {
	parts, err := splitTopLevel(expr)
	if err != nil {
		return "", nil, nil, err
	}
	for i, part := range parts {
		name, a, err := splitCall(part)
		if err != nil {
			return "", nil, nil, err
		}
		if i == 0 {
			fetch, args = name, a
			continue
		}
		convs = append(convs, Converter{Name: name, Args: a})
	}
	return fetch, args, convs, nil
}

// splitTopLevel splits s on commas that are outside parentheses.
func splitTopLevel(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced parenthesis in '%s'", s)
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("missing closing ')' after arguments to '%s'", s)
	}
	return append(out, s[start:]), nil
}

// splitCall splits "name(a,b)" into name and arguments.
func splitCall(s string) (string, []string, error) {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		return s, nil, nil
	}
	if !strings.HasSuffix(s, ")") {
		return "", nil, fmt.Errorf("missing closing ')' after arguments to '%s'", s[:i])
	}
	inner := s[i+1 : len(s)-1]
	if inner == "" {
		return s[:i], nil, nil
	}
	// Arguments are split on top-level commas only (a regsub pattern may
	// hold parentheses of its own).
	args, err := splitTopLevel(inner)
	return s[:i], args, err
}

// compileACL parses the words after `acl NAME` (or inside `{ }`).
func (l *loader) compileACL(p *Proxy, name string, words []string, pos Pos) (*ACL, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("missing fetch method")
	}
	a := &ACL{Pos: pos, Name: name, Expr: words[0]}
	fetch, args, convs, err := parseSampleExpr(words[0])
	if err != nil {
		return nil, err
	}
	fi, ok := Fetches[fetch]
	if !ok {
		return nil, fmt.Errorf("unknown fetch method '%s' in ACL expression '%s'", fetch, words[0])
	}
	if len(args) < fi.MinArgs || len(args) > fi.MaxArgs {
		return nil, fmt.Errorf("fetch method '%s' : expects %d to %d arguments (got %d) in ACL expression '%s'", fetch, fi.MinArgs, fi.MaxArgs, len(args), words[0])
	}
	for _, c := range convs {
		n, ok := Converters[c.Name]
		if !ok {
			return nil, fmt.Errorf("unknown converter '%s' in ACL expression '%s'", c.Name, words[0])
		}
		if len(c.Args) < n[0] || len(c.Args) > n[1] {
			return nil, fmt.Errorf("converter '%s' : expects %d to %d arguments (got %d)", c.Name, n[0], n[1], len(c.Args))
		}
	}
	if fi.HTTP && p != nil && p.Mode != ModeHTTP && p.Kind != "defaults" {
		// HAProxy accepts it and warns at the rule that uses it; the
		// fetch simply never matches in TCP mode.
		l.d.Warnf(pos, "acl '%s' will never match because it only involves keywords that are incompatible with 'tcp' mode", name)
	}
	a.Fetch, a.FetchArgs, a.Converters = fetch, args, convs
	a.Match = fi.Match
	if len(convs) > 0 {
		// A converter changes the type: strings match as strings.
		a.Match = "str"
		switch convs[len(convs)-1].Name {
		case "length", "add", "sub", "mul", "div", "mod", "neg", "and", "or", "xor", "cpl", "sdbm", "djb2", "crc32", "wt6", "xxh32", "map_int", "map_str_int", "map_beg_int", "map_ip_int", "strcmp":
			a.Match = "int"
		case "bool", "not", "odd", "even":
			a.Match = "bool"
		case "ipmask":
			a.Match = "ip"
		}
	}
	rest := words[1:]
	// Flags.
	// Any word beginning with '-' is a flag, negative numbers included:
	// HAProxy wants `--` before such patterns.
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		f := rest[0]
		rest = rest[1:]
		switch f {
		case "-i":
			a.IgnoreCase = true
		case "-n":
			a.NoDNS = true
		case "--":
			goto patterns
		case "-f", "-m", "-M", "-u":
			if len(rest) == 0 {
				return nil, fmt.Errorf("missing argument to '%s'", f)
			}
			v := rest[0]
			rest = rest[1:]
			switch f {
			case "-f":
				pats, err := l.readPatternFile(v)
				if err != nil {
					return nil, err
				}
				a.PatternFiles = append(a.PatternFiles, v)
				a.Patterns = append(a.Patterns, pats...)
			case "-m":
				if !matchMethods[v] {
					return nil, fmt.Errorf("unknown matching method '%s' when parsing ACL expression", v)
				}
				a.Match = v
			}
		default:
			return nil, fmt.Errorf("'%s' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'", f)
		}
	}
patterns:
	if a.Match == "int" || a.Match == "len" {
		// Optional operator before int patterns.
		if len(rest) > 0 {
			switch rest[0] {
			case "eq", "ge", "gt", "le", "lt":
				if len(rest) < 2 {
					return nil, fmt.Errorf("missing value after operator '%s'", rest[0])
				}
				a.Patterns = append(a.Patterns, rest[0]+" "+rest[1])
				rest = rest[2:]
			}
		}
	}
	a.Patterns = append(a.Patterns, rest...)
	if err := checkPatterns(a); err != nil {
		return nil, err
	}
	if len(a.Patterns) == 0 && len(a.PatternFiles) == 0 && a.Match != "found" && a.Match != "bool" && fi.Type != TypeBool {
		l.d.Warnf(pos, "parsing acl keyword '%s' :\n  no pattern to match against were provided, so this ACL will never match.\n  If this is what you intended, please add '--' to get rid of this warning.\n  If you intended to match only for existence, please use '-m found'.\n  If you wanted to force an int to match as a bool, please use '-m bool'.\n", fetch)
	}
	return a, nil
}

// checkPatterns validates patterns that have a syntax: regexes, integers
// and ranges, and addresses.
func checkPatterns(a *ACL) error {
	for _, p := range a.Patterns {
		switch a.Match {
		case "reg":
			if _, err := regexp.Compile(p); err != nil {
				return fmt.Errorf("regex '%s' is invalid: %v", p, err)
			}
		case "int", "len":
			v := p
			if op, rest, ok := strings.Cut(p, " "); ok {
				_ = op
				v = rest
			}
			lo, hi, isRange := strings.Cut(v, ":")
			for _, x := range []string{lo, hi} {
				if x == "" && isRange {
					continue
				}
				if _, err := strconv.ParseInt(x, 10, 64); err != nil && !(x == "" && !isRange) {
					return fmt.Errorf("'%s' is neither a number nor a supported operator", p)
				}
			}
		case "ip":
			if _, err := parsePrefix(p); err != nil {
				// A host name is resolved at load unless -n.
				if a.NoDNS {
					return fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", p)
				}
			}
		}
	}
	return nil
}

func (l *loader) readPatternFile(name string) ([]string, error) {
	b, err := l.opt.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("failed to open pattern file <%s>", name)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, nil
}

func (l *loader) parseACLLine(p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 3 {
		l.d.Alertf(ln.Pos, "'acl' expects <name> and <criterion> as arguments.")
		return
	}
	name := w[1]
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			l.d.Alertf(ln.Pos, "character '%c' is not permitted in acl name '%s'.", c, name)
			return
		}
	}
	a, err := l.compileACL(p, name, w[2:], ln.Pos)
	if err != nil {
		l.d.Alertf(ln.Pos, "error detected while parsing ACL '%s' : %v.", name, err)
		return
	}
	p.ACLs = append(p.ACLs, a)
	idx := l.aclIndex[p]
	if idx == nil {
		idx = map[string][]*ACL{}
		l.aclIndex[p] = idx
	}
	idx[name] = append(idx[name], a)
}

// parseCond parses the words of a condition starting at "if" or "unless".
// ACL names are resolved against the ACLs declared so far, as HAProxy does.
func (l *loader) parseCond(p *Proxy, words []string) (*Cond, error) {
	if len(words) == 0 {
		return nil, nil
	}
	c := &Cond{Raw: words}
	switch words[0] {
	case "if":
	case "unless":
		c.Unless = true
	default:
		return nil, fmt.Errorf("unexpected keyword '%s' (expects 'if' or 'unless')", words[0])
	}
	words = words[1:]
	if len(words) == 0 {
		return nil, fmt.Errorf("missing condition after '%s'", c.Raw[0])
	}
	group := []CondTerm{}
	negate := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		if len(w) > 1 && w[0] == '!' {
			// "!name" and "!{ ... }": the negation glued to the term.
			negate = !negate
			w = w[1:]
		}
		switch {
		case w == "or" || w == "||":
			if len(group) == 0 {
				return nil, fmt.Errorf("'%s' without a preceding term", w)
			}
			c.Terms = append(c.Terms, group)
			group = []CondTerm{}
			continue
		case w == "!":
			negate = !negate
			continue
		case w == "{":
			end := -1
			for j := i + 1; j < len(words); j++ {
				if words[j] == "}" {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("missing closing '}' in condition")
			}
			a, err := l.compileACL(p, "", words[i+1:end], Pos{})
			if err != nil {
				return nil, fmt.Errorf("anonymous ACL: %v", err)
			}
			group = append(group, CondTerm{Negate: negate, ACL: a, Alts: []*ACL{a}})
			negate = false
			i = end
			continue
		}
		t := CondTerm{Negate: negate, Name: w}
		negate = false
		t.Alts = append(t.Alts, l.aclIndex[p][w]...)
		if len(t.Alts) == 0 {
			def, ok := predefinedACLs[w]
			if !ok {
				return nil, fmt.Errorf("no such ACL : '%s'", w)
			}
			a, err := l.compileACL(nil, w, def, Pos{})
			if err != nil {
				return nil, err
			}
			t.Alts = []*ACL{a}
		}
		t.ACL = t.Alts[len(t.Alts)-1]
		group = append(group, t)
	}
	if negate {
		return nil, fmt.Errorf("'!' without a following term")
	}
	if len(group) == 0 {
		return nil, fmt.Errorf("missing term after 'or'")
	}
	c.Terms = append(c.Terms, group)
	return c, nil
}
