package keepalived

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
)

// scriptKeywords are the keywords whose argument is a script keepalived
// runs: they are subject to the script security rules.
var scriptKeywords = map[string]bool{
	"script": true, "notify": true, "notify_master": true, "notify_backup": true,
	"notify_fault": true, "notify_stop": true, "notify_master_rx_lower_pri": true,
	"notify_up": true, "notify_down": true, "misc_path": true, "quorum_up": true,
	"quorum_down": true, "notify_fifo_script": true, "vrrp_notify_fifo_script": true,
	"lvs_notify_fifo_script": true,
}

// scriptRef is one script found while parsing, in file order.
type scriptRef struct {
	pos    Pos
	path   string      // the program, first word of the command
	script *VRRPScript // set for vrrp_script's script line
	// check is set for the scripts keepalived's checker process runs
	// (it reports them as "check scripts").
	check bool
}

// checkerScriptKeywords are the scripts of the LVS checker process.
var checkerScriptKeywords = map[string]bool{
	"misc_path": true, "notify_up": true, "notify_down": true, "quorum_up": true,
	"quorum_down": true, "lvs_notify_fifo_script": true,
}

// noteScript records s when it names a script.
func (w *walker) noteScript(s stmt) {
	if !scriptKeywords[s.Kw] || len(s.Args) == 0 {
		return
	}
	words := strings.Fields(strings.Trim(s.Args[0], `"'`))
	if len(words) == 0 {
		return
	}
	ref := scriptRef{pos: s.Pos, path: words[0], check: checkerScriptKeywords[s.Kw]}
	if strings.ContainsAny(ref.path[:1], "<>|&;(") {
		// A shell construct such as "</dev/tcp/host/port": keepalived
		// 2.2.7 neither disables it nor counts it (measured).
		return
	}
	if s.Kw == "script" {
		if w.script == nil || len(w.open) == 0 || w.open[len(w.open)-1].Kw != "vrrp_script" {
			return
		}
		ref.script = w.script
	}
	w.refs = append(w.refs, ref)
}

// userExists reports whether the system has that user (keepalived runs
// scripts as keepalived_script by default when it exists).
var userExists = func(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}

// checkScripts applies keepalived 2.2.7's script rules, measured with
// `keepalived -t`:
//   - default user: script_user, else keepalived_script if it exists, else
//     root; with enable_script_security and no usable default user, every
//     script without its own user is dropped ("Unable to set default
//     user...", exit 5);
//   - a vrrp_script whose program is missing is disabled ("since not
//     found/accessible", exit 5), one in an unsafe place under
//     enable_script_security too ("due to insecure", exit 5);
//   - any existing script that would run as root without
//     enable_script_security is a "SECURITY VIOLATION" (exit 6).
func checkScripts(c *Config, d *Diagnostics, refs []scriptRef) {
	g := &c.Global
	defUser := g.ScriptUser
	if defUser == "" && userExists("keepalived_script") {
		defUser = "keepalived_script"
	}
	noDefault := defUser == "" && g.EnableScriptSecurity
	if defUser == "" {
		defUser = "root"
	}
	warned, asRoot, checkAsRoot := false, false, false
	for _, r := range refs {
		u := defUser
		if r.script != nil && r.script.User != "" {
			u = r.script.User
		} else if noDefault {
			if !warned {
				d.Errorf(r.pos, "Unable to set default user keepalived_script for script")
				warned = true
			}
			if r.script != nil {
				d.Errorf(r.pos, "Unable to set default user for vrrp script %s - removing", r.script.Name)
				c.removeScript(r.script)
			}
			continue
		}
		exists := programExists(r.path)
		if r.script != nil {
			if !exists {
				d.Errorf(Pos{}, "Disabling track script %s since not found/accessible", r.script.Name)
				r.script.Missing = true
				continue
			}
			if g.EnableScriptSecurity && !scriptSafe(resolve(r.path)) {
				d.Errorf(Pos{}, "Disabling track script %s due to insecure", r.script.Name)
				r.script.Insecure = true
				continue
			}
		}
		if exists && (u == "root" || u == "0") {
			if r.check {
				checkAsRoot = true
			} else {
				asRoot = true
			}
		}
	}
	if checkAsRoot && !g.EnableScriptSecurity {
		d.Errorf(Pos{}, "SECURITY VIOLATION - check scripts are being executed but script_security not enabled.")
		d.SecurityViolation = true
	}
	if asRoot && !g.EnableScriptSecurity {
		d.Errorf(Pos{}, "SECURITY VIOLATION - scripts are being executed but script_security not enabled.")
		d.SecurityViolation = true
	}
}

// resolve finds a program the way execve via PATH would.
func resolve(p string) string {
	if strings.Contains(p, "/") {
		return p
	}
	if lp, err := exec.LookPath(p); err == nil {
		return lp
	}
	return p
}

func programExists(p string) bool {
	_, err := os.Stat(resolve(p))
	return err == nil
}

// removeScript drops a vrrp_script, as keepalived does when it cannot be
// run at all (track_script references to it then warn "not found").
func (c *Config) removeScript(s *VRRPScript) {
	out := c.Scripts[:0]
	for _, x := range c.Scripts {
		if x != s {
			out = append(out, x)
		}
	}
	c.Scripts = out
}

// scriptSafe applies enable_script_security: neither the script nor any
// directory above it may be writable by a non-root user (a sticky
// directory such as /tmp is fine above the script).
func scriptSafe(path string) bool {
	if !filepath.IsAbs(path) {
		return true
	}
	for p := path; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return true // a missing script fails when run, not here
		}
		if st.Mode().Perm()&0o022 != 0 && !(st.IsDir() && st.Mode()&os.ModeSticky != 0 && p != path) {
			return false
		}
		if p == "/" || p == "." {
			return true
		}
	}
}
