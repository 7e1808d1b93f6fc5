package acl

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"hapair/parser/haproxy"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// frontendCfg renders a case as a frontend: its acl lines and a rule
// using the condition. The same text feeds our parser and haproxy.
func frontendCfg(name string, c condCase, bind string, rule string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frontend %s\n  mode http\n  bind %s\n", name, bind)
	for _, a := range c.acls {
		fmt.Fprintf(&b, "  acl %s\n", a)
	}
	fmt.Fprintf(&b, "  %s %s\n", rule, c.cond)
	return b.String()
}

// compileCase parses the case with the project's parser and compiles its
// condition.
func compileCase(t testing.TB, c condCase) *Cond {
	t.Helper()
	cfg := userlistCfg + "defaults\n  mode http\n" + frontendCfg("f", c, "127.0.0.1:1", "use_backend b") + "backend b\n"
	conf, diags := haproxy.Parse("case.cfg", []byte(cfg), haproxy.LoadOptions{})
	if conf == nil {
		t.Fatalf("%s: parse: %v", c.name, diags)
	}
	p := conf.Proxy("f", haproxy.CapFE)
	cond, err := CompileCond(p.UseBackends[0].Cond, &Env{Userlists: conf.Userlists})
	if err != nil {
		t.Fatalf("%s: compile: %v", c.name, err)
	}
	return cond
}

func TestCond(t *testing.T) {
	for _, c := range condCases {
		t.Run(c.name, func(t *testing.T) {
			cond := compileCase(t, c)
			for _, r := range c.reqs {
				if got := cond.Match(r.r.txn(80)); got != r.want {
					t.Errorf("%s %q: %v, want %v", c.cond, r.r, got, r.want)
				}
			}
		})
	}
}

func TestNilCond(t *testing.T) {
	c, err := CompileCond(nil, nil)
	if err != nil || !c.Match(&Txn{}) {
		t.Fatal("nil condition must always match")
	}
}

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct {
		acl  haproxy.ACL
		want string
	}{
		{haproxy.ACL{Pos: haproxy.Pos{File: "h.cfg", Line: 7}, Name: "x", Fetch: "path", Match: "reg", Patterns: []string{"("}}, "h.cfg:7: acl 'x': regex '(' is invalid"},
		{haproxy.ACL{Pos: haproxy.Pos{File: "h.cfg", Line: 8}, Name: "y", Fetch: "src", Match: "ip", NoDNS: true, Patterns: []string{"nohost"}}, "h.cfg:8: acl 'y': 'nohost' is not a valid"},
		{haproxy.ACL{Pos: haproxy.Pos{File: "h.cfg", Line: 9}, Name: "z", Fetch: "hdr", Converters: []haproxy.Converter{{Name: "map", Args: []string{"/nonexistent.map"}}}}, "h.cfg:9: acl 'z': failed to open map file </nonexistent.map>"},
		{haproxy.ACL{Pos: haproxy.Pos{File: "h.cfg", Line: 10}, Name: "u", Fetch: "http_auth", FetchArgs: []string{"nope"}, Match: "bool"}, "unable to find userlist 'nope'"},
		{haproxy.ACL{Name: "v", Fetch: "hdr_val", FetchArgs: []string{"x"}, Match: "int", Patterns: []string{"1:x"}, Expr: "hdr_val(x)"}, "{ hdr_val(x) }: acl 'v': '1:x' is neither"},
	} {
		a := c.acl
		_, err := CompileCond(&haproxy.Cond{Terms: [][]haproxy.CondTerm{{{Name: a.Name, ACL: &a, Alts: []*haproxy.ACL{&a}}}}}, &Env{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want it to contain %q", err, c.want)
		}
	}
}

// exprCase is a log-format expression and its expected rendering.
type exprCase struct {
	expr string
	r    req
	want string
}

