package balance

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

func mustNew(t testing.TB, algo string, members []Member, allBackups bool) *Balancer {
	t.Helper()
	b, err := New(haproxy.Balance{Algo: algo}, haproxy.HashType{}, members, allBackups)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func servers(ws ...int) []Member {
	var out []Member
	for i, w := range ws {
		out = append(out, Member{Name: fmt.Sprintf("s%d", i+1), ID: i + 1, Weight: w})
	}
	return out
}

// picks returns the names of n successive picks (each released at once).
func picks(b *Balancer, n int) []string {
	var out []string
	for range n {
		i := b.Pick(Key{}, nil)
		if i < 0 {
			out = append(out, "-")
			continue
		}
		b.Done(i)
		out = append(out, b.members[i].Name)
	}
	return out
}

func count(names []string) map[string]int {
	m := map[string]int{}
	for _, n := range names {
		m[n]++
	}
	return m
}

func TestBackups(t *testing.T) {
	ms := []Member{
		{Name: "a1", ID: 1, Weight: 1}, {Name: "a2", ID: 2, Weight: 1},
		{Name: "b1", ID: 3, Weight: 1, Backup: true}, {Name: "b2", ID: 4, Weight: 1, Backup: true},
	}
	for _, algo := range []string{"roundrobin", "static-rr", "leastconn", "first", "source", "random"} {
		for _, all := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/allbackups=%v", algo, all), func(t *testing.T) {
				b := mustNew(t, algo, ms, all)
				pick := func() map[string]int {
					m := map[string]int{}
					for n := range 40 {
						i := b.Pick(Key{Src: netip.AddrFrom4([4]byte{127, 0, 0, byte(n)})}, nil)
						if i < 0 {
							m["-"]++
							continue
						}
						b.Done(i)
						m[ms[i].Name]++
					}
					return m
				}
				if m := pick(); m["b1"]+m["b2"]+m["-"] != 0 {
					t.Errorf("actives up: backups or none picked: %v", m)
				}
				b.SetUp(0, false)
				if m := pick(); m["a2"] != 40 {
					t.Errorf("one active up: %v", m)
				}
				b.SetUp(1, false)
				m := pick()
				switch {
				case !all && m["b1"] != 40:
					t.Errorf("no active: want only the first backup: %v", m)
				case all && algo != "first" && (m["b1"] == 0 || m["b2"] == 0 || m["b1"]+m["b2"] != 40):
					t.Errorf("no active, allbackups: want both backups: %v", m)
				}
				b.SetUp(2, false)
				if m := pick(); m["b2"] != 40 {
					t.Errorf("first backup down: want b2: %v", m)
				}
				b.SetUp(3, false)
				if m := pick(); m["-"] != 40 {
					t.Errorf("all down: want none: %v", m)
				}
				b.SetUp(1, true)
				if m := pick(); m["a2"] != 40 {
					t.Errorf("active back: %v", m)
				}
			})
		}
	}
}

func TestWeightZeroAndDynamicWeights(t *testing.T) {
	b := mustNew(t, "roundrobin", servers(1, 0, 1), false)
	if c := count(picks(b, 30)); c["s2"] != 0 || c["s1"] != 15 || c["s3"] != 15 {
		t.Fatalf("weight 0 server picked or uneven: %v", c)
	}
	b.SetWeight(1, 2)
	if c := count(picks(b, 40)); c["s1"] != 10 || c["s2"] != 20 || c["s3"] != 10 {
		t.Fatalf("after set weight 2: %v", c)
	}
	b.SetWeight(0, 0)
	b.SetWeight(2, 0)
	if c := count(picks(b, 10)); c["s2"] != 10 {
		t.Fatalf("drained s1 and s3: %v", c)
	}
}

