package stats

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServerControl is what the stats socket and the stats page need from the
// engine: a snapshot of the rows, the process report, and the server
// administration actions.
type ServerControl interface {
	// Snapshot returns the current rows in HAProxy's order: for each
	// proxy in configuration order, FRONTEND, its servers, BACKEND.
	Snapshot() []Row
	// Info returns the `show info` report.
	Info() Info
	// SetServerAdmin changes a server's administrative state.
	SetServerAdmin(backend, server string, st AdminState) error
	// SetWeight sets a server's user weight (0-256).
	SetWeight(backend, server string, weight int) error
	// Weight returns a server's current and configured weights.
	Weight(backend, server string) (cur, initial int, err error)
}

// Errors ServerControl returns for unknown names; their text is HAProxy's.
var (
	ErrNoBackend = errors.New("No such backend.")
	ErrNoServer  = errors.New("No such server.")
)

// cliCommands lists the supported commands for `help`, in HAProxy's words.
var cliCommands = [][2]string{
	{"clear counters [all]", "clear max statistics counters (or all counters)"},
	{"disable server (DEPRECATED)", "disable a server for maintenance (use 'set server' instead)"},
	{"enable server  (DEPRECATED)", "enable a disabled server (use 'set server' instead)"},
	{"get weight <bk>/<srv>", "report a server's current weight"},
	{"set server <bk>/<srv> [opts]", "change a server's state, weight, address or ssl"},
	{"set weight <bk>/<srv>  (DEPRECATED)", "change a server's weight (use 'set server' instead)"},
	{"show backend", "list backends in the current running config"},
	{"show info [desc|json|typed|float]*", "report information about the running process"},
	{"show cli level", "display the level of the current CLI session"},
	{"show servers state [<backend>]", "dump volatile server information (all or for a single backend)"},
	{"show sess [id]", "report the list of current sessions or dump this exact session"},
	{"show stat [desc|json|no-maint|typed|up]*", "report counters for each proxy and server"},
	{"operator", "lower the level of the current CLI session to operator"},
	{"user", "lower the level of the current CLI session to user"},
	{"help [<command>]", "list matching or all commands"},
	{"prompt", "toggle interactive mode with prompt"},
	{"quit", "disconnect"},
}

func writeHelp(w io.Writer, head string) {
	fmt.Fprintf(w, "%s\n", head)
	for _, c := range cliCommands {
		fmt.Fprintf(w, "  %-40s: %s\n", c[0], c[1])
	}
}

// Access levels of a stats socket (`level user|operator|admin`).
const (
	LevelUser     = "user"
	LevelOperator = "operator"
	LevelAdmin    = "admin"
)

// Session is one stats socket connection's state (interactive prompt).
type Session struct {
	Ctl         ServerControl
	Interactive bool
	// Level is the socket's access level; empty means admin (the
	// package's earlier behaviour). Changing servers needs admin;
	// addresses, cookies and algorithms show from operator on.
	Level string
	// GetSocks, when set, answers `_getsocks` (expose-fd listeners): it
	// sends the listening sockets over the connection. HAProxy requires
	// the expose-fd flag only, not a level.
	GetSocks func() error
}

func (s *Session) level() int {
	switch s.Level {
	case LevelUser:
		return 0
	case LevelOperator:
		return 1
	}
	return 2
}

// Legends reports whether rows may show addresses, cookies and
// algorithms at this level (HAProxy's STAT_SHLGNDS for the CLI).
func (s *Session) legends() bool { return s.level() >= 1 }

// Exec runs one command line (commands separated by ';') and writes the
// replies, each ended by an empty line as HAProxy does. It returns false
// when the connection must be closed (quit).
func (s *Session) Exec(line string, w io.Writer) bool {
	if strings.TrimSpace(line) == "" && !s.Interactive {
		writeHelp(w, "Unknown command. Please enter one of the following commands only:")
		io.WriteString(w, "\n")
		return true
	}
	for _, cmd := range strings.Split(line, ";") {
		if !s.exec(strings.Fields(cmd), w) {
			return false
		}
	}
	if s.Interactive {
		io.WriteString(w, "> ")
	}
	return true
}