var exprCases = []exprCase{
	{"%[req.hdr(host),lower]", host("WWW.Example.COM"), "www.example.com"},
	{"%[req.hdr(host),lower,map(MAPDIR/hosts.map,be_default)]", host("Test.COM"), "be_test"},
	{"%[req.hdr(host),lower,map(MAPDIR/hosts.map,be_default)]", host("unknown.org"), "be_default"},
	{"%[req.hdr(host),map(MAPDIR/hosts.map)]", host("unknown.org"), ""},
	{"%[req.hdr(host),map_dom(MAPDIR/doms.map,none)]", host("a.b.example.net"), "be_example"},
	{"%[req.hdr(host),map_end(MAPDIR/doms.map,none)]", host("xexample.net"), "be_example"},
	{"%[path,map_beg(MAPDIR/paths.map,none)]", path("/api/v1/x"), "be_api_v1"},
	{"%[path,map_beg(MAPDIR/paths.map,none)]", path("/api/v2/x"), "be_api"},
	{"%[path,map_reg(MAPDIR/regs.map,none)]", path("/img/a.png"), "be_img"},
	{"%[src,map_ip(MAPDIR/nets.map,none)]", req{src: "127.0.9.1", minor: 1, hdrs: []string{"Host: x"}}, "be_lo9"},
	{"%[src,map_ip(MAPDIR/nets.map,none)]", req{src: "127.1.9.1", minor: 1, hdrs: []string{"Host: x"}}, "be_lo"},
	{"be_%[path,field(2,/)]", path("/shop/cart"), "be_shop"},
	{"%[path,field(-1,/)]", path("/a/b/c"), "c"},
	{"%[path,field(2,/,2)]", path("/a/b/c"), "a/b"},
	{"%[path,word(2,/)]", path("//a//b/c"), "b"},
	{"%[path,regsub(^/api/,/v2/)]", path("/api/x"), "/v2/x"},
	{"%[hdr(x),regsub(a,X,g)]", hdrs("X: banana"), "bXnXnX"},
	{"%[hdr(x),regsub(a,X)]", hdrs("X: banana"), "bXnana"},
	{"%[hdr(x),regsub(\"(b)(a)\",\\2\\1)]", hdrs("X: banana"), "abnana"},
	{"%[hdr(x),upper]", hdrs("X: abc"), "ABC"},
	{"%[hdr(x),base64]", hdrs("X: hello"), "aGVsbG8="},
	{"%[hdr(x),hex]", hdrs("X: hi"), "6869"},
	{"%[hdr(x),length]", hdrs("X: hello"), "5"},
	{"%[hdr(x)]", hdrs("X: a, b", "X: c"), "c"},
	{"%[hdr(x,1)]", hdrs("X: a, b", "X: c"), "a"},
	{"%[req.fhdr(x)]", hdrs("X: a, b", "X: c"), "c"},
	{"%[req.hdr_cnt(x)]", hdrs("X: a, b", "X: c"), "3"},
	{"%[url_param(q)]", path("/s?a=1&q=go+lang&q=2"), "go+lang"},
	{"%[query]", path("/s?a=1&b"), "a=1&b"},
	{"%[path]", path("/p/q?r"), "/p/q"},
	{"%[url]", path("/p/q?r"), "/p/q?r"},
	{"%[base]", req{target: "/p?x", minor: 1, hdrs: []string{"Host: h.com"}}, "h.com/p"},
	{"%[method] %[req.ver]", host("x"), "GET 1.1"},
	{"%[src]:%[src_port,mul(0)]", host("x"), "127.0.0.1:0"},
	{"%[cook(sid)]", hdrs("Cookie: a=b; sid=42"), "42"},
	{"%[hdr(x),sdbm]", hdrs("X: abc"), "807794786"},
	{"%[hdr(x),djb2]", hdrs("X: abc"), "193485963"},
	{"%[hdr(x),crc32]", hdrs("X: abc"), "891568578"},
	{"%[hdr(x),add(3),mul(2)]", hdrs("X: 5"), "16"},
	{"%[str(lit)]-%[int(7)]", host("x"), "lit-7"},
	{"%[src,ipmask(16)]", host("x"), "127.0.0.0"},
	{"100%%", host("x"), "100%"},
	{"%[hdr(x),bytes(1,2)]", hdrs("X: abcdef"), "bc"},
	{"%[hdr(host),host_only]", host("h.com:8080"), "h.com"},
	{"%[hdr(x),url_dec]", hdrs("X: a%20b"), "a b"},
	{"%[hdr(x),ltrim(a),rtrim(c)]", hdrs("X: aabcc"), "b"},
	{"%[hdr(x)]", hdrs(), ""},
	{"q=%{+Q}[hdr(x)]", hdrs("X: v"), "q=v"},
	{"%[url_param(x)]", path("/p?y=1"), ""},
	{"%[src,ipmask(24)]", req{src: "127.0.5.77", minor: 1, hdrs: []string{"Host: x"}}, "127.0.5.0"},
	{"%[hdr(x),field(-2,.,0)]", hdrs("X: a.b.c.d"), "a.b.c"},
	{"%[hdr(x),field(-2,.,2)]", hdrs("X: a.b.c.d"), "b.c"},
	{"%[hdr(x),field(2,.,0)]", hdrs("X: a.b.c.d"), "b.c.d"},
	{"%[hdr(x),word(-1,.)]", hdrs("X: a..b.c."), "c"},
	{"%[hdr(x),word(2,.,2)]", hdrs("X: a..b..c.d"), "b..c"},
	{"%[hdr(x),json]", hdrs(`X: a"b\c`), `a\"b\\c`},
	{"%[hdr(x),regsub(A,b,ig)]", hdrs("X: aAa"), "bbb"},
	{"%[hdr(x),port_only]", hdrs("X: h.com:8080"), "8080"},
	{"%[req.hdr(x,-2)]", hdrs("X: a, b", "X: c"), "b"},
	{"%[hdr(x),b64dec]", hdrs("X: aGVsbG8="), "hello"},
	{"%[hdr(x),sha1,hex]", hdrs("X: abc"), "A9993E364706816ABA3E25717850C26C9CD0D89D"},
	{"%[hdr(x),djb2(1)]", hdrs("X: abc"), "2235766107"},
	{"%[hdr(x),crc32(1)]", hdrs("X: abc"), "930845320"},
	{"%[cook_cnt(a)]", hdrs("Cookie: a=1; b=2; a=3"), "2"},
	{"%[req.ver]", req{target: "/"}, "1.0"},
	{"%[urlp(a)]", path("/p?a=1&a=2"), "1"},
	{"%[path]|%[base]|%[url]", req{target: "http://h.com/x/y?z", minor: 1, hdrs: []string{"Host: h.com"}}, "/x/y|h.com/x/y|http://h.com/x/y?z"},
	{"%[query]", path("/p?"), ""},
	{"%[hdr(x),lower,upper]", hdrs("X: MiXed"), "MIXED"},
	{"%[hdr(x),map_str(MAPDIR/hosts.map,d)]", hdrs("X: test.domain.com"), "be_domain"},
	{"%[hdr(x),map_int(MAPDIR/ints.map,none)]", hdrs("X: 7"), "seven"},
	{"%[hdr(x),map_str_int(MAPDIR/strint.map,0),add(1)]", hdrs("X: k"), "43"},
	{"%[hdr(x),url_enc]", hdrs("X: a b&c~"), "a%20b%26c~"},
	{"%[hdr(x),sdbm(1)]", hdrs("X: abc"), "659243622"},
	{"%[hdr(x),wt6]", hdrs("X: abc"), "2483038440"},
}

