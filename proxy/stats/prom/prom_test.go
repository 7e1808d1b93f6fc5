package prom

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
	"hapair/proxy/stats"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func socketCmd(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, cmd+"\n")
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var sampleRE = regexp.MustCompile(`^([a-z_]+)(\{[^}]*\})? (\S+)$`)

// shape reduces an exposition to its structure: HELP and TYPE lines as
// they are, samples as name and labels without the value.
func shape(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			out = append(out, l)
			continue
		}
		if m := sampleRE.FindStringSubmatch(l); m != nil {
			out = append(out, m[1]+m[2])
		} else if l != "" {
			out = append(out, "unparsable: "+l)
		}
	}
	return out
}

// TestHAProxyExpositionDifferential runs HAProxy's exporter on a config
// with HTTP and TCP proxies, servers up, down, backup and without
// checks, and compares its metric lines with ours computed from
// HAProxy's own `show stat` rows: the same HELP and TYPE lines, the same
// metric names with the same labels in the same order.
func TestHAProxyExpositionDifferential(t *testing.T) {
	bin := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()
	sock := filepath.Join(dir, "stats.sock")
	live, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	go func() {
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	pm := freePort(t)
	cfg := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fm
    mode http
    bind 127.0.0.1:%d
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend be
backend be
    mode http
    server s1 %s check inter 100 rise 1
    server s2 127.0.0.1:%d check inter 100 fall 1
    server s3 127.0.0.1:%d backup
listen lt
    mode tcp
    bind 127.0.0.1:%d
    server t1 %s check inter 100 maxconn 10 maxqueue 5
backend empty
    mode http
`, sock, pm, live.Addr(), freePort(t), freePort(t), freePort(t), live.Addr())
	path := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(path, []byte(cfg), 0o644)
	cmd := exec.Command(bin, "-db", "-f", path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy:\n%s", out.String())
		}
	}()
	// Wait for the checks: s1 and t1 UP, s2 DOWN.
	var rows []stats.Row
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			rows, _ = stats.ParseCSV(strings.NewReader(socketCmd(t, sock, "show stat")))
			st := map[string]string{}
			for _, r := range rows {
				st[r[stats.FSvname]] = r[stats.FStatus] + "/" + r[stats.FCheckStatus]
			}
			if st["s1"] == "UP/L4OK" && st["s2"] == "DOWN/L4CON" && st["t1"] == "UP/L4OK" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("haproxy checks did not settle")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", pm))
	if err != nil {
		t.Fatal(err)
	}
	theirs, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Errorf("content type: haproxy %q, we %q", ct, ContentType)
	}
	info := &stats.Info{Version: "2.6.12-1+deb12u4", Start: time.Now(), Now: time.Now()}
	var ours bytes.Buffer
	if err := Write(&ours, rows, info); err != nil {
		t.Fatal(err)
	}
	a, b := shape(string(theirs)), shape(ours.String())
	if len(a) < 500 {
		t.Fatalf("haproxy's exposition has only %d lines", len(a))
	}
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			t.Fatalf("line %d differs:\nhaproxy %s\nwe      %s", i+1, x, y)
		}
	}
	// Values that do not depend on timing are HAProxy's.
	for _, want := range []string{
		`haproxy_server_status{proxy="be",server="s2",state="DOWN"} 1`,
		`haproxy_server_status{proxy="be",server="s3",state="UP"} 1`,
		`haproxy_server_check_status{proxy="be",server="s1",state="L4OK"} 1`,
		`haproxy_backend_agg_check_status{proxy="be",state="L4CON"} 1`,
		`haproxy_server_limit_sessions{proxy="lt",server="t1"} 10`,
		`haproxy_server_queue_limit{proxy="lt",server="t1"} 5`,
		`haproxy_server_limit_sessions{proxy="be",server="s3"} NaN`,
		`haproxy_backend_weight{proxy="be"} 1`,
		`haproxy_process_build_info{version="2.6.12-1+deb12u4"} 1`,
	} {
		if !strings.Contains(string(theirs), want+"\n") {
			t.Errorf("haproxy lacks %s", want)
		}
		if !strings.Contains(ours.String(), want+"\n") {
			t.Errorf("we lack %s", want)
		}
	}
}

func TestEscapeAndUnits(t *testing.T) {
	var r stats.Row
	r[stats.FPxname], r[stats.FSvname], r[stats.FType], r[stats.FMode] = `a"b\c`, "s", "2", "tcp"
	r[stats.FQtime], r[stats.FStatus] = "1500", "DRAIN 1/3"
	var b bytes.Buffer
	Write(&b, []stats.Row{r}, &stats.Info{})
	for _, want := range []string{
		`haproxy_server_queue_time_average_seconds{proxy="a\"b\\c",server="s"} 1.500000`,
		`haproxy_server_status{proxy="a\"b\\c",server="s",state="DRAIN"} 1`,
		`haproxy_server_current_queue{proxy="a\"b\\c",server="s"} NaN`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(b.String(), "http_responses") || strings.Contains(b.String(), "check_code") {
		t.Error("HTTP or check metrics for a TCP server without check")
	}
}

func TestParseQuery(t *testing.T) {
	for _, c := range []struct {
		q    string
		want Filter
		err  bool
	}{
		{"", All, false},
		{"scope=backend", Filter{Backend: true}, false},
		{"scope=global&scope=server", Filter{Process: true, Server: true}, false},
		{"scope=frontend&scope=", Filter{}, false},
		{"scope=*", All, false},
		{"no-maint", Filter{Process: true, Frontend: true, Backend: true, Server: true, NoMaint: true}, false},
		{"scope=server&no-maint", Filter{Server: true, NoMaint: true}, false},
		{"scope=bogus", Filter{}, true},
	} {
		got, err := ParseQuery(c.q)
		if (err != nil) != c.err || err == nil && got != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.q, got, err, c.want)
		}
	}
}

// FuzzWrite feeds arbitrary CSV rows and queries to the exporter: it must
// not panic, and every sample line must parse.
func FuzzWrite(f *testing.F) {
	f.Add("fe,FRONTEND,,,0,0,,0\nbe,s1,0,0,0,0,,0,,,,,,,,,,UP 1/3,1,1,0\n", "scope=server&no-maint")
	f.Add(stats.Header+`"a,b",s,,,,,,,,,,,,,,,,MAINT,,,,,,,,,,,,,,,2,,,,L4CON,`, "scope=*")
	f.Fuzz(func(t *testing.T, csv, query string) {
		rows, _ := stats.ParseCSV(strings.NewReader(csv))
		flt, err := ParseQuery(query)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := WriteFiltered(&b, rows, &stats.Info{}, flt); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(b.String(), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "haproxy_") {
				t.Fatalf("bad line %q", l)
			}
		}
	})
}
