package keepalived

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Options tunes Load.
type Options struct {
	// ConfigID selects @id conditional lines (default: the host name,
	// like keepalived's -i).
	ConfigID string
	// ReadFile reads files (default os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// InterfaceExists checks interface names (default: the system's);
	// a missing interface is a warning, as in keepalived.
	InterfaceExists func(string) bool
	// SkipScriptSecurity skips the script checks that look at the file
	// system and the user database (script existence, permissions,
	// keepalived_script): for fuzzing and for dumping foreign configs.
	SkipScriptSecurity bool
}

// Load reads path and returns the configuration with keepalived's
// defaults applied. Like keepalived, it returns a configuration even when
// problems were reported (they are in the diagnostics); it returns nil
// only when the file cannot be read at all.
func Load(path string, opt Options) (*Config, *Diagnostics) {
	d := &Diagnostics{}
	if opt.ReadFile == nil {
		opt.ReadFile = defaultReadFile
	}
	if opt.ConfigID == "" {
		opt.ConfigID = hostname()
	}
	if opt.InterfaceExists == nil {
		opt.InterfaceExists = func(name string) bool {
			_, err := net.InterfaceByName(name)
			return err == nil
		}
	}
	if _, err := opt.ReadFile(path); err != nil {
		d.Errorf(Pos{}, "Configuration file '%s' open problem (%v)", path, err)
		d.Fatal = true
		return nil, d
	}
	r := &reader{d: d, configID: opt.ConfigID, readFile: opt.ReadFile, defs: map[string][]string{}}
	r.readPath(path, Pos{})
	cfg := newConfig()
	cfg.Files = r.files
	w := &walker{toks: tokenize(r.lines, d), d: d, cfg: cfg, opt: opt, vridSeen: map[*Instance]bool{}}
	w.block(topTable(), nil, true)
	validate(cfg, d, opt, w.refs)
	return cfg, d
}

func newConfig() *Config {
	h := hostname()
	return &Config{Global: Global{
		RouterID:              h,
		NotificationEmailFrom: "keepalived@" + h,
		SMTPPort:              25,
		SMTPConnectTimeout:    30 * time.Second,
		VRRPVersion:           2,
		VRRPGarpMasterDelay:   5 * time.Second,
		VRRPGarpMasterRepeat:  5,
		VRRPGarpRefreshRepeat: 1,
		VRRPMcastGroup4:       netip.MustParseAddr("224.0.0.18"),
		VRRPMcastGroup6:       netip.MustParseAddr("ff02::12"),
	}}
}

