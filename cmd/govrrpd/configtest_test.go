package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"hapair/internal/netns"
	"hapair/internal/testenv"
)

// buildGovrrpd compiles this command once per test binary run.
func buildGovrrpd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "govrrpd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// configTest runs `PROG -t -f file` inside ns from the file's directory
// (keepalived resolves relative includes against it) and returns the exit
// code and the reported lines, normalised: keepalived prints some lines
// once per process it parses the file in, and sometimes without the file
// name, so the lines are reduced to "(Line N) message" and de-duplicated.
func configTest(t *testing.T, ns *netns.NS, prog, file string) (int, []string) {
	t.Helper()
	cmd := ns.Command(prog, "-t", "-f", file)
	cmd.Dir = filepath.Dir(file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", prog, err)
	}
	prefix := regexp.MustCompile(`^\(([^:()]*: )?Line `)
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if l = prefix.ReplaceAllString(l, "(Line "); l != "" && !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return code, lines
}

// ourHints are the lines govrrpd adds on purpose (README: the seed's
// unclosed vrrp_script): keepalived reports only "Unknown keyword".
var ourHints = regexp.MustCompile(`stray '}' at top level|that block is probably missing its '}'`)

// TestConfigTestMatchesKeepalived runs `keepalived -t` and `govrrpd -t` on
// every configuration we ship and every sample keepalived ships, inside a
// namespace with the interfaces they name, and wants the same exit code and
// the same reported lines.
func TestConfigTestMatchesKeepalived(t *testing.T) {
	testenv.RequireRoot(t)
	ka := testenv.LookPath(t, "keepalived")
	bin := buildGovrrpd(t)
	ns := netns.New(t, "kadiff")
	for _, i := range []string{"0", "1", "2", "3"} {
		ns.Run("ip", "link", "add", "eth"+i, "type", "veth", "peer", "name", "peer"+i)
		ns.Run("ip", "link", "set", "eth"+i, "up")
	}
	var files []string
	for _, g := range []string{"../../testdata/keepalived/*.conf", "../../testdata/keepalived/cases/*.conf", "/usr/share/doc/keepalived/samples/keepalived.conf*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 30 {
		t.Fatalf("only %d configurations found: samples missing? %v", len(files), files)
	}
	files = append(files, insecureScriptCase(t))
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			wantCode, want := configTest(t, ns, ka, abs)
			gotCode, got := configTest(t, ns, bin, abs)
			if gotCode != wantCode {
				t.Errorf("exit code: govrrpd %d, keepalived %d", gotCode, wantCode)
			}
			for _, l := range want {
				if !slices.Contains(got, l) {
					t.Errorf("keepalived says, govrrpd does not: %s", l)
				}
			}
			for _, l := range got {
				if !slices.Contains(want, l) && !ourHints.MatchString(l) {
					t.Errorf("govrrpd says, keepalived does not: %s", l)
				}
			}
		})
	}
}

// insecureScriptCase writes a configuration whose track script lives in a
// world-writable directory, under enable_script_security.
func insecureScriptCase(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // Mkdir is subject to umask
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "insecure.conf")
	text := `global_defs {
    script_user root
    enable_script_security
}
vrrp_script chk {
    script "` + script + `"
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.10
    }
    track_script {
        chk
    }
}
`
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}
