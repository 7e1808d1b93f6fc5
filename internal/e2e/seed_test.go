package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hapair/internal/netns"
	"hapair/internal/testenv"
)

// Lab addresses (documentation range only).
const (
	vip      = "192.0.2.200"
	lb1Addr  = "192.0.2.11"
	lb2Addr  = "192.0.2.12"
	webAddr  = "192.0.2.20"
	clientIP = "192.0.2.100"
)

// impl says which proxy and VRRP daemon a load-balancer host runs.
type impl struct {
	name       string
	proxy      string // binary installed as sbin/haproxy
	vrrpd      string // binary installed as sbin/keepalived
	reference  bool   // HAProxy 2.6 + keepalived 2.2.7: modern syntax and a fixed brace needed
	daemonArgs string
}

// lbHost is a load-balancer host with the seed's files installed under
// its own prefix, paths adapted.
type lbHost struct {
	*host
	prefix   string // plays /usr/local/haproxy
	initd    string // plays /etc/init.d/keepalived
	haCfg    string
	kaCfg    string
	priority int
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// seedHAProxyCfg returns the seed's haproxy.cfg with the lab's addresses
// and paths; for HAProxy 2.6 the 1.4 keywords it refuses are modernised.
func seedHAProxyCfg(t *testing.T, prefix string, reference bool) string {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata/haproxy/seed.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	s = strings.ReplaceAll(s, "192.168.1.187", webAddr)
	s = strings.ReplaceAll(s, "/usr/local/haproxy", prefix)
	if reference {
		r := strings.NewReplacer("contimeout", "timeout connect", "clitimeout", "timeout client",
			"srvtimeout", "timeout server", "nbproc 1\n", "", "group nobody", "group nogroup")
		s = r.Replace(s)
	}
	return s
}

// seedKeepalivedConf returns the seed's VI_1 keepalived.conf for a host.
// keepalived 2.2.7 runs no instance from the seed's file as written (a
// vrrp_script block lacks its '}'), so the reference pair gets the brace.
func seedKeepalivedConf(t *testing.T, script, state string, prio int, reference bool) string {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata/keepalived/seed-haproxy-master.conf"))
	if err != nil {
		// The keepalived parser's testdata may not be there yet: use
		// the article's text, transcribed.
		b = []byte(seedKeepalivedText)
	}
	s := string(b)
	s = strings.ReplaceAll(s, "/etc/keepalived/check_haproxy.sh", script)
	s = strings.ReplaceAll(s, "192.168.1.200", vip)
	s = strings.Replace(s, "state MASTER", "state "+state, 1)
	s = strings.Replace(s, "priority 150", "priority "+strconv.Itoa(prio), 1)
	if reference {
		s = strings.Replace(s, "weight 2\n", "weight 2\n}\n", 1)
		s = strings.TrimRight(s, "\n")
		s = strings.TrimSuffix(s, "}") + "\n"
	}
	return s
}

const seedKeepalivedText = `! Configuration File for keepalived
vrrp_script chk_http_port {
script "/etc/keepalived/check_haproxy.sh"
interval 2
weight 2
global_defs {
router_id LVS_DEVEL
}
vrrp_instance VI_1 {
state MASTER #192.168.1.193上改为BACKUP
interface eth0
virtual_router_id 51
priority 150 #192.168.1.193上改为120
advert_int 1
authentication {
auth_type PASS
auth_pass 1111
}
track_script {
chk_http_port
}
virtual_ipaddress {
192.168.1.200
}
}
}
`

// seedCheckScript is the article's check_haproxy.sh with its paths adapted.
func seedCheckScript(prefix, initd string) string {
	return fmt.Sprintf(`#!/bin/bash
A=`+"`ps -C haproxy --no-header |wc -l`"+`
if [ $A -eq 0 ];then
%s/sbin/haproxy -f %s/conf/haproxy.cfg
sleep 3
if [ `+"`ps -C haproxy --no-header |wc -l`"+` -eq 0 ];then
%s stop
fi
fi
`, prefix, prefix, initd)
}

func newLB(t *testing.T, sw *netns.Switch, name, addr, state string, prio int, im impl) *lbHost {
	h := newHost(t, sw, name, addr+"/24")
	lb := &lbHost{host: h, prefix: filepath.Join(h.dir, "usr/local/haproxy"), priority: prio}
	lb.initd = filepath.Join(h.dir, "etc/init.d/keepalived")
	for _, d := range []string{"sbin", "conf", "logs"} {
		must(t, os.MkdirAll(filepath.Join(lb.prefix, d), 0o755))
	}
	must(t, os.MkdirAll(filepath.Dir(lb.initd), 0o755))
	must(t, os.MkdirAll(filepath.Join(h.dir, "etc/keepalived"), 0o755))
	must(t, os.Symlink(im.proxy, filepath.Join(lb.prefix, "sbin/haproxy")))
	must(t, os.Symlink(im.vrrpd, filepath.Join(lb.prefix, "sbin/keepalived")))
	lb.haCfg = filepath.Join(lb.prefix, "conf/haproxy.cfg")
	must(t, os.WriteFile(lb.haCfg, []byte(seedHAProxyCfg(t, lb.prefix, im.reference)), 0o644))
	script := filepath.Join(h.dir, "etc/keepalived/check_haproxy.sh")
	must(t, os.WriteFile(script, []byte(seedCheckScript(lb.prefix, lb.initd)), 0o755))
	lb.kaCfg = filepath.Join(h.dir, "etc/keepalived/keepalived.conf")
	must(t, os.WriteFile(lb.kaCfg, []byte(seedKeepalivedConf(t, script, state, prio, im.reference)), 0o644))
	// The project's init script, installed for this host.
	tmpl, err := os.ReadFile(filepath.Join(repoRoot(t), "init/init.d/keepalived"))
	must(t, err)
	defaults := filepath.Join(h.dir, "etc/default/keepalived")
	must(t, os.MkdirAll(filepath.Dir(defaults), 0o755))
	must(t, os.WriteFile(defaults, []byte("DAEMON_ARGS=\""+strings.ReplaceAll(im.daemonArgs, "{dir}", h.dir)+"\"\n"), 0o644))
	initScript := strings.NewReplacer(
		"@SBINDIR@", filepath.Join(lb.prefix, "sbin"),
		"@KACONFFILE@", lb.kaCfg,
		"@KAPIDFILE@", filepath.Join(h.dir, "keepalived.pid"),
		"@KADEFAULTSFILE@", defaults,
	).Replace(string(tmpl))
	must(t, os.WriteFile(lb.initd, []byte(initScript), 0o755))
	return lb
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// buildDemoBackend compiles cmd/demobackend once for the web host.
func buildDemoBackend(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "demobackend")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/demobackend")
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building demobackend: %v\n%s", err, b)
	}
	return out
}

