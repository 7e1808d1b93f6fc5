package acl

import (
	"testing"
)

func benchCond(b *testing.B, c condCase, r req) {
	cond := compileCase(b, c)
	t := r.txn(80)
	if !cond.Match(t) {
		b.Fatalf("%s does not match %v", c.cond, r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cond.Match(t)
	}
}

func browserReq(target, h string) req {
	return req{minor: 1, target: target, hdrs: []string{
		"Host: " + h, "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0",
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Accept-Language: en-US,en;q=0.5",
		"Accept-Encoding: gzip, deflate, br", "Cookie: sid=abcdef0123456789; lang=en", "Connection: keep-alive",
	}}
}

func BenchmarkMatch(b *testing.B) {
	r := browserReq("/static/img/logo.png?v=3", "www.Test.com")
	for _, c := range []condCase{
		{name: "seed-hdr_dom-i", acls: []string{"is_test hdr_dom(host) -i test.com"}, cond: "if is_test"},
		{name: "hdr-str-i-set", acls: []string{"h hdr(host) -i a.com b.com c.com d.com e.com www.test.com"}, cond: "if h"},
		{name: "hdr_beg", acls: []string{"h hdr_beg(host) -i www."}, cond: "if h"},
		{name: "path_beg", acls: []string{"p path_beg /api/ /admin/ /static/"}, cond: "if p"},
		{name: "path_end", acls: []string{"p path_end .png .jpg .css"}, cond: "if p"},
		{name: "path_reg", acls: []string{`p path_reg ^/static/.*\.png$`}, cond: "if p"},
		{name: "src-net", acls: []string{"lan src 10.0.0.0/8 192.168.0.0/16 127.0.0.0/8"}, cond: "if lan"},
		{name: "method+url_param", acls: []string{"v url_param(v) 3"}, cond: "if METH_GET v"},
		{name: "cook", acls: []string{"c cook(sid) -m beg abc"}, cond: "if c"},
		{name: "not-found-neg", acls: []string{"x hdr(x-missing) -m found"}, cond: "if !x HTTP_1.1"},
		{name: "anonymous-or", cond: "if { path_beg /api } || { hdr(host) -i -m end test.com }"},
	} {
		b.Run(c.name, func(b *testing.B) { benchCond(b, c, r) })
	}
}

func BenchmarkEval(b *testing.B) {
	env := memEnv("/maps")
	t := browserReq("/shop/cart", "Test.COM").txn(80)
	for _, s := range []string{
		"%[req.hdr(host),lower,map(/maps/hosts.map,be_default)]",
		"be_%[path,field(2,/)]",
		"backend_static",
	} {
		e, err := CompileExpr(s, env)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Eval(t)
			}
		})
	}
}
