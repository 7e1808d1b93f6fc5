package proxy

import (
	"fmt"
	"net/netip"
	"strings"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// txn is what conditions and expressions see of a transaction.
type txn struct {
	src, dst netip.AddrPort
	req      *http1.Request // nil in mode tcp
	frontend string
	backend  string
}

// aclEnv is what compiling conditions needs from the proxy.
type aclEnv struct {
	userlists []*haproxy.Userlist
	readFile  func(string) ([]byte, error)
}

func (p *Proxy) aclEnv() *aclEnv {
	return &aclEnv{userlists: p.cfg.Userlists, readFile: p.opts.ReadFile}
}

// cond is a compiled if/unless condition; a nil *cond is always true.
type cond struct {
	match func(t *txn) bool
}

func (c *cond) ok(t *txn) bool { return c == nil || c.match(t) }

// expr is a compiled log-format string; a nil *expr is the empty string.
type expr struct {
	lit  string
	eval func(t *txn) string
}

func (e *expr) String(t *txn) string {
	if e == nil {
		return ""
	}
	if e.eval == nil {
		return e.lit
	}
	return e.eval(t)
}

// compileCond compiles c. Until proxy/acl is wired in, only the
// predefined always-true/false ACLs are understood.
func compileCond(c *haproxy.Cond, env *aclEnv) (*cond, error) {
	if c == nil {
		return nil, nil
	}
	var terms [][]func(*txn) bool
	for _, and := range c.Terms {
		var fs []func(*txn) bool
		for _, t := range and {
			var v bool
			switch t.Name {
			case "TRUE":
				v = true
			case "FALSE":
				v = false
			default:
				return nil, fmt.Errorf("ACL '%s' is not supported yet", t.Name)
			}
			r := v != t.Negate
			fs = append(fs, func(*txn) bool { return r })
		}
		terms = append(terms, fs)
	}
	unless := c.Unless
	return &cond{match: func(t *txn) bool {
		res := false
		for _, and := range terms {
			all := true
			for _, f := range and {
				if !f(t) {
					all = false
					break
				}
			}
			if all {
				res = true
				break
			}
		}
		return res != unless
	}}, nil
}

// compileExpr compiles a log-format string; without %[...] it is a
// literal.
func compileExpr(s string, env *aclEnv) (*expr, error) {
	if !strings.Contains(s, "%") {
		return &expr{lit: s}, nil
	}
	return nil, fmt.Errorf("log-format expression '%s' is not supported yet", s)
}
