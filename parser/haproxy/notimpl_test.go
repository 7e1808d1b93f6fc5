package haproxy

import (
	"strings"
	"testing"
)

// TestNotImplementedWarns checks that directives listed by NotImplemented
// really draw the "not implemented" warning when used, taking one of each
// kind, and that implemented ones do not.
func TestNotImplementedWarns(t *testing.T) {
	list := NotImplemented()
	has := map[string]bool{}
	for _, d := range list {
		has[d] = true
	}
	for _, c := range []struct {
		listed string
		line   string
		warns  bool
	}{
		{"option ssl-hello-chk", "option ssl-hello-chk", true},
		{"compression", "compression algo gzip", true},
		{"http-request cache-use", "http-request cache-use c", true},
		{"", "option httplog", false},
		{"", "http-request set-header X-A b", false},
		{"", "balance roundrobin", false},
	} {
		src := "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n" +
			"listen l\n    bind 127.0.0.1:8000\n    " + c.line + "\n    server s 127.0.0.1:9000\n"
		_, d := Parse("ni.cfg", []byte(src), LoadOptions{Resolve: fakeResolve})
		warned := strings.Contains(d.String(), "ni.cfg:8: ") && strings.Contains(d.String(), "not implemented")
		if warned != c.warns {
			t.Errorf("%q: warned=%v, want %v:\n%s", c.line, warned, c.warns, d)
		}
		if c.listed != "" && !has[c.listed] {
			t.Errorf("%q missing from NotImplemented()", c.listed)
		}
	}
	t.Logf("%d directives parsed but not implemented:\n%s", len(list), strings.Join(list, "\n"))
}
