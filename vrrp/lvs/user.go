package lvs

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"hapair/parser/keepalived"
)

// scriptCredential returns the uid/gid a checker script or notify script
// runs as, as keepalived chooses it: the MISC_CHECK's own `user USER
// [GROUP]`, else global_defs script_user, else keepalived_script when
// that user exists, else the daemon's own user (nil). Switching users
// needs root; when the daemon is not root, scripts run as the daemon.
func scriptCredential(g *keepalived.Global, spec string) (*syscall.Credential, error) {
	name, group, _ := strings.Cut(strings.TrimSpace(spec), " ")
	if name == "" && g != nil {
		name, group = g.ScriptUser, g.ScriptGroup
	}
	if name == "" {
		if _, err := user.Lookup("keepalived_script"); err != nil {
			return nil, nil
		}
		name = "keepalived_script"
	}
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr != nil {
			return nil, fmt.Errorf("script user %s: %w", name, err)
		}
		u = &user.User{Uid: name, Gid: name}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("script user %s: uid %q gid %q", name, u.Uid, u.Gid)
	}
	if group = strings.TrimSpace(group); group != "" {
		gr, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("script group %s: %w", group, err)
		}
		if gid, err = strconv.ParseUint(gr.Gid, 10, 32); err != nil {
			return nil, fmt.Errorf("script group %s: gid %q", group, gr.Gid)
		}
	}
	if uid == 0 && gid == 0 {
		return nil, nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}
