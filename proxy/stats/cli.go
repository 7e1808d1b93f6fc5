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
	{"disable server (DEPRECATED)", "disable a server for maintenance (use 'set server' instead)"},
	{"enable server  (DEPRECATED)", "enable a disabled server (use 'set server' instead)"},
	{"get weight <bk>/<srv>", "report a server's current weight"},
	{"set server <bk>/<srv> [opts]", "change a server's state, weight, address or ssl"},
	{"set weight <bk>/<srv>  (DEPRECATED)", "change a server's weight (use 'set server' instead)"},
	{"show backend", "list backends in the current running config"},
	{"show info [desc|json|typed|float]*", "report information about the running process"},
	{"show stat [desc|json|no-maint|typed|up]*", "report counters for each proxy and server"},
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

// Session is one stats socket connection's state (interactive prompt).
type Session struct {
	Ctl         ServerControl
	Interactive bool
}

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
		rows := filterRows(s.Ctl.Snapshot(), args[2:])
		WriteCSV(w, rows)
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

// Serve runs the stats socket on ln (unix or TCP) until ctx ends: one
// command line per connection, or a dialogue after `prompt`.
func Serve(ctx context.Context, ln net.Listener, ctl ServerControl) error {
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
			serveConn(c, ctl)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		})
	}
}

func serveConn(c net.Conn, ctl ServerControl) {
	defer c.Close()
	s := &Session{Ctl: ctl}
	r := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	for {
		c.SetReadDeadline(time.Now().Add(IdleTimeout))
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
