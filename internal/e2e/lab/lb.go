package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"hapair/internal/netns"
)

// Lab addresses (documentation range only).
const (
	VIP      = "192.0.2.200"
	LB1Addr  = "192.0.2.11"
	LB2Addr  = "192.0.2.12"
	WebAddr  = "192.0.2.20"
	ClientIP = "192.0.2.100"
	// The active-active pair's VIPs (the article's 192.168.10.141/142).
	VIP141 = "192.0.2.141"
	VIP142 = "192.0.2.142"
)

// Impl says which proxy and VRRP daemon a load-balancer host runs.
type Impl struct {
	// Name is "haproxy+keepalived" or "goproxy+govrrpd".
	Name string
	// Reference is true for HAProxy 2.6 + keepalived 2.2.7 from Debian.
	Reference bool
	proxy     string // reference binaries
	vrrpd     string
	build     *Build
}

// Short is the implementation's one-word label for tables.
func (im Impl) Short() string {
	if im.Reference {
		return "ref"
	}
	return "ours"
}

// Reference is the Debian HAProxy + keepalived pair at the given paths.
func Reference(haproxy, keepalived string) Impl {
	return Impl{Name: "haproxy+keepalived", Reference: true, proxy: haproxy, vrrpd: keepalived}
}

// Ours is goproxy + govrrpd from b, installed on each host with the
// project's `make install`.
func Ours(b *Build) Impl {
	return Impl{Name: "goproxy+govrrpd", build: b}
}

// Build is the project's binaries compiled once, laid out so that the
// project's Makefile can install them (bin/ and init/ side by side).
type Build struct {
	Repo string // the repository (Makefile, init/, cmd/)
	Dir  string // holds bin/goproxy, bin/govrrpd, bin/demobackend, init -> Repo/init
}

// Backend is the demo backend binary of the build.
func (b *Build) Backend() string { return filepath.Join(b.Dir, "bin/demobackend") }

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// BuildOurs compiles goproxy, govrrpd and demobackend from repo into dir
// (never into the shared tree's bin/), with init/ beside bin/ as the
// Makefile's install target expects.
func BuildOurs(repo, dir string) (*Build, error) {
	b := &Build{Repo: repo, Dir: dir}
	cmd := exec.Command(goTool(), "build", "-o", filepath.Join(b.Dir, "bin")+"/", "./cmd/goproxy", "./cmd/govrrpd", "./cmd/demobackend")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the daemons: %w\n%s", err, out)
	}
	if err := os.Symlink(filepath.Join(repo, "init"), filepath.Join(b.Dir, "init")); err != nil {
		return nil, err
	}
	return b, nil
}

// LB is a load-balancer host with the seed's files installed under its
// own directory: Prefix plays /usr/local/haproxy, InitD plays
// /etc/init.d/keepalived, and so on.
type LB struct {
	*Host
	Impl   Impl
	Prefix string // .../usr/local/haproxy (sbin/, conf/, logs/)
	InitD  string // the keepalived init script
	HAConf string // conf/haproxy.cfg
	KAConf string // etc/keepalived/keepalived.conf
	Script string // etc/keepalived/check_haproxy.sh
}

// Lab is the seed's network: a switch, a web host with the :80 and :8000
// backends, a client, and the load-balancer hosts added with AddLB.
type Lab struct {
	t      testing.TB
	Switch *netns.Switch
	Web    *Host
	Client *netns.NS
	LBs    []*LB
	repo   string
}

