package track

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
)

// scriptStarts reads the start times (unix seconds, one a line) a cadence
// script logged, as offsets from the first.
func scriptStarts(t *testing.T, path string) []time.Duration {
	t.Helper()
	b, _ := os.ReadFile(path)
	var out []time.Duration
	var first float64
	for i, f := range strings.Fields(string(b)) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if i == 0 {
			first = v
		}
		out = append(out, time.Duration((v-first)*float64(time.Second)))
	}
	return out
}

// TestScriptCadenceMatchesKeepalived runs the same vrrp_scripts under the
// real keepalived 2.2.7 and under the Runner and compares when each run
// starts. keepalived starts a run every interval, measured 0, 2, 4, 6 s
// with interval 2 both for a fast script and for one that always times out
// (default timeout = interval); the Runner used to wait an interval after
// a run ENDED, so the timing-out script ran at 0, 4, 8 s.
func TestScriptCadenceMatchesKeepalived(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	sh := filepath.Join(dir, "cad.sh")
	// $1: log file, $2: seconds to run. exec: the timeout's SIGTERM
	// reaches sleep itself.
	os.WriteFile(sh, []byte("#!/bin/sh\ndate +%s.%N >> \"$1\"\nexec sleep \"$2\"\n"), 0o755)
	conf := func(tag string) string {
		return fmt.Sprintf(`global_defs {
  router_id cad
  enable_script_security
  script_user root
}
vrrp_script fast {
  script "%[1]s %[2]s/%[3]s-fast 0"
  interval 2
}
vrrp_script slow {
  script "%[1]s %[2]s/%[3]s-slow 10"
  interval 2
}
vrrp_instance VI_1 {
  state BACKUP
  interface e0
  virtual_router_id 61
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.200
  }
  track_script {
    fast
    slow
  }
}
`, sh, dir, tag)
	}
	kconf := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(kconf, []byte(conf("ka")), 0o644)

	ns := netns.New(t, "trkc")
	ns.Run("ip", "link", "add", "e0", "type", "veth", "peer", "name", "e1")
	ns.Run("ip", "link", "set", "e0", "up")
	ns.Run("ip", "link", "set", "e1", "up")
	ns.Run("ip", "addr", "add", "192.0.2.10/24", "dev", "e0")

	cfg, err := FromKeepalived(writeConf(t, conf("ours")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := NewRunner(Config{Scripts: cfg.Scripts}, nil)
	go func() { done <- r.Run(ctx) }()
	startKeepalived(t, ns, dir, kconf, map[string]int{"VI_1": 100})
	time.Sleep(9 * time.Second) // the runs being measured: ~4 intervals
	cancel()
	<-done

	const tol = 300 * time.Millisecond
	for _, name := range []string{"fast", "slow"} {
		ka := scriptStarts(t, filepath.Join(dir, "ka-"+name))
		ours := scriptStarts(t, filepath.Join(dir, "ours-"+name))
		t.Logf("%s: keepalived %v, ours %v", name, ka, ours)
		if len(ka) < 4 {
			t.Fatalf("%s: keepalived ran only %d times", name, len(ka))
		}
		for i := 0; i < 4; i++ {
			if i >= len(ours) {
				t.Errorf("%s: run %d at %v under keepalived, missing here", name, i, ka[i])
				continue
			}
			if d := ours[i] - ka[i]; d > tol || d < -tol {
				t.Errorf("%s: run %d at %v, keepalived at %v", name, i, ours[i], ka[i])
			}
		}
	}
}
