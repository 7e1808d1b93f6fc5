package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

// statusCases are requests and the status HAProxy 2.6.12 answered them
// with (0 = forwarded), measured with the probe in
// testdata/proxy/README and re-checked live by the proxy package's
// differential test.
var statusCases = []struct {
	name string
	in   string
	want int
}{
	{"cl_te", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
	{"cl_dup_same", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0},
	{"cl_dup_diff", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
	{"cl_list", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n", 0},
	{"cl_bad", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\n", 400},
	{"cl_neg", "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
	{"te_notchunked", "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
	{"te_chunked_gzip", "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
	{"te_gzip_chunked", "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 422},
	{"te_10", "POST /ok HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
	{"bad_name_space", "GET /ok HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400},
	{"bad_name_colon_space", "GET /ok HTTP/1.1\r\nHost: x\r\nBad : 1\r\n\r\n", 400},
	{"empty_name", "GET /ok HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n", 400},
	{"no_colon", "GET /ok HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400},
	{"obs_fold", "GET /ok HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 0},
	{"bare_lf", "GET /ok HTTP/1.1\nHost: x\n\n", 0},
	{"version_2_0", "GET /ok HTTP/2.0\r\nHost: x\r\n\r\n", 0},
	{"bad_version", "GET /ok HTXP/1.1\r\nHost: x\r\n\r\n", 400},
	{"http09", "GET /ok\r\n\r\n", 400},
	{"no_host11", "GET /ok HTTP/1.1\r\n\r\n", 0},
	{"two_hosts", "GET /ok HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
	{"bad_method", "G(T /ok HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"space_uri", "GET /o k HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"ctl_uri", "GET /o\x01k HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"high_uri", "GET /o\x80k HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	{"nul_value", "GET /ok HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 0},
	{"ctl_value", "GET /ok HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 0},
	{"big_head", "GET /ok HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 20000) + "\r\n\r\n", 400},
	{"lower_method", "get /ok HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	{"leading_crlf", "\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	{"abs_uri", "GET http://x/ok HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	{"multi_space", "GET  /ok HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	{"ws_bad_key", "GET /c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n", 400},
	{"ws_good_key", "GET /c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 0},
}

func TestReadRequestStatus(t *testing.T) {
	for _, c := range statusCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadRequest(bufio.NewReader(strings.NewReader(c.in)), 0)
			got := 0
			var e *Error
			if errors.As(err, &e) {
				got = e.Status
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if got != c.want {
				t.Fatalf("status %d, want %d (err %v)", got, c.want, err)
			}
		})
	}
}

// forward reads one request and writes it as the proxy would.
func forward(t *testing.T, in string) string {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(in))
	req, err := ReadRequest(br, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	req.WriteHead(w, "")
	if _, err := CopyBody(w, br, req.Body); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestForwardedBytes checks the bytes HAProxy 2.6 sent to the server for
// the same input (captured on the server side): lower-case names, the
// Connection header consumed, folding unfolded with spaces, one
// Content-Length, Content-Length dropped beside chunked, version 2.0 sent
// as 1.1, chunks already received merged into one, trailer names lower-cased.
func TestForwardedBytes(t *testing.T) {
	cases := []struct{ in, want string }{
		{"GET /ok HTTP/1.1\r\nHost: x\r\nX-Foo-Bar: 1\r\nconnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
			"GET /ok HTTP/1.1\r\nhost: x\r\nx-foo-bar: 1\r\ncontent-length: 3\r\n\r\nabc"},
		{"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			"POST /ok HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
			"POST /ok HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc"},
		{"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
			"POST /ok HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc"},
		{"GET /ok HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", "GET /ok HTTP/1.1\r\nhost: x\r\nx-a: 1   2\r\n\r\n"},
		{"GET /ok HTTP/2.0\r\nHost: x\r\n\r\n", "GET /ok HTTP/1.1\r\nhost: x\r\n\r\n"},
		{"GET  /ok HTTP/1.1\r\nHost: x\r\n\r\n", "GET /ok HTTP/1.1\r\nhost: x\r\n\r\n"},
		{"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
			"POST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nD\r\nabc0123456789\r\n0\r\nx-t: 1\r\n\r\n"},
	}
	for _, c := range cases {
		if got := forward(t, c.in); got != c.want {
			t.Errorf("forward(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestRequestFlags(t *testing.T) {
	cases := []struct {
		in                      string
		close, ka, upgrade, exp bool
		body                    Framing
	}{
		{"GET / HTTP/1.0\r\n\r\n", true, false, false, false, Framing{}},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, true, false, false, Framing{}},
		{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", true, false, false, false, Framing{}},
		{"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false, false, true, false, Framing{}},
		{"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", false, false, false, true, Framing{Length: 5}},
	}
	for _, c := range cases {
		r, err := ReadRequest(bufio.NewReader(strings.NewReader(c.in)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Close != c.close || r.KeepAlive != c.ka || r.Upgrade != c.upgrade || r.Expect100 != c.exp || r.Body != c.body {
			t.Errorf("%q: got close=%v ka=%v up=%v exp=%v body=%+v", c.in, r.Close, r.KeepAlive, r.Upgrade, r.Expect100, r.Body)
		}
	}
}

func TestReadResponse(t *testing.T) {
	cases := []struct {
		in, method string
		status     int
		body       Framing
		err        int
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET", 200, Framing{Length: 2}, 0},
		{"HTTP/1.1 200 OK\r\n\r\n", "GET", 200, Framing{Length: -1}, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "HEAD", 200, Framing{}, 0},
		{"HTTP/1.1 304 Not Modified\r\n\r\n", "GET", 304, Framing{}, 0},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, Framing{Chunked: true}, 0},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "GET", 101, Framing{}, 0},
		{"garbage\r\n\r\n", "GET", 0, Framing{}, 502},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "GET", 0, Framing{}, 502},
		{"HTTP/1.1 2x0 OK\r\n\r\n", "GET", 0, Framing{}, 502},
		{"HTTP/1.1 204\r\n\r\n", "GET", 204, Framing{}, 0},
	}
	for _, c := range cases {
		r, err := ReadResponse(bufio.NewReader(strings.NewReader(c.in)), 0, c.method)
		var e *Error
		if c.err != 0 {
			if !errors.As(err, &e) || e.Status != c.err {
				t.Errorf("%q: err %v, want status %d", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if r.Status != c.status || r.Body != c.body {
			t.Errorf("%q: status %d body %+v", c.in, r.Status, r.Body)
		}
	}
}

func TestCopyBodyErrors(t *testing.T) {
	for _, in := range []string{"zz\r\nabc\r\n", "3\r\nabcd\r\n", "3\r\nab", "5\r\n"} {
		var out bytes.Buffer
		_, err := CopyBody(bufio.NewWriter(&out), bufio.NewReader(strings.NewReader(in)), Framing{Chunked: true})
		if err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	var out bytes.Buffer
	_, err := CopyBody(bufio.NewWriter(&out), bufio.NewReader(strings.NewReader("ab")), Framing{Length: 3})
	if err != io.ErrUnexpectedEOF {
		t.Errorf("short body: %v", err)
	}
}

// TestErrorMessages compares ErrorMessage byte for byte with HAProxy
// 2.6.12's answers to "http-request deny deny_status N", captured in
// testdata/proxy/haproxy26_deny_status.txt (Python bytes literals).
func TestErrorMessages(t *testing.T) {
	data, err := os.ReadFile("../../testdata/proxy/haproxy26_deny_status.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		code, lit, _ := strings.Cut(line, " ")
		st, _ := strconv.Atoi(code)
		want := unpy(t, lit)
		want = strings.TrimSuffix(want, "<<timed out>>")
		if got := string(ErrorMessage(st)); got != want {
			t.Errorf("%d:\n got %q\nwant %q", st, got, want)
		}
	}
	// The H1 layer's own answers to malformed requests, as captured.
	raw := map[int]string{
		400: "HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n",
		408: "HTTP/1.1 408 Request Time-out\r\nContent-length: 110\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n",
		422: "HTTP/1.1 422 Unprocessable Content\r\nContent-length: 116\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>422 Unprocessable Content</h1>\nThe server cannot process the contained instructions.\n</body></html>\n",
	}
	for st, want := range raw {
		if got := string(ParseErrorMessage(st)); got != want {
			t.Errorf("raw %d:\n got %q\nwant %q", st, got, want)
		}
	}
}

// unpy decodes a Python bytes literal b'...' or b"...".
func unpy(t *testing.T, lit string) string {
	t.Helper()
	if len(lit) < 3 || lit[0] != 'b' {
		t.Fatalf("bad literal %q", lit)
	}
	s := lit[2 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'x':
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func FuzzReadRequest(f *testing.F) {
	for _, c := range statusCases {
		f.Add([]byte(c.in + "3\r\nabc\r\n0\r\n\r\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 64)
		req, err := ReadRequest(br, 4096)
		if err != nil {
			return
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		req.WriteHead(w, "close")
		CopyBody(w, br, req.Body)
		w.Flush()
		// What we forward must parse again.
		if _, err := ReadRequest(bufio.NewReader(&out), 1<<20); err != nil {
			t.Fatalf("forwarded head does not parse: %v\n%q", err, out.String())
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), "GET")
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), "GET")
	f.Add([]byte("HTTP/1.0 304 Not Modified\r\nX: y\r\n z\r\n\r\n"), "HEAD")
	f.Fuzz(func(t *testing.T, data []byte, method string) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 64)
		resp, err := ReadResponse(br, 4096, method)
		if err != nil {
			return
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		resp.WriteHead(w, "")
		CopyBody(w, br, resp.Body)
	})
}

func BenchmarkReadRequest(b *testing.B) {
	in := "GET /index.html?x=1 HTTP/1.1\r\nHost: test.domain.com\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n"
	sr := strings.NewReader(in)
	br := bufio.NewReader(sr)
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		sr.Reset(in)
		br.Reset(sr)
		if err := req.Read(br, 0); err != nil {
			b.Fatal(err)
		}
	}
}
