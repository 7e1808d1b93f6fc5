package checks

import (
	"strings"
	"testing"
)

// FuzzConfigInputs feeds arbitrary text to every function that takes
// config-derived text: none may panic, and SplitCommand's output must be
// stable under re-quoting.
func FuzzConfigInputs(f *testing.F) {
	for _, s := range []string{
		`/etc/keepalived/check_haproxy.sh`, `/bin/chk "a b" 'c d' p\ q`, `"unterminated`, `\`,
		"HTTP/1.1\r\nHost:192.168.1.187", `HTTP/1.1\r\nHost:\ a\r\n\r\nBODY`,
		"status 200-299", "! string maintenance", "rstatus ^(2|3)", "connect port 6379",
		"expect ! rstring ^-ERR", "send-binary 0a0b", "expect rbinary [",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if argv, err := SplitCommand(s); err == nil {
			var b strings.Builder
			for _, a := range argv {
				b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "' ")
			}
			again, err := SplitCommand(b.String())
			if err != nil || len(again) != len(argv) {
				t.Fatalf("re-split of %q: %q, %v (was %q)", b.String(), again, err, argv)
			}
			for i := range argv {
				if again[i] != argv[i] {
					t.Fatalf("re-split changed %q to %q", argv[i], again[i])
				}
			}
		}
		r := LegacyHTTPCheck("GET", "/", s)
		_ = r.Bytes()
		fields := strings.Fields(s)
		HTTPCheckSend(r, fields)
		ParseHTTPExpect(fields)
		ParseTCPCheckRule(fields)
	})
}
