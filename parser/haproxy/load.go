package haproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadOptions tunes Load; the zero value reads the process environment.
type LoadOptions struct {
	// Env looks up "${NAME}" in double-quoted words (default: os.LookupEnv).
	Env func(string) (string, bool)
	// ReadFile reads configuration and referenced files (default: os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// Resolve turns a server host name into addresses (default: the
	// system resolver, as HAProxy's libc resolution at start-up).
	Resolve func(string) ([]string, error)
}

// Load reads the configuration from paths (files, or directories whose
// *.cfg files are read in lexical order, like HAProxy's -f) and compiles it.
// The returned Config is nil when any alert was recorded.
func Load(paths []string, opt LoadOptions) (*Config, *Diagnostics) {
	l := newLoader(opt)
	for _, p := range paths {
		files, err := expandPath(p)
		if err != nil {
			l.d.Alertf(Pos{}, "Could not open configuration file %s : %v", p, err)
			continue
		}
		for _, f := range files {
			src, err := l.opt.ReadFile(f)
			if err != nil {
				l.d.Alertf(Pos{}, "Could not open configuration file %s : %v", f, err)
				continue
			}
			l.cfg.Files = append(l.cfg.Files, f)
			l.loadLines(lexFile(f, src, l.d, l.opt.Env, l.env.apply))
		}
	}
	return l.finish()
}

// Parse compiles one configuration held in memory; name is used in
// positions. Files it references are read from disk.
func Parse(name string, src []byte, opt LoadOptions) (*Config, *Diagnostics) {
	l := newLoader(opt)
	l.cfg.Files = []string{name}
	l.loadLines(lexFile(name, src, l.d, l.opt.Env, l.env.apply))
	return l.finish()
}

func expandPath(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".cfg") {
			out = append(out, filepath.Join(p, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// loader walks lines, tracking the current section.
type loader struct {
	env *envOverlay // setenv & co. as read so far; opt.Env looks here
	opt LoadOptions
	d   *Diagnostics
	cfg *Config

	section  string // current section keyword, "" before the first
	proxy    *Proxy // current defaults/frontend/backend/listen
	userlist *Userlist
	generic  *Section

	defaults      *Proxy            // the last defaults section: what new proxies inherit
	namedDefaults map[string]*Proxy // defaults sections by name
	proxyNames    map[string]*Proxy
	// aclIndex finds a proxy's ACLs by name without scanning: a
	// generated configuration may hold tens of thousands of them.
	aclIndex map[*Proxy]map[string][]*ACL
	// serverIndex does the same for server names.
	serverIndex map[*Proxy]map[string]*Server
	nextID      int
	globalSeen  bool
}

func newLoader(opt LoadOptions) *loader {
	if opt.Env == nil {
		opt.Env = osEnv
	}
	if opt.ReadFile == nil {
		opt.ReadFile = os.ReadFile
	}
	if opt.Resolve == nil {
		opt.Resolve = systemResolve
	}
	env := newEnvOverlay(opt.Env)
	opt.Env = env.lookup
	l := &loader{
		env:           env,
		opt:           opt,
		d:             &Diagnostics{},
		cfg:           &Config{},
		namedDefaults: map[string]*Proxy{},
		proxyNames:    map[string]*Proxy{},
		aclIndex:      map[*Proxy]map[string][]*ACL{},
		serverIndex:   map[*Proxy]map[string]*Server{},
		nextID:        1,
	}
	l.cfg.Global = defaultGlobal()
	l.defaults = newProxy("defaults", "", Pos{})
	return l
}

// sectionKeywords start a new section.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true,
	"listen": true, "userlist": true, "resolvers": true, "peers": true,
	"mailers": true, "http-errors": true, "cache": true, "program": true,
	"ring": true, "fcgi-app": true,
}

func (l *loader) loadLines(lines []Line) {
	for _, ln := range lines {
		kw := ln.Words[0]
		if sectionKeywords[kw] {
			l.startSection(ln)
			continue
		}
		switch l.section {
		case "":
			l.d.Alertf(ln.Pos, "unknown keyword '%s' out of section.", kw)
		case "global":
			l.globalLine(ln)
		case "defaults", "frontend", "backend", "listen":
			l.proxyLine(ln)
		case "userlist":
			l.userlistLine(ln)
		default:
			l.generic.Lines = append(l.generic.Lines, ln)
		}
	}
}

func (l *loader) startSection(ln Line) {
	l.endSection()
	kw := ln.Words[0]
	l.section = kw
	args := ln.Words[1:]
	switch kw {
	case "global":
		l.globalSeen = true
		l.cfg.Global.Pos = ln.Pos
	case "defaults":
		l.startDefaults(ln)
	case "frontend", "backend", "listen":
		l.startProxy(ln)
	case "userlist":
		if len(args) < 1 {
			l.d.Alertf(ln.Pos, "'%s' expects <name> as argument.", kw)
		}
		u := &Userlist{Pos: ln.Pos, Groups: map[string][]string{}}
		if len(args) > 0 {
			u.Name = args[0]
		}
		l.userlist = u
		l.cfg.Userlists = append(l.cfg.Userlists, u)
	default:
		s := &Section{Pos: ln.Pos, Kind: kw}
		if len(args) > 0 {
			s.Name = args[0]
		}
		l.generic = s
		l.cfg.Sections = append(l.cfg.Sections, s)
		if kw != "resolvers" && kw != "peers" && kw != "http-errors" && kw != "mailers" {
			l.d.Warnf(ln.Pos, "'%s' section is parsed but not implemented by goproxy yet; ignored.", kw)
		}
	}
}

// endSection runs the checks that need a whole section.
func (l *loader) endSection() {
	if l.proxy != nil && l.proxy.Kind != "defaults" {
		l.checkProxyEnd(l.proxy)
	}
	l.proxy, l.userlist, l.generic = nil, nil, nil
}

func (l *loader) startDefaults(ln Line) {
	args := ln.Words[1:]
	d := newProxy("defaults", "", ln.Pos)
	d.Cap = CapListen
	if len(args) > 0 {
		d.Name = args[0]
		args = args[1:]
	}
	base := newProxy("defaults", "", Pos{})
	if len(args) >= 2 && args[0] == "from" {
		from, ok := l.namedDefaults[args[1]]
		if !ok {
			l.d.Alertf(ln.Pos, "defaults section '%s': unable to find defaults section '%s'.", d.Name, args[1])
		} else {
			base = from
		}
		args = args[2:]
	}
	if len(args) > 0 {
		l.d.Alertf(ln.Pos, "unexpected argument '%s' after defaults section name.", args[0])
	}
	inherit(d, base)
	l.proxy = d
	l.defaults = d
	if d.Name != "" {
		l.namedDefaults[d.Name] = d
	}
}

func (l *loader) startProxy(ln Line) {
	kw := ln.Words[0]
	args := ln.Words[1:]
	if len(args) < 1 {
		l.d.Alertf(ln.Pos, "'%s' expects <name> as argument.", kw)
		args = []string{""}
	}
	p := newProxy(kw, args[0], ln.Pos)
	switch kw {
	case "frontend":
		p.Cap = CapFE
	case "backend":
		p.Cap = CapBE
	default:
		p.Cap = CapListen
	}
	if err := checkName(p.Name); err != nil && p.Name != "" {
		l.d.Alertf(ln.Pos, "character '%s' is not permitted in '%s' name '%s'.", err.Error(), kw, p.Name)
	}
	rest := args[1:]
	from := l.defaults
	if len(rest) >= 2 && rest[0] == "from" {
		if d, ok := l.namedDefaults[rest[1]]; ok {
			from = d
		} else {
			l.d.Alertf(ln.Pos, "%s '%s': unable to find defaults section '%s'.", kw, p.Name, rest[1])
		}
		rest = rest[2:]
	}
	inherit(p, from)
	p.Defaults = from.Name
	if len(rest) > 0 && kw != "backend" {
		// HAProxy 1.x: `listen NAME ADDR:PORT` / `frontend NAME ADDR:PORT`.
		l.d.Warnf(ln.Pos, "'%s %s %s' : the listening address on the section line is HAProxy 1.x syntax (refused since 1.5 with \"please use the 'bind' keyword for listening addresses\"); accepted as 'bind %s'.",
			kw, p.Name, strings.Join(rest, " "), strings.Join(rest, " "))
		l.parseBind(p, Line{Pos: ln.Pos, Words: append([]string{"bind"}, rest...)})
	} else if len(rest) > 0 {
		l.d.Alertf(ln.Pos, "please use the 'bind' keyword for listening addresses.")
	}
	if prev, ok := l.proxyNames[p.Name]; ok && prev.Cap&p.Cap != 0 && p.Name != "" {
		l.d.Alertf(ln.Pos, "%s '%s' has the same name as %s '%s' declared at %s.", kw, p.Name, prev.Kind, prev.Name, prev.Pos)
	}
	l.proxyNames[p.Name] = p
	p.ID = l.nextID
	l.nextID++
	l.proxy = p
	l.cfg.Proxies = append(l.cfg.Proxies, p)
}

// checkName returns the first character HAProxy refuses in a proxy or
// server name (it allows letters, digits, '-', '_', '.', ':').
func checkName(name string) error {
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return fmt.Errorf("%c", c)
		}
	}
	return nil
}