func TestLeastConn(t *testing.T) {
	b := mustNew(t, "leastconn", servers(1, 1, 1), false)
	// Idle servers are taken in turn.
	if got := fmt.Sprint(picks(b, 6)); got != "[s1 s2 s3 s1 s2 s3]" {
		t.Fatalf("idle round robin: %s", got)
	}
	// Hold two on s1, one on s2: the next goes to s3, then s2/s3 alternate.
	b.conns[0].n.Store(2)
	b.conns[1].n.Store(1)
	i := b.Pick(Key{}, nil)
	if i != 2 {
		t.Fatalf("want s3, got %d", i)
	}
	// s2 and s3 both have one: the one picked longer ago (s2) wins.
	if i := b.Pick(Key{}, nil); i != 1 {
		t.Fatalf("want s2, got %d", i)
	}
	// Weights: s1 weight 3 holds 3x the connections.
	b = mustNew(t, "leastconn", servers(3, 1), false)
	for range 40 {
		b.Pick(Key{}, nil)
	}
	if b.Conns(0) != 30 || b.Conns(1) != 10 {
		t.Fatalf("weighted leastconn: %d/%d", b.Conns(0), b.Conns(1))
	}
}

func TestFirstAndMaxconn(t *testing.T) {
	ms := servers(1, 1, 1)
	ms[0].ID, ms[1].ID, ms[2].ID = 3, 1, 2
	for i := range ms {
		ms[i].Maxconn = 2
	}
	b := mustNew(t, "first", ms, false)
	var got []string
	for range 7 {
		i := b.Pick(Key{}, nil)
		if i < 0 {
			got = append(got, "-")
			continue
		}
		got = append(got, ms[i].Name)
	}
	if fmt.Sprint(got) != "[s2 s2 s3 s3 s1 s1 -]" {
		t.Fatalf("first by id up to maxconn: %v", got)
	}
	b.Done(2)
	if i := b.Pick(Key{}, nil); i != 2 {
		t.Fatalf("freed slot on s3: got %d", i)
	}
	// roundrobin passes over saturated servers.
	rr := mustNew(t, "roundrobin", []Member{{Name: "a", ID: 1, Weight: 1, Maxconn: 1}, {Name: "b", ID: 2, Weight: 1}}, false)
	if a := rr.Pick(Key{}, nil); a != 0 {
		t.Fatal(a)
	}
	for range 3 {
		if i := rr.Pick(Key{}, nil); i != 1 {
			t.Fatalf("saturated a picked: %d", i)
		}
	}
}

func TestSkip(t *testing.T) {
	for _, algo := range []string{"roundrobin", "static-rr", "leastconn", "first", "source", "random"} {
		b := mustNew(t, algo, servers(1, 1, 1), false)
		for n := range 30 {
			i := b.Pick(Key{Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(n)})}, func(i int) bool { return i == 1 })
			if i == 1 || i < 0 {
				t.Fatalf("%s: skip ignored: %d", algo, i)
			}
			b.Done(i)
		}
		if i := b.Pick(Key{}, func(int) bool { return true }); i != -1 {
			t.Fatalf("%s: everything skipped, got %d", algo, i)
		}
	}
}

func TestHashKeys(t *testing.T) {
	for _, c := range []struct {
		f      keyFunc
		target string
		want   string
	}{
		{uriKey(0, 0, false, false), "/a/b?c", "/a/b"},
		{uriKey(0, 0, true, false), "/a/b?c", "/a/b?c"},
		{uriKey(0, 3, false, false), "/a/b/c/d", "/a/b"},
		{uriKey(3, 0, false, false), "/abcdef", "/ab"},
		{uriKey(0, 0, false, true), "http://h:80/p/q?x", "/p/q"},
		{urlParamKey("u"), "/p?uu=1&u=two&u=3", "two"},
		{urlParamKey("u"), "/p?u", ""},
	} {
		b := &Balancer{hash: func(s string) uint32 { return uint32(len(s)) }}
		h, ok := c.f(b, Key{Target: c.target})
		if c.want == "" {
			if ok {
				t.Errorf("%q: key found", c.target)
			}
			continue
		}
		if !ok || h != uint32(len(c.want)) {
			t.Errorf("%q: hashed %d bytes, want %q", c.target, h, c.want)
		}
	}
	var got string
	b := &Balancer{hash: func(s string) uint32 { got = s; return 0 }}
	for host, want := range map[string]string{"www.example.com": "example", "example.com": "example", "localhost": "localhost", "a.b, c.d": "a"} {
		hdrKey("host", true)(b, Key{Header: http1.Header{{Name: "Host", Value: host}}})
		if got != want {
			t.Errorf("use_domain_only %q: hashed %q, want %q", host, got, want)
		}
	}
}

