package haproxy

import "testing"

// TestEnvKeywords checks that setenv, presetenv, unsetenv and resetenv
// change "${NAME}" on the following lines only, as HAProxy does.
func TestEnvKeywords(t *testing.T) {
	base := map[string]string{"KEEP": "k", "DROP": "d", "PRE": "base"}
	src := `global
    description "${A}|${PRE}|${DROP}"
    setenv A one
    presetenv PRE ignored
    presetenv NEW fresh
    node "${A}|${PRE}|${NEW}"
    unsetenv A
    resetenv KEEP NEW
    log-tag "${A}|${KEEP}|${DROP}|${NEW}"
`
	cfg, d := Parse("env.cfg", []byte(src), LoadOptions{
		Env: func(n string) (string, bool) { v, ok := base[n]; return v, ok },
	})
	if cfg == nil {
		t.Fatalf("refused:\n%s", d)
	}
	for _, c := range []struct{ name, got, want string }{
		{"before setenv", cfg.Global.Description, "|base|d"},
		{"after setenv/presetenv", cfg.Global.Node, "one|base|fresh"},
		{"after unsetenv/resetenv", cfg.Global.LogTag, "|k||fresh"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(d.List) != 0 {
		t.Errorf("unexpected diagnostics:\n%s", d)
	}
}