// TestSeedPairReference runs the article's procedure on the reference
// programs (HAProxy 2.6 and keepalived 2.2.7 from Debian): it checks the
// lab itself and gives the figures the Go daemons are compared with.
func TestSeedPairReference(t *testing.T) {
	testenv.RequireRoot(t)
	im := impl{
		name:       "haproxy+keepalived",
		proxy:      testenv.LookPath(t, "haproxy"),
		vrrpd:      testenv.LookPath(t, "keepalived"),
		reference:  true,
		daemonArgs: "-D -r {dir}/keepalived_vrrp.pid -c {dir}/keepalived_check.pid",
	}
	testenv.LookPath(t, "nsenter")
	testenv.LookPath(t, "unshare")
	runSeedProcedure(t, im)
}

func runSeedProcedure(t *testing.T, im impl) {
	backend := buildDemoBackend(t)
	sw := netns.NewSwitch(t, "e2sw")
	web := newHost(t, sw, "e2web", webAddr+"/24")
	client := netns.New(t, "e2cl")
	sw.Attach(t, client, "eth0", clientIP+"/24")
	for _, b := range []struct{ port, name string }{{"80", "web80"}, {"8000", "web8000"}} {
		cmd := web.command(backend, "-listen", webAddr+":"+b.port, "-name", b.name)
		must(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	lb1 := newLB(t, sw, "e2lb1", lb1Addr, "MASTER", 150, im)
	lb2 := newLB(t, sw, "e2lb2", lb2Addr, "BACKUP", 120, im)
	t.Cleanup(func() {
		for _, lb := range []*lbHost{lb1, lb2} {
			lb.command(lb.initd, "stop").Run()
		}
	})

	// 1. /etc/init.d/keepalived start on both: the track script starts
	// HAProxy, the master takes the VIP.
	lb1.run(t, lb1.initd, "start")
	lb2.run(t, lb2.initd, "start")
	d := waitFor(t, "VIP on lb1", 15*time.Second, func() bool { return lb1.hasAddr(vip) })
	waitFor(t, "haproxy started by the track script on both hosts", 15*time.Second, func() bool {
		return len(lb1.processes("haproxy")) > 0 && len(lb2.processes("haproxy")) > 0
	})
	if lb2.hasAddr(vip) {
		t.Fatalf("VIP on both hosts")
	}
	t.Logf("step 1: VIP on lb1 after %s; haproxy running on both", d.Round(time.Millisecond))

	p := startProber(t, client, net.JoinHostPort(vip, "80"), "test.com")
	waitFor(t, "requests through the VIP", 10*time.Second, func() bool { return p.window().Backends["web80"] > 0 })
	p.reset()

	// 2. Stop HAProxy on the master: the track script restarts it within
	// its interval plus 3 s; the VIP stays.
	old := lb1.processes("haproxy")
	for _, pid := range old {
		lb1.command("kill", strconv.Itoa(pid)).Run()
	}
	d = waitFor(t, "haproxy restarted on lb1", 10*time.Second, func() bool {
		now := lb1.processes("haproxy")
		return len(now) > 0 && now[0] != old[0]
	})
	waitFor(t, "requests flowing again", 10*time.Second, func() bool { return time.Since(p.lastOKTime()) < 50*time.Millisecond })
	if !lb1.hasAddr(vip) {
		t.Errorf("step 2: the VIP left lb1")
	}
	t.Logf("step 2: haproxy restarted after %s; %s", d.Round(time.Millisecond), p.reset())

	// 3. Stop keepalived on the master: the backup takes over at once.
	lb1.run(t, lb1.initd, "stop")
	d = waitFor(t, "VIP on lb2", 5*time.Second, func() bool { return lb2.hasAddr(vip) })
	if lb1.hasAddr(vip) {
		t.Errorf("step 3: VIP still on lb1")
	}
	waitFor(t, "requests through lb2", 10*time.Second, func() bool { return time.Since(p.lastOKTime()) < 50*time.Millisecond })
	t.Logf("step 3: VIP on lb2 after %s; %s", d.Round(time.Millisecond), p.reset())

	// 4. Host-based routing through the VIP, and the stats page.
	for _, c := range []struct{ host, want string }{{"test.com", "web80"}, {"test.domain.com", "web8000"}} {
		var got string
		client.Do(func() error {
			pp := &prober{target: net.JoinHostPort(vip, "80"), hostHdr: c.host}
			var err error
			got, err = pp.once()
			return err
		})
		if got != c.want {
			t.Errorf("step 4: Host %s reached %q, want %q", c.host, got, c.want)
		}
	}
	var stats string
	client.Do(func() error {
		var err error
		stats, err = httpGet(net.JoinHostPort(vip, "80"), "/admin?stats;csv")
		return err
	})
	for _, be := range []string{"info_cache,inst2,", "cache_test,inst1,"} {
		line := lineWith(stats, be)
		if !strings.Contains(line, ",UP,") {
			t.Errorf("step 4: stats CSV line for %s is %q, want UP", be, line)
		}
	}
	t.Logf("step 4: routing by Host ok; stats CSV shows both servers UP")
	p.reset()

	// 5. keepalived back on the master: the VIP moves back (preemption).
	lb1.run(t, lb1.initd, "start")
	d = waitFor(t, "VIP back on lb1", 15*time.Second, func() bool { return lb1.hasAddr(vip) && !lb2.hasAddr(vip) })
	waitFor(t, "requests through lb1", 10*time.Second, func() bool { return time.Since(p.lastOKTime()) < 50*time.Millisecond })
	t.Logf("step 5: VIP back on lb1 after %s; %s", d.Round(time.Millisecond), p.reset())
	_ = syscall.SIGTERM
}

func (p *prober) lastOKTime() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastOK
}

func httpGet(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: test.com\r\n\r\n", path)
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), nil
		}
	}
}

func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
