package keepalived

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hapair/internal/dump"
)

// update rewrites the golden files instead of comparing against them:
// go test ./parser/keepalived -run TestGoldenDump -update
var update = flag.Bool("update", false, "rewrite testdata/keepalived/golden")

// TestGoldenDump compares the typed configuration (`govrrpd --dump-conf`)
// of every shipped keepalived.conf with its golden file, so any change to
// what the daemon would run shows up in review. The host name, a default
// of router_id and notification_email_from, is replaced by HOSTNAME.
func TestGoldenDump(t *testing.T) {
	var files []string
	for _, g := range []string{"../../testdata/keepalived/*.conf", "../../testdata/keepalived/cases/*.conf"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d files", len(files))
	}
	host := hostname()
	for _, f := range files {
		rel, _ := filepath.Rel("../../testdata/keepalived", f)
		name := strings.TrimSuffix(strings.ReplaceAll(rel, "/", "_"), ".conf")
		t.Run(name, func(t *testing.T) {
			cfg, d := Load(f, Options{ConfigID: "lb1", InterfaceExists: func(string) bool { return true }, SkipScriptSecurity: true})
			if cfg == nil {
				t.Fatal(d)
			}
			var b bytes.Buffer
			dump.Write(&b, cfg)
			for _, x := range d.List {
				b.WriteString("# " + x.String() + "\n")
			}
			got := strings.ReplaceAll(b.String(), host, "HOSTNAME")
			golden := filepath.Join("../../testdata/keepalived/golden", name+".dump")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("dump differs from %s (run with -update and review the diff):\n%s", golden, firstDiff(string(want), got))
			}
		})
	}
}

// firstDiff shows the first differing line.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}
