// Command demo brings up the seed article's HA pair in network namespaces
// (two load balancers running goproxy + govrrpd, a web host with the :80
// and :8000 backends, a client), prints how to reach it and the keys that
// stop and start each daemon on each host, and removes everything on
// Ctrl-C, on `q`, or when it fails. It is `make demo`; run it as root.
//
// It reuses the acceptance tests' lab (internal/e2e/lab); -lb1 and -lb2
// choose "ours" (goproxy + govrrpd) or "ref" (HAProxy + keepalived from
// the distribution) per host, so a mixed pair can be shown too.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hapair/internal/e2e/lab"
)

// demoTB gives the lab what it needs from a testing.TB outside a test:
// cleanups run in reverse order at exit, failures end the program after
// the cleanups. Only the methods below are ever called (the embedded
// interface is nil).
type demoTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	once     sync.Once
	base     string
}

func (t *demoTB) Helper()                         {}
func (t *demoTB) Name() string                    { return "demo" }
func (t *demoTB) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }
func (t *demoTB) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
}

func (t *demoTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	t.teardown()
	os.Exit(1)
}

func (t *demoTB) Fatal(args ...any) { t.Fatalf("%s", fmt.Sprint(args...)) }

func (t *demoTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *demoTB) TempDir() string {
	d, err := os.MkdirTemp(t.base, "")
	if err != nil {
		t.Fatalf("%v", err)
	}
	return d
}

// teardown runs the cleanups once, newest first, then removes the files.
func (t *demoTB) teardown() {
	t.once.Do(func() {
		fmt.Println("\ntearing the lab down...")
		t.mu.Lock()
		fs := t.cleanups
		t.cleanups = nil
		t.mu.Unlock()
		for i := len(fs) - 1; i >= 0; i-- {
			fs[i]()
		}
		os.RemoveAll(t.base)
		fmt.Println("done: namespaces removed, daemons stopped.")
	})
}

// findRepo walks up from the working directory to the module root.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: pass -repo")
		}
		dir = parent
	}
}

func main() {
	repo := flag.String("repo", "", "the project's repository (default: the module root above the working directory)")
	impl1 := flag.String("lb1", "ours", "what lb1 runs: ours (goproxy+govrrpd) or ref (haproxy+keepalived)")
	impl2 := flag.String("lb2", "ours", "what lb2 runs: ours or ref")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: needs root (network namespaces)")
		os.Exit(2)
	}
	if *repo == "" {
		r, err := findRepo()
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(2)
		}
		*repo = r
	}
	base, err := os.MkdirTemp("", "hapair-demo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	t := &demoTB{base: base}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		t.teardown()
		os.Exit(0)
	}()
	defer t.teardown()

	fmt.Println("building goproxy, govrrpd and the demo backend...")
	b, err := lab.BuildOurs(*repo, t.TempDir())
	if err != nil {
		t.Fatalf("%v", err)
	}
	pick := func(which string) lab.Impl {
		switch which {
		case "ours":
			return lab.Ours(b)
		case "ref":
			hp, err1 := exec.LookPath("haproxy")
			ka, err2 := exec.LookPath("keepalived")
			if err := errors.Join(err1, err2); err != nil {
				t.Fatalf("ref needs haproxy and keepalived installed: %v", err)
			}
			return lab.Reference(hp, ka)
		}
		t.Fatalf("unknown implementation %q (ours or ref)", which)
		return lab.Impl{}
	}
	im1, im2 := pick(*impl1), pick(*impl2)

	fmt.Println("building the lab (namespaces, bridge, web host, client, two load balancers)...")
	l := lab.New(t, *repo, b.Backend())
	lb1 := l.AddLB("lb1", lab.LB1Addr, im1)
	lb2 := l.AddLB("lb2", lab.LB2Addr, im2)
	lb1.WriteKeepalived(t, lb1.SeedVI1(t, *repo, "MASTER", 150))
	lb2.WriteKeepalived(t, lb2.SeedVI1(t, *repo, "BACKUP", 120))
	fmt.Println("starting keepalived on both hosts (/etc/init.d/keepalived start; its check_haproxy.sh starts haproxy)...")
	lb1.StartVRRP(t)
	lb2.StartVRRP(t)
	lab.WaitFor(t, "the VIP on a load balancer", 20*time.Second, func() bool { return len(l.Holder(lab.VIP)) > 0 })

	p := lab.StartProber(t, l.Client, lab.VIP+":80", "test.com")
	lbs := []*lab.LB{lb1, lb2}
	printHelp(l, lbs)
	go watchVIP(l)

	in := bufio.NewScanner(os.Stdin)
	fmt.Print("> ")
	for in.Scan() {
		key := strings.TrimSpace(in.Text())
		from := time.Now()
		acted := true
		switch key {
		case "1", "3":
			lb := lbs[(key[0]-'1')/2]
			if len(lb.ProxyPids()) > 0 {
				fmt.Printf("[%s] stopping haproxy (kill -TERM %v); check_haproxy.sh restarts it within its 2 s interval\n", lb.Name, lb.ProxyPids())
				if err := lb.Kill("TERM", lb.ProxyPids()...); err != nil {
					fmt.Println(err)
				}
			} else {
				fmt.Printf("[%s] starting haproxy\n", lb.Name)
				out, _ := lb.Command(filepath.Join(lb.Prefix, "sbin/haproxy"), "-f", lb.HAConf).CombinedOutput()
				fmt.Print(string(out))
			}
		case "2", "4":
			lb := lbs[(key[0]-'2')/2]
			verb := "start"
			if lb.VRRPRunning() {
				verb = "stop"
			}
			fmt.Printf("[%s] /etc/init.d/keepalived %s\n", lb.Name, verb)
			out, _ := lb.Command(lb.InitD, verb).CombinedOutput()
			fmt.Print(string(out))
		case "s":
			acted = false
			status(l, lbs)
		case "h", "?":
			acted = false
			printHelp(l, lbs)
		case "q":
			return
		case "":
			acted = false
		default:
			acted = false
			fmt.Println("unknown key; h for help")
		}
		if acted {
			// What the client saw: give the switch-over time to settle.
			time.Sleep(3 * time.Second)
			fmt.Printf("client (one request every 10 ms through the VIP) in the last %s: %s\n",
				time.Since(from).Round(time.Millisecond), p.Window(from, time.Now()))
			status(l, lbs)
		}
		fmt.Print("> ")
	}
	// stdin closed (e.g. `make demo </dev/null`): stay up until a signal.
	fmt.Println("\nstdin closed: the lab stays up until Ctrl-C")
	select {}
}

