package lvs

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"hapair/internal/testenv"
	"hapair/parser/keepalived"
)

// TestMiscCheckUser runs a MISC_CHECK as `user nobody` and checks the
// uid the script saw.
func TestMiscCheckUser(t *testing.T) {
	testenv.RequireRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "uid")
	check := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(check, []byte("#!/bin/sh\nid -u > "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    real_server 192.0.2.21 80 {
        MISC_CHECK {
            misc_path %s
            user nobody
        }
    }
}`, check)
	run(t, conf, Options{IPVS: newFake()})
	waitFor(t, "script ran as nobody", waitLong, func() bool {
		b, _ := os.ReadFile(out)
		return strings.TrimSpace(string(b)) == nobody.Uid
	})
}

func TestScriptCredential(t *testing.T) {
	if _, err := scriptCredential(&keepalived.Global{}, "no-such-user-hapair"); err == nil && os.Geteuid() == 0 {
		t.Fatal("unknown user accepted")
	}
	if c, err := scriptCredential(&keepalived.Global{}, "root"); err != nil || c != nil {
		t.Fatalf("root: %v %v", c, err)
	}
	if os.Geteuid() == 0 {
		c, err := scriptCredential(&keepalived.Global{ScriptUser: "nobody"}, "")
		if err == nil && (c == nil || c.Uid == 0) {
			t.Fatalf("script_user nobody: %+v", c)
		}
	}
}

// TestMiscCheckUnknownUserDropped: keepalived removes a MISC_CHECK whose
// user does not exist; the server then stands on its other checkers.
func TestMiscCheckUnknownUserDropped(t *testing.T) {
	testenv.RequireRoot(t)
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.2
    alpha
    real_server 192.0.2.21 80 {
        MISC_CHECK {
            misc_path /bin/false
            user no-such-user-hapair
        }
    }
}`
	f := newFake()
	_, logs := run(t, conf, Options{IPVS: f})
	waitFor(t, "added: no checker left", waitLong, func() bool { _, ok := f.Weight("TCP 192.0.2.1:80", "192.0.2.21:80"); return ok })
	if logs.Count("Unable to set user for misc script /bin/false") != 1 {
		t.Fatalf("logs:\n%s", strings.Join(logs.Lines(), "\n"))
	}
}
