package lvs

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"hapair/checks"
	"hapair/parser/keepalived"
)

// NoIPVSNotice is the one line logged at start-up when the kernel has no
// IPVS.
const NoIPVSNotice = "IPVS not available in this kernel (no genetlink family IPVS): virtual_server blocks are health-checked but not programmed"

// Options are the edges of a Checker. Every field may be left zero.
type Options struct {
	// IPVS is the kernel table. Nil: NewNetlink, or Discard with
	// NoIPVSNotice when the kernel has no IPVS.
	IPVS IPVS
	// Logf logs one line (nil: log.Printf).
	Logf func(format string, args ...any)
	// Exec runs a notify_up, notify_down, quorum_up or quorum_down
	// script line. Nil: split it like keepalived (checks.SplitCommand),
	// execute it without a shell in its own process group, and do not
	// wait for it (keepalived's notify_exec).
	Exec func(script string) error
	// Alert sends an SMTP alert (the daemon wires its mailer here). Nil:
	// the alert is only logged.
	Alert func(subject, body string) error
	// NewProbe builds the probe of a checker (nil: NewProbe with the
	// configuration's global_defs). Tests use it to script results.
	NewProbe func(vs *keepalived.VirtualServer, rs *keepalived.RealServer, c *keepalived.Checker) (checks.Checker, error)
	// Rand returns a number in [0,1) that places each checker's first
	// run within its warmup (nil: math/rand).
	Rand func() float64
	// KeepOnStop leaves the IPVS table as it is when Run ends
	// (keepalived's -I, --dont-release-ipvs).
	KeepOnStop bool
	// ScriptWait bounds how long Run waits at shutdown for the notify
	// scripts it started (0: 5 s).
	ScriptWait time.Duration
}

// Checker is govrrpd's LVS health checker, keepalived's checker process:
// it runs every real server's checkers, feeds the Model and carries out
// its Actions on IPVS, scripts and alerts. Create it with New and run it
// with Run.
type Checker struct {
	cfg      *keepalived.Config
	opts     Options
	ipvs     IPVS
	noIPVS   error
	services [][]Service
	probes   []probe

	mu    sync.Mutex
	model *Model
	ran   bool

	reloads chan reloadReq
	stopped chan struct{} // closed when Run returns

	scripts       sync.WaitGroup
	scriptCred    *syscall.Credential // notify scripts' user (nil: the daemon's)
	scriptCredErr error               // no usable default user: notify scripts are not run

	alerts     chan [2]string // subject, body: to the sender goroutine
	alertsDone chan struct{}

	fifos          []*fifo
	fifoScript     *exec.Cmd
	fifoScriptDone chan struct{}
}

type probe struct {
	ref    Ref
	name   string
	vs     *keepalived.VirtualServer
	rs     *keepalived.RealServer
	cfg    *keepalived.Checker
	target string
	timing Timing
	check  checks.Checker
}

