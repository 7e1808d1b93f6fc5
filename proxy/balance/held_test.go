package balance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hapair/internal/testenv"
	"hapair/parser/haproxy"
)

// arrival is a request held by a test backend until release is closed.
type arrival struct {
	server  string
	release chan struct{}
}

// TestHAProxyHeldConnections holds requests open on the servers so that
// the in-flight counts matter (leastconn, first with maxconn), releases
// chosen ones, and requires haproxy and the Balancer to pick the same
// servers. After each release it polls haproxy's `show stat` until the
// server's current sessions dropped, so that both sides see the same
// counts.
func TestHAProxyHeldConnections(t *testing.T) {
	bin := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()
	scenarios := []struct {
		name    string
		algo    string
		weights []int
		maxconn int
		steps   []string // "h N" hold N requests, "r sX" release the oldest held request of sX
	}{
		{"leastconn-equal", "leastconn", []int{1, 1, 1}, 0, []string{"h 5", "r s2", "h 2", "r s1", "r s3", "h 4", "r s2", "r s2", "r s1", "h 3"}},
		{"leastconn-weighted", "leastconn", []int{1, 2, 3}, 0, []string{"h 10", "r s3", "r s3", "h 3", "r s1", "r s2", "h 4"}},
		{"first-maxconn", "first", []int{1, 1, 1}, 2, []string{"h 5", "r s1", "h 1", "r s2", "r s1", "h 2"}},
		{"roundrobin-maxconn", "roundrobin", []int{1, 1, 1}, 1, []string{"h 2", "r s1", "h 1", "r s2", "h 1"}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			arrivals := make(chan arrival)
			var addrs []string
			for i := range sc.weights {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("s%d", i+1)
				hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					a := arrival{name, make(chan struct{})}
					arrivals <- a
					<-a.release
					io.WriteString(w, name)
				})}
				go hs.Serve(l)
				t.Cleanup(func() { hs.Close() })
				addrs = append(addrs, l.Addr().String())
			}
			port := freePorts(t, 1)[0]
			sock := filepath.Join(dir, sc.name+".sock")
			var cfg strings.Builder
			fmt.Fprintf(&cfg, "global\n  stats socket %s level admin\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n  timeout queue 10s\n  option httpclose\n", sock)
			fmt.Fprintf(&cfg, "frontend f\n  bind 127.0.0.1:%d\n  default_backend b\nbackend b\n  balance %s\n", port, sc.algo)
			var members []Member
			for i, w := range sc.weights {
				mc := ""
				if sc.maxconn > 0 {
					mc = fmt.Sprintf(" maxconn %d", sc.maxconn)
				}
				fmt.Fprintf(&cfg, "  server s%d %s weight %d%s\n", i+1, addrs[i], w, mc)
				members = append(members, Member{Name: fmt.Sprintf("s%d", i+1), ID: i + 1, Weight: w, Maxconn: sc.maxconn})
			}
			path := filepath.Join(dir, sc.name+".cfg")
			if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "-db", "-f", path)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			waitListen(t, fmt.Sprintf("127.0.0.1:%d", port), &stderr)
			b, err := New(haproxy.Balance{Algo: sc.algo}, haproxy.HashType{}, members, false)
			if err != nil {
				t.Fatal(err)
			}
			index := map[string]int{}
			for i, m := range members {
				index[m.Name] = i
			}

			held := map[string][]chan struct{}{}
			var clients []net.Conn
			t.Cleanup(func() {
				for _, list := range held {
					for _, ch := range list {
						close(ch)
					}
				}
				for _, c := range clients {
					c.Close()
				}
			})
			var want, got []string
			for _, st := range sc.steps {
				f := strings.Fields(st)
				switch f[0] {
				case "h":
					var n int
					fmt.Sscan(f[1], &n)
					for range n {
						c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
						if err != nil {
							t.Fatal(err)
						}
						clients = append(clients, c)
						io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
						select {
						case a := <-arrivals:
							want = append(want, a.server)
							held[a.server] = append(held[a.server], a.release)
						case <-time.After(5 * time.Second):
							t.Fatalf("no server received request %d", len(want)+1)
						}
						i := b.Pick(Key{}, nil)
						name := "-"
						if i >= 0 {
							name = members[i].Name
						}
						got = append(got, name)
					}
				case "r":
					s := f[1]
					if len(held[s]) == 0 {
						t.Fatalf("step %q: haproxy holds nothing on %s (haproxy %v, goproxy %v)", st, s, want, got)
					}
					close(held[s][0])
					held[s] = held[s][1:]
					b.Done(index[s])
					waitScur(t, sock, s, len(held[s]))
					want, got = append(want, "|"), append(got, "|")
				}
			}
			t.Logf("haproxy: %v", want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("picks differ:\n haproxy: %v\n goproxy: %v", want, got)
			}
		})
	}
}

// waitScur polls `show stat` until server srv of backend b has n current
// sessions.
func waitScur(t *testing.T, sock, srv string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("unix", sock, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "show stat\n")
		sc := bufio.NewScanner(c)
		cur := -1
		for sc.Scan() {
			f := strings.Split(sc.Text(), ",")
			if len(f) > 4 && f[0] == "b" && f[1] == srv {
				fmt.Sscan(f[4], &cur)
			}
		}
		c.Close()
		if cur == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: scur %d, want %d", srv, cur, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
