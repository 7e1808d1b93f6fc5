package checks

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// smtpRecorder plays a polite SMTP server and records what the client says.
func smtpRecorder(t *testing.T) (string, <-chan string) {
	ch := make(chan string, 16)
	addr := serve(t, func(c net.Conn) {
		io.WriteString(c, "220 mx ESMTP\r\n")
		br := bufio.NewReader(c)
		var said strings.Builder
		for _, answer := range []string{"250 mx\r\n", "221 bye\r\n"} {
			line, err := br.ReadString('\n')
			said.WriteString(line)
			if err != nil {
				break
			}
			io.WriteString(c, answer)
		}
		select {
		case ch <- said.String():
		default:
		}
	})
	return addr, ch
}

// TestSMTPMatchesHAProxy compares what we say to an SMTP server with what
// HAProxy 2.6 says for `option smtpchk [HELO|EHLO domain]`.
func TestSMTPMatchesHAProxy(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	variants := []struct {
		opt          string
		verb, domain string
	}{{"", "", ""}, {"EHLO me.example", "EHLO", "me.example"}, {"HELO x", "HELO", "x"}}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n")
	fmt.Fprintf(&cfg, "frontend fe\n    bind %s\n    default_backend b0\n", closedPort(t))
	chans := make([]<-chan string, len(variants))
	for i, v := range variants {
		var addr string
		addr, chans[i] = smtpRecorder(t)
		fmt.Fprintf(&cfg, "backend b%d\n    option smtpchk %s\n    server s %s check inter 200\n", i, v.opt, addr)
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(path, []byte(cfg.String()), 0o644)
	cmd := exec.Command(haproxy, "-db", "-f", path)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }() // by PID
	for i, v := range variants {
		var theirs string
		select {
		case theirs = <-chans[i]:
		case <-time.After(10 * time.Second):
			t.Fatalf("haproxy said nothing for %q\n%s", v.opt, out.String())
		}
		addr, ours := smtpRecorder(t)
		r := Run(t.Context(), &SMTP{Addr: addr, Verb: v.verb, Domain: v.domain}, 3*time.Second)
		if r.Status != StatusL7OK || r.Code != 221 || r.Info != "bye" {
			t.Errorf("%q: our check %v %d %q", v.opt, r.Status, r.Code, r.Info)
		}
		if got := <-ours; got != theirs {
			t.Errorf("option smtpchk %s:\nhaproxy said %q\nwe said      %q", v.opt, theirs, got)
		}
	}
}