// New prepares a Checker for cfg's virtual_server blocks: the Model, the
// IPVS services of each block and one probe per supported checker.
// Configuration problems keepalived would only warn about are logged, and
// the rest still runs; an error is returned only when nothing can run.
func New(cfg *keepalived.Config, opts Options) (*Checker, error) {
	if cfg == nil {
		return nil, fmt.Errorf("lvs: no configuration")
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.ScriptWait <= 0 {
		opts.ScriptWait = 5 * time.Second
	}
	c := &Checker{cfg: cfg, opts: opts, ipvs: opts.IPVS, reloads: make(chan reloadReq), stopped: make(chan struct{})}
	if c.scriptCred, c.scriptCredErr = scriptCredential(&cfg.Global, ""); c.scriptCredErr != nil {
		opts.Logf("Unable to set default user for notify scripts (%v) - not running them", c.scriptCredErr)
	}
	c.model, c.services, c.probes = c.build(cfg)
	if c.ipvs == nil && len(cfg.VirtualServers) > 0 {
		nl, err := NewNetlink()
		if err != nil {
			c.noIPVS = err
			c.ipvs = Discard{}
		} else {
			c.ipvs = nl
		}
	}
	return c, nil
}

// build makes the Model, the services and the probes of cfg. Problems are
// logged: a checker that cannot be built is disabled in the Model.
func (c *Checker) build(cfg *keepalived.Config) (*Model, [][]Service, []probe) {
	model, warn := NewModel(cfg)
	for _, w := range warn {
		c.opts.Logf("%s", w)
	}
	var services [][]Service
	var probes []probe
	for vi, vs := range cfg.VirtualServers {
		svcs, err := Services(vs, cfg.VSGroups)
		if err != nil {
			c.opts.Logf("%s: %v - the virtual server is checked but not programmed", vs.Pos, err)
		}
		services = append(services, svcs)
		for ri, rs := range vs.RealServers {
			ps, _ := Probes(rs)
			for ci, pc := range ps {
				ref := Ref{vi, ri, ci}
				p := probe{ref: ref, vs: vs, rs: rs, cfg: pc, timing: TimingOf(vs, pc),
					name: fmt.Sprintf("%s/%d/%d/%d", VSName(vs), vi, ri, ci), target: checkTarget(vs, rs, pc)}
				if c.opts.NewProbe != nil {
					p.check, err = c.opts.NewProbe(vs, rs, pc)
				} else {
					p.check, err = NewProbe(&cfg.Global, vs, rs, pc)
				}
				if err != nil {
					c.opts.Logf("%v - ignoring this checker", err)
					model.Disable(ref)
					continue
				}
				probes = append(probes, p)
			}
		}
	}
	return model, services, probes
}

// IPVSAvailable reports whether the checker programs a real IPVS table.
func (c *Checker) IPVSAvailable() bool { return c.noIPVS == nil }

// State returns the Model's view of every virtual server.
func (c *Checker) State() []VirtualServerState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.model.State()
}

// checkTarget is keepalived's FMT_CHK: the checked address as a trio.
func checkTarget(vs *keepalived.VirtualServer, rs *keepalived.RealServer, pc *keepalived.Checker) string {
	ip := rs.IP.Unmap()
	if pc.ConnectIP.IsValid() {
		ip = pc.ConnectIP.Unmap()
	}
	port := rs.Port
	if pc.ConnectPort != 0 {
		port = pc.ConnectPort
	}
	return trio(ip, strings.ToLower(protoName(Protocol(vs.Protocol))), uint16(port))
}

// startMonitors starts one checks.Monitor per probe, each starting in its
// checker's current state, and returns the function that stops them and
// waits for them, and the probes by Monitor name.
func (c *Checker) startMonitors(ctx context.Context, results chan<- resultMsg, events chan<- checks.Event) (stop func(), byName map[string]*probe) {
	mctx, cancel := context.WithCancel(ctx)
	byName = map[string]*probe{}
	var wg sync.WaitGroup
	for i := range c.probes {
		p := &c.probes[i]
		byName[p.name] = p
		inner := p.check
		wrapped := checks.CheckerFunc(func(cctx context.Context) checks.Result {
			r := inner.Check(cctx)
			select {
			case results <- resultMsg{p.ref, r}:
			case <-mctx.Done():
			}
			return r
		})
		c.opts.Logf("Activating healthchecker for service %s for VS %s", p.target, VSName(p.vs))
		c.mu.Lock()
		down := !c.model.CheckerUp(p.ref)
		c.mu.Unlock()
		m := checks.NewMonitor(p.name, wrapped, MonitorConfig(p.timing, down, c.opts.Rand()), events)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = m.Run(mctx)
		}()
	}
	return func() { cancel(); wg.Wait() }, byName
}

type resultMsg struct {
	ref Ref
	res checks.Result
}

