package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"hapair/internal/testenv"
)

const testdata = "../../testdata/haproxy"

// TestCheckMode runs `goproxy -c` like an operator or an init script does
// and checks the exit status and the messages, as haproxy -c gives them.
func TestCheckMode(t *testing.T) {
	confDir := t.TempDir()
	for name, src := range map[string]string{"10-a.cfg": "/v2/basic.cfg", "20-b.cfg": "/v2/tcp.cfg", "30-c.conf": "/bad/bad_int.cfg"} {
		b, err := os.ReadFile(testdata + src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(confDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args       []string
		code       int
		stdout     string // exact
		stderrHas  []string
		stderrNone bool
	}{
		{[]string{"-c", "-f", testdata + "/seed.cfg"}, 0, "Warnings were found.\nConfiguration file is valid\n",
			[]string{"parsing [" + testdata + "/seed.cfg:11] : 'contimeout'", "'timeout connect'", "nogroup"}, false},
		{[]string{"-c", "-q", "-f", testdata + "/seed.cfg"}, 0, "", nil, true},
		{[]string{"-c", "-f", testdata + "/v2/basic.cfg"}, 0, "Configuration file is valid\n", nil, true},
		{[]string{"-c", "-f", testdata + "/bad/unknown_keyword.cfg"}, 1, "",
			[]string{"[ALERT]    (", ") : config : parsing [" + testdata + "/bad/unknown_keyword.cfg:8] : unknown keyword 'defualt_backend' in 'frontend' section; did you mean 'default_backend' maybe ?",
				"Fatal errors found in configuration."}, false},
		{[]string{"-c", "-f", "/nonexistent/goproxy.cfg"}, 1, "", []string{"/nonexistent/goproxy.cfg"}, false},
		// -f DIR reads DIR/*.cfg in lexical order (other names are
		// skipped); -- ends the flags.
		{[]string{"-c", "-f", confDir}, 0, "Warnings were found.\nConfiguration file is valid\n", []string{confDir + "/20-b.cfg:20"}, false},
		{[]string{"-c", "-q", "--", testdata + "/v2/basic.cfg", testdata + "/v2/tcp.cfg"}, 0, "", nil, false},
		{[]string{"-c", "-f", testdata + "/v2/basic.cfg", "-f", testdata + "/v2/basic.cfg"}, 1, "", []string{"has the same name as"}, false},
		{[]string{"-c", "-Q"}, 1, "", []string{"unknown option '-Q'"}, false},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, &out, &errb)
			}
			if out.String() != c.stdout {
				t.Errorf("stdout %q, want %q", out.String(), c.stdout)
			}
			for _, s := range c.stderrHas {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &errb)
				}
			}
			if c.stderrNone && errb.Len() > 0 {
				t.Errorf("unexpected stderr:\n%s", &errb)
			}
		})
	}
}

// TestFlagsAccepted checks that every HAProxy flag an init script or unit
// passes is accepted with -c (the real haproxy is asked too, so the list
// stays honest), including -sf/-st followed by several pids.
func TestFlagsAccepted(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	cfg := testdata + "/v2/tcp.cfg"
	pid := filepath.Join(t.TempDir(), "p.pid")
	for _, args := range [][]string{
		{"-c", "-q", "-f", cfg, "-db"},
		{"-c", "-q", "-f", cfg, "-D", "-p", pid},
		{"-c", "-q", "-f", cfg, "-W"},
		{"-c", "-q", "-f", cfg, "-Ws"},
		{"-c", "-q", "-f", cfg, "-L", "peer1"},
		{"-c", "-q", "-f", cfg, "-V"},
		{"-c", "-q", "-f", cfg, "-sf", "1", "2", "3"},
		{"-c", "-q", "-f", cfg, "-st", "4"},
		{"-c", "-q", "-f", cfg, "-x", "/nonexistent.sock"},
		{"-c", "-q", "-f", cfg, "-S", "/tmp/goproxy-master.sock"},
	} {
		name := strings.Join(args[4:], " ")
		t.Run(name, func(t *testing.T) {
			if err := exec.Command(haproxy, args...).Run(); err != nil {
				t.Fatalf("haproxy %s: %v (the test's premise is wrong)", strings.Join(args, " "), err)
			}
			var out, errb bytes.Buffer
			if code := run(args, &out, &errb); code != 0 {
				t.Errorf("goproxy %s: exit %d\n%s%s", strings.Join(args, " "), code, &out, &errb)
			}
		})
	}
}

// TestCheckOutputMatchesHAProxy compares the framing of goproxy's -c output
// with haproxy's on the same invalid and valid files: the stdout lines must
// be identical and every alert line must have the same prefix.
func TestCheckOutputMatchesHAProxy(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	pidRE := regexp.MustCompile(`\(\d+\)`)
	for _, f := range []string{"/bad/unknown_keyword.cfg", "/bad/missing_backend.cfg", "/v2/basic.cfg"} {
		path := testdata + f
		t.Run(f, func(t *testing.T) {
			cmd := exec.Command(haproxy, "-c", "-f", path)
			var hout, herr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &hout, &herr
			herrc := cmd.Run()
			var gout, gerr bytes.Buffer
			code := run([]string{"-c", "-f", path}, &gout, &gerr)
			if (herrc == nil) != (code == 0) {
				t.Fatalf("haproxy err=%v, goproxy exit %d", herrc, code)
			}
			if hout.String() != gout.String() {
				t.Errorf("stdout differs:\nhaproxy: %q\ngoproxy: %q", hout.String(), gout.String())
			}
			norm := func(s string) []string {
				var out []string
				for _, l := range strings.Split(s, "\n") {
					if strings.HasPrefix(l, "[ALERT]") && strings.Contains(l, "parsing [") {
						out = append(out, pidRE.ReplaceAllString(l[:strings.Index(l, "parsing [")], "(PID)"))
					}
				}
				return out
			}
			h, g := norm(herr.String()), norm(gerr.String())
			if len(h) > 0 && (len(g) == 0 || g[0] != h[0]) {
				t.Errorf("alert framing differs:\nhaproxy: %q\ngoproxy: %q", h, g)
			}
		})
	}
}
