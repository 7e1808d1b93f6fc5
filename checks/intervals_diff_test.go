package checks

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hapair/internal/testenv"
)

// TestIntervalsMatchHAProxy lets the real HAProxy check a server that
// fails twice and then passes, records when each check arrives, and
// compares the gaps with what Health and Intervals predict: downinter while
// DOWN, fastinter while going up (and before the first check), inter once
// fully UP.
func TestIntervalsMatchHAProxy(t *testing.T) {
	haproxy := testenv.LookPath(t, "haproxy")
	iv := Intervals{Inter: 600 * time.Millisecond, FastInter: 200 * time.Millisecond, DownInter: 1500 * time.Millisecond}
	results := []bool{false, false, true, true, true, true}

	var mu sync.Mutex
	var arrivals []time.Time
	addr := serve(t, func(c net.Conn) {
		mu.Lock()
		n := len(arrivals)
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		c.Read(make([]byte, 4096))
		if n < len(results) && !results[n] {
			return // close without answering: L7RSP
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
	})
	cfg := fmt.Sprintf("defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"+
		"frontend fe\n    bind %s\n    default_backend be\n"+
		"backend be\n    option httpchk GET /\n    server s %s check inter %d fastinter %d downinter %d rise 2 fall 3\n",
		closedPort(t), addr, iv.Inter.Milliseconds(), iv.FastInter.Milliseconds(), iv.DownInter.Milliseconds())
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(path, []byte(cfg), 0o644)
	cmd := exec.Command(haproxy, "-db", "-f", path)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) } // by PID
	defer stop()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(arrivals)
		mu.Unlock()
		if n >= len(results) {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("only %d checks arrived within 15s\n%s", n, out.String())
		}
	}
	stop()

	// What our model says: the gap after check i is the interval of the
	// phase Health is in after observing result i.
	h := NewHealth(2, 3, StartUp, time.Time{})
	const slack = 150 * time.Millisecond
	for i := 0; i+1 < len(results); i++ {
		h.Observe(results[i], time.Time{})
		want := iv.For(h.Phase())
		got := arrivals[i+1].Sub(arrivals[i])
		if got < want-slack || got > want+slack {
			t.Errorf("gap after check %d (ok=%v): haproxy %v, model %v", i+1, results[i], got.Round(time.Millisecond), want)
		}
	}
}
