package track

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckScript checks keepalived 2.2.7's messages, as it logged them
// for the same cases (notify_master/backup/fault/notify with a missing,
// world-writable, non-executable and unqualified script).
func TestCheckScript(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("ownership rules assume root")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("#!/bin/sh\n"), mode)
		os.Chmod(p, mode)
		return p
	}
	good, ins, noexec := write("good.sh", 0o755), write("ins.sh", 0o777), write("noexec.sh", 0o644)
	for _, tc := range []struct {
		prog     string
		security bool
		ok       bool
		msg      string
	}{
		{good, true, true, ""},
		{ins, false, true, ""},
		{ins, true, false, "Unsafe permissions found for script '" + ins + "' - disabling."},
		{noexec, false, false, "WARNING - script '" + noexec + "' is not executable for uid:gid 0:0 - disabling."},
		{dir + "/missing.sh", false, false, "Script " + dir + "/missing.sh cannot be accessed - No such file or directory"},
		{"relative-nowhere.sh", false, false, "Cannot find script relative-nowhere.sh in path - disabling"},
	} {
		_, msg, ok := CheckScript(tc.prog, nil, tc.security)
		if ok != tc.ok || msg != tc.msg {
			t.Errorf("CheckScript(%s, %v) = %v %q; want %v %q", tc.prog, tc.security, ok, msg, tc.ok, tc.msg)
		}
	}
	if p, msg, ok := CheckScript("true", nil, true); !ok || !strings.HasPrefix(msg, "WARNING - script `true` resolved by path search to `") || !strings.HasSuffix(p, "/true") {
		t.Errorf("PATH search: %q %q %v", p, msg, ok)
	}
	// An unsafe directory above the script.
	sub := filepath.Join(dir, "open")
	os.Mkdir(sub, 0o777)
	os.Chmod(sub, 0o777)
	p := filepath.Join(sub, "s.sh")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	if _, _, ok := CheckScript(p, nil, true); ok {
		t.Error("script under a world-writable directory accepted")
	}
}
