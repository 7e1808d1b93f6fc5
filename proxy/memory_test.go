package proxy

import (
	"bufio"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"hapair/proxy/http1"
)

// TestIdleKeepAliveMemory opens many keep-alive client connections, one
// request each, lets them go idle and measures the Go memory (heap and
// stacks) each one costs the process. The budget is 20 KiB per
// idle connection. Client-side objects live in the same process, so the
// figure is an upper bound.
func TestIdleKeepAliveMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1000 connections")
	}
	const n = 1000
	// The backend closes after each response so that its own goroutines
	// (in this process) do not count.
	b := startBackend(t, "b", func(c net.Conn, br *bufio.Reader, req *http1.Request) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		return false
	})
	fe := freeAddr(t)
	startProxy(t, httpDefaults+`
  timeout http-keep-alive 60s
frontend f
  bind `+fe+`
  default_backend be
backend be
  server s1 `+b.addr+`
`, Options{})
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		t.Logf("heap %d KiB, stacks %d KiB, goroutines %d", m.HeapInuse>>10, m.StackInuse>>10, runtime.NumGoroutine())
		return m.HeapInuse + m.StackInuse
	}
	// Warm the pools with one connection first.
	warm := roundTrip(t, fe, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second)
	if statusOf(warm) != 200 {
		t.Fatalf("warm-up: %q", warm)
	}
	before := measure()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.Write(req)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		got := 0
		for got < 40 { // the whole short response
			k, err := c.Read(buf[got:])
			got += k
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if statusOf(string(buf[:got])) == 200 && got >= 40 {
				break
			}
		}
	}
	time.Sleep(idleGrace + 300*time.Millisecond) // past the buffer-release grace
	after := measure()
	if f := os.Getenv("HEAPPROF"); f != "" {
		out, _ := os.Create(f)
		pprof.WriteHeapProfile(out)
		out.Close()
	}
	per := float64(int64(after)-int64(before)) / n / 1024
	t.Logf("idle keep-alive connection: %.1f KiB of Go heap+stack each (%d connections)", per, n)
	if per > 20 {
		t.Errorf("%.1f KiB per idle connection, budget 20 KiB", per)
	}
}
