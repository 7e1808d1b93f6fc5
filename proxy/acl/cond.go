package acl

import (
	"fmt"
	"strings"

	"hapair/parser/haproxy"
)

// Cond is a compiled `if`/`unless` condition. A nil *Cond (no condition)
// always matches.
type Cond struct {
	unless bool
	terms  [][]term // OR of ANDs
}

type term struct {
	neg  bool
	alts []*acl // same-name ACLs, ORed
}

// acl is one compiled ACL: a sample expression and the patterns its
// values are matched against.
type acl struct {
	name  string
	fetch *fetch
	convs []conv
	pats  *patterns
}

// CompileCond compiles a parsed condition. A nil c gives a nil *Cond,
// which always matches. Errors name the ACL and its file:line.
func CompileCond(c *haproxy.Cond, env *Env) (*Cond, error) {
	if c == nil {
		return nil, nil
	}
	if env == nil {
		env = &Env{}
	}
	out := &Cond{unless: c.Unless}
	for _, and := range c.Terms {
		var ts []term
		for _, t := range and {
			alts := t.Alts
			if len(alts) == 0 && t.ACL != nil {
				alts = []*haproxy.ACL{t.ACL}
			}
			if len(alts) == 0 {
				return nil, fmt.Errorf("no such ACL : '%s'", t.Name)
			}
			ct := term{neg: t.Negate}
			for _, a := range alts {
				ca, err := env.compileACL(a)
				if err != nil {
					return nil, err
				}
				ct.alts = append(ct.alts, ca)
			}
			ts = append(ts, ct)
		}
		out.terms = append(out.terms, ts)
	}
	return out, nil
}

// compileACL compiles a parsed ACL once per Env.
func (e *Env) compileACL(a *haproxy.ACL) (*acl, error) {
	if ca, ok := e.acls[a]; ok {
		return ca, nil
	}
	ca, err := e.buildACL(a)
	if err != nil {
		where := a.Pos.String()
		if a.Pos.File == "" {
			where = "{ " + a.Expr + " }"
		}
		if a.Name != "" {
			return nil, fmt.Errorf("%s: acl '%s': %w", where, a.Name, err)
		}
		return nil, fmt.Errorf("%s: anonymous acl '%s': %w", where, a.Expr, err)
	}
	if e.acls == nil {
		e.acls = map[*haproxy.ACL]*acl{}
	}
	e.acls[a] = ca
	return ca, nil
}

func (e *Env) buildACL(a *haproxy.ACL) (*acl, error) {
	f, err := compileFetch(a.Fetch, a.FetchArgs, true, e)
	if err != nil {
		return nil, err
	}
	ca := &acl{name: a.Name, fetch: f}
	for _, c := range a.Converters {
		cv, err := compileConv(c, e)
		if err != nil {
			return nil, err
		}
		ca.convs = append(ca.convs, cv)
	}
	m := a.Match
	if m == "" {
		m = "str"
	}
	kind, ok := matchKinds[m]
	if !ok {
		return nil, fmt.Errorf("unknown matching method '%s'", m)
	}
	ca.pats, err = compilePatterns(kind, a.IgnoreCase, a.NoDNS, a.Patterns)
	if err != nil {
		return nil, err
	}
	if f.kind == fMethod && len(a.Converters) == 0 && kind == mStr {
		ca.pats.method = true
		ca.pats.set, ca.pats.strs = nil, a.Patterns
	}
	return ca, nil
}

// Match evaluates the condition against t.
func (c *Cond) Match(t *Txn) bool {
	if c == nil {
		return true
	}
	res := false
	for _, and := range c.terms {
		ok := true
		for i := range and {
			tm := &and[i]
			m := false
			for _, a := range tm.alts {
				if a.match(t) {
					m = true
					break
				}
			}
			if m == tm.neg {
				ok = false
				break
			}
		}
		if ok {
			res = true
			break
		}
	}
	return res != c.unless
}

// String shows the condition's structure, for debugging.
func (c *Cond) String() string {
	if c == nil {
		return "<always>"
	}
	var ors []string
	for _, and := range c.terms {
		var ands []string
		for _, t := range and {
			n := t.alts[0].name
			if n == "" {
				n = "{anonymous}"
			}
			if t.neg {
				n = "!" + n
			}
			ands = append(ands, n)
		}
		ors = append(ors, strings.Join(ands, " "))
	}
	s := "if "
	if c.unless {
		s = "unless "
	}
	return s + strings.Join(ors, " || ")
}

// match reports whether any value of the ACL's sample matches a pattern.
func (a *acl) match(t *Txn) bool {
	c := cursor{}
	for {
		s, next, ok := a.fetch.next(t, c)
		if !ok {
			return false
		}
		for _, cv := range a.convs {
			if s, ok = cv(s); !ok {
				break
			}
		}
		if ok && a.pats.match(s) {
			return true
		}
		if next.a < 0 {
			return false
		}
		c = next
	}
}
