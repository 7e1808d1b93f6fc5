package fdpass

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// serveOnce answers one `_getsocks` on addr with files.
func serveOnce(t *testing.T, addr string, files []*os.File) chan error {
	t.Helper()
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer ul.Close()
		ul.SetDeadline(time.Now().Add(10 * time.Second))
		c, err := ul.AcceptUnix()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		if !ReadGetsocksCommand(c, 5*time.Second) {
			done <- fmt.Errorf("no _getsocks command")
			return
		}
		done <- SendGetsocks(c, files)
	}()
	return done
}

// TestHandOverListener passes real listening sockets (more than one
// batch) and checks that a connection queued on the old socket before the
// transfer is accepted by the receiver: nothing is lost in between.
func TestHandOverListener(t *testing.T) {
	const n = 300 // more than one batch of 253
	var files []*os.File
	var lns []*net.TCPListener
	for i := 0; i < n; i++ {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.File()
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		files = append(files, f)
	}
	t.Cleanup(func() {
		for i := range lns {
			lns[i].Close()
			files[i].Close()
		}
	})
	// A client connects before the hand-over; the kernel queues it.
	queued, err := net.Dial("tcp", lns[7].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()

	addr := AbstractAddr("fdpass-test", os.Getpid())
	done := serveOnce(t, addr, files)
	got, err := FetchGetsocks(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("SendGetsocks: %v", err)
	}
	if len(got) != n {
		t.Fatalf("received %d files, want %d", len(got), n)
	}
	for i, f := range got {
		name, err := SockName(f)
		if want := "tcp:" + lns[i].Addr().String(); err != nil || name != want {
			t.Fatalf("file %d named %q (%v), want %q", i, name, err, want)
		}
	}
	// The old process lets go of its sockets; the new one accepts the
	// connection that was queued all along.
	for i := range lns {
		lns[i].Close()
		files[i].Close()
	}
	ln, err := net.FileListener(got[7])
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, f := range got {
		f.Close()
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("queued connection lost: %v", err)
	}
	c.Write([]byte("x"))
	c.Close()
	b := make([]byte, 1)
	queued.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := queued.Read(b); err != nil || b[0] != 'x' {
		t.Errorf("client read %q, %v", b, err)
	}
}

func TestFetchNobodyThere(t *testing.T) {
	_, err := FetchGetsocks(AbstractAddr("fdpass-test-none", os.Getpid()), time.Second)
	if err == nil {
		t.Fatal("want an error when no process offers listeners")
	}
}

func TestSockNameUnix(t *testing.T) {
	path := t.TempDir() + "/s.sock"
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, _ := l.File()
	defer f.Close()
	if name, err := SockName(f); err != nil || name != "unix:"+path {
		t.Errorf("SockName = %q, %v", name, err)
	}
}

func ExampleAbstractAddr() {
	fmt.Println(AbstractAddr("goproxy", 1234))
	// Output: @goproxy-listeners-1234
}