// New builds the switch, the web host (backends web80 on :80 and web8000
// on :8000, each answering with its name and serving /haproxy.txt) and the
// client. Everything is removed when t's cleanups run.
func New(t testing.TB, repo, backend string) *Lab {
	t.Helper()
	l := &Lab{t: t, repo: repo}
	l.Switch = netns.NewSwitch(t, "e2sw")
	l.Web = NewHost(t, l.Switch, "e2web", WebAddr+"/24")
	l.Client = netns.New(t, "e2cl")
	l.Switch.Attach(t, l.Client, "eth0", ClientIP+"/24")
	for _, b := range []struct{ port, name string }{{"80", "web80"}, {"8000", "web8000"}} {
		cmd := l.Web.Command(backend, "-listen", WebAddr+":"+b.port, "-name", b.name)
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", b.name, err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	return l
}

// AddLB adds a load-balancer host running im, with the seed's haproxy.cfg
// and check_haproxy.sh installed (paths adapted) and no keepalived.conf
// yet: write one with WriteKeepalived.
func (l *Lab) AddLB(name, addr string, im Impl) *LB {
	t := l.t
	t.Helper()
	h := NewHost(t, l.Switch, name, addr+"/24")
	lb := &LB{Host: h, Impl: im, Prefix: filepath.Join(h.Dir, "usr/local/haproxy")}
	lb.InitD = filepath.Join(h.Dir, "etc/init.d/keepalived")
	lb.HAConf = filepath.Join(lb.Prefix, "conf/haproxy.cfg")
	lb.KAConf = filepath.Join(h.Dir, "etc/keepalived/keepalived.conf")
	lb.Script = filepath.Join(h.Dir, "etc/keepalived/check_haproxy.sh")
	run := filepath.Join(h.Dir, "run")
	defaults := filepath.Join(h.Dir, "etc/default/keepalived")
	for _, d := range []string{filepath.Join(lb.Prefix, "sbin"), filepath.Join(lb.Prefix, "conf"), filepath.Join(lb.Prefix, "logs"),
		filepath.Dir(lb.InitD), filepath.Dir(lb.KAConf), filepath.Dir(defaults), run} {
		mustDo(t, os.MkdirAll(d, 0o755))
	}
	if im.Reference {
		// Debian's binaries under the seed's paths, and the project's
		// init script for keepalived (Debian's knows only /etc and /run).
		mustDo(t, os.Symlink(im.proxy, filepath.Join(lb.Prefix, "sbin/haproxy")))
		mustDo(t, os.Symlink(im.vrrpd, filepath.Join(lb.Prefix, "sbin/keepalived")))
		tmpl, err := os.ReadFile(filepath.Join(l.repo, "init/init.d/keepalived"))
		mustDo(t, err)
		s := strings.NewReplacer(
			"@SBINDIR@", filepath.Join(lb.Prefix, "sbin"),
			"@KACONFFILE@", lb.KAConf,
			"@KAPIDFILE@", filepath.Join(run, "keepalived.pid"),
			"@KADEFAULTSFILE@", defaults,
		).Replace(string(tmpl))
		mustDo(t, os.WriteFile(lb.InitD, []byte(s), 0o755))
		mustDo(t, os.WriteFile(defaults, []byte("DAEMON_ARGS=\"-D\"\n"), 0o644))
	} else {
		// The project's own `make install`, into this host's prefix
		// (PREFIX named .../haproxy gives conf/ and logs/ as in the seed).
		cmd := exec.Command("make", "-s", "-f", filepath.Join(im.build.Repo, "Makefile"), "-o", "build", "install",
			"PREFIX="+lb.Prefix,
			"INITDIR="+filepath.Dir(lb.InitD),
			"SYSTEMDDIR="+filepath.Join(h.Dir, "lib/systemd/system"),
			"RUNDIR="+run,
			"KACONFFILE="+lb.KAConf,
			"KAPIDFILE="+filepath.Join(run, "keepalived.pid"),
			"DEFAULTSFILE="+filepath.Join(h.Dir, "etc/default/haproxy"),
			"KADEFAULTSFILE="+defaults)
		cmd.Dir = im.build.Dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("[%s] make install: %v\n%s", name, err, out)
		}
		mustDo(t, os.WriteFile(defaults, []byte(fmt.Sprintf("DAEMON_ARGS=\"-D -g%s\"\n", filepath.Join(h.Dir, "govrrpd.log"))), 0o644))
	}
	mustDo(t, os.WriteFile(lb.HAConf, []byte(l.seedHAProxyCfg(lb.Prefix, im.Reference)), 0o644))
	mustDo(t, os.WriteFile(lb.Script, []byte(SeedCheckScript(lb.Prefix, lb.InitD)), 0o755))
	l.LBs = append(l.LBs, lb)
	t.Cleanup(func() {
		// Stop by pid through the init script; the host's PID namespace
		// going away takes anything left with it.
		lb.Command(lb.InitD, "stop").Run()
		lb.Kill("KILL", lb.ProxyPids()...)
	})
	return lb
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v", err)
	}
}

