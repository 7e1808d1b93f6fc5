package advert

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse decodes arbitrary bytes: it must never panic, and whatever
// decodes must encode back to the same bytes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "vrrp", "keepalived-2.2.7", "*.hex"))
	for _, name := range files {
		raw, _ := os.ReadFile(name)
		b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil || len(b) < 40 {
			continue
		}
		if b[0]>>4 == 4 {
			f.Add(b[20:], false)
		} else {
			f.Add(b[40:], true)
		}
	}
	f.Add([]byte{0x21, 1, 100, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false)
	f.Add([]byte{0x31, 1, 100, 1, 0, 100, 0, 0}, true)
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), Group4
	src6, dst6 := netip.MustParseAddr("fe80::1"), Group6
	f.Fuzz(func(t *testing.T, b []byte, six bool) {
		src, dst := src4, dst4
		if six {
			src, dst = src6, dst6
		}
		p, err := Parse(b, src, dst)
		if p == nil {
			if err == nil {
				t.Fatal("nil packet without error")
			}
			return
		}
		var q Packet
		_ = q.UnmarshalBinary(b)
		out, merr := p.Marshal(src, dst)
		if merr != nil {
			t.Fatalf("decoded packet does not encode: %v", merr)
		}
		// The reserved bits of v3's interval field are dropped on decode.
		reserved := p.Version == 3 && b[4]&0xf0 != 0
		if err == nil && !reserved && !bytes.Equal(out, b) {
			t.Fatalf("round trip:\n got %x\nwant %x", out, b)
		}
	})
}
