package haproxy

import "sort"

// NotImplemented lists the directives goproxy accepts in haproxy.cfg but
// whose effect no runtime implements yet, one per line as an operator
// would write it ("option ssl-hello-chk", "bind ... alpn", "http-request
// cache-use", "cache section"). Each of them draws a warning saying so when
// it is used; the list is read from the same keyword tables the parser
// uses, so it cannot drift from the warnings. Runtime helpers use it to see
// what is left; when a runtime implements one, its notImpl mark in the
// table goes.
func NotImplemented() []string {
	var out []string
	for k, kw := range globalKeywords {
		if kw.notImpl {
			out = append(out, "global "+k)
		}
	}
	for k, kw := range proxyKeywords {
		if kw.notImpl {
			out = append(out, k)
		}
	}
	for k, kw := range optionKeywords {
		if kw.notImpl {
			out = append(out, "option "+k)
		}
	}
	for k, o := range bindOptions {
		if o.notImpl {
			out = append(out, "bind ... "+k)
		}
	}
	for k, o := range serverOptions {
		if o.notImpl {
			out = append(out, "server ... "+k)
		}
	}
	for k, a := range httpRequestActions {
		if a.notImpl {
			out = append(out, "http-request "+k)
		}
	}
	for k, a := range httpResponseActions {
		if a.notImpl {
			out = append(out, "http-response "+k)
		}
	}
	for k := range sectionKeywords {
		if !implementedSections[k] && k != "http-errors" {
			out = append(out, k+" section")
		}
	}
	out = append(out, "balance rdp-cookie", "tcp-request actions other than accept, reject, close, capture, set-var, unset-var, track-scN, sc-inc-gpc0, sc-set-gpt0", "tcp-response actions other than accept, reject, close, capture, set-var, unset-var")
	sort.Strings(out)
	return out
}

// implementedSections are the sections whose content reaches the typed
// Config; the others are kept as lines (Config.Sections).
var implementedSections = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true, "userlist": true,
}
