// Package notify tells the outside world about VRRP state changes the way
// keepalived 2.2.7 does: the notify_master / notify_backup / notify_fault
// / notify_stop script of the instance or sync group, then the generic
// `notify` script with four more arguments (INSTANCE|GROUP, name, state,
// priority), then a line on notify_fifo and vrrp_notify_fifo
// (`INSTANCE "VI_1" MASTER 100`), then an SMTP alert when smtp_alert says
// so. Scripts run without a shell, in their own process group, as the
// script user, asynchronously: StateChanged only queues the event, so the
// state machine never waits for a script, a FIFO reader or a mail server.
//
// Facts measured on keepalived 2.2.7 (see keepalived_diff_test.go): a
// quoted notify string is split into argv (`notify_master "/s a 'b c'"`
// runs /s with "a" and "b c"), an unquoted one runs only its first word
// and the next words are the user and group to run it as; the generic
// script gets the instance's effective priority, also for STOP, and 0 for
// a group; notify_fifo_script is started with the FIFO's path as its last
// argument.
package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"hapair/internal/mail"
	"hapair/vrrp/track"
)

// Kind says whether an event is about a vrrp_instance or a
// vrrp_sync_group; its value is the word keepalived passes and writes.
type Kind string

const (
	// Instance is a vrrp_instance ("INSTANCE").
	Instance Kind = "INSTANCE"
	// Group is a vrrp_sync_group ("GROUP"); its priority is always 0.
	Group Kind = "GROUP"
)

// States keepalived reports (always upper case), and the FIFO-only events.
const (
	Master           = "MASTER"
	Backup           = "BACKUP"
	Fault            = "FAULT"
	Stop             = "STOP"
	MasterRxLowerPri = "MASTER_RX_LOWER_PRI"
	MasterPriority   = "MASTER_PRIORITY"
	BackupPriority   = "BACKUP_PRIORITY"
)

const (
	defaultTimeout    = 60 * time.Second
	defaultStopWait   = 2 * time.Second
	defaultKillGrace  = 2 * time.Second
	fifoLineMaxLength = 4096
)

// Command is a script to run: its argv and, optionally, the user and
// group to run it as (the words after an unquoted script path).
type Command struct {
	Argv        []string
	User, Group string
	// Credential is resolved by New from User/Group or the default
	// script user; tests may set it directly.
	Credential *syscall.Credential
}

// Scripts are the notify settings of one instance or sync group.
type Scripts struct {
	Master, Backup, Fault, Stop *Command
	// Generic is `notify`: run with 4 more arguments.
	Generic *Command
	// MasterRxLowerPri is notify_master_rx_lower_pri (instances only).
	MasterRxLowerPri *Command
	// SMTPAlert says whether state changes are mailed.
	SMTPAlert bool
}

// FIFO is notify_fifo or vrrp_notify_fifo with its optional script.
type FIFO struct {
	Path   string
	Script *Command
}

// Config is what a Notifier needs, usually built by FromKeepalived.
type Config struct {
	RouterID  string
	Instances map[string]Scripts
	Groups    map[string]Scripts
	FIFOs     []FIFO
	// Mail is the SMTP server; nil (or no recipients) disables alerts.
	Mail *mail.Server
	To   []string
	// NoEmailFaults is global_defs no_email_faults: FAULT is not mailed.
	NoEmailFaults bool
	// ScriptUser and ScriptGroup are global_defs script_user: the
	// identity of scripts without their own user (empty:
	// keepalived_script if it exists, else the daemon's).
	ScriptUser, ScriptGroup string
	// EnableScriptSecurity is global_defs enable_script_security:
	// scripts writable by non-root are disabled.
	EnableScriptSecurity bool
	// Timeout bounds one notify script (0: 60 s). keepalived has no
	// limit; we kill the script's process group so that a hung script
	// cannot pile up.
	Timeout time.Duration
	// StopWait is how long Run, when its context ends, waits for running
	// scripts (the STOP ones) and mails before killing them (0: 2 s).
	StopWait time.Duration
	// Log receives one line per problem (script cannot run, FIFO write
	// failed, mail failed); nil discards.
	Log func(string)
}