func (l *loader) userlistLine(ln Line) {
	u := l.userlist
	w := ln.Words
	switch w[0] {
	case "user":
		if len(w) < 2 {
			l.d.Alertf(ln.Pos, "'user' expects <name> as argument.")
			return
		}
		usr := User{Name: w[1]}
		for i := 2; i < len(w); i++ {
			switch w[i] {
			case "password", "insecure-password":
				if i+1 >= len(w) {
					l.d.Alertf(ln.Pos, "'%s' expects a password.", w[i])
					return
				}
				usr.Password = w[i+1]
				usr.Insecure = w[i] == "insecure-password"
				i++
			case "groups":
				if i+1 >= len(w) {
					l.d.Alertf(ln.Pos, "'groups' expects a list of groups.")
					return
				}
				usr.Groups = strings.Split(w[i+1], ",")
				i++
			default:
				l.d.Alertf(ln.Pos, "'user' only supports 'password', 'insecure-password' and 'groups' (got '%s').", w[i])
				return
			}
		}
		u.Users = append(u.Users, usr)
	case "group":
		if len(w) < 2 {
			l.d.Alertf(ln.Pos, "'group' expects <name> as argument.")
			return
		}
		var users []string
		if len(w) >= 4 && w[2] == "users" {
			users = strings.Split(w[3], ",")
		}
		u.Groups[w[1]] = users
	default:
		l.d.Alertf(ln.Pos, "unknown keyword '%s' in 'userlist' section", w[0])
	}
}

// finish runs the whole-configuration checks and returns the result.
func (l *loader) finish() (*Config, *Diagnostics) {
	l.endSection()
	l.resolveReferences()
	l.checkSectionReferences()
	if l.d.HasAlerts() {
		return nil, l.d
	}
	return l.cfg, l.d
}
