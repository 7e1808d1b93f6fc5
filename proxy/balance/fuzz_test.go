package balance

import (
	"net/netip"
	"testing"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// FuzzPick feeds arbitrary request keys and server states to every
// algorithm: Pick must return -1 or a usable member, never panic.
func FuzzPick(f *testing.F) {
	f.Add("/a/b?c=d&user=x", "www.example.com", []byte{127, 0, 0, 1}, uint8(3), uint8(0x15))
	f.Add("http://h/?user", ".com", []byte{}, uint8(1), uint8(0))
	f.Add("", "", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(7), uint8(0xff))
	algos := []haproxy.Balance{
		{Algo: "roundrobin"}, {Algo: "static-rr"}, {Algo: "leastconn"}, {Algo: "first"}, {Algo: "source"},
		{Algo: "random", Arg: "3"}, {Algo: "uri", URILen: 4, URIDepth: 2}, {Algo: "uri", URIWhole: true, URIPathOnly: true},
		{Algo: "url_param", Arg: "user"}, {Algo: "hdr", Arg: "host", UseDomainOnly: true},
	}
	f.Fuzz(func(t *testing.T, target, host string, src []byte, n uint8, state uint8) {
		n = n%8 + 1
		var ms []Member
		for i := range int(n) {
			ms = append(ms, Member{ID: i + 1, Weight: int(state>>i&1)*3 + i%2, Backup: i == int(n)-1, Maxconn: i % 3})
		}
		a, _ := netip.AddrFromSlice(src)
		k := Key{Src: a, Target: target, Header: http1.Header{{Name: "Host", Value: host}}}
		for _, bal := range algos {
			for _, ht := range []haproxy.HashType{{}, {Method: "consistent", Function: "wt6"}} {
				b, err := New(bal, ht, ms, state&0x80 != 0)
				if err != nil {
					t.Fatal(err)
				}
				for j := range ms {
					if state>>(j%8)&2 != 0 {
						b.SetUp(j, false)
					}
				}
				for range 3 {
					i := b.Pick(k, nil)
					if i >= 0 && !b.Usable(i) {
						t.Fatalf("%s picked unusable member %d", bal.Algo, i)
					}
				}
			}
		}
	})
}