const hostsMap = `# host -> backend
test.com            be_test
test.domain.com     be_domain
`
const domsMap = "example.net be_example\n"
const pathsMap = "/api/ be_api\n/api/v1/ be_api_v1\n"
const regsMap = "\\.(png|jpg)$ be_img\n"
const netsMap = "127.0.0.0/8 be_lo\n127.0.9.0/24 be_lo9\n"
const intsMap = "1 one\n7 seven\n"
const strIntMap = "k 42\n"

func mapFiles() map[string]string {
	return map[string]string{"hosts.map": hostsMap, "doms.map": domsMap, "paths.map": pathsMap, "regs.map": regsMap, "nets.map": netsMap, "ints.map": intsMap, "strint.map": strIntMap}
}

func memEnv(dir string) *Env {
	files := map[string][]byte{}
	for n, c := range mapFiles() {
		files[dir+"/"+n] = []byte(c)
	}
	return &Env{ReadFile: func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("open %s: no such file", name)
	}}
}

func TestExpr(t *testing.T) {
	env := memEnv("/maps")
	for _, c := range exprCases {
		expr := strings.ReplaceAll(c.expr, "MAPDIR", "/maps")
		e, err := CompileExpr(expr, env)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got := e.Eval(c.r.txn(80)); got != c.want {
			t.Errorf("%s on %v = %q, want %q", expr, c.r, got, c.want)
		}
	}
}

