package vrrp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The stats dump matches keepalived 2.2.7's, captured with SIGUSR2 from a
// master that had sent 3 adverts.
func TestWriteStatsMatchesKeepalived(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "testdata", "vrrp", "keepalived-2.2.7", "stats.txt"))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := testInstance(t)
	for i := 0; i < 3; i++ {
		in.stats.AdvertSent.Inc()
	}
	in.stats.BecomeMaster.Inc()
	var b strings.Builder
	if err := in.d.WriteStats(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	in.d.WriteData(&b)
	for _, s := range []string{" VRRP Instance = VI_1\n", "   Virtual Router ID = 51\n", "   Advert interval = 1 sec\n"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("data dump lacks %q:\n%s", s, b.String())
		}
	}
}
