// Package fdpass hands listening sockets from a running process to its
// successor over a unix socket (SCM_RIGHTS), the mechanism behind HAProxy's
// `expose-fd listeners` and `-x`. A reload that re-binds with SO_REUSEPORT
// alone loses the connections queued on the old socket when it closes; a
// reload that takes the very same socket loses none.
//
// The wire format is HAProxy's `_getsocks` exchange (getsocks.go), so a
// goproxy can take the listeners of a running HAProxy and the other way
// round.
package fdpass

import "fmt"

// AbstractAddr is the abstract unix socket name on which the process with
// the given pid offers its listeners; a new process started with `-sf PID`
// asks there without any configuration.
func AbstractAddr(prog string, pid int) string {
	return fmt.Sprintf("@%s-listeners-%d", prog, pid)
}