// Run creates the virtual services, runs the checks until ctx ends, then
// removes the real servers and services it created (keepalived's
// clear_services) and waits, bounded, for the notify scripts it started.
// It returns nil after a clean shutdown, and at once when the
// configuration has no virtual_server.
func (c *Checker) Run(ctx context.Context) error {
	c.mu.Lock()
	ran := c.ran
	c.ran = true
	c.mu.Unlock()
	if ran {
		return fmt.Errorf("lvs: Run called twice on one Checker (build a new one with New)")
	}
	defer close(c.stopped)
	if len(c.cfg.VirtualServers) == 0 {
		return nil
	}
	if c.noIPVS != nil {
		c.opts.Logf("%s", NoIPVSNotice)
	}
	c.openFifos()
	defer c.closeFifos()
	c.startAlerts()
	c.mu.Lock()
	acts := c.model.Start()
	c.mu.Unlock()
	c.apply(acts)

	results := make(chan resultMsg)
	events := make(chan checks.Event)
	stopMonitors, byName := c.startMonitors(ctx, results, events)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case r := <-results:
			c.mu.Lock()
			acts := c.model.Result(r.ref, r.res)
			c.mu.Unlock()
			c.apply(acts)
		case ev := <-events:
			p := byName[ev.Name]
			if p == nil {
				continue
			}
			c.logTransition(p, ev)
			c.mu.Lock()
			acts := c.model.Transition(p.ref, ev.Up, ev.Result)
			c.mu.Unlock()
			c.apply(acts)
		case req := <-c.reloads:
			stopMonitors()
			c.reload(req.cfg)
			stopMonitors, byName = c.startMonitors(ctx, results, events)
			req.done <- nil
		}
	}
	stopMonitors()
	c.mu.Lock()
	acts = c.model.Stop()
	c.mu.Unlock()
	if c.opts.KeepOnStop {
		acts = slices.DeleteFunc(acts, func(a Action) bool {
			return a.Kind == ActAddDest || a.Kind == ActUpdateDest || a.Kind == ActDelDest || a.Kind == ActDelService || a.Kind == ActLog
		})
	}
	c.apply(acts)
	c.waitScripts()
	c.stopAlerts()
	return nil
}

// alertQueue bounds the alerts waiting for a slow mail server.
const alertQueue = 64

// startAlerts starts the goroutine that hands alerts to Options.Alert one
// at a time, in order, so that a slow SMTP server never holds up the
// checks (keepalived sends its mail from a thread of its own too).
func (c *Checker) startAlerts() {
	if c.opts.Alert == nil {
		return
	}
	queue, done := make(chan [2]string, alertQueue), make(chan struct{})
	c.alerts, c.alertsDone = queue, done
	go func() {
		defer close(done)
		for a := range queue {
			if err := c.opts.Alert(a[0], a[1]); err != nil {
				c.opts.Logf("SMTP alert %q: %v", a[0], err)
			}
		}
	}()
}

func (c *Checker) alert(subject, body string) {
	if c.alerts == nil {
		c.opts.Logf("SMTP alert (no mailer configured): %s", subject)
		return
	}
	select {
	case c.alerts <- [2]string{subject, body}:
	default:
		c.opts.Logf("SMTP alert %q dropped: %d alerts already waiting for the mail server", subject, alertQueue)
	}
}

// stopAlerts lets the queued alerts go out, bounded by ScriptWait.
func (c *Checker) stopAlerts() {
	if c.alerts == nil {
		return
	}
	close(c.alerts)
	t := time.NewTimer(c.opts.ScriptWait)
	defer t.Stop()
	select {
	case <-c.alertsDone:
	case <-t.C:
		c.opts.Logf("SMTP alerts still being sent after %v at shutdown - not waiting for them", c.opts.ScriptWait)
	}
	c.alerts = nil
}

func (c *Checker) waitScripts() {
	done := make(chan struct{})
	go func() {
		c.scripts.Wait()
		close(done)
	}()
	t := time.NewTimer(c.opts.ScriptWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.opts.Logf("notify scripts still running after %v at shutdown - not waiting for them", c.opts.ScriptWait)
	}
}

