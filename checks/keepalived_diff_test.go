package checks

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
)

// TestSplitCommandMatchesKeepalived runs the real keepalived 2.2.7 with
// vrrp_scripts whose program records its argv, and compares that argv with
// SplitCommand's. conf is the script line as written in keepalived.conf,
// line the string after keepalived's config-level unescaping (what the
// govrrpd parser hands to SplitCommand).
func TestSplitCommandMatchesKeepalived(t *testing.T) {
	testenv.RequireRoot(t)
	keepalived := testenv.LookPath(t, "keepalived")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "rec.sh")
	os.WriteFile(rec, []byte("#!/bin/sh\nout=\""+dir+"/argv.$1\"\n: > \"$out.tmp\"\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\" >> \"$out.tmp\"; done\nmv \"$out.tmp\" \"$out\"\n"), 0o755)
	cases := []struct{ conf, line string }{
		{`"REC s1 a 'b c' x\"y\"z"`, `REC s1 a 'b c' x"y"z`},
		{`"REC s2 \"h i\" j	k"`, "REC s2 \"h i\" j\tk"},
		{`"  REC   s3   p\\ q   "`, `  REC   s3   p\ q   `},
		{`"REC s4 'a b'c 'd' ''"`, `REC s4 'a b'c 'd' ''`},
		{`"REC s5 'x \"y\" z'"`, `REC s5 'x "y" z'`},
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "global_defs {\n  router_id chk\n  script_user root\n}\n")
	var track strings.Builder
	for i, c := range cases {
		fmt.Fprintf(&conf, "vrrp_script s%d {\n  script %s\n  interval 1\n}\n", i+1, strings.ReplaceAll(c.conf, "REC", rec))
		fmt.Fprintf(&track, "    s%d\n", i+1)
	}
	fmt.Fprintf(&conf, "vrrp_instance VI_1 {\n  state BACKUP\n  interface a0\n  virtual_router_id 51\n  priority 100\n  advert_int 1\n  virtual_ipaddress {\n    192.0.2.100\n  }\n  track_script {\n%s  }\n}\n", track.String())
	cfg := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(cfg, []byte(conf.String()), 0o644)

	ns := netns.New(t, "chkka")
	ns.Run("ip", "link", "add", "a0", "type", "veth", "peer", "name", "a1")
	ns.Run("ip", "addr", "add", "192.0.2.1/24", "dev", "a0")
	ns.Run("ip", "link", "set", "a0", "up")
	ns.Run("ip", "link", "set", "a1", "up")
	cmd := ns.Command(keepalived, "-n", "-l", "-f", cfg, "-p", filepath.Join(dir, "k.pid"),
		"-r", filepath.Join(dir, "v.pid"), "-c", filepath.Join(dir, "c.pid"))
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM) // ip netns exec execs keepalived: same PID
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("argv.s%d", i+1))
		var data []byte
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var err error
			if data, err = os.ReadFile(path); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("keepalived did not run script s%d within 10s\n%s", i+1, out.String())
			}
		}
		var theirs []string
		for l := range strings.SplitSeq(strings.TrimSuffix(string(data), "\n"), "\n") {
			theirs = append(theirs, strings.TrimSuffix(strings.TrimPrefix(l, "["), "]"))
		}
		ours, err := SplitCommand(strings.ReplaceAll(c.line, "REC", rec))
		if err != nil {
			t.Errorf("SplitCommand(%q): %v", c.line, err)
			continue
		}
		if !reflect.DeepEqual(ours[1:], theirs) {
			t.Errorf("script %s: keepalived argv %q, SplitCommand %q", c.conf, theirs, ours[1:])
		}
	}
}

// TestKeepalivedHTTPGetMatchesGenhash compares our HTTP_GET request with
// the one keepalived's genhash mode (keepalived -T, the same request code
// as the HTTP_GET checker) sends, and our MD5 digest with the one it prints.
func TestKeepalivedHTTPGetMatchesGenhash(t *testing.T) {
	keepalived := testenv.LookPath(t, "keepalived")
	body := "hello world, from the real server\n"
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s", len(body), body)
	for _, tc := range []struct{ proto, vhost string }{{"1.0", ""}, {"1.0c", ""}, {"1.1", "www.example.com"}} {
		addr, reqs := captureServer(t, resp)
		host, port, _ := net.SplitHostPort(addr)
		args := []string{"-T", "-s", host, "-p", port, "-u", "/haproxy.txt", "-P", tc.proto, "-t", "3"}
		if tc.vhost != "" {
			args = append(args, "-V", tc.vhost)
		}
		out, err := exec.Command(keepalived, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("keepalived %q: %v\n%s", args, err, out)
		}
		theirs := recv(t, reqs)
		fields := strings.Fields(string(out))
		digest := fields[len(fields)-1]

		h := tc.vhost
		if h == "" {
			h = addr
		}
		ourAddr, ours := captureServer(t, resp)
		req := KeepalivedHTTPGet("/haproxy.txt", h, tc.proto)
		r := Run(t.Context(), &HTTP{Addr: ourAddr, Request: req, Expect: expects(t, "status 200-299"), Digest: digest}, 3*time.Second)
		if r.Status != StatusL7OK {
			t.Errorf("protocol %s: our check with genhash's digest %s: %v %q", tc.proto, digest, r.Status, r.Info)
		}
		if got := recv(t, ours); got != theirs {
			t.Errorf("protocol %s:\nkeepalived sent %q\nwe sent         %q", tc.proto, theirs, got)
		}
	}
}
