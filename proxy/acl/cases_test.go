package acl

import (
	"fmt"
	"net/netip"
	"strings"

	"hapair/proxy/http1"
)

// req is a request as a test sends it: to haproxy as raw bytes, to the
// package as a Txn.
type req struct {
	src    string // client address in 127.0.0.0/8 ("" = 127.0.0.1)
	method string // "" = GET
	target string // "" = /
	minor  int    // HTTP/1.<minor>; 0 is sent as HTTP/1.0
	hdrs   []string
	body   string // sent after the head (the caller adds Content-Length)
}

func (r req) txn(dstPort uint16) *Txn {
	src := r.src
	if src == "" {
		src = "127.0.0.1"
	}
	t := &Txn{
		Src:    netip.AddrPortFrom(netip.MustParseAddr(src), 40000),
		Dst:    netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dstPort),
		Method: r.method, Target: r.target, Minor: r.minor, HTTP: true, Frontend: "f",
	}
	if t.Method == "" {
		t.Method = "GET"
	}
	if t.Target == "" {
		t.Target = "/"
	}
	for _, h := range r.hdrs {
		n, v, _ := strings.Cut(h, ":")
		t.Header = append(t.Header, http1.Field{Name: n, Value: strings.TrimSpace(v)})
	}
	return t
}

func (r req) raw() string {
	t := r.txn(0)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.%d\r\n", t.Method, t.Target, r.minor)
	for _, h := range t.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", h.Name, h.Value)
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(r.body)
	return b.String()
}

func (r req) String() string {
	return fmt.Sprintf("%s %s %s HTTP/1.%d %q", r.src, r.method, r.target, r.minor, r.hdrs)
}

// condCase is a set of ACL lines, a condition over them and requests with
// the expected outcome.
type condCase struct {
	name string
	acls []string // the words after "acl"
	cond string   // "if ..." / "unless ..."
	reqs []condReq
}

type condReq struct {
	r    req
	want bool
}

func host(h string) req { return req{minor: 1, hdrs: []string{"Host: " + h}} }

func path(p string) req { return req{minor: 1, target: p, hdrs: []string{"Host: x"}} }

func hdrs(h ...string) req { return req{minor: 1, hdrs: append([]string{"Host: x"}, h...)} }

