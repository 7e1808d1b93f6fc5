package mail

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
)

func TestSubjects(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{VRRPSubject("LVS_DEVEL", "Instance", "VI_1", "MASTER"), "[LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state"},
		{VRRPSubject("nginx", "Group", "G1", "BACKUP"), "[nginx] VRRP Group G1 - Entering BACKUP state"},
		{VRRPSubject("r", "Instance", "VI_1", "STOP"), "[r] VRRP Instance VI_1 - Stopping"},
		{VRRPBody("MASTER"), "=> VRRP Instance is now owning VRRP VIPs <="},
		{VRRPBody("BACKUP"), "=> VRRP Instance is no longer owning VRRP VIPs <="},
		// The group bodies keepalived 2.2.7 mails (vrrp/notify compares them
		// with keepalived's own mails byte for byte).
		{VRRPGroupBody("MASTER"), "=> All VRRP group instances are now in MASTER state <="},
		{VRRPGroupBody("BACKUP"), "=> All VRRP group instances are now in BACKUP state <="},
		{RealServerSubject("r", "[192.0.2.10]:tcp:80", "[192.0.2.1]:tcp:80", "DOWN"), "[r] Realserver [192.0.2.10]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestDeliverToRealServer sends an alert to aiosmtpd (Debian's
// python3-aiosmtpd) on loopback and reads the delivered message from its
// Maildir.
func TestDeliverToRealServer(t *testing.T) {
	py := testenv.LookPath(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import aiosmtpd").Run(); err != nil {
		if testenv.InCI() {
			t.Fatalf("python3-aiosmtpd missing under CI")
		}
		t.Skip("python3-aiosmtpd not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	maildir := filepath.Join(t.TempDir(), "Maildir")
	cmd := exec.Command(py, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:"+strconv.Itoa(port), "-c", "aiosmtpd.handlers.Mailbox", maildir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ { // bounded: 10 s for the server to listen
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := Server{Addr: "127.0.0.1", Port: port, HeloName: "lb1", From: "Alexandre.Cassen@firewall.loc", Timeout: 5 * time.Second}
	m := Message{
		To:      []string{"failover@firewall.loc", "ops@example.org"},
		Subject: VRRPSubject("LVS_DEVEL", "Instance", "VI_1", "MASTER"),
		Body:    VRRPBody("MASTER") + "\n.leading dot",
		Date:    time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC),
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var got string
	for i := 0; i < 50 && got == ""; i++ {
		files, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
		if len(files) > 0 {
			b, _ := os.ReadFile(files[0])
			got = string(b)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, want := range []string{
		"From: Alexandre.Cassen@firewall.loc",
		"Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state",
		"X-Mailer: Keepalived",
		"To: failover@firewall.loc, ops@example.org",
		"Date: Wed, 25 Nov 2026 04:00:00 +0000",
		"=> VRRP Instance is now owning VRRP VIPs <=",
		"\n.leading dot",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, "X-RcptTo: failover@firewall.loc,ops@example.org") && !strings.Contains(got, "X-RcptTo: failover@firewall.loc, ops@example.org") {
		t.Errorf("envelope recipients not both delivered:\n%s", got)
	}
}

func TestRefusedAndTimeout(t *testing.T) {
	// A server that greets with an error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("554 go away\r\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	err = Server{Addr: "127.0.0.1", Port: port, Timeout: 2 * time.Second}.Send(context.Background(), Message{To: []string{"a@b"}})
	if err == nil || !strings.Contains(err.Error(), "greeting") {
		t.Errorf("err = %v, want a greeting error", err)
	}
	// A server that never answers: bounded by the timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	err = Server{Addr: "127.0.0.1", Port: silent.Addr().(*net.TCPAddr).Port, Timeout: 300 * time.Millisecond}.Send(context.Background(), Message{To: []string{"a@b"}})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %s, want a timeout", err, time.Since(start))
	}
}
