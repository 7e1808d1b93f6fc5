package haproxy

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"hapair/internal/testenv"
)

// knownDifferences lists the configurations on which goproxy -c and
// haproxy -c are expected to disagree, with the reason. Everything else
// must agree on valid versus invalid.
var knownDifferences = map[string]string{
	// HAProxy 2.6 refuses HAProxy 1.x syntax; accepting it (with warnings
	// naming the modern keywords) is what makes goproxy a drop-in.
	"seed.cfg":             "HAProxy 1.4 syntax (contimeout, nbproc, group nobody on Debian): accepted by goproxy",
	"legacy/haproxy14.cfg": "HAProxy 1.4 syntax (listen NAME ADDR, redispatch, reqadd, srvtimeout): accepted by goproxy",
	// Both refuse these examples, for reasons that depend on the machine
	// or on modules goproxy does not have, so their first alerts are on
	// different lines; the verdict is still compared.
	"examples/basic-config-edge.cfg": "", // needs pub1.pem; refused by both
	"examples/wurfl-example.cfg":     "", // WURFL module keywords; refused by both
}

// TestDifferentialCheck runs haproxy -c and goproxy's loader on every 2.x
// configuration in testdata and in HAProxy's shipped examples (read in
// place, never copied) and requires the same verdict. For refused files
// the first alert must also name the same line as one of HAProxy's alerts,
// so that an operator is sent to the same place.
func TestDifferentialCheck(t *testing.T) {
	setTestEnv(t)
	haproxy := testenv.LookPath(t, "haproxy")
	var files []string
	for _, path := range testConfigs(t) {
		files = append(files, path)
	}
	examples, _ := filepath.Glob("/usr/share/doc/haproxy/examples/*.cfg")
	files = append(files, examples...)
	for _, path := range files {
		key := displayName(path)
		t.Run(key, func(t *testing.T) {
			out, err := exec.Command(haproxy, "-c", "-f", path).CombinedOutput()
			hapValid := err == nil
			if _, ok := err.(*exec.ExitError); err != nil && !ok {
				t.Fatalf("running haproxy: %v", err)
			}
			cfg, diags := Load([]string{path}, LoadOptions{})
			goValid := cfg != nil
			reason, known := knownDifferences[key]
			if known && reason != "" {
				if hapValid {
					t.Errorf("listed as refused by haproxy (%s) but haproxy accepts it", reason)
				}
				if !goValid {
					t.Errorf("goproxy must accept it (%s):\n%s", reason, diags)
				}
				return
			}
			if hapValid != goValid {
				t.Fatalf("haproxy valid=%v, goproxy valid=%v\nhaproxy:\n%s\ngoproxy:\n%s", hapValid, goValid, out, diags)
			}
			if goValid {
				return
			}
			hapLines := alertLines(string(out))
			first := 0
			for _, d := range diags.List {
				if d.Severity == Alert {
					first = d.Pos.Line
					break
				}
			}
			if len(hapLines) > 0 && !hapLines[first] && !known {
				t.Errorf("goproxy's first alert is on line %d, haproxy's alerts are on lines %v\nhaproxy:\n%s\ngoproxy:\n%s", first, hapLines, out, diags)
			}
		})
	}
}

// displayName is the key of a configuration in knownDifferences.
func displayName(path string) string {
	if strings.HasPrefix(path, "/usr/share/doc/haproxy/examples/") {
		return "examples/" + filepath.Base(path)
	}
	rel, err := filepath.Rel(testdataDir, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}

var alertLineRE = regexp.MustCompile(`\[ALERT\].*[Pp]arsing \[[^\]]*:(\d+)\]`)

// alertLines returns the line numbers HAProxy's alerts point at.
func alertLines(out string) map[int]bool {
	lines := map[int]bool{}
	for _, m := range alertLineRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		lines[n] = true
	}
	return lines
}

// TestDiagnosticFormat checks goproxy's message framing against the real
// haproxy -c on the same broken file: `[ALERT]    (PID) : config :
// parsing [FILE:LINE] : ...`.
func TestDiagnosticFormat(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	path := filepath.Join(testdataDir, "bad", "unknown_keyword.cfg")
	out, _ := exec.Command(haproxy, "-c", "-f", path).CombinedOutput()
	want := regexp.MustCompile(`(?m)^\[ALERT\]    \(\d+\) : config : parsing \[` + regexp.QuoteMeta(path) + `:8\] : unknown keyword 'defualt_backend' in 'frontend' section`)
	if !want.Match(out) {
		t.Fatalf("haproxy's own output changed, the test's premise is wrong:\n%s", out)
	}
	_, diags := Load([]string{path}, LoadOptions{})
	var got []string
	for _, d := range diags.List {
		got = append(got, d.Format(4242))
	}
	if !want.MatchString(strings.Join(got, "\n")) {
		t.Errorf("goproxy's diagnostics do not have haproxy's framing:\n%s\nwant like:\n%s", strings.Join(got, "\n"), out)
	}
	if !strings.Contains(strings.Join(got, "\n"), "did you mean 'default_backend'") {
		t.Errorf("no 'did you mean' suggestion:\n%s", strings.Join(got, "\n"))
	}
}
