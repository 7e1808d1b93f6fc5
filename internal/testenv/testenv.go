// Package testenv holds the few helpers tests share to decide whether the
// environment can run them. Outside CI a missing prerequisite (root, a
// reference binary) skips the test with the reason; under CI (CI=true) the
// same gap fails the test, because CI installs everything and a skipped test
// there would hide a broken setup.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under the project's CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// missing skips t outside CI and fails it under CI.
func missing(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("prerequisite missing under CI: %s", why)
	}
	t.Skipf("prerequisite missing: %s", why)
}

// RequireRoot stops t unless the test runs as root (network namespaces,
// raw sockets, privileged ports).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root")
	}
}

// LookPath returns the absolute path of the named program, or stops t when
// the program is not installed (for example haproxy or keepalived, the
// reference implementations used by differential tests).
func LookPath(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/sbin/", "/usr/local/sbin/"} {
		p := dir + name
		if dir == "" {
			if lp, err := exec.LookPath(name); err == nil {
				return lp
			}
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	missing(t, name+" is not installed")
	return ""
}
