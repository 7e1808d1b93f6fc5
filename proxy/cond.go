package proxy

import (
	"net/netip"
	"strings"

	"hapair/parser/haproxy"
	"hapair/proxy/acl"
	"hapair/proxy/http1"
)

// txn is what conditions and expressions see of a transaction.
type txn struct {
	src, dst netip.AddrPort
	req      *http1.Request // nil in mode tcp
	frontend string
	backend  string
	trk      *trackers         // stick counters tracked (nil: none)
	vars     map[string]string // set-var variables (nil: none)
	payload  []byte            // tcp-request content: bytes buffered so far
	a        acl.Txn           // refreshed before each evaluation (headers change)
}

// aclTxn returns the acl view of t, up to date with header edits.
func (t *txn) aclTxn() *acl.Txn {
	a := &t.a
	*a = acl.Txn{Src: t.src, Dst: t.dst, Frontend: t.frontend, Backend: t.backend, Vars: t.vars, Payload: t.payload}
	if t.trk != nil {
		a.Stick = t.trk
	}
	if r := t.req; r != nil {
		a.HTTP = true
		a.Method, a.Target, a.Minor, a.Header = r.Method, r.Target, r.Minor, r.Header
	}
	return a
}

// aclEnv is what compiling conditions needs from the proxy; one per
// proxy, so map files are read once.
type aclEnv = acl.Env

func (p *Proxy) aclEnv() *aclEnv {
	if p.env == nil {
		p.env = &acl.Env{Userlists: p.cfg.Userlists, ReadFile: p.opts.ReadFile, Counter: p.stickCounterFetch}
	}
	return p.env
}

// cond is a compiled if/unless condition; a nil *cond is always true.
type cond struct {
	c *acl.Cond
}

func (c *cond) ok(t *txn) bool { return c == nil || c.c.Match(t.aclTxn()) }

// expr is a compiled log-format string; a nil *expr is the empty string.
type expr struct {
	lit string
	e   *acl.Expr
}

func (e *expr) String(t *txn) string {
	if e == nil {
		return ""
	}
	if e.e == nil {
		return e.lit
	}
	return e.e.Eval(t.aclTxn())
}

func compileCond(c *haproxy.Cond, env *aclEnv) (*cond, error) {
	if c == nil {
		return nil, nil
	}
	ac, err := acl.CompileCond(c, env)
	if err != nil {
		return nil, err
	}
	return &cond{c: ac}, nil
}

// compileExpr compiles a log-format string. Without '%' it is a literal
// kept byte for byte (HAProxy keeps backslashes there: "\1" back-references
// of replace-* actions).
func compileExpr(s string, env *aclEnv) (*expr, error) {
	if !strings.Contains(s, "%") {
		return &expr{lit: s}, nil
	}
	e, err := acl.CompileExpr(s, env)
	if err != nil {
		return nil, err
	}
	return &expr{e: e}, nil
}
