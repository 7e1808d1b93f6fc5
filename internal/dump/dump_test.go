package dump

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

type pos struct {
	File string
	Line int
}

func (p pos) String() string { return p.File + ":" + string(rune('0'+p.Line)) }

type inner struct{ Name string }

type sample struct {
	Pos     pos
	Name    string
	Count   int
	Zero    int
	Timeout time.Duration
	Addr    netip.Addr
	Flag    *bool
	List    []inner
	Map     map[string]int
	Back    *sample `dump:"-"`
	private int
}

func TestWrite(t *testing.T) {
	f := false
	s := &sample{Pos: pos{"a.cfg", 3}, Name: "x", Count: 2, Timeout: 5 * time.Second,
		Addr: netip.MustParseAddr("192.0.2.1"), Flag: &f, List: []inner{{"a"}, {"b"}},
		Map: map[string]int{"z": 1, "a": 2}}
	s.Back = s
	var b strings.Builder
	Write(&b, s)
	want := `Pos = a.cfg:3
Name = "x"
Count = 2
Timeout = 5s
Addr = 192.0.2.1
Flag = false
List[0].Name = "a"
List[1].Name = "b"
Map[a] = 2
Map[z] = 1
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
