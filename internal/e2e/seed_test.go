package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"hapair/internal/e2e/lab"
)

// inFlight bounds the requests a graceful step (2, 3, 5) may lose beyond
// the time the service is down by design (the check script's restart
// delay, VRRP's skew time): those in flight at the switch, whose
// connection the VIP's move resets or whose SYN went to the old holder.
// The reference pair (HAProxy 2.6 + keepalived 2.2.7) lost at most 5 in
// this lab over repeated runs (preemption in the active-active pair); the
// bound is twice that, 100 ms of requests.
const inFlight = 10

// TestSeedPair runs the article's test procedure on the pair: both hosts
// on the reference programs (the lab's check and the figures ours are
// compared with), both on goproxy + govrrpd, and the mixed pairs (a site
// can replace one host at a time).
func TestSeedPair(t *testing.T) {
	requireLab(t)
	for _, c := range []struct{ lb1, lb2 string }{{"ref", "ref"}, {"ours", "ours"}, {"ref", "ours"}, {"ours", "ref"}} {
		t.Run("lb1="+c.lb1+",lb2="+c.lb2, func(t *testing.T) {
			seedProcedure(t, pick(t, c.lb1), pick(t, c.lb2))
		})
	}
}

func pick(t *testing.T, which string) lab.Impl {
	if which == "ref" {
		return reference(t)
	}
	return oursImpl(t)
}

func pairName(a, b lab.Impl) string { return a.Short() + "/" + b.Short() }