func TestHashFunctionsKnownValues(t *testing.T) {
	// Values computed from the definitions in HAProxy's hash.c.
	if got := sdbm("a"); got != 97 {
		t.Errorf("sdbm(a)=%d", got)
	}
	if got := djb2("a"); got != 5381*33+97 {
		t.Errorf("djb2(a)=%d", got)
	}
	if got := crc32IEEE("123456789"); got != 0xcbf43926 {
		t.Errorf("crc32=%x", got)
	}
}

func TestConcurrentPicks(t *testing.T) {
	for _, algo := range []string{"roundrobin", "static-rr", "leastconn", "first", "source", "random", "uri"} {
		b, err := New(haproxy.Balance{Algo: algo}, haproxy.HashType{Method: "consistent"}, servers(1, 2, 3, 4), false)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range 500 {
					i := b.Pick(Key{Src: netip.AddrFrom4([4]byte{127, 0, byte(g), byte(n)}), Target: "/x"}, nil)
					if i >= 0 {
						b.Done(i)
					}
					if n%100 == 0 {
						b.SetWeight(g%4, 1+n%5)
						b.SetUp(g%4, n%200 == 0)
					}
				}
			}()
		}
		wg.Wait()
		for i := range 4 {
			if c := b.Conns(i); c != 0 {
				t.Errorf("%s: server %d has %d in flight after all Done", algo, i, c)
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(haproxy.Balance{Algo: "nope"}, haproxy.HashType{}, servers(1), false); err == nil {
		t.Error("unknown algorithm accepted")
	}
	if _, err := New(haproxy.Balance{Algo: "roundrobin"}, haproxy.HashType{}, servers(300), false); err == nil {
		t.Error("weight 300 accepted")
	}
	if _, err := New(haproxy.Balance{Algo: "random", Arg: "x"}, haproxy.HashType{}, servers(1), false); err == nil {
		t.Error("random(x) accepted")
	}
	b := mustNew(t, "roundrobin", nil, false)
	if i := b.Pick(Key{}, nil); i != -1 {
		t.Error("empty backend picked", i)
	}
}

func benchPick(b *testing.B, algo string, ht haproxy.HashType, n int) {
	ws := make([]int, n)
	for i := range ws {
		ws[i] = 1 + i%3
	}
	bal, err := New(haproxy.Balance{Algo: algo}, ht, servers(ws...), false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		k := Key{Src: netip.MustParseAddr("192.0.2.7"), Target: "/static/img/logo.png?v=3"}
		for pb.Next() {
			i := bal.Pick(k, nil)
			bal.Done(i)
		}
	})
}

func BenchmarkPick(b *testing.B) {
	for _, c := range []struct {
		algo string
		ht   haproxy.HashType
	}{
		{"roundrobin", haproxy.HashType{}}, {"static-rr", haproxy.HashType{}}, {"leastconn", haproxy.HashType{}},
		{"first", haproxy.HashType{}}, {"random", haproxy.HashType{}}, {"source", haproxy.HashType{}},
		{"source", haproxy.HashType{Method: "consistent"}}, {"uri", haproxy.HashType{}},
	} {
		for _, n := range []int{4, 64} {
			b.Run(fmt.Sprintf("%s-%s-%d", c.algo, c.ht.Method, n), func(b *testing.B) { benchPick(b, c.algo, c.ht, n) })
		}
	}
}