// Notifier runs the notifications. Create it with New, start Run, and
// call StateChanged from the state machines.
type Notifier struct {
	cfg Config

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []event
	closing  bool
	running  bool
	finished bool // Run has delivered its last event
	lastMail map[string]string

	fifos []fifoFD
	wg    sync.WaitGroup // scripts and mails in flight
	procs map[int]struct{}
}

// fifoFD is an open FIFO: a raw non-blocking descriptor.
type fifoFD struct {
	fd       int
	path     string
	dropping bool // the last write failed (logged once per streak)
}

type event struct {
	kind  Kind
	name  string
	state string
	prio  int
	// fifoOnly marks MASTER_RX_LOWER_PRI and priority-change events.
	fifoOnly bool
}

// New returns a Notifier for cfg. It resolves each script's user and
// applies keepalived's start-up checks (track.CheckScript): a script that
// is missing, not executable, or unsafe under EnableScriptSecurity is
// disabled with keepalived's message, sent to Log and returned joined in
// the error; the Notifier is usable all the same.
func New(cfg Config) (*Notifier, error) {
	n := &Notifier{lastMail: map[string]string{}, procs: map[int]struct{}{}}
	n.cond = sync.NewCond(&n.mu)
	var errs []error
	check := func(c *Command) *Command {
		if c == nil || len(c.Argv) == 0 {
			return nil
		}
		c2 := *c
		if c2.Credential == nil {
			u, g := c2.User, c2.Group
			if u == "" {
				u, g = cfg.ScriptUser, cfg.ScriptGroup
			}
			cred, err := scriptCredential(u, g)
			if err != nil {
				errs = append(errs, fmt.Errorf("notify script %s: %w - disabling", c2.Argv[0], err))
				return nil
			}
			c2.Credential = cred
		}
		_, msg, ok := track.CheckScript(c2.Argv[0], c2.Credential, cfg.EnableScriptSecurity)
		if !ok {
			errs = append(errs, errors.New(msg))
			return nil
		}
		if msg != "" && cfg.Log != nil {
			cfg.Log(msg)
		}
		return &c2
	}
	fix := func(m map[string]Scripts) map[string]Scripts {
		out := make(map[string]Scripts, len(m))
		for name, s := range m {
			s.Master, s.Backup, s.Fault, s.Stop = check(s.Master), check(s.Backup), check(s.Fault), check(s.Stop)
			s.Generic, s.MasterRxLowerPri = check(s.Generic), check(s.MasterRxLowerPri)
			out[name] = s
		}
		return out
	}
	cfg.Instances, cfg.Groups = fix(cfg.Instances), fix(cfg.Groups)
	fifos := make([]FIFO, len(cfg.FIFOs))
	for i, f := range cfg.FIFOs {
		f.Script = check(f.Script)
		fifos[i] = f
	}
	cfg.FIFOs = fifos
	n.cfg = cfg
	err := errors.Join(errs...)
	if err != nil && cfg.Log != nil {
		for _, e := range errs {
			cfg.Log(e.Error())
		}
	}
	return n, err
}

// StateChanged queues the notifications for kind/name entering state
// (MASTER, BACKUP, FAULT or STOP) with priority prio (the effective
// priority; ignored for groups, which report 0). It never blocks on a
// script, FIFO or mail server.
func (n *Notifier) StateChanged(kind Kind, name, state string, prio int) {
	if kind == Group {
		prio = 0
	}
	n.push(event{kind: kind, name: name, state: state, prio: prio})
}

// Event queues a FIFO-only instance event: MASTER_RX_LOWER_PRI (which
// also runs notify_master_rx_lower_pri), MASTER_PRIORITY or
// BACKUP_PRIORITY (notify_priority_changes).
func (n *Notifier) Event(name, ev string, prio int) {
	n.push(event{kind: Instance, name: name, state: ev, prio: prio, fifoOnly: true})
}

func (n *Notifier) push(e event) {
	n.mu.Lock()
	if n.finished {
		n.mu.Unlock()
		n.logf("notify: %s %s %s after shutdown, dropped", e.kind, e.name, e.state)
		return
	}
	n.queue = append(n.queue, e)
	n.mu.Unlock()
	n.cond.Signal()
}

func (n *Notifier) logf(format string, a ...any) {
	if n.cfg.Log != nil {
		n.cfg.Log(fmt.Sprintf(format, a...))
	}
}

