package haproxy

import (
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the lexer, the keyword tables and the
// compile step: no input may panic or take unreasonably long. Files the
// configuration references are never read (an input naming /dev/zero or a
// FIFO must not hang the fuzzer), and names never hit the network.
func FuzzLoad(f *testing.F) {
	for _, path := range testConfigs(f) {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"", "\n", "#", "\"", "'", "\\", "global\n\\", "frontend\n", "defaults x from\n",
		"frontend f\nuse_backend b if { }\n", "frontend f\nacl a hdr(\n", "frontend f\nuse_backend b if ! || !\n",
		"backend b\nserver s [::1\n", "backend b\nserver s :-1\n", "frontend f\nbind :1-\n",
		"global\nlog \"${X\"\n", "frontend f\nhttp-request set-header a \"\\x\"\n",
		"listen l 1.2.3.4:80\ncontimeout 1\n", "backend b\noption httpchk GET / HTTP/1.1\\r\\nHost:\\ x\n",
		"backend b\nbalance hdr(\nhash-type\n", "frontend f\nacl a path -f /dev/zero\n",
		"frontend f\nuse_backend %[req.hdr(host),lower,map(/dev/null)]\n",
	} {
		f.Add([]byte(s))
	}
	noFiles := func(string) ([]byte, error) { return nil, errors.New("reading files is disabled while fuzzing") }
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		cfg, diags := Parse("fuzz.cfg", src, LoadOptions{
			Env:      func(string) (string, bool) { return "", false },
			ReadFile: noFiles,
			Resolve:  fakeResolve,
		})
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("parsing %d bytes took %v", len(src), d)
		}
		if diags == nil {
			t.Fatal("nil diagnostics")
		}
		if cfg == nil && !diags.HasAlerts() {
			t.Fatalf("refused without an alert:\n%s", diags)
		}
		if cfg != nil && diags.HasAlerts() {
			t.Fatalf("accepted despite alerts:\n%s", diags)
		}
	})
}