func TestExprErrors(t *testing.T) {
	for _, s := range []string{"%[nope]", "%[hdr(x),nope]", "%[hdr(x)", "%[path,regsub(()]", "%[hdr(x),map(/none)]", "%zz", "%[hdr(x),field(x,/)]"} {
		if _, err := CompileExpr(s, memEnv("/m")); err == nil {
			t.Errorf("%q compiled", s)
		}
	}
}

func TestMatchWord(t *testing.T) {
	for _, c := range []struct {
		v, p string
		dom  bool
		want bool
	}{
		{"www.test.com", "test.com", true, true},
		{"wwwtest.com", "test.com", true, false},
		{"a/b/c", "b", false, true},
		{"a/bc", "b", false, false},
		{"test.com:8080", "test.com", true, true},
		{"", "x", true, false},
	} {
		if got := matchWord(c.v, c.p, false, c.dom); got != c.want {
			t.Errorf("matchWord(%q,%q,dom=%v)=%v", c.v, c.p, c.dom, got)
		}
	}
}

func FuzzPatterns(f *testing.F) {
	for _, s := range []string{"1:5", "eq 3", "10.0.0.0/8", "::1", "^a.*$", "127.0.0.1/255.0.0.0", ":", "-3:-1"} {
		f.Add(s, "value 12", uint8(0))
	}
	f.Fuzz(func(t *testing.T, pat, val string, k uint8) {
		kind := matchKind(k % uint8(mFound+1))
		p, err := compilePatterns(kind, k&0x80 != 0, true, []string{pat})
		if err != nil {
			return
		}
		p.match(sample{typ: tStr, s: val})
		p.match(sample{typ: tInt, i: int64(len(val))})
	})
}

func FuzzExpr(f *testing.F) {
	for _, c := range exprCases {
		f.Add(strings.ReplaceAll(c.expr, "MAPDIR", "/maps"), "X", "v, w")
	}
	f.Fuzz(func(t *testing.T, expr, hname, hval string) {
		e, err := CompileExpr(expr, memEnv("/maps"))
		if err != nil {
			return
		}
		r := hdrs(hname + ": " + hval)
		e.Eval(r.txn(80))
	})
}

func TestHooksAndVars(t *testing.T) {
	env := &Env{
		NbSrv:    func(be string) int { return map[string]int{"app": 2, "cur": 1}[be] },
		ServerUp: func(be, srv string) bool { return be == "app" && srv == "s1" },
	}
	tx := &Txn{HTTP: true, Backend: "cur", Vars: map[string]string{"txn.user": "bob", "txn.n": "12"}}
	for expr, want := range map[string]string{
		"%[nbsrv(app)]": "2", "%[nbsrv]": "1", "%[srv_is_up(app/s1)]": "1", "%[srv_is_up(app/s2)]": "0",
		"%[var(txn.user)]": "bob", "%[var(txn.none,dflt)]": "dflt", "%[var(txn.none)]": "", "%[var(txn.n),add(1)]": "13",
	} {
		e, err := CompileExpr(expr, env)
		if err != nil {
			t.Fatal(expr, err)
		}
		if got := e.Eval(tx); got != want {
			t.Errorf("%s = %q, want %q", expr, got, want)
		}
	}
	// Without hooks nbsrv yields nothing.
	e, err := CompileExpr("%[nbsrv(app)]", nil)
	if err != nil || e.Eval(tx) != "" {
		t.Errorf("nbsrv without hook: %v %q", err, e.Eval(tx))
	}
}

// TestConcurrentMatch runs compiled conditions and expressions from many
// goroutines (run with -race): compiled state is read-only apart from the
// userlist cache.
func TestConcurrentMatch(t *testing.T) {
	var conds []*Cond
	var reqs []condReq
	for _, c := range condCases {
		cond := compileCase(t, c)
		for _, r := range c.reqs {
			conds = append(conds, cond)
			reqs = append(reqs, r)
		}
	}
	e, err := CompileExpr("%[req.hdr(host),lower,map(/maps/hosts.map,be_default)]", memEnv("/maps"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	for g := range 8 {
		go func() {
			for n := range 200 {
				k := (n + g*31) % len(conds)
				if got := conds[k].Match(reqs[k].r.txn(80)); got != reqs[k].want {
					done <- fmt.Sprintf("%v: %v", reqs[k].r, got)
					return
				}
				if got := e.Eval(host("test.com").txn(80)); got != "be_test" {
					done <- "map: " + got
					return
				}
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
