package track

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"
	"time"

	"hapair/parser/keepalived"
)

// Script is a vrrp_script as the Runner executes it.
type Script struct {
	Name       string
	Argv       []string
	Interval   time.Duration // default 1s
	Timeout    time.Duration // 0: Interval
	Rise, Fall int           // default 1, 1
	// InitFail is init_fail. keepalived 2.2.7 parses it but the script
	// still starts in its INIT state (measured with a slow first run:
	// no priority change, "Init state = INIT" in the data dump), so the
	// Runner ignores it too.
	InitFail   bool
	Credential *syscall.Credential
}

// File is a track_file block.
type File struct {
	Name string
	Path string
	// Init is init_file: nil for none, else the value written at start
	// when the file is missing (or always with InitOverwrite).
	Init          *int
	InitOverwrite bool
}

// Config is everything the Runner tracks.
type Config struct {
	Scripts   []Script
	Files     []File
	Instances []Instance
}

// FromKeepalived builds the tracking configuration from a parsed
// keepalived.conf the way keepalived 2.2.7 wires it, and returns the
// warnings keepalived logs for what it drops. For each instance: its own
// interface (weight 0, unless dont_track_primary), track_interface,
// track_script (weight and reverse from the entry or else from the
// vrrp_script) and track_file; the track_script entries of its
// vrrp_sync_group with weight 0. Weighted trackers of an address owner
// (priority 255) are dropped; so are weighted scripts and files of a sync
// group member, whose weighted interfaces are tracked with weight 0
// instead (messages as keepalived 2.2.7 logs them). Scripts the parser
// disabled (missing program, insecure) or that CheckScript refuses are
// not run.
func FromKeepalived(c *keepalived.Config) (Config, []string) {
	var cfg Config
	var warns []string
	warn := func(f string, a ...any) { warns = append(warns, fmt.Sprintf(f, a...)) }
	group := map[string]*keepalived.SyncGroup{}
	for _, g := range c.SyncGroups {
		for _, m := range g.Group {
			group[m] = g
		}
	}
	files := map[string]*keepalived.TrackFile{}
	for _, f := range c.TrackFiles {
		files[f.Name] = f
	}
	usedScripts, usedFiles := map[string]bool{}, map[string]bool{}
	for _, in := range c.Instances {
		inst := Instance{Name: in.Name, Priority: in.Priority}
		g := group[in.Name]
		owner := in.Priority >= 255
		// syncDrop: a sync group member drops its trackers' weights,
		// unless the group says sync_group_tracking_weight.
		syncDrop := g != nil && !g.TrackingWeight
		if in.Interface != "" && !in.DontTrackPrimary {
			inst.Trackers = append(inst.Trackers, Tracker{Kind: KindInterface, Name: in.Interface})
		}
		ifaces := in.TrackInterfaces
		if g != nil {
			for _, ti := range g.TrackInterfaces {
				if !g.TrackingWeight {
					ti.Weight = 0
				}
				ifaces = append(slices.Clip(ifaces), ti)
			}
		}
		for _, ti := range ifaces {
			if ti.Name == in.Interface && !in.DontTrackPrimary && ti.Weight == 0 && !ti.Reverse {
				continue // already tracked as the primary interface
			}
			w := ti.Weight
			if w != 0 && owner {
				warn("(%s) ignoring %s tracked interface due to address owner", in.Name, ti.Name)
				continue
			}
			if w != 0 && syncDrop {
				warn("(%s) ignoring %s tracked interface weight due to SYNC group", in.Name, ti.Name)
				w = 0 // still tracked: down means FAULT
			}
			inst.Trackers = append(inst.Trackers, Tracker{Kind: KindInterface, Name: ti.Name, Weight: w, Reverse: ti.Reverse})
		}
		scripts := in.TrackScripts
		if g != nil {
			scripts = slices.Clip(scripts)
			for _, ts := range g.TrackScripts {
				if !g.TrackingWeight {
					ts.Weight, ts.HasWeight = 0, true
				}
				scripts = append(scripts, ts)
			}
		}
		for _, ts := range scripts {
			sc := c.Script(ts.Name)
			if sc == nil || sc.Missing || sc.Insecure || len(sc.Script) == 0 {
				continue // the parser reported it
			}
			w := sc.Weight
			if ts.HasWeight {
				w = ts.Weight
			}
			if w != 0 && (owner || syncDrop) {
				why := "address_owner"
				if !owner {
					why = "SYNC group"
				}
				warn("(%s) ignoring tracked script %s with weights due to %s", in.Name, ts.Name, why)
				continue
			}
			usedScripts[sc.Name] = true
			inst.Trackers = append(inst.Trackers, Tracker{Kind: KindScript, Name: sc.Name, Weight: w, Reverse: ts.Reverse || sc.Reverse})
		}
		tfiles := in.TrackFiles
		if g != nil {
			for _, tf := range g.TrackFiles {
				if !g.TrackingWeight {
					tf.Weight, tf.HasWeight = 0, true
				}
				tfiles = append(slices.Clip(tfiles), tf)
			}
		}
		for _, tf := range tfiles {
			f := files[tf.Name]
			if f == nil {
				warn("(%s) track file %s not found, ignoring...", in.Name, tf.Name)
				continue
			}
			w := f.Weight
			if tf.HasWeight {
				w = tf.Weight
			}
			if w != 0 && (owner || syncDrop) {
				why := "address_owner"
				if !owner {
					why = "SYNC group"
				}
				warn("(%s) ignoring tracked file %s with weight %d due to %s", in.Name, tf.Name, w, why)
				continue
			}
			usedFiles[f.Name] = true
			inst.Trackers = append(inst.Trackers, Tracker{Kind: KindFile, Name: f.Name, Weight: w, Reverse: tf.Reverse || f.Reverse})
		}
		cfg.Instances = append(cfg.Instances, inst)
	}
	for _, sc := range c.Scripts {
		if !usedScripts[sc.Name] {
			if !sc.Missing && !sc.Insecure {
				warn("Warning - script %s is not used", sc.Name)
			}
			continue
		}
		s := Script{
			Name: sc.Name, Argv: sc.Script, Interval: sc.Interval, Timeout: sc.Timeout,
			Rise: sc.Rise, Fall: sc.Fall, InitFail: sc.InitFail,
		}
		u, grp := sc.User, sc.Group
		if u == "" {
			u, grp = c.Global.ScriptUser, c.Global.ScriptGroup
		}
		cred, err := ScriptCredential(u, grp)
		if err != nil {
			warn("Unable to set user for vrrp script %s - removing: %v", sc.Name, err)
			removeScript(&cfg, sc.Name)
			continue
		}
		s.Credential = cred
		if _, msg, ok := CheckScript(s.Argv[0], cred, c.Global.EnableScriptSecurity); !ok {
			warn("%s", msg)
			removeScript(&cfg, sc.Name)
			continue
		} else if msg != "" {
			warn("%s", msg)
		}
		cfg.Scripts = append(cfg.Scripts, s)
	}
	for _, f := range c.TrackFiles {
		if !usedFiles[f.Name] {
			continue
		}
		tf := File{Name: f.Name, Path: f.File}
		if f.InitFile != "" || f.InitFileSet {
			tf.Init, tf.InitOverwrite = parseInitFile(f.InitFile)
		}
		cfg.Files = append(cfg.Files, tf)
	}
	return cfg, warns
}