var condCases = []condCase{
	{"seed hdr_dom -i", []string{"is_test hdr_dom(host) -i test.com"}, "if is_test", []condReq{
		{host("test.com"), true}, {host("TEST.com"), true}, {host("test.com:80"), true}, {host("www.test.com"), true},
		{host("test.domain.com"), false}, {host("nottest.com"), false}, {host("test.com.evil"), true}, {host("atest.com"), false},
	}},
	{"hdr_dom dotted pattern", []string{"d hdr_dom(host) .example.com."}, "if d", []condReq{
		{host("a.example.com"), true}, {host("example.com"), true}, {host("example.community"), false},
	}},
	{"hdr exact", []string{"h hdr(host) test.domain.com"}, "if h", []condReq{
		{host("test.domain.com"), true}, {host("Test.domain.com"), false}, {host("test.domain.com:80"), false},
	}},
	{"hdr -i and several patterns", []string{"h hdr(host) -i a.com b.com c.com d.com e.com f.com"}, "if h", []condReq{
		{host("B.COM"), true}, {host("f.com"), true}, {host("g.com"), false},
	}},
	{"hdr_beg hdr_end hdr_sub", []string{"b hdr_beg(host) www.", "e hdr_end(host) .org", "s hdr_sub(user-agent) -i bot"}, "if b e || s", []condReq{
		{host("www.x.org"), true}, {host("www.x.com"), false}, {hdrs("User-Agent: GoogleBOT/2"), true}, {host("x.org"), false},
	}},
	{"hdr_reg", []string{"r hdr_reg(host) ^[a-z]+\\.example\\.(com|net)$"}, "if r", []condReq{
		{host("abc.example.net"), true}, {host("a1.example.com"), false},
	}},
	{"hdr multi-valued any occurrence", []string{"a hdr(accept) text/html"}, "if a", []condReq{
		{hdrs("Accept: image/png, text/html"), true}, {hdrs("Accept: image/png", "Accept: text/html"), true},
		{hdrs("Accept: image/png;q=1,text/plain"), false},
	}},
	{"fhdr full value", []string{`a req.fhdr(accept) "image/png, text/html"`}, "if a", []condReq{
		{hdrs("Accept: image/png, text/html"), true}, {hdrs("Accept: text/html"), false},
	}},
	{"hdr occurrence", []string{"first hdr(x-f,1) a", "last hdr(x-f,-1) c"}, "if first last", []condReq{
		{hdrs("X-F: a, b", "X-F: c"), true}, {hdrs("X-F: b, a", "X-F: c"), false},
	}},
	{"hdr_cnt", []string{"two hdr_cnt(x-f) 2", "ge hdr_cnt(x-f) ge 3"}, "if two || ge", []condReq{
		{hdrs("X-F: a, b"), true}, {hdrs("X-F: a"), false}, {hdrs("X-F: a", "X-F: b,c"), true}, {hdrs(), false},
	}},
	{"req.fhdr_cnt", []string{"two req.fhdr_cnt(x-f) 2"}, "if two", []condReq{
		{hdrs("X-F: a, b"), false}, {hdrs("X-F: a", "X-F: b"), true},
	}},
	{"hdr_len hdr_val", []string{"l hdr_len(x-a) 3:5", "v hdr_val(x-b) gt 10"}, "if l || v", []condReq{
		{hdrs("X-A: abcd"), true}, {hdrs("X-A: ab"), false}, {hdrs("X-B: 11"), true}, {hdrs("X-B: 10"), false},
		{hdrs("X-B: 12abc"), true},
	}},
	{"hdr -m found / absent negation", []string{"has hdr(x-token) -m found"}, "if !has", []condReq{
		{hdrs("X-Token: a"), false}, {hdrs(), true}, {hdrs("X-Token:"), false},
	}},
	{"path family", []string{"p path /a/b", "pb path_beg /static/ /img/", "pe path_end .php", "ps path_sub admin", "pr path_reg ^/api/v[0-9]+/"}, "if p || pb || pe || ps || pr", []condReq{
		{path("/a/b"), true}, {path("/a/b?x=1"), true}, {path("/a/bc"), false}, {path("/static/x.css"), true},
		{path("/index.php?q"), true}, {path("/x?.php"), false}, {path("/my-admin/"), true}, {path("/api/v2/users"), true},
		{path("/api/vx/"), false}, {req{target: "http://h.example/static/a", minor: 1, hdrs: []string{"Host: h.example"}}, true},
	}},
	{"path_dir path_len", []string{"d path_dir api", "l path_len 1"}, "if d || l", []condReq{
		{path("/v1/api/x"), true}, {path("/apis/x"), false}, {path("/"), true}, {path("/api"), true}, {path("/xapi/"), false},
	}},
	{"url url_beg url_sub", []string{"u url /x?y=1", "ub url_beg /adm", "us url_sub token="}, "if u || ub || us", []condReq{
		{path("/x?y=1"), true}, {path("/x"), false}, {path("/admin"), true}, {path("/a?token=3"), true},
	}},
	{"url_param urlp query", []string{"p url_param(user) bob", "q urlp(id) -m int 5:9", "qq query a=1&b=2"}, "if p || q || qq", []condReq{
		{path("/?user=bob"), true}, {path("/?x=1&user=bob&z"), true}, {path("/?user=bobby"), false},
		{path("/?id=7"), true}, {path("/?id=70"), false}, {path("/p?a=1&b=2"), true}, {path("/p?a=1"), false},
		{path("/?x=1&user=alice&user=bob"), true},
	}},
	{"method and METH_ predefined", []string{"m method PUT PATCH"}, "if m || METH_POST", []condReq{
		{req{method: "PUT", minor: 1, hdrs: []string{"Host: x", "Content-Length: 0"}}, true},
		{req{method: "POST", minor: 1, hdrs: []string{"Host: x", "Content-Length: 0"}}, true},
		{req{method: "GET", minor: 1, hdrs: []string{"Host: x"}}, false},
		{req{method: "put", minor: 1, hdrs: []string{"Host: x", "Content-Length: 0"}}, false},
	}},
	{"METH_GET includes HEAD", nil, "if METH_GET", []condReq{
		{req{method: "HEAD", minor: 1, hdrs: []string{"Host: x"}}, true}, {req{method: "OPTIONS", minor: 1, hdrs: []string{"Host: x"}}, false},
	}},
	{"HTTP versions", nil, "if HTTP_1.1 HTTP", []condReq{{host("x"), true}, {req{target: "/"}, false}}},
	{"HTTP_1.0", nil, "if HTTP_1.0", []condReq{{host("x"), false}, {req{target: "/"}, true}}},
	{"HTTP_URL_SLASH HTTP_URL_ABS", nil, "if HTTP_URL_SLASH !HTTP_URL_ABS", []condReq{
		{path("/x"), true}, {path("http://x/y"), false},
	}},
	{"HTTP_CONTENT", nil, "if HTTP_CONTENT", []condReq{
		{req{method: "POST", minor: 1, hdrs: []string{"Host: x", "Content-Length: 0"}}, false},
	}},
	{"HTTP_CONTENT with a body", nil, "if HTTP_CONTENT", []condReq{
		{req{method: "POST", minor: 1, hdrs: []string{"Host: x", "Content-Length: 3"}, body: "abc"}, true},
	}},
	{"WAIT_END", nil, "if WAIT_END", []condReq{
		{req{method: "POST", minor: 1, hdrs: []string{"Host: x", "Content-Length: 3"}, body: "abc"}, true},
	}},
	{"REQ_CONTENT is true in HTTP mode (the head is buffered)", nil, "if REQ_CONTENT", []condReq{
		{req{method: "POST", minor: 1, hdrs: []string{"Host: x", "Content-Length: 3"}, body: "abc"}, true},
		{host("x"), true},
	}},
	{"TRUE FALSE always_*", []string{"t always_true", "f always_false"}, "if TRUE t !FALSE !f", []condReq{{host("x"), true}}},
	{"src networks", []string{"lan src 127.0.0.0/24 127.1.0.0/255.255.0.0 ::ffff:127.3.0.0/112", "one src 127.0.5.5"}, "if lan || one", []condReq{
		{req{src: "127.0.0.9", minor: 1, hdrs: []string{"Host: x"}}, true},
		{req{src: "127.1.200.1", minor: 1, hdrs: []string{"Host: x"}}, true},
		{req{src: "127.3.0.7", minor: 1, hdrs: []string{"Host: x"}}, true},
		{req{src: "127.0.5.5", minor: 1, hdrs: []string{"Host: x"}}, true},
		{req{src: "127.0.5.6", minor: 1, hdrs: []string{"Host: x"}}, false},
		{req{src: "127.2.0.1", minor: 1, hdrs: []string{"Host: x"}}, false},
	}},
	{"LOCALHOST", nil, "if LOCALHOST", []condReq{{req{src: "127.9.9.9", minor: 1, hdrs: []string{"Host: x"}}, true}}},
	{"dst dst_port src_port", []string{"d dst 127.0.0.1", "dp dst_port 1:65535", "sp src_port 0"}, "if d dp !sp", []condReq{{host("x"), true}}},
	{"cookies", []string{"c cook(SID) -m beg abc", "n cook_cnt(SID) 2", "r req.cook(lang) en"}, "if c || n || r", []condReq{
		{hdrs("Cookie: a=1; SID=abcdef"), true}, {hdrs("Cookie: SID=x", "Cookie: SID=y"), true},
		{hdrs("Cookie: SID=zz; lang=en"), true}, {hdrs("Cookie: SIDX=abc"), false}, {hdrs("Cookie: lang=fr"), false},
	}},
	{"cook -m found", []string{"c cook(SID) -m found"}, "if c", []condReq{{hdrs("Cookie: SID=1"), true}, {hdrs("Cookie: SID="), false}, {hdrs("Cookie: S=1"), false}}},
	{"same-name ACLs are ORed", []string{"a path /one", "a path /two"}, "if a", []condReq{
		{path("/one"), true}, {path("/two"), true}, {path("/three"), false},
	}},
	{"unless and or precedence", []string{"a path_beg /a", "b hdr(host) b", "c hdr(host) c"}, "unless a b or c", []condReq{
		{req{target: "/a", minor: 1, hdrs: []string{"Host: b"}}, false}, {req{target: "/x", minor: 1, hdrs: []string{"Host: c"}}, false},
		{req{target: "/a", minor: 1, hdrs: []string{"Host: d"}}, true},
	}},
	{"anonymous acls", nil, "if { path_beg /api } !{ hdr(x-k) -m found }", []condReq{
		{path("/api/x"), true}, {hdrs("X-K: 1"), false}, {path("/x"), false},
	}},
	{"-m str/beg/end/sub/reg/dom/dir/len/found on hdr", []string{
		"a hdr(x) -m beg ab", "b hdr(x) -m end yz", "c hdr(x) -m sub mm", "d hdr(x) -m reg ^q.*q$",
		"e hdr(x) -m dom dd", "f hdr(x) -m dir ff", "g hdr(x) -m len 9", "h hdr(x) -m str -- -dash"}, "if a || b || c || d || e || f || g || h", []condReq{
		{hdrs("X: abc"), true}, {hdrs("X: xyz"), true}, {hdrs("X: ammo"), true}, {hdrs("X: qaq"), true},
		{hdrs("X: cc.dd.ee"), true}, {hdrs("X: /ee/ff/g"), true}, {hdrs("X: 123456789"), true}, {hdrs("X: -dash"), true},
		{hdrs("X: nothing"), false}, {hdrs("X: cc.ddd"), false},
	}},
	{"int operators (le -7 is le 7 in HAProxy)", []string{"a hdr_val(x) eq 5", "b hdr_val(x) lt 0", "c hdr_val(x) 100:", "d hdr_val(x) le -7"}, "if a || b || c || d", []condReq{
		{hdrs("X: 5"), true}, {hdrs("X: -1"), true}, {hdrs("X: 100"), true}, {hdrs("X: 99"), false}, {hdrs("X: 6"), true}, {hdrs("X: 8"), false},
	}},
	{"converters in acls", []string{"l hdr(host),lower -m str www.example.com", "n path,length gt 5", "f path,field(2,/) api", "w hdr(host),word(1,.) www"}, "if l n f || w", []condReq{
		{req{target: "/api/long", minor: 1, hdrs: []string{"Host: WWW.Example.COM"}}, true},
		{req{target: "/api", minor: 1, hdrs: []string{"Host: www.example.com"}}, true},
		{req{target: "/x", minor: 1, hdrs: []string{"Host: xx.example.com"}}, false},
	}},
	{"base", []string{"b base example.com/a/b", "bb base_beg example.com/s"}, "if b || bb", []condReq{
		{req{target: "/a/b?x", minor: 1, hdrs: []string{"Host: example.com"}}, true},
		{req{target: "/static/", minor: 1, hdrs: []string{"Host: example.com"}}, true},
		{req{target: "/a/b", minor: 1, hdrs: []string{"Host: other.com"}}, false},
	}},
	{"hdr_ip and -m ip on headers", []string{"x hdr_ip(x-forwarded-for) 10.0.0.0/8", "y hdr(x-real-ip) -m ip 192.0.2.0/24"}, "if x || y", []condReq{
		{hdrs("X-Forwarded-For: 192.168.1.1, 10.1.2.3"), true}, {hdrs("X-Forwarded-For: 192.168.1.1"), false},
		{hdrs("X-Real-IP: 192.0.2.9"), true}, {hdrs("X-Real-IP: junk"), false},
	}},
	{"urlp_val and url_param delimiter", []string{"n urlp_val(n) gt 5", "d url_param(a,;) 1"}, "if n || d", []condReq{
		{path("/p?n=6"), true}, {path("/p?n=5"), false}, {path("/p?x=2;a=1"), true}, {path("/p?x=2&a=1"), false},
	}},
	{"query found", []string{"q query -m found"}, "if q", []condReq{{path("/p"), false}, {path("/p?"), true}, {path("/p?a"), true}}},
	{"path of OPTIONS * is absent", []string{"p path -m found"}, "if p || { url * }", []condReq{
		{req{method: "OPTIONS", target: "*", minor: 1, hdrs: []string{"Host: x"}}, true},
	}},
	{"path of CONNECT is absent", []string{"p path -m found"}, "if p", []condReq{
		{req{method: "CONNECT", target: "h.example:443", minor: 1, hdrs: []string{"Host: h.example:443"}}, false},
	}},
	{"path of OPTIONS * is absent 2", []string{"p path -m found"}, "if p", []condReq{
		{req{method: "OPTIONS", target: "*", minor: 1, hdrs: []string{"Host: x"}}, false},
	}},
	{"cook_val", []string{"v cook_val(n) ge 10"}, "if v", []condReq{{hdrs("Cookie: n=12"), true}, {hdrs("Cookie: n=9"), false}}},
	{"hdr_dom with port and -i", []string{"d hdr_dom(host) -i Test.Com"}, "if d", []condReq{{host("www.test.com:8080"), true}, {host("test.co"), false}}},
	{"path_reg -i and path_len url_len", []string{"r path_reg -i ^/ADMIN", "l path_len gt 10", "u url_len 7"}, "if r || l || u", []condReq{
		{path("/admin/x"), true}, {path("/0123456789a"), true}, {path("/a?b=cd"), true}, {path("/short"), false},
	}},
	{"http_auth_group via user groups", []string{"g http_auth_group(L1) ops"}, "if g", []condReq{
		{hdrs("Authorization: Basic " + b64("carol:md5pw")), true}, {hdrs("Authorization: Basic " + b64("alice:secret")), false},
	}},
	{"method -i: known methods match exactly", []string{"m method -i get", "n method -i purge"}, "if m || n", []condReq{
		{host("x"), false}, {req{method: "PURGE", minor: 1, hdrs: []string{"Host: x"}}, true},
	}},
	{"hdr_cnt -m str", []string{"c hdr_cnt(x) -m str 2"}, "if c", []condReq{{hdrs("X: a,b"), true}, {hdrs("X: a"), false}}},
	{"path -m len", []string{"l path -m len 2"}, "if l", []condReq{{path("/a?xyz"), true}, {path("/ab"), false}}},
	{"hdr_end -i hdr_sub", []string{"e hdr_end(host) -i .COM", "s hdr_sub(host) exam"}, "if e s", []condReq{{host("www.example.com"), true}, {host("www.example.net"), false}}},
	{"req.hdr and req.fhdr with occurrence", []string{"a req.hdr(x,2) b", "f req.fhdr(x,-1) c"}, "if a f", []condReq{
		{hdrs("X: a, b", "X: c"), true}, {hdrs("X: a", "X: b, c"), false},
	}},
	{"http_auth", []string{"auth http_auth(L1)", "adm http_auth_group(L1) admins"}, "if auth adm", []condReq{
		{hdrs("Authorization: Basic " + b64("alice:secret")), true},
		{hdrs("Authorization: Basic " + b64("alice:wrong")), false},
		{hdrs("Authorization: Basic " + b64("bob:s3cr3t")), false}, // bob is not in admins
		{hdrs(), false},
	}},
	{"http_auth crypt", []string{"auth http_auth(L1)"}, "if auth", []condReq{
		{hdrs("Authorization: Basic " + b64("bob:s3cr3t")), true},
		{hdrs("Authorization: Basic " + b64("carol:md5pw")), true},
		{hdrs("Authorization: Basic " + b64("dave:sha256pw")), true},
		{hdrs("Authorization: Basic " + b64("dave:sha256PW")), false},
		{hdrs("Authorization: Basic " + b64("nobody:x")), false},
	}},
}

// userlistCfg is the userlist section the http_auth cases use. The
// hashes come from `openssl passwd -6|-1|-5`.
const userlistCfg = `userlist L1
  group admins users alice
  group ops
  user alice insecure-password secret
  user bob password $6$saltsalt$9RCzQpw081WGeK3mcWoX80W9GPZfKv49diTYqxkySopsNM50xSTDBTpgGXEQIrMuxjvAnmOnyTpa46zqy.fYR1
  user carol groups ops password $1$ab$F/Njss1STWvVwz4pTcKcn0
  user dave password $5$x$D9dHZnRFfDKOo.pGGCVvk3RLGul64TK6uauQtF2wgX.
`