// logTransition logs a checker's change like keepalived's checkers do.
func (c *Checker) logTransition(p *probe, ev checks.Event) {
	vsName := VSName(p.vs)
	retries := ""
	if p.timing.Retry > 0 {
		retries = fmt.Sprintf(" after %d retries", p.timing.Retry)
	}
	switch p.cfg.Kind {
	case "TCP_CHECK":
		if ev.Up {
			c.opts.Logf("TCP connection to %s success.", p.target)
		} else {
			c.opts.Logf("TCP_CHECK on service %s failed%s.", p.target, retries)
		}
	case "HTTP_GET", "SSL_GET":
		if ev.Up {
			c.opts.Logf("Remote Web server %s succeed on service.", p.target)
		} else {
			c.opts.Logf("HTTP_CHECK on service %s failed%s.", p.target, retries)
		}
	case "MISC_CHECK":
		what := "succeeded"
		if !ev.Up {
			what = "failed" + retries
			if ev.Result.Status == checks.StatusProcTOUT {
				what = "timed out" + retries
			}
		}
		reason := ""
		if !ev.Up && ev.Result.Status == checks.StatusProcErr {
			reason = " (" + ev.Result.Info + ")"
		}
		c.opts.Logf("Misc check for [%s VS %s] by [%s] %s%s.", p.target, vsName, p.cfg.MiscPath, what, reason)
	case "PING_CHECK":
		if ev.Up {
			c.opts.Logf("ICMP CHECK succeed on service %s.", p.target)
		} else {
			c.opts.Logf("ICMP CHECK on service %s failed%s.", p.target, retries)
		}
	default:
		state := "DOWN"
		if ev.Up {
			state = "UP"
		}
		c.opts.Logf("%s on service %s %s (%s).", p.cfg.Kind, p.target, state, ev.Result.Reason())
	}
}

// apply carries out the Model's actions in order. IPVS errors are logged
// (keepalived logs them and carries on); no lock is held.
func (c *Checker) apply(acts []Action) {
	for _, a := range acts {
		var svcs []Service
		if a.VS >= 0 && a.VS < len(c.services) {
			svcs = c.services[a.VS]
		}
		switch a.Kind {
		case ActAddService:
			for _, s := range svcs {
				c.ipvsErr(s, "add service", c.ipvs.AddService(s))
			}
		case ActDelService:
			for _, s := range svcs {
				c.ipvsErr(s, "delete service", c.ipvs.DelService(s))
			}
		case ActAddDest:
			for _, s := range svcs {
				d := destFor(s, a.Dest)
				c.ipvsErr(s, "add "+d.String(), c.ipvs.AddDest(s, d))
			}
		case ActUpdateDest:
			for _, s := range svcs {
				d := destFor(s, a.Dest)
				c.ipvsErr(s, "update "+d.String(), c.ipvs.UpdateDest(s, d))
			}
		case ActDelDest:
			for _, s := range svcs {
				d := destFor(s, a.Dest)
				c.ipvsErr(s, "delete "+d.String(), c.ipvs.DelDest(s, d))
			}
		case ActScript:
			c.runScript(a.Script)
		case ActAlert:
			c.alert(a.Subject, a.Body)
		case ActLog:
			c.opts.Logf("%s", a.Msg)
		case ActFifo:
			c.writeFifos(a.Msg)
		}
	}
}

// destFor is d as sent for service s: with DR and TUN the destination's
// port is the service's (0 for fwmark services), as keepalived's ipvs_cmd
// sets it per group entry and the kernel enforces.
func destFor(s Service, d Dest) Dest {
	if d.Method != FwdMasq {
		d.Port = s.Port
	}
	return d
}

func (c *Checker) ipvsErr(s Service, what string, err error) {
	if err != nil {
		c.opts.Logf("IPVS %s on %s: %v", what, s, err)
	}
}

// runScript runs a notify script as keepalived's notify_exec does: argv
// split without a shell, its own process group, as the default script
// user, output discarded, not waited for (but reaped, and waited for at
// shutdown, bounded).
func (c *Checker) runScript(line string) {
	if c.opts.Exec != nil {
		if err := c.opts.Exec(line); err != nil {
			c.opts.Logf("notify script %q: %v", line, err)
		}
		return
	}
	if c.scriptCredErr != nil {
		return
	}
	argv, err := checks.SplitCommand(line)
	if err != nil || len(argv) == 0 {
		c.opts.Logf("notify script %q: cannot split it: %v", line, err)
		return
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.scriptCred}
	if err := cmd.Start(); err != nil {
		c.opts.Logf("notify script %q: %v", line, err)
		return
	}
	c.scripts.Add(1)
	go func() {
		defer c.scripts.Done()
		_ = cmd.Wait()
	}()
}
