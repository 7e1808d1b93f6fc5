package balance

import (
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

// dynStep is either a number of requests or a runtime command.
type dynStep struct {
	picks int
	cmd   string // stats socket command, e.g. "set weight b/s1 4"
}

// TestHAProxyDynamicRoundRobin changes weights and states at run time
// through haproxy's stats socket and through SetWeight/SetUp, and requires
// the same round-robin sequence throughout.
func TestHAProxyDynamicRoundRobin(t *testing.T) {
	bin := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()
	scenarios := []struct {
		name       string
		weights    []int
		backup     []bool
		allBackups bool
		steps      []dynStep
	}{
		{"weights", []int{1, 2, 3}, nil, false, []dynStep{
			{picks: 7}, {cmd: "set weight b/s1 4"}, {picks: 9}, {cmd: "set weight b/s3 1"}, {picks: 11},
			{cmd: "set weight b/s2 0"}, {picks: 6}, {cmd: "set weight b/s2 5"}, {picks: 13},
		}},
		{"down-up", []int{1, 1, 2, 1}, nil, false, []dynStep{
			{picks: 5}, {cmd: "disable server b/s2"}, {picks: 7}, {cmd: "enable server b/s2"}, {picks: 9},
			{cmd: "disable server b/s3"}, {cmd: "disable server b/s1"}, {picks: 4}, {cmd: "enable server b/s3"}, {picks: 8},
		}},
		{"backups", []int{1, 1, 1, 2}, []bool{false, false, true, true}, true, []dynStep{
			{picks: 4}, {cmd: "disable server b/s1"}, {cmd: "disable server b/s2"}, {picks: 7},
			{cmd: "set weight b/s3 3"}, {picks: 8}, {cmd: "enable server b/s2"}, {picks: 4},
			{cmd: "disable server b/s2"}, {picks: 6},
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var addrs []string
			for i := range sc.weights {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("s%d", i+1)
				hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })}
				go hs.Serve(l)
				t.Cleanup(func() { hs.Close() })
				addrs = append(addrs, l.Addr().String())
			}
			ports := freePorts(t, 1)
			sock := filepath.Join(dir, sc.name+".sock")
			var cfg strings.Builder
			fmt.Fprintf(&cfg, "global\n  stats socket %s level admin\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n  option httpclose\n", sock)
			fmt.Fprintf(&cfg, "frontend f\n  bind 127.0.0.1:%d\n  default_backend b\nbackend b\n  balance roundrobin\n", ports[0])
			if sc.allBackups {
				cfg.WriteString("  option allbackups\n")
			}
			var members []Member
			for i, w := range sc.weights {
				bk := i < len(sc.backup) && sc.backup[i]
				extra := ""
				if bk {
					extra = " backup"
				}
				fmt.Fprintf(&cfg, "  server s%d %s weight %d%s\n", i+1, addrs[i], w, extra)
				members = append(members, Member{Name: fmt.Sprintf("s%d", i+1), ID: i + 1, Weight: w, Backup: bk})
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
			waitListen(t, fmt.Sprintf("127.0.0.1:%d", ports[0]), &stderr)

			b, err := New(haproxy.Balance{Algo: "roundrobin"}, haproxy.HashType{}, members, sc.allBackups)
			if err != nil {
				t.Fatal(err)
			}
			var want, got []string
			for _, st := range sc.steps {
				if st.cmd != "" {
					runtimeCmd(t, sock, st.cmd)
					applyCmd(t, b, st.cmd)
					want, got = append(want, "|"), append(got, "|")
					continue
				}
				for range st.picks {
					want = append(want, ask(t, ports[0], diffReq{src: "127.0.0.1", target: "/"}))
					i := b.Pick(Key{}, nil)
					name := "-"
					if i >= 0 {
						b.Done(i)
						name = members[i].Name
					}
					got = append(got, name)
				}
			}
			t.Logf("haproxy: %v", want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("sequence differs:\n haproxy: %v\n goproxy: %v", want, got)
			}
		})
	}
}

// runtimeCmd sends one command to haproxy's stats socket.
func runtimeCmd(t *testing.T, sock, cmd string) {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, cmd+"\n")
	out, _ := io.ReadAll(c)
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Fatalf("%s: %s", cmd, s)
	}
}

// applyCmd applies the same command to b.
func applyCmd(t *testing.T, b *Balancer, cmd string) {
	t.Helper()
	f := strings.Fields(cmd)
	srv := strings.TrimPrefix(f[len(f)-1], "b/s")
	if f[0] == "set" {
		srv = strings.TrimPrefix(f[2], "b/s")
	}
	var i int
	fmt.Sscan(srv, &i)
	i--
	switch f[0] {
	case "set":
		var w int
		fmt.Sscan(f[3], &w)
		b.SetWeight(i, w)
	case "disable":
		b.SetUp(i, false)
	case "enable":
		b.SetUp(i, true)
	}
}
