package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestConfigTestExitCodes runs `govrrpd -t` in-process: keepalived's codes
// for clean, warned and unreadable configurations, and --dump-conf.
func TestConfigTestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string // substring of stdout+stderr
	}{
		{[]string{"-t", "-f", "../../testdata/keepalived/seed-vip-pair-master.conf"}, 0, ""},
		{[]string{"-t", "-f", "../../testdata/keepalived/cases/errors.conf"}, 5, "Line 9) (VI_BAD): VRID '300' not valid"},
		// keepalived 2.2.7 exits 0 on a missing file; govrrpd says 4
		// (README: a file that cannot be read is not a valid config).
		{[]string{"-t", "-f", "/nonexistent/keepalived.conf"}, 4, "open problem"},
		{[]string{"--config-test", "--use-file=../../testdata/keepalived/seed-vip-pair-backup.conf", "--dump-conf"}, 0, `Instances[1].Name = "VI_142"`},
		{[]string{"-t", "--no-such-flag"}, 1, "usage"},
	} {
		var out bytes.Buffer
		code := run(c.args, &out, &out)
		if code != c.code || !strings.Contains(strings.ToLower(out.String()), strings.ToLower(c.out)) {
			t.Errorf("%v: exit %d (want %d), output:\n%s", c.args, code, c.code, out.String())
		}
	}
}