// validate runs the checks keepalived makes once everything is read, and
// applies the global defaults to the instances.
func validate(c *Config, d *Diagnostics, opt Options, refs []scriptRef) {
	g := &c.Global
	if !opt.SkipScriptSecurity {
		checkScripts(c, d, refs)
	}
	missingIf := false
	for _, in := range c.Instances {
		if in.GarpMasterDelay == 0 {
			in.GarpMasterDelay = g.VRRPGarpMasterDelay
		}
		if in.GarpMasterRepeat == 0 {
			in.GarpMasterRepeat = g.VRRPGarpMasterRepeat
		}
		if in.GarpMasterRefresh == 0 {
			in.GarpMasterRefresh = g.VRRPGarpMasterRefresh
		}
		if in.GarpRefreshRepeat == 0 {
			in.GarpRefreshRepeat = g.VRRPGarpRefreshRepeat
		}
		if in.Version == 0 {
			in.Version = g.VRRPVersion
		}
		if in.Interface != "" && !g.DynamicInterfaces && !opt.InterfaceExists(in.Interface) {
			missingIf = true
			d.Errorf(in.InterfacePos, "WARNING - interface %s for vrrp_instance %s doesn't exist", in.Interface, in.Name)
		}
		for _, ti := range in.TrackInterfaces {
			if !g.DynamicInterfaces && !opt.InterfaceExists(ti.Name) {
				missingIf = true
				d.Errorf(ti.Pos, "(%s) tracked interface %s doesn't exist", in.Name, ti.Name)
			}
		}
		for _, v := range in.VIPs {
			if v.Dev != "" && !opt.InterfaceExists(v.Dev) {
				d.Errorf(v.Pos, "WARNING - interface %s for ip address %s doesn't exist", v.Dev, v.Prefix)
			}
		}
		kept := in.TrackScripts[:0]
		for _, ts := range in.TrackScripts {
			if c.Script(ts.Name) == nil {
				d.Errorf(ts.Pos, "(%s) track script %s not found, ignoring...", in.Name, ts.Name)
				continue
			}
			kept = append(kept, ts)
		}
		in.TrackScripts = kept
		if in.AuthType == "AH" && in.State == "MASTER" {
			d.Errorf(Pos{}, "(%s) Initial state master is incompatible with AH authentication - clearing", in.Name)
			in.State = "BACKUP"
		}
		if in.Priority == 255 && !in.StateSet {
			// keepalived 2.2.7: without `state`, the address owner
			// starts as master; an explicit BACKUP is kept (measured:
			// "(VI_1) Entering BACKUP STATE (init)", MASTER after the
			// master-down interval).
			in.State = "MASTER"
		}
	}
	// Two instances with the same VRID on one interface clash.
	seen := map[string]*Instance{}
	for _, in := range c.Instances {
		key := fmt.Sprintf("%s/%d/%v", in.Interface, in.VRID, in.IPv6)
		if o, dup := seen[key]; dup && in.VRID != 0 {
			d.Errorf(in.Pos, "(%s) VRID %d is already used by %s on interface %s", in.Name, in.VRID, o.Name, in.Interface)
		}
		seen[key] = in
	}
	kept := c.VirtualServers[:0]
	for _, vs := range c.VirtualServers {
		if vs.FWMark != 0 && vs.protocolSet {
			d.Errorf(Pos{}, "Warning: Virtual server FWM %d: protocol specified for fwmark - protocol will be ignored", vs.FWMark)
		}
		if len(vs.RealServers) == 0 {
			d.Errorf(Pos{}, "Virtual server %s has no real servers - ignoring", vs.name())
			continue
		}
		kept = append(kept, vs)
	}
	c.VirtualServers = kept
	finishLVS(c, d)
	for _, grp := range c.SyncGroups {
		for _, ti := range grp.TrackInterfaces {
			if !g.DynamicInterfaces && !opt.InterfaceExists(ti.Name) {
				missingIf = true
				d.Errorf(ti.Pos, "(%s) tracked interface %s doesn't exist", grp.Name, ti.Name)
			}
		}
	}
	if missingIf {
		d.MissingInterface = true
		d.Errorf(Pos{}, "Non-existent interface specified in configuration")
	}
	// keepalived 2.2.7: unknown members are dropped with a message; a
	// group left empty is removed, one left with one member is kept with
	// a warning.
	groups := c.SyncGroups[:0]
	for _, grp := range c.SyncGroups {
		if len(grp.Group) == 0 {
			d.Errorf(Pos{}, "Sync group %s has no virtual router(s). removing", grp.Name)
			continue
		}
		members := grp.Group[:0]
		for _, name := range grp.Group {
			if c.Instance(name) == nil {
				d.Errorf(Pos{}, "Virtual router %s specified in sync group %s doesn't exist - ignoring", name, grp.Name)
				continue
			}
			members = append(members, name)
		}
		grp.Group = members
		switch len(members) {
		case 0:
			d.Errorf(Pos{}, "Sync group %s, no matching virtual router found in group declaration - removing", grp.Name)
			continue
		case 1:
			d.Errorf(Pos{}, "Sync group %s has only 1 virtual router(s) - this probably isn't what you want", grp.Name)
		}
		groups = append(groups, grp)
	}
	c.SyncGroups = groups
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h
	}
	return h
}
