package logfmt

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func sampleRecord() *Record {
	return &Record{
		Client:       netip.MustParseAddrPort("127.0.0.1:45158"),
		FrontendAddr: netip.MustParseAddrPort("127.0.0.1:80"),
		Accept:       time.Date(2026, 11, 25, 0, 58, 43, 196e6, time.UTC),
		Frontend:     "fe", Backend: "be", Server: "s1", HTTP: true,
		Th: 0, Ti: 0, TR: 0, Tw: 0, Tc: 0, Tr: 4, Td: 0, Tt: 4,
		Status: 404, BytesRead: 500, ActConn: 1, FeConn: 1,
		RequestLine: "GET /x?y=1 HTTP/1.1",
	}
}

func TestHTTPLogMeasured(t *testing.T) {
	// The line measured in features.md 1.12.
	want := `127.0.0.1:45158 [25/Nov/2026:00:58:43.196] fe be/s1 0/0/0/4/4 404 500 - - ---- 1/1/0/0/0 0/0 "GET /x?y=1 HTTP/1.1"`
	if got := string(Append(nil, HTTPLog(), sampleRecord())); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, s := range []string{"%zz", "%{+Q", "%[src", "%[nope]", "%[src,lower]", "%{+W}ci", "% ci", "%[capture.req.hdr(x)]"} {
		if _, err := Compile(s); err == nil {
			t.Errorf("Compile(%q) accepted", s)
		}
	}
	for _, s := range []string{"", "plain text", "%%", "%ci%cp", "%{+Q}o %ci", "%[capture.res.hdr(0)]", "%{}ci"} {
		if _, err := Compile(s); err != nil {
			t.Errorf("Compile(%q): %v", s, err)
		}
	}
}

func TestSeparators(t *testing.T) {
	f, err := Compile("  a   %hr %hs  %ci  ")
	if err != nil {
		t.Fatal(err)
	}
	// Leading separator dropped, runs collapsed, empty %hr/%hs leave no
	// double space, the trailing separator stays (HAProxy keeps it).
	if got := string(Append(nil, f, sampleRecord())); got != "a 127.0.0.1 " {
		t.Errorf("got %q", got)
	}
}

func TestRequestParts(t *testing.T) {
	cases := []struct{ line, hm, hu, hp, hpo, hq, hv string }{
		{"GET /a?b HTTP/1.1", "GET", "/a?b", "/a", "/a", "?b", "HTTP/1.1"},
		{"GET /a", "GET", "/a", "/a", "/a", "", "HTTP/0.9"},
		{"GET", "<BADREQ>", "<BADREQ>", "<BADREQ>", "<BADREQ>", "", "<BADREQ>"},
		{"GET http://h/p?q HTTP/1.1", "GET", "http://h/p?q", "http://h/p", "/p", "?q", "HTTP/1.1"},
		{"", "<BADREQ>", "<BADREQ>", "<BADREQ>", "<BADREQ>", "<BADREQ>", "<BADREQ>"},
	}
	for _, c := range cases {
		got := []string{requestPart(kHM, c.line), requestPart(kHU, c.line), requestPart(kHP, c.line),
			requestPart(kHPO, c.line), requestPart(kHQ, c.line), requestPart(kHV, c.line)}
		want := []string{c.hm, c.hu, c.hp, c.hpo, c.hq, c.hv}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%q: got %q want %q", c.line, got, want)
		}
	}
}

func TestLogASAPAndRetries(t *testing.T) {
	r := sampleRecord()
	r.LogASAP, r.Redispatched, r.Retries = true, true, 2
	f, _ := Compile("%Tt %Ta %B %rc %tsc")
	if got := string(Append(nil, f, r)); got != "+4 +4 +500 +2 ----" {
		t.Errorf("got %q", got)
	}
}

func TestLevel(t *testing.T) {
	r := sampleRecord()
	r.BytesUploaded = 10
	if l, ok := (Options{SeparateErrors: true}).Level(r); !ok || l != 6 {
		t.Errorf("normal: %d %v", l, ok)
	}
	r.Status = 503
	if l, ok := (Options{SeparateErrors: true}).Level(r); !ok || l != 3 {
		t.Errorf("5xx: %d %v", l, ok)
	}
	r.Status = 200
	if _, ok := (Options{DontLogNormal: true}).Level(r); ok {
		t.Error("dontlog-normal logged a normal transaction")
	}
	r.TermState = [4]byte{'S', 'C'}
	if _, ok := (Options{DontLogNormal: true}).Level(r); !ok {
		t.Error("dontlog-normal dropped an error")
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{TCPLogFormat, HTTPLogFormat, CLFLogFormat, staticFormat, timersFormat, "%{", "%[", "%%%"} {
		f.Add(s)
	}
	r := sampleRecord()
	r.ReqCaptures = []Capture{{"a", true}, {}}
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := Compile(s)
		if err != nil {
			return
		}
		Append(nil, fm, r)
	})
}

func BenchmarkHTTPLog(b *testing.B) {
	f := HTTPLog()
	r := sampleRecord()
	r.ReqCaptures = []Capture{{"www.example.com", true}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], f, r)
	}
}