func seedProcedure(t *testing.T, im1, im2 lab.Impl) {
	repo := repoRoot(t)
	oursImpl(t) // the demo backend comes from the build
	l := lab.New(t, repo, ours.build.Backend())
	lb1 := l.AddLB("lb1", lab.LB1Addr, im1)
	lb2 := l.AddLB("lb2", lab.LB2Addr, im2)
	lb1.WriteKeepalived(t, lb1.SeedVI1(t, repo, "MASTER", 150))
	lb2.WriteKeepalived(t, lb2.SeedVI1(t, repo, "BACKUP", 120))
	pair := pairName(im1, im2)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("E2E_LOGS") != "" {
			dumpLogs(t, lb1, lb2)
		}
	})

	// 1. /etc/init.d/keepalived start on both: the track script starts
	// the proxy, the master takes the VIP.
	start := time.Now()
	lb1.StartVRRP(t)
	lb2.StartVRRP(t)
	// The proxies the scripts' first runs start, seen before those runs
	// reach their 2 s timeout.
	boot := map[*lab.LB]map[int]bool{lb1: {}, lb2: {}}
	for time.Since(start) < 1800*time.Millisecond {
		for lb, seen := range boot {
			for _, pid := range lb.ProxyPids() {
				seen[pid] = true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	lab.WaitFor(t, "haproxy started by the track script on both hosts", 15*time.Second, func() bool {
		return len(lb1.ProxyPids()) > 0 && len(lb2.ProxyPids()) > 0
	})
	lab.WaitFor(t, "VIP on lb1", 15*time.Second, func() bool { return lb1.HasAddr(lab.VIP) })
	d := time.Since(start)
	if h := l.Holder(lab.VIP); !slices.Equal(h, []string{"lb1"}) {
		t.Fatalf("step 1: VIP held by %v, want lb1 only", h)
	}
	record(t, pair, "1 start: VIP on master only", d, nil)
	// The proxy the script started at boot keeps running: once the
	// script's first run is over (it sleeps 3 s and keepalived kills it at
	// its 2 s timeout), the same proxy serves, and no script run is left
	// that would hide step 2's kill.
	idle := func(lb *lab.LB) bool {
		out, _ := lb.Command("ps", "-eo", "comm=").Output()
		return !strings.Contains(string(out), "check_haproxy")
	}
	lab.WaitFor(t, "the check scripts' boot runs to end with a proxy running", 15*time.Second, func() bool {
		return idle(lb1) && idle(lb2) && len(lb1.ProxyPids()) > 0 && len(lb2.ProxyPids()) > 0
	})
	for _, lb := range []*lab.LB{lb1, lb2} {
		for _, pid := range lb.ProxyPids() {
			if !boot[lb][pid] {
				t.Errorf("step 1: [%s] the proxy the check script started at boot did not survive the script's first run: now pid %d, seen in the first run %v", lb.Name, pid, boot[lb])
			}
		}
	}
	// A script run can start between the polls above: wait for the
	// next idle moment right before killing the proxy in step 2.
	lab.WaitFor(t, "lb1's check script idle", 5*time.Second, func() bool { return idle(lb1) })

	p := lab.StartProber(t, l.Client, net.JoinHostPort(lab.VIP, "80"), "test.com")
	now := time.Now()
	lab.WaitFor(t, "requests through the VIP", 10*time.Second, func() bool { return p.SucceededSince(now) })

	// 2. Stop the proxy on the master: check_haproxy.sh (every 2 s)
	// restarts it; the VIP stays.
	old := lb1.ProxyPids()
	from := time.Now()
	must(t, lb1.Kill("TERM", old...))
	moved := false
	tl := newTimeline(from)
	restart := lab.WaitFor(t, "haproxy restarted on lb1", 10*time.Second, func() bool {
		moved = moved || lb2.HasAddr(lab.VIP)
		tl.sample(lb1)
		now := lb1.ProxyPids()
		return len(now) > 0 && !slices.Contains(old, now[0])
	})
	restartedAt := time.Now()
	lab.WaitFor(t, "requests flowing again", 5*time.Second, func() bool { return p.SucceededSince(restartedAt) })
	o := p.Window(from, time.Now())
	record(t, pair, "2 proxy killed on master, restarted by script", restart, &o)
	if moved || !lb1.HasAddr(lab.VIP) {
		t.Errorf("step 2: the VIP moved (holders now %v)", l.Holder(lab.VIP))
	}
	if restart > 3*time.Second {
		t.Errorf("step 2: restart took %s, the seed says within 3 s; lb1's processes (pid/pgid/stat/comm):\n%s", restart, tl)
	}
	// Nothing listens until the restart: what was sent in that time
	// fails. Once the new proxy is seen, at most the requests in flight
	// may still fail.
	if late := p.FailedBetween(restartedAt, time.Now()); late > inFlight {
		t.Errorf("step 2: %d requests sent after the restart failed, want at most %d", late, inFlight)
	}

	// 3. Stop the VRRP daemon on the master through its init script: the
	// backup holds the VIP within a second and serves the client.
	from = time.Now()
	stop := lb1.Command(lb1.InitD, "stop")
	var stopOut bytes.Buffer
	stop.Stdout, stop.Stderr = &stopOut, &stopOut
	must(t, stop.Start())
	d = lab.WaitFor(t, "VIP on lb2", 5*time.Second, func() bool { return lb2.HasAddr(lab.VIP) })
	if err := stop.Wait(); err != nil {
		t.Errorf("step 3: init.d/keepalived stop: %v\n%s", err, stopOut.String())
	}
	onBackup := time.Now()
	lab.WaitFor(t, "VIP gone from lb1", 5*time.Second, func() bool { return !lb1.HasAddr(lab.VIP) })
	switched := time.Now()
	lab.WaitFor(t, "requests through lb2", 5*time.Second, func() bool { return p.SucceededSince(switched) })
	o = p.Window(from, time.Now())
	record(t, pair, "3 VRRP stopped on master (init.d): backup takes VIP", d, &o)
	if d > time.Second {
		t.Errorf("step 3: the backup took the VIP after %s, want within 1 s", d)
	}
	// The VIP is nowhere for the backup's skew time: VRRP (RFC 3768
	// 6.4.2) makes a backup that hears priority 0 wait Skew_Time =
	// (256 - priority) / 256 s, 0.52 s for the backup's 120 + 2. What is
	// sent in that time fails, and the requests in flight.
	if late := p.FailedBetween(onBackup, time.Now()); late > inFlight {
		t.Errorf("step 3: %d requests sent after the backup took the VIP failed, want at most %d (%d in all, skew time %s)", late, inFlight, o.Failed, skew(122))
	}

	// 4. Host-based routing through the VIP (now on the backup's proxy),
	// and the stats page.
	routing(t, l, lab.VIP, lb2.Impl)

	// 5. The master's VRRP daemon returns: the VIP moves back.
	from = time.Now()
	lb1.StartVRRP(t)
	d = lab.WaitFor(t, "VIP back on lb1 only", 15*time.Second, func() bool { return lb1.HasAddr(lab.VIP) && !lb2.HasAddr(lab.VIP) })
	switched = time.Now()
	lab.WaitFor(t, "requests through lb1", 5*time.Second, func() bool { return p.SucceededSince(switched) })
	o = p.Window(from, time.Now())
	record(t, pair, "5 VRRP back on master: VIP moves back", d, &o)
	if o.Failed > inFlight {
		t.Errorf("step 5: %d requests failed, want at most %d", o.Failed, inFlight)
	}

	// 6. The proxy cannot be restarted (its configuration is broken).
	// The seed expects its script to stop the VRRP daemon, but keepalived
	// 2.2.7 kills the script when its timeout (default: the interval,
	// 2 s) expires, during its `sleep 3`: the stop branch never runs and
	// the VIP stays on the master without a proxy. govrrpd does the
	// same; TestSeedScriptStopsVRRP gives the script the time it needs.
	good, err := os.ReadFile(lb1.HAConf)
	must(t, err)
	must(t, os.WriteFile(lb1.HAConf, []byte("this is not a configuration\n"), 0o644))
	from = time.Now()
	lab.WaitFor(t, "lb1's proxy gone", 5*time.Second, func() bool {
		lb1.Kill("TERM", lb1.ProxyPids()...)
		return len(lb1.ProxyPids()) == 0
	})
	runs := map[string]bool{}
	if _, movedAway := lab.Poll(6*time.Second, func() bool {
		for _, pid := range scriptRuns(lb1) {
			runs[pid] = true
		}
		return !lb1.HasAddr(lab.VIP) || !lb1.VRRPRunning()
	}); movedAway {
		t.Errorf("step 6: with the seed's script as written (killed at its 2 s timeout) the VRRP daemon stopped or the VIP moved; keepalived 2.2.7 keeps both (holders %v)", l.Holder(lab.VIP))
	}
	o = p.Window(from, time.Now())
	record(t, pair, "6 proxy cannot restart, script killed at timeout: VIP stays (outage)", time.Since(from), &o)
	// keepalived 2.2.7 starts the script every interval (2 s) even when
	// each run times out (the timeout and the next start coincide): 3
	// restart attempts in these 6 s. Running the next one an interval
	// after the timed-out one ends (every 4 s) delays the recovery.
	t.Logf("step 6: %d check script runs on lb1 in 6 s", len(runs))
	if len(runs) < 3 {
		t.Errorf("step 6: %d check script runs on lb1 in 6 s with every run timing out, want 3 (one every 2 s interval, as keepalived 2.2.7)", len(runs))
	}

	// 7. Repaired configuration: the script's next run restarts the proxy.
	must(t, os.WriteFile(lb1.HAConf, good, 0o644))
	from = time.Now()
	d = lab.WaitFor(t, "proxy back on lb1", 6*time.Second, func() bool { return len(lb1.ProxyPids()) > 0 })
	restartedAt = time.Now()
	lab.WaitFor(t, "requests through lb1", 5*time.Second, func() bool { return p.SucceededSince(restartedAt) })
	o = p.Window(from, time.Now())
	record(t, pair, "7 configuration repaired: script restarts proxy", d, &o)
	if h := l.Holder(lab.VIP); !slices.Equal(h, []string{"lb1"}) {
		t.Errorf("step 7: VIP held by %v, want lb1", h)
	}
}

// routing checks step 4 through addr: Host test.com reaches the :80
// backend, test.domain.com the :8000 one, and the stats page shows both
// servers up.
func routing(t *testing.T, l *lab.Lab, addr string, im lab.Impl) {
	t.Helper()
	target := net.JoinHostPort(addr, "80")
	for _, c := range []struct{ host, want string }{{"test.com", "web80"}, {"test.domain.com", "web8000"}} {
		var got string
		err := l.Client.Do(func() (err error) {
			got, err = lab.Request(target, c.host)
			return err
		})
		if err != nil || got != c.want {
			t.Errorf("step 4: Host %s reached %q (%v), want %q", c.host, got, err, c.want)
		}
	}
	var csv, html string
	l.Client.Do(func() (err error) {
		csv, err = lab.Get(target, "/admin?stats;csv")
		if err == nil {
			html, err = lab.Get(target, "/admin?stats")
		}
		return err
	})
	for _, be := range []string{"info_cache,inst2,", "cache_test,inst1,"} {
		line := lineWith(csv, be)
		if !strings.Contains(line, ",UP,") {
			t.Errorf("step 4: stats CSV line for %s is %q, want UP", be, line)
		}
	}
	if !strings.Contains(html, "inst1") || !strings.Contains(html, "inst2") {
		t.Errorf("step 4: stats page does not show inst1 and inst2:\n%.400s", html)
	}
}

// timeline records the changes of a host's script and proxy processes.
type timeline struct {
	from  time.Time
	last  string
	lines []string
}

func newTimeline(from time.Time) *timeline { return &timeline{from: from} }

func (tl *timeline) sample(lb *lab.LB) {
	out, _ := lb.Command("ps", "-eo", "pid,pgid,stat,comm").Output()
	var cur []string
	for _, ln := range strings.Split(string(out), "\n") {
		if strings.Contains(ln, "haproxy") || strings.Contains(ln, "sleep") {
			cur = append(cur, strings.Join(strings.Fields(ln), "/"))
		}
	}
	if s := strings.Join(cur, " "); s != tl.last {
		tl.last = s
		tl.lines = append(tl.lines, fmt.Sprintf("+%dms %s", time.Since(tl.from).Milliseconds(), s))
	}
}

func (tl *timeline) String() string { return strings.Join(tl.lines, "\n") }

// scriptRuns lists the pids of the host's running check_haproxy.sh runs
// (not their backtick subshells, which are check_haproxy.sh too).
func scriptRuns(lb *lab.LB) []string {
	out, _ := lb.Command("ps", "-eo", "pid=,ppid=,comm=").Output()
	procs := map[string]string{} // pid -> ppid, scripts only
	for _, ln := range strings.Split(string(out), "\n") {
		if f := strings.Fields(ln); len(f) == 3 && strings.HasPrefix(f[2], "check_haproxy") {
			procs[f[0]] = f[1]
		}
	}
	var runs []string
	for pid, ppid := range procs {
		if _, sub := procs[ppid]; !sub {
			runs = append(runs, pid)
		}
	}
	return runs
}

// skew is VRRP's Skew_Time for a priority at advert_int 1.
func skew(prio int) time.Duration { return time.Duration(256-prio) * time.Second / 256 }

func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dumpLogs shows the daemons' logs and the hosts' processes after a
// failure.
func dumpLogs(t *testing.T, lbs ...*lab.LB) {
	for _, lb := range lbs {
		out, _ := lb.Command("ps", "-eo", "pid,ppid,stat,comm,args").CombinedOutput()
		t.Logf("[%s] processes:\n%s", lb.Name, out)
		if b, err := os.ReadFile(lb.Dir + "/govrrpd.log"); err == nil {
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("[%s] govrrpd.log (tail):\n%s", lb.Name, b)
		}
	}
	_ = fmt.Sprint
}
