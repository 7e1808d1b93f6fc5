package checks

import (
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

// mysqlRecorder greets, records the client's login packet and answers OK.
func mysqlRecorder(t *testing.T) (string, <-chan []byte) {
	ch := make(chan []byte, 16)
	addr := serve(t, func(c net.Conn) {
		c.Write(mysqlGreeting())
		var h [4]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		body := make([]byte, int(h[0])|int(h[1])<<8|int(h[2])<<16)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		select {
		case ch <- append(h[:], body...):
		default:
		}
		c.Write(mysqlPkt(h[3]+1, []byte{0, 0, 0, 2, 0, 0, 0}))
		io.Copy(io.Discard, c)
	})
	return addr, ch
}

// TestMySQLLoginMatchesHAProxy compares our login packets (4.1 and
// pre-4.1) with the ones HAProxy 2.6 sends for `option mysql-check user`.
func TestMySQLLoginMatchesHAProxy(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	variants := []struct {
		opt   string
		pre41 bool
	}{{"user haproxy post-41", false}, {"user haproxy", false}, {"user haproxy pre-41", true}}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n")
	fmt.Fprintf(&cfg, "frontend fe\n    bind %s\n    default_backend b0\n", closedPort(t))
	chans := make([]<-chan []byte, len(variants))
	for i, v := range variants {
		var addr string
		addr, chans[i] = mysqlRecorder(t)
		fmt.Fprintf(&cfg, "backend b%d\n    option mysql-check %s\n    server s %s check inter 200\n", i, v.opt, addr)
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
		var theirs []byte
		select {
		case theirs = <-chans[i]:
		case <-time.After(10 * time.Second):
			t.Fatalf("haproxy sent no login for %q\n%s", v.opt, out.String())
		}
		addr, ours := mysqlRecorder(t)
		r := Run(t.Context(), &MySQL{Addr: addr, User: "haproxy", Pre41: v.pre41}, 3*time.Second)
		if r.Status != StatusL7OK {
			t.Errorf("%s: our check %v %q", v.opt, r.Status, r.Info)
		}
		if got := <-ours; string(got) != string(theirs) {
			t.Errorf("%s:\nhaproxy login % x\nour login     % x", v.opt, theirs, got)
		}
	}
}
