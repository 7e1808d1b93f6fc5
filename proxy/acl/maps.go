package acl

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// mapFile is a map file as read at load: "key value" lines, '#' comments.
type mapFile struct {
	name  string
	keys  []string
	vals  []string
	exact map[string]int // first line of each key (map_str)
	lower map[string]int
	regs  []*regexp.Regexp // lazily compiled for map_reg
	nets  []netip.Prefix   // for map_ip (invalid entries are zero)
}

// loadMap reads a map file once per Env.
func (e *Env) loadMap(name string) (*mapFile, error) {
	if e != nil && e.maps != nil {
		if m, ok := e.maps[name]; ok {
			return m, nil
		}
	}
	b, err := e.readFile(name)
	if err != nil {
		return nil, fmt.Errorf("failed to open map file <%s>: %w", name, err)
	}
	m := &mapFile{name: name, exact: map[string]int{}, lower: map[string]int{}}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimLeft(line, " \t")
		if t == "" || t[0] == '#' {
			continue
		}
		k, v := t, ""
		if i := strings.IndexAny(t, " \t"); i >= 0 {
			k, v = t[:i], strings.Trim(t[i:], " \t")
		}
		_ = n
		idx := len(m.keys)
		m.keys = append(m.keys, k)
		m.vals = append(m.vals, v)
		if _, dup := m.exact[k]; !dup {
			m.exact[k] = idx
		}
		if _, dup := m.lower[strings.ToLower(k)]; !dup {
			m.lower[strings.ToLower(k)] = idx
		}
	}
	if e != nil {
		if e.maps == nil {
			e.maps = map[string]*mapFile{}
		}
		e.maps[name] = m
	}
	return m, nil
}

// prepare compiles what a lookup kind needs, reporting bad entries with
// their line content.
func (m *mapFile) prepare(kind matchKind) error {
	switch kind {
	case mReg:
		if m.regs != nil {
			return nil
		}
		m.regs = make([]*regexp.Regexp, len(m.keys))
		for i, k := range m.keys {
			re, err := regexp.Compile(k)
			if err != nil {
				return fmt.Errorf("map file <%s>: regex '%s' is invalid: %v", m.name, k, err)
			}
			m.regs[i] = re
		}
	case mIP:
		if m.nets != nil {
			return nil
		}
		m.nets = make([]netip.Prefix, len(m.keys))
		for i, k := range m.keys {
			p, err := parseIPPattern(k, true)
			if err != nil {
				return fmt.Errorf("map file <%s>: %v", m.name, err)
			}
			m.nets[i] = p[0]
		}
	}
	return nil
}

// lookup returns the value of the first entry matching v (for map_ip the
// longest matching prefix, like HAProxy's tree lookup).
func (m *mapFile) lookup(kind matchKind, s sample) (string, bool) {
	switch kind {
	case mIP:
		a, ok := s.addr()
		if !ok {
			return "", false
		}
		a = a.Unmap()
		best := -1
		for i, n := range m.nets {
			if n.Contains(a) && (best < 0 || n.Bits() > m.nets[best].Bits()) {
				best = i
			}
		}
		if best < 0 {
			return "", false
		}
		return m.vals[best], true
	case mInt:
		n, ok := s.integer()
		if !ok {
			return "", false
		}
		for i, k := range m.keys {
			if r, err := parseIntPattern(k); err == nil && r.contains(n) {
				return m.vals[i], true
			}
		}
		return "", false
	}
	v := s.str()
	switch kind {
	case mStr:
		if i, ok := m.exact[v]; ok {
			return m.vals[i], true
		}
		return "", false
	case mReg:
		for i, re := range m.regs {
			if re.MatchString(v) {
				return m.vals[i], true
			}
		}
		return "", false
	}
	if kind == mBeg {
		// HAProxy indexes map_beg keys in a prefix tree: the longest
		// matching key wins (verified against haproxy).
		best := -1
		for i, k := range m.keys {
			if strings.HasPrefix(v, k) && (best < 0 || len(k) > len(m.keys[best])) {
				best = i
			}
		}
		if best < 0 {
			return "", false
		}
		return m.vals[best], true
	}
	for i, k := range m.keys {
		var ok bool
		switch kind {
		case mEnd:
			ok = strings.HasSuffix(v, k)
		case mSub:
			ok = strings.Contains(v, k)
		case mDom:
			ok = matchWord(v, strings.Trim(k, "/?.:"), false, true)
		case mDir:
			ok = matchWord(v, strings.Trim(k, "/?"), false, false)
		}
		if ok {
			return m.vals[i], true
		}
	}
	return "", false
}