func (s *Session) exec(args []string, w io.Writer) bool {
	if len(args) == 0 {
		return true
	}
	word := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	reply := func(msg string) { io.WriteString(w, msg+"\n") }
	switch {
	case word(0) == "quit":
		return false
	case word(0) == "prompt":
		s.Interactive = !s.Interactive
	case word(0) == "help":
		writeHelp(w, "The following commands are valid at this level:")
	case word(0) == "show" && word(1) == "stat":
		rows := showStatRows(s.Ctl.Snapshot(), args[2:])
		if !s.legends() {
			HideLegends(rows)
		}
		WriteCSV(w, rows)
	case word(0) == "show" && word(1) == "servers" && word(2) == "state":
		if err := WriteServersState(w, s.Ctl, word(3)); err != nil {
			reply(err.Error())
		}
	case word(0) == "show" && word(1) == "sess":
		if l, ok := s.Ctl.(SessionLister); ok {
			WriteSessions(w, l.Sessions(), time.Now())
		}
	case word(0) == "show" && word(1) == "cli" && word(2) == "level":
		reply([]string{LevelUser, LevelOperator, LevelAdmin}[s.level()])
	case word(0) == "operator" || word(0) == "user":
		if word(0) == "operator" && s.level() >= 1 {
			s.Level = LevelOperator
		} else if word(0) == "user" {
			s.Level = LevelUser
		} else {
			reply("Permission denied")
		}
	case word(0) == "clear" && word(1) == "counters":
		if s.level() < 1 || word(2) == "all" && s.level() < 2 {
			reply("Permission denied")
			break
		}
		if c, ok := s.Ctl.(CounterClearer); ok {
			c.ClearCounters(word(2) == "all")
		}
	case word(0) == "_getsocks":
		if s.GetSocks == nil {
			reply("Permission denied")
			break
		}
		if err := s.GetSocks(); err != nil {
			return false
		}
		return true
	case s.level() < 2 && isAdminCommand(args):
		reply("Permission denied")
	case word(0) == "show" && word(1) == "info":
		in := s.Ctl.Info()
		WriteInfo(w, &in)
	case word(0) == "show" && word(1) == "backend":
		io.WriteString(w, "# name\n")
		for _, r := range s.Ctl.Snapshot() {
			if r[FSvname] == "BACKEND" {
				io.WriteString(w, r[FPxname]+"\n")
			}
		}
	case (word(0) == "disable" || word(0) == "enable") && word(1) == "server":
		st := AdminMaint
		if word(0) == "enable" {
			st = AdminReady
		}
		be, srv, ok := splitServer(word(2))
		if !ok {
			reply("Require 'backend/server'.")
			break
		}
		s.reportErr(w, s.Ctl.SetServerAdmin(be, srv, st))
	case word(0) == "get" && word(1) == "weight":
		be, srv, ok := splitServer(word(2))
		if !ok {
			reply("Require 'backend/server'.")
			break
		}
		cur, init, err := s.Ctl.Weight(be, srv)
		if err != nil {
			s.reportErr(w, err)
			break
		}
		fmt.Fprintf(w, "%d (initial %d)\n", cur, init)
	case word(0) == "set" && word(1) == "weight":
		s.setWeight(w, word(2), word(3))
		return true
	case word(0) == "set" && word(1) == "server":
		be, srv, ok := splitServer(word(2))
		if !ok {
			reply("Require 'backend/server'.")
			break
		}
		switch word(3) {
		case "state":
			var st AdminState
			switch word(4) {
			case "ready":
				st = AdminReady
			case "drain":
				st = AdminDrain
			case "maint":
				st = AdminMaint
			default:
				reply("'set server <srv> state' expects 'ready', 'drain' and 'maint'.")
				io.WriteString(w, "\n")
				return true
			}
			s.reportErr(w, s.Ctl.SetServerAdmin(be, srv, st))
		case "weight":
			s.setWeight(w, word(2), word(4))
			return true
		default:
			reply("usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight")
		}
	default:
		writeHelp(w, "Unknown command, but maybe one of the following ones is a better match:")
	}
	io.WriteString(w, "\n")
	return true
}

// CounterClearer is implemented by controls that support `clear
// counters` (the maximum values) and `clear counters all` (every
// counter).
type CounterClearer interface {
	ClearCounters(all bool)
}

// isAdminCommand reports commands that need level admin.
func isAdminCommand(args []string) bool {
	if len(args) < 2 {
		return false
	}
	switch args[0] + " " + args[1] {
	case "disable server", "enable server", "set server", "set weight":
		return true
	}
	return false
}

func (s *Session) reportErr(w io.Writer, err error) {
	if err != nil {
		io.WriteString(w, err.Error()+"\n")
	}
}

// setWeight implements `set weight be/s N|N%`: a percentage is relative to
// the configured weight and rounds down (50% of 1 is 0, as in HAProxy).
func (s *Session) setWeight(w io.Writer, name, val string) {
	be, srv, ok := splitServer(name)
	if !ok {
		io.WriteString(w, "Require 'backend/server'.\n\n")
		return
	}
	_, initial, err := s.Ctl.Weight(be, srv)
	if err != nil {
		io.WriteString(w, err.Error()+"\n\n")
		return
	}
	num, pct := strings.CutSuffix(val, "%")
	n, err := strconv.Atoi(num)
	if err != nil || num == "" || n < 0 {
		io.WriteString(w, "Empty weight string empty or preceded by garbage\n")
		return
	}
	if pct {
		n = initial * n / 100
	}
	if n > 256 {
		io.WriteString(w, "Absolute weight can only be between 0 and 256 inclusive.\n\n")
		return
	}
	s.reportErr(w, s.Ctl.SetWeight(be, srv, n))
	io.WriteString(w, "\n")
}

