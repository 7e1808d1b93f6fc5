package haproxy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update rewrites the golden files instead of comparing against them:
// go test ./parser/haproxy -run TestGolden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/haproxy/golden")

// testdataDir is the repository's testdata/haproxy, seen from this package.
const testdataDir = "../../testdata/haproxy"

// fakeResolve resolves every name to 127.0.0.1 except the reserved .invalid
// domain, so that golden files do not depend on the machine's DNS.
func fakeResolve(host string) ([]string, error) {
	if strings.HasSuffix(host, ".invalid") {
		return nil, &os.PathError{Op: "lookup", Path: host, Err: os.ErrNotExist}
	}
	return []string{"127.0.0.1"}, nil
}

// testConfigs lists every configuration under testdata/haproxy: the seed,
// the 2.x files, the 1.x legacy files and the invalid ones.
func testConfigs(t testing.TB) []string {
	t.Helper()
	files := []string{filepath.Join(testdataDir, "seed.cfg")}
	for _, dir := range []string{"v2", "legacy", "bad"} {
		m, err := filepath.Glob(filepath.Join(testdataDir, dir, "*.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d test configurations found under %s", len(files), testdataDir)
	}
	return files
}

// goldenName turns ../../testdata/haproxy/v2/basic.cfg into v2_basic.
func goldenName(path string) string {
	rel, _ := filepath.Rel(testdataDir, path)
	return strings.TrimSuffix(strings.ReplaceAll(rel, string(filepath.Separator), "_"), ".cfg")
}

// TestGolden compares, for every test configuration, the typed config (as
// Dump writes it) and the diagnostics (warnings and alerts with file:line)
// with the golden files. A change in either is a change in behaviour the
// runtime and the operator see, so it has to be reviewed: rerun with
// -update and read the diff.
func TestGolden(t *testing.T) {
	setTestEnv(t)
	for _, path := range testConfigs(t) {
		name := goldenName(path)
		t.Run(name, func(t *testing.T) {
			cfg, diags := Load([]string{path}, LoadOptions{Resolve: fakeResolve})
			var dump bytes.Buffer
			if cfg != nil {
				Dump(&dump, cfg)
			} else {
				dump.WriteString("(refused)\n")
			}
			checkGolden(t, filepath.Join(testdataDir, "golden", name+".dump"), dump.Bytes())
			checkGolden(t, filepath.Join(testdataDir, "golden", name+".diag"), []byte(diags.String()))
			bad := strings.Contains(path, "/bad/")
			if bad && cfg != nil {
				t.Errorf("%s is invalid but was accepted; diagnostics:\n%s", path, diags)
			}
			if !bad && cfg == nil {
				t.Errorf("%s is valid but was refused:\n%s", path, diags)
			}
			if bad && !diags.HasAlerts() {
				t.Errorf("%s refused without an alert", path)
			}
			for _, d := range diags.List {
				if d.Severity == Alert && d.Pos.Line == 0 {
					t.Errorf("alert without a line number: %s", d)
				}
			}
		})
	}
}

func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (rerun with -update and review the diff):\n%s", file, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines only in want (-) and only in got (+), enough to
// see what changed without a diff library.
func lineDiff(want, got string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] == 0 {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] == 0 {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// setTestEnv sets the variables testdata/haproxy/v2/env_quoting.cfg expands.
func setTestEnv(t *testing.T) {
	t.Setenv("GOPROXY_TEST_HOST", "127.0.0.1")
	t.Setenv("GOPROXY_TEST_PORT", "7401")
}