func removeScript(cfg *Config, name string) {
	for i := range cfg.Instances {
		ts := cfg.Instances[i].Trackers[:0]
		for _, t := range cfg.Instances[i].Trackers {
			if !(t.Kind == KindScript && t.Name == name) {
				ts = append(ts, t)
			}
		}
		cfg.Instances[i].Trackers = ts
	}
}

// parseInitFile reads init_file's arguments: [VALUE] [overwrite].
func parseInitFile(s string) (*int, bool) {
	v, over := 0, false
	for _, w := range splitFields(s) {
		if w == "overwrite" {
			over = true
		} else if n, err := strconv.Atoi(w); err == nil {
			v = n
		}
	}
	return &v, over
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\t' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// ScriptCredential returns the uid/gid keepalived runs a script as:
// name (or, when empty, keepalived_script if that user exists, else the
// daemon's own user: nil), with group overriding the user's primary
// group. It returns nil when that is the daemon's own identity, so that
// an unprivileged test run does not need setuid.
func ScriptCredential(name, group string) (*syscall.Credential, error) {
	if name == "" {
		if _, err := user.Lookup("keepalived_script"); err != nil {
			return nil, nil
		}
		name = "keepalived_script"
	}
	u, err := lookupUser(name)
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g2, err2 := user.LookupGroupId(group); err2 == nil {
				g = g2
			} else {
				return nil, fmt.Errorf("unknown group %q", group)
			}
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if uid == os.Getuid() && gid == os.Getgid() {
		return nil, nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err == nil {
		return u, nil
	}
	if u2, err2 := user.LookupId(name); err2 == nil {
		return u2, nil
	}
	return nil, fmt.Errorf("unknown user %q", name)
}
