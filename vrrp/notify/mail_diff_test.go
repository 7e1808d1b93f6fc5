package notify

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
	"hapair/parser/keepalived"
)

func requireAiosmtpd(t *testing.T) string {
	t.Helper()
	py := testenv.LookPath(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import aiosmtpd").Run(); err != nil {
		if testenv.InCI() {
			t.Fatalf("python3-aiosmtpd missing under CI")
		}
		t.Skip("python3-aiosmtpd not installed")
	}
	return py
}

// startSMTP runs aiosmtpd on 127.0.0.1:port (in ns when not nil), storing
// mails in a Maildir, and waits (bounded) until it listens.
func startSMTP(t *testing.T, py string, ns *netns.NS, port int) string {
	t.Helper()
	maildir := filepath.Join(t.TempDir(), "Maildir")
	args := []string{"-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + strconv.Itoa(port), "-c", "aiosmtpd.handlers.Mailbox", maildir}
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Command(py, args...)
	} else {
		cmd = exec.Command(py, args...)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		var err error
		if ns != nil {
			err = ns.Command("/usr/bin/python3", "-c", "import socket; socket.create_connection(('127.0.0.1', "+strconv.Itoa(port)+"), 1)").Run()
		} else {
			var c net.Conn
			if c, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				c.Close()
			}
		}
		if err == nil {
			return maildir
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("aiosmtpd did not start")
	return ""
}

// mails waits (bounded) for n mails and returns them sorted, without the
// lines that differ by nature (Date, aiosmtpd's X-Peer).
func mails(t *testing.T, maildir string, n int) []string {
	t.Helper()
	var files []string
	for i := 0; i < 200; i++ {
		files, _ = filepath.Glob(filepath.Join(maildir, "new", "*"))
		if len(files) >= n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "Date: ") && !strings.HasPrefix(l, "X-Peer: ") {
				keep = append(keep, l)
			}
		}
		out = append(out, strings.Join(keep, "\n"))
	}
	sort.Strings(out)
	if len(out) != n {
		t.Fatalf("%d mails, want %d: %q", len(out), n, out)
	}
	return out
}

const mailConf = `global_defs {
  router_id diffmail
  notification_email {
    ops@example.org
    noc@example.org
  }
  notification_email_from ka@lb1
  smtp_server 127.0.0.1 PORT
  smtp_helo_name lb1.example
  smtp_alert
}
vrrp_sync_group G1 {
  group {
    VI_1
  }
}
vrrp_instance VI_1 {
  state BACKUP
  interface e0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.1
  }
}
`

// TestMailMatchesKeepalived captures the alerts keepalived 2.2.7 mails
// when a single node with a sync group becomes BACKUP then MASTER, and
// requires ours to be the same messages (Date aside).
func TestMailMatchesKeepalived(t *testing.T) {
	testenv.RequireRoot(t)
	bin := testenv.LookPath(t, "/usr/sbin/keepalived")
	py := requireAiosmtpd(t)
	ns := netns.New(t, "mail")
	ns.Run("ip", "link", "add", "e0", "type", "veth", "peer", "name", "e1")
	ns.Run("ip", "link", "set", "e0", "up")
	ns.Run("ip", "link", "set", "e1", "up")
	ns.Run("ip", "addr", "add", "192.0.2.10/24", "dev", "e0")
	kMaildir := startSMTP(t, py, ns, 2525)
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(conf, []byte(strings.ReplaceAll(mailConf, "PORT", "2525")), 0o644)
	cmd := ns.Command(bin, "-n", "-l", "-f", conf, "-p", dir+"/k.pid", "-r", dir+"/kv.pid", "-c", dir+"/kc.pid")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	kMails := mails(t, kMaildir, 4) // BACKUP and MASTER, instance and group
	cmd.Process.Signal(syscall.SIGTERM)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	oMaildir := startSMTP(t, py, nil, port)
	oconf := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(oconf, []byte(strings.ReplaceAll(mailConf, "PORT", strconv.Itoa(port))), 0o644)
	c, _ := keepalived.Load(oconf, keepalived.Options{})
	n, err := New(FromKeepalived(c))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	n.StateChanged(Group, "G1", Backup, 0)
	n.StateChanged(Instance, "VI_1", Backup, 100)
	n.StateChanged(Instance, "VI_1", Master, 100)
	n.StateChanged(Group, "G1", Master, 0)
	oMails := mails(t, oMaildir, 4)
	for i := range kMails {
		if kMails[i] != oMails[i] {
			t.Errorf("mail %d differs:\nkeepalived %q\nours       %q", i, kMails[i], oMails[i])
		}
	}
}