// Run opens the FIFOs (creating missing ones, removed again at the end),
// starts their scripts, and delivers queued events in order until ctx
// ends. Then it delivers what is still queued (the STOP events the daemon
// sent before cancelling), waits up to StopWait for running scripts and
// mails, kills the process groups of those left, SIGTERMs the FIFO
// scripts, and returns nil. Events reported after that are dropped.
func (n *Notifier) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.running {
		n.mu.Unlock()
		return errors.New("notify: Run called twice")
	}
	n.running = true
	n.mu.Unlock()

	var created []string
	var fifoProcs []*exec.Cmd
	for _, f := range n.cfg.FIFOs {
		fd, made, err := openFIFO(f.Path)
		if err != nil {
			n.logf("Unable to open notify fifo %s: %v", f.Path, err)
			continue
		}
		if made {
			created = append(created, f.Path)
		}
		n.fifos = append(n.fifos, fifoFD{fd: fd, path: f.Path})
		if f.Script != nil && len(f.Script.Argv) > 0 {
			c := *f.Script
			c.Argv = append(append([]string(nil), c.Argv...), f.Path)
			cmd := command(&c)
			if err := cmd.Start(); err != nil {
				n.logf("Unable to start notify fifo script %s: %v", c.Argv[0], err)
				continue
			}
			fifoProcs = append(fifoProcs, cmd)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		n.mu.Lock()
		n.closing = true
		n.mu.Unlock()
		n.cond.Broadcast()
	})
	defer stop()
	for {
		n.mu.Lock()
		for len(n.queue) == 0 && !n.closing {
			n.cond.Wait()
		}
		if len(n.queue) == 0 {
			n.finished = true
			n.mu.Unlock()
			break
		}
		e := n.queue[0]
		n.queue = n.queue[1:]
		n.mu.Unlock()
		n.deliver(e)
	}
	n.shutdown()
	for _, cmd := range fifoProcs {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		waitBounded(cmd, defaultKillGrace)
	}
	for _, f := range n.fifos {
		syscall.Close(f.fd)
	}
	for _, p := range created {
		os.Remove(p)
	}
	return nil
}

// shutdown waits for the scripts and mails in flight, then kills the
// scripts' process groups.
func (n *Notifier) shutdown() {
	wait := n.cfg.StopWait
	if wait <= 0 {
		wait = defaultStopWait
	}
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(wait):
	}
	n.mu.Lock()
	for pid := range n.procs {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	n.mu.Unlock()
	select {
	case <-done:
	case <-time.After(wait):
		n.logf("notify: scripts or mails still running at exit")
	}
}

// deliver runs one event's notifications in keepalived's order.
func (n *Notifier) deliver(e event) {
	var s Scripts
	var ok bool
	if e.kind == Group {
		s, ok = n.cfg.Groups[e.name]
	} else {
		s, ok = n.cfg.Instances[e.name]
	}
	if e.fifoOnly {
		if ok && e.state == MasterRxLowerPri && s.MasterRxLowerPri != nil {
			n.spawn(s.MasterRxLowerPri, nil)
		}
		n.writeFIFO(e)
		return
	}
	if ok {
		var specific *Command
		switch e.state {
		case Master:
			specific = s.Master
		case Backup:
			specific = s.Backup
		case Fault:
			specific = s.Fault
		case Stop:
			specific = s.Stop
		}
		if specific != nil {
			n.spawn(specific, nil)
		}
		if s.Generic != nil {
			n.spawn(s.Generic, []string{string(e.kind), e.name, e.state, fmt.Sprint(e.prio)})
		}
	}
	n.writeFIFO(e)
	if ok && s.SMTPAlert {
		n.mail(e)
	}
}

// Line is the FIFO line keepalived writes for an event:
// `INSTANCE "VI_1" MASTER 100` plus a newline (format `%s "%s" %s %d`).
func Line(kind Kind, name, state string, prio int) string {
	return fmt.Sprintf("%s \"%s\" %s %d\n", kind, name, state, prio)
}