func splitServer(s string) (be, srv string, ok bool) {
	be, srv, ok = strings.Cut(s, "/")
	return be, srv, ok && be != "" && srv != ""
}

// showStatRows applies the arguments of `show stat`: the positional
// filter (filterRows) and the words `up` (servers that are not DOWN or in
// maintenance) and `no-maint` (servers not in maintenance). With either
// word HAProxy shows each backend's status with its usable and total
// server counts, "UP (1/3)". typed, json and desc are not supported: the
// CSV is written.
func showStatRows(rows []Row, args []string) []Row {
	var pos []string
	up, noMaint := false, false
	for _, a := range args {
		switch a {
		case "up":
			up = true
		case "no-maint":
			noMaint = true
		case "typed", "json", "desc":
		default:
			pos = append(pos, a)
		}
	}
	if up || noMaint {
		usable, total := map[string]int{}, map[string]int{}
		kept := rows[:0:0]
		for _, r := range rows {
			if r[FType] == "2" {
				st := r[FStatus]
				down := strings.HasPrefix(st, "DOWN") || st == "MAINT"
				total[r[FPxname]]++
				if !down {
					usable[r[FPxname]]++
				}
				if st == "MAINT" || up && down {
					continue
				}
			}
			kept = append(kept, r)
		}
		for i := range kept {
			if kept[i][FType] == "1" {
				kept[i][FStatus] += " (" + strconv.Itoa(usable[kept[i][FPxname]]) + "/" + strconv.Itoa(total[kept[i][FPxname]]) + ")"
			}
		}
		rows = kept
	}
	return filterRows(rows, pos)
}

// filterRows applies `show stat <iid|name> <type mask> <sid>`: -1 means
// all; the type mask has 1 for frontends, 2 for backends, 4 for servers.
func filterRows(rows []Row, args []string) []Row {
	if len(args) < 3 {
		return rows
	}
	mask, err := strconv.Atoi(args[1])
	if err != nil || mask == -1 {
		mask = 7
	}
	var out []Row
	for _, r := range rows {
		if args[0] != "-1" && r[FPxname] != args[0] && r[FIid] != args[0] {
			continue
		}
		bit := 4
		switch r[FSvname] {
		case "FRONTEND":
			bit = 1
		case "BACKEND":
			bit = 2
		}
		if mask&bit == 0 {
			continue
		}
		if args[2] != "-1" && bit == 4 && r[FSid] != args[2] {
			continue
		}
		out = append(out, r)
	}
	return out
}

// IdleTimeout closes an interactive socket session without input, like
// HAProxy's default `stats timeout` of 10 s.
var IdleTimeout = 10 * time.Second

// Socket is a stats socket's settings (`stats socket ... level L
// expose-fd listeners`).
type Socket struct {
	Ctl ServerControl
	// Level is user, operator or admin (empty: admin).
	Level string
	// GetSocks, when set, answers `_getsocks` on unix connections (the
	// `expose-fd listeners` hand-over used by a new process started with
	// -x): it must send the listening sockets over c.
	GetSocks func(c *net.UnixConn) error
	// Timeout closes a connection idle that long (`stats timeout`);
	// zero means IdleTimeout.
	Timeout time.Duration
}

// Serve runs the stats socket on ln (unix or TCP) until ctx ends: one
// command line per connection, or a dialogue after `prompt`. The socket is
// at level admin.
func Serve(ctx context.Context, ln net.Listener, ctl ServerControl) error {
	return (&Socket{Ctl: ctl}).Serve(ctx, ln)
}

// Serve runs the socket on ln until ctx ends.
func (sk *Socket) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	defer func() {
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("stats socket: %w", err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			sk.serveConn(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		})
	}
}

func (sk *Socket) serveConn(c net.Conn) {
	defer c.Close()
	s := &Session{Ctl: sk.Ctl, Level: sk.Level}
	if uc, ok := c.(*net.UnixConn); ok && sk.GetSocks != nil {
		s.GetSocks = func() error { return sk.GetSocks(uc) }
	}
	r := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	timeout := sk.Timeout
	if timeout <= 0 {
		timeout = IdleTimeout
	}
	for {
		c.SetReadDeadline(time.Now().Add(timeout))
		line, err := r.ReadString('\n')
		if line == "" && err != nil {
			return
		}
		more := s.Exec(strings.TrimRight(line, "\r\n"), bw)
		bw.Flush()
		if !more || !s.Interactive || err != nil {
			return
		}
	}
}
