package notify

import (
	"path/filepath"
	"testing"

	"hapair/parser/keepalived"
	"hapair/vrrp/track"
)

// TestSamples builds both runtimes from every configuration we have
// (Debian's keepalived samples, the project's test cases): nothing may
// panic, and every instance and sync group gets its entry.
func TestSamples(t *testing.T) {
	var files []string
	for _, g := range []string{"/usr/share/doc/keepalived/samples/keepalived.conf.*", "../../testdata/keepalived/*/*.conf", "../../testdata/keepalived/*.conf"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no sample configurations")
	}
	for _, f := range files {
		c, _ := keepalived.Load(f, keepalived.Options{})
		if c == nil {
			continue
		}
		cfg := FromKeepalived(c)
		if len(cfg.Instances) != len(c.Instances) || len(cfg.Groups) != len(c.SyncGroups) {
			t.Errorf("%s: %d instances %d groups, want %d %d", f, len(cfg.Instances), len(cfg.Groups), len(c.Instances), len(c.SyncGroups))
		}
		if _, err := New(cfg); err != nil {
			t.Logf("%s: %v", f, err) // sample scripts are mostly absent here
		}
		tc, _ := track.FromKeepalived(c)
		if len(tc.Instances) != len(c.Instances) {
			t.Errorf("%s: track has %d instances, want %d", f, len(tc.Instances), len(c.Instances))
		}
	}
}
