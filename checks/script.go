package checks

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DefaultKillGrace is how long a timed-out script has between SIGTERM
// and SIGKILL, as in keepalived.
const DefaultKillGrace = 2 * time.Second

// Script runs a program and judges its exit status, as keepalived runs
// vrrp_script and MISC_CHECK (and HAProxy's external-check): no shell (the
// argv is executed directly, see SplitCommand), in a new process group,
// optionally as another user, with stdin, stdout and stderr on /dev/null.
// Exit 0 is PROCOK; another status is PROCERR with Code = the status (so
// MISC_CHECK's misc_dynamic can derive a weight) and Info "exited with
// status N"; death by a signal is PROCERR with Code 128+signal. When the
// context ends first (the timeout; keepalived's default is the interval),
// the whole process group gets SIGTERM, then SIGKILL KillGrace later, and
// the result is PROCTOUT.
//
// A program that cannot be executed (missing, not executable) counts as
// success, exactly like keepalived 2.2.7, whose forked child exits 0 when
// execve fails; Warn, if set, is told so that the operator sees it.
// Weight, `reverse`, rise and fall are the caller's business.
type Script struct {
	// Argv is the program and its arguments; Argv[0] without a slash is
	// searched in PATH.
	Argv []string
	// Credential, if set, runs the program as that uid/gid
	// (script_user, `user` of vrrp_script and MISC_CHECK).
	Credential *syscall.Credential
	// Env is the environment (nil: the daemon's).
	Env []string
	// KillGrace is the delay between SIGTERM and SIGKILL (0: 2 s).
	KillGrace time.Duration
	// Warn receives a one-line notice when the program cannot be executed.
	Warn func(msg string)
}

// Check runs the program once.
func (s *Script) Check(ctx context.Context) Result {
	if len(s.Argv) == 0 {
		return s.execFailed(errors.New("empty command"))
	}
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = s.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGTERM, // like keepalived's PR_SET_PDEATHSIG
		Credential: s.Credential,
	}
	if err := cmd.Start(); err != nil {
		return s.execFailed(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitResult(cmd, err)
	case <-ctx.Done():
	}
	syscall.Kill(-pgid, syscall.SIGTERM)
	grace := s.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		// keepalived also SIGKILLs the group once the script died, so
		// that children that ignored SIGTERM do not linger.
		syscall.Kill(-pgid, syscall.SIGKILL)
	case <-t.C:
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	return Result{Status: StatusProcTOUT, Info: "timed out"}
}

func (s *Script) execFailed(err error) Result {
	msg := fmt.Sprintf("cannot execute %q: %v; counted as success, like keepalived", strings.Join(s.Argv, " "), err)
	if s.Warn != nil {
		s.Warn(msg)
	}
	return Result{Status: StatusProcOK, Info: msg}
}

func exitResult(cmd *exec.Cmd, err error) Result {
	if err == nil {
		return Result{Status: StatusProcOK}
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		return Result{Status: StatusProcErr, Code: 128 + int(ws.Signal()), Info: fmt.Sprintf("killed by signal %d", ws.Signal())}
	case ok && ws.Exited():
		return Result{Status: StatusProcErr, Code: ws.ExitStatus(), Info: fmt.Sprintf("exited with status %d", ws.ExitStatus())}
	}
	return Result{Status: StatusProcErr, Info: err.Error()}
}

// SplitCommand splits a keepalived script line into argv without a
// shell, the way keepalived 2.2.7 does (measured by running it, see
// TestSplitCommandMatchesKeepalived): words are separated by blanks;
// double or single quotes group words and are removed (`'a b'c` gives
// "a bc", two quotes in a row an empty argument); a backslash outside single quotes
// takes the next character literally (`p\ q` gives "p q"). line is the
// script string after the config parser resolved its own escapes. An
// unterminated quote is an error, reported with the words split so far.
func SplitCommand(line string) ([]string, error) {
	var argv []string
	var cur strings.Builder
	inWord, escaped := false, false
	var quote rune
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped, inWord = false, true
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				argv = append(argv, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return argv, fmt.Errorf("unterminated %c quote in %q", quote, line)
	}
	if inWord {
		argv = append(argv, cur.String())
	}
	return argv, nil
}