func (n *Notifier) writeFIFO(e event) {
	line := Line(e.kind, e.name, e.state, e.prio)
	if len(line) > fifoLineMaxLength {
		line = line[:fifoLineMaxLength-1] + "\n"
	}
	for i := range n.fifos {
		f := &n.fifos[i]
		// A raw write: an *os.File would park on the poller when the
		// pipe is full instead of failing with EAGAIN.
		_, err := syscall.Write(f.fd, []byte(line))
		if err != nil && !f.dropping {
			n.logf("notify fifo %s: dropping lines from %q on: %v", f.path, strings.TrimSpace(line), err)
		}
		f.dropping = err != nil
	}
}

// spawn starts c with extra arguments and reaps it in the background,
// killing its process group after the timeout.
func (n *Notifier) spawn(c *Command, extra []string) {
	if len(c.Argv) == 0 {
		return
	}
	cc := *c
	cc.Argv = append(append([]string(nil), c.Argv...), extra...)
	cmd := command(&cc)
	if err := cmd.Start(); err != nil {
		n.logf("Failed to exec notify script %s: %v", cc.Argv[0], err)
		return
	}
	pid := cmd.Process.Pid
	n.mu.Lock()
	n.procs[pid] = struct{}{}
	n.mu.Unlock()
	timeout := n.cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			n.logf("notify script %s timed out after %v, killing it", cc.Argv[0], timeout)
			syscall.Kill(-pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(defaultKillGrace):
				syscall.Kill(-pid, syscall.SIGKILL)
				<-done
			}
		}
		// Children the script left behind in its group go too.
		syscall.Kill(-pid, syscall.SIGKILL)
		n.mu.Lock()
		delete(n.procs, pid)
		n.mu.Unlock()
	}()
}

// command builds the exec.Cmd keepalived would run: no shell, own
// process group, SIGTERM when the daemon dies, stdio on /dev/null.
func command(c *Command) *exec.Cmd {
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGTERM,
		Credential: c.Credential,
	}
	return cmd
}

func waitBounded(cmd *exec.Cmd, d time.Duration) {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// openFIFO opens path for writing without blocking on a missing reader:
// it is created (mode 0600) when missing, and opened read-write and
// non-blocking, so that a full pipe drops a line instead of stalling
// the notifications.
func openFIFO(path string) (int, bool, error) {
	made := false
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			return -1, false, err
		}
		made = true
	}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if made {
			os.Remove(path)
		}
		return -1, false, err
	}
	return fd, made, nil
}

// mail sends keepalived's alert for e, once per state change (keepalived
// does not mail the same state twice in a row).
func (n *Notifier) mail(e event) {
	if n.cfg.Mail == nil || len(n.cfg.To) == 0 {
		return
	}
	if e.state == Fault && n.cfg.NoEmailFaults {
		return
	}
	if e.state != Master && e.state != Backup && e.state != Fault && e.state != Stop {
		return
	}
	k := string(e.kind) + " " + e.name
	n.mu.Lock()
	if n.lastMail[k] == e.state {
		n.mu.Unlock()
		return
	}
	n.lastMail[k] = e.state
	n.mu.Unlock()
	m := mail.Message{To: n.cfg.To, Subject: Subject(n.cfg.RouterID, e.kind, e.name, e.state), Body: Body(e.kind, e.state) + "\n"}
	// keepalived ends the body with an empty line (measured: its DATA
	// is the body line, CRLF, CRLF, then the final dot).
	srv := *n.cfg.Mail
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		timeout := srv.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		// One exchange has about 7 replies; bound the whole of it.
		ctx, cancel := context.WithTimeout(context.Background(), 8*timeout)
		defer cancel()
		if err := srv.Send(ctx, m); err != nil {
			n.logf("Error sending SMTP alert %q: %v", m.Subject, err)
		}
	}()
}

// Subject is keepalived's alert subject:
// `[router_id] VRRP Instance VI_1 - Entering MASTER state`, `... - Stopping`,
// and `[router_id] VRRP Group G1 - ...` for sync groups.
func Subject(routerID string, kind Kind, name, state string) string {
	k := "Instance"
	if kind == Group {
		k = "Group"
	}
	return mail.VRRPSubject(routerID, k, name, state)
}

// Body is keepalived's alert body for kind entering state.
func Body(kind Kind, state string) string {
	if kind == Group {
		return mail.VRRPGroupBody(state)
	}
	return mail.VRRPBody(state)
}