func printHelp(l *lab.Lab, lbs []*lab.LB) {
	cl := l.Client.Name
	fmt.Printf(`
The seed's HA pair is up.
  VIP:          %s  (held by %v)
  load balancers: lb1 %s (%s, MASTER, priority 150), lb2 %s (%s, BACKUP, priority 120)
  web host:     %s (:80 answers web80, :8000 answers web8000)

Step 4 of the article, from the client host:
  ip netns exec %s curl -s -H 'Host: test.com' http://%s/
  ip netns exec %s curl -s -H 'Host: test.domain.com' http://%s/
Stats page: http://%s/admin?stats  (from the client:
  ip netns exec %s curl -s 'http://%s/admin?stats;csv' )
Who holds the VIP:
  ip netns exec %s ip -4 addr show eth0
  ip netns exec %s ip -4 addr show eth0

Keys (then Enter):
  1  stop/start haproxy on lb1      2  stop/start keepalived on lb1 (init.d)
  3  stop/start haproxy on lb2      4  stop/start keepalived on lb2 (init.d)
  s  status    h  this help    q  quit (Ctrl-C too): everything is torn down
`, lab.VIP, l.Holder(lab.VIP), lab.LB1Addr, lbs[0].Impl.Name, lab.LB2Addr, lbs[1].Impl.Name, lab.WebAddr,
		cl, lab.VIP, cl, lab.VIP, lab.VIP, cl, lab.VIP, lbs[0].NS.Name, lbs[1].NS.Name)
}

func status(l *lab.Lab, lbs []*lab.LB) {
	fmt.Printf("VIP %s held by %v\n", lab.VIP, l.Holder(lab.VIP))
	for _, lb := range lbs {
		ka := "stopped"
		if lb.VRRPRunning() {
			ka = "running"
		}
		fmt.Printf("  %s (%s): haproxy pids %v, keepalived %s\n", lb.Name, lb.Impl.Name, lb.ProxyPids(), ka)
	}
}

// watchVIP prints every change of the VIP's holder as it happens.
func watchVIP(l *lab.Lab) {
	last := fmt.Sprint(l.Holder(lab.VIP))
	for {
		time.Sleep(20 * time.Millisecond)
		now := fmt.Sprint(l.Holder(lab.VIP))
		if now != last {
			fmt.Printf("\n%s  VIP %s: %s -> %s\n> ", time.Now().Format("15:04:05.000"), lab.VIP, last, now)
			last = now
		}
	}
}
