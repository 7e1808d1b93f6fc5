package fdpass

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// TestHandOverListener passes real listening sockets and checks that a
// connection queued on the old socket before the transfer is accepted by
// the receiver: nothing is lost in between.
func TestHandOverListener(t *testing.T) {
	const n = 250 // more than one message's worth
	var files []File
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
		files = append(files, File{Name: "tcp:" + ln.Addr().String(), File: f})
	}
	t.Cleanup(func() {
		for i := range lns {
			lns[i].Close()
			files[i].File.Close()
		}
	})
	// A client connects before the hand-over; the kernel queues it.
	queued, err := net.Dial("tcp", lns[7].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()

	addr := AbstractAddr("fdpass-test", os.Getpid())
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ul, func() []File { return files }) }()

	got, err := Fetch(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if len(got) != n {
		t.Fatalf("received %d files, want %d", len(got), n)
	}
	for i, f := range got {
		if f.Name != files[i].Name {
			t.Fatalf("file %d named %q, want %q", i, f.Name, files[i].Name)
		}
	}
	// The old process lets go of its sockets; the new one accepts the
	// connection that was queued all along.
	for i := range lns {
		lns[i].Close()
		files[i].File.Close()
	}
	ln, err := net.FileListener(got[7].File)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, f := range got {
		f.File.Close()
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
	_, err := Fetch(AbstractAddr("fdpass-test-none", os.Getpid()), time.Second)
	if err == nil {
		t.Fatal("want an error when no process offers listeners")
	}
}

func ExampleAbstractAddr() {
	fmt.Println(AbstractAddr("goproxy", 1234))
	// Output: @goproxy-listeners-1234
}