// seedHAProxyCfg returns the seed's haproxy.cfg with the lab's addresses
// and paths. goproxy reads the HAProxy 1.4 text as written; for HAProxy
// 2.6 the 1.4 keywords it refuses are modernised (and Debian has no group
// "nobody").
func (l *Lab) seedHAProxyCfg(prefix string, reference bool) string {
	b, err := os.ReadFile(filepath.Join(l.repo, "testdata/haproxy/seed.cfg"))
	mustDo(l.t, err)
	s := string(b)
	s = strings.ReplaceAll(s, "192.168.1.187", WebAddr)
	s = strings.ReplaceAll(s, "/usr/local/haproxy", prefix)
	if reference {
		r := strings.NewReplacer("contimeout", "timeout connect", "clitimeout", "timeout client",
			"srvtimeout", "timeout server", "nbproc 1\n", "", "group nobody", "group nogroup")
		s = r.Replace(s)
	}
	return s
}

// SeedVI1 returns the seed's VI_1 keepalived.conf (track script
// check_haproxy.sh, VIP) for this host with the given state and priority.
// Neither keepalived 2.2.7 nor govrrpd runs an instance from the article's
// file as written (its vrrp_script block lacks the closing '}', so
// everything after it is nested in that block): both get the brace.
func (lb *LB) SeedVI1(t testing.TB, repo, state string, prio int) string {
	b, err := os.ReadFile(filepath.Join(repo, "testdata/keepalived/seed-haproxy-master.conf"))
	mustDo(t, err)
	s := string(b)
	s = strings.ReplaceAll(s, "/etc/keepalived/check_haproxy.sh", lb.Script)
	s = strings.ReplaceAll(s, "192.168.1.200", VIP)
	s = strings.Replace(s, "state MASTER", "state "+state, 1)
	s = strings.Replace(s, "priority 150", "priority "+strconv.Itoa(prio), 1)
	s = strings.Replace(s, "weight 2\n", "weight 2\n}\n", 1)
	s = strings.TrimRight(s, "\n")
	return strings.TrimSuffix(s, "}") + "\n"
}

// SeedPair returns the article's active-active keepalived.conf (VI_141 and
// VI_142): first is the file of its first host (VI_142's master), else the
// second's. Addresses are moved to the lab's range.
func SeedPair(t testing.TB, repo string, first bool) string {
	name := "seed-vip-pair-master.conf"
	if !first {
		name = "seed-vip-pair-backup.conf"
	}
	b, err := os.ReadFile(filepath.Join(repo, "testdata/keepalived", name))
	mustDo(t, err)
	return strings.NewReplacer("192.168.10.141", VIP141, "192.168.10.142", VIP142,
		"192.168.0.48", "192.0.2.48", "10.168.0.48", "192.0.2.48").Replace(string(b))
}

// SeedCheckScript is the article's check_haproxy.sh with its paths adapted.
func SeedCheckScript(prefix, initd string) string {
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

// WriteKeepalived installs conf as the host's keepalived.conf.
func (lb *LB) WriteKeepalived(t testing.TB, conf string) {
	t.Helper()
	mustDo(t, os.WriteFile(lb.KAConf, []byte(conf), 0o644))
}

// StartVRRP runs `/etc/init.d/keepalived start` on the host.
func (lb *LB) StartVRRP(t testing.TB) {
	t.Helper()
	lb.Run(t, lb.InitD, "start")
}

// StopVRRP runs `/etc/init.d/keepalived stop` on the host.
func (lb *LB) StopVRRP(t testing.TB) {
	t.Helper()
	lb.Run(t, lb.InitD, "stop")
}

// VRRPRunning reports whether the init script says the daemon runs.
func (lb *LB) VRRPRunning() bool {
	return lb.Command(lb.InitD, "status").Run() == nil
}

// ProxyPids lists the host's haproxy processes (goproxy runs as haproxy).
func (lb *LB) ProxyPids() []int { return lb.Processes("haproxy") }

// StartProxy starts the proxy as the seed's check script does (the
// configuration's `daemon` detaches it).
func (lb *LB) StartProxy(t testing.TB) {
	t.Helper()
	lb.Run(t, filepath.Join(lb.Prefix, "sbin/haproxy"), "-f", lb.HAConf)
}

// StopProxy sends SIGTERM to the host's haproxy processes and waits until
// they are gone.
func (lb *LB) StopProxy(t testing.TB) {
	t.Helper()
	mustDo(t, lb.Kill("TERM", lb.ProxyPids()...))
	WaitFor(t, lb.Name+": haproxy gone", 5*time.Second, func() bool { return len(lb.ProxyPids()) == 0 })
}

// Holder returns the names of the hosts holding addr.
func (l *Lab) Holder(addr string) []string {
	var names []string
	for _, lb := range l.LBs {
		if lb.HasAddr(addr) {
			names = append(names, lb.Name)
		}
	}
	return names
}
