package track

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// CheckScript applies keepalived 2.2.7's start-up checks to the program
// of a script (vrrp_script, notify_*, fifo scripts) that will run as
// cred (nil: as the daemon, root). It returns the path to execute, and
// ok=false with keepalived's message when keepalived disables the
// script; a non-empty message with ok=true is a warning. Measured:
//
//	Unsafe permissions found for script '/p/s.sh' - disabling.
//	Script /p/missing.sh cannot be accessed - No such file or directory
//	WARNING - script '/p/s.sh' is not executable for uid:gid 0:0 - disabling.
//	Cannot find script relative.sh in path - disabling
//
// With security (enable_script_security) the script and every directory
// above it must not be writable by anyone but root (a sticky directory
// such as /tmp is allowed above the script).
func CheckScript(prog string, cred *syscall.Credential, security bool) (path, msg string, ok bool) {
	path = prog
	if !strings.Contains(prog, "/") {
		lp, err := exec.LookPath(prog)
		if err != nil {
			return prog, fmt.Sprintf("Cannot find script %s in path - disabling", prog), false
		}
		path = lp
		msg = fmt.Sprintf("WARNING - script `%s` resolved by path search to `%s`. Please specify full path.", prog, lp)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return path, fmt.Sprintf("Script %s cannot be accessed - %s", path, errText(err)), false
	}
	fi, err := os.Stat(real)
	if err != nil {
		return path, fmt.Sprintf("Script %s cannot be accessed - %s", path, errText(err)), false
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if cred != nil {
		uid, gid = cred.Uid, cred.Gid
	}
	if !executable(fi, uid, gid) {
		return path, fmt.Sprintf("WARNING - script '%s' is not executable for uid:gid %d:%d - disabling.", path, uid, gid), false
	}
	if security && !safe(real) {
		return path, fmt.Sprintf("Unsafe permissions found for script '%s' - disabling.", path), false
	}
	return path, msg, true
}

func errText(err error) string {
	var errno syscall.Errno
	if pe, ok := err.(*os.PathError); ok {
		if e, ok := pe.Err.(syscall.Errno); ok {
			errno = e
		}
	}
	if errno != 0 {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

func executable(fi os.FileInfo, uid, gid uint32) bool {
	m := fi.Mode()
	if !m.IsRegular() {
		return false
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case uid == 0:
		return m&0o111 != 0
	case st != nil && st.Uid == uid:
		return m&0o100 != 0
	case st != nil && st.Gid == gid:
		return m&0o010 != 0
	}
	return m&0o001 != 0
}

// safe reports whether only root can change path: the file is owned by
// root and not group/other writable, and so is every directory above it
// (a directory with the sticky bit counts as safe above the file).
func safe(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !rootOnly(fi, false) {
		return false
	}
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || !rootOnly(fi, true) {
			return false
		}
		if d == "/" || d == "." {
			return true
		}
	}
}

func rootOnly(fi os.FileInfo, dir bool) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 {
		return false
	}
	if fi.Mode().Perm()&0o022 == 0 {
		return true
	}
	return dir && fi.Mode()&os.ModeSticky != 0
}
