package proxy

import (
	"fmt"
	"strconv"
	"strings"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// ruleSet is what a frontend or backend evaluates per request, compiled
// once from the configuration.
type ruleSet struct {
	useBackends    []switchRule
	defaultBackend *Backend
	httpReq        []*action
	httpResp       []*action
	redirects      []*action
	forwardfor     *haproxy.Forwardfor
}

type switchRule struct {
	cond    *cond
	backend *Backend // static target
	expr    *expr    // dynamic target (%[...])
}

// action is one compiled http-request/http-response/redirect rule.
type action struct {
	rule  *haproxy.Rule
	cond  *cond
	value *expr // set-header/add-header value, redirect target
	body  []byte
}

func compileRules(p *Proxy, pc *haproxy.Proxy, front bool) (*ruleSet, error) {
	rs := &ruleSet{forwardfor: pc.Options.Forwardfor}
	env := p.aclEnv()
	if front {
		for _, r := range pc.UseBackends {
			c, err := compileCond(r.Cond, env)
			if err != nil {
				return nil, fmt.Errorf("[%s:%d] use_backend: %w", r.Pos.File, r.Pos.Line, err)
			}
			sr := switchRule{cond: c}
			if r.Dynamic {
				e, err := compileExpr(r.Target, env)
				if err != nil {
					return nil, fmt.Errorf("[%s:%d] use_backend: %w", r.Pos.File, r.Pos.Line, err)
				}
				sr.expr = e
			} else {
				sr.backend = p.beByName[r.Target]
				if sr.backend == nil {
					return nil, fmt.Errorf("[%s:%d] use_backend: unable to find required use_backend: '%s'", r.Pos.File, r.Pos.Line, r.Target)
				}
			}
			rs.useBackends = append(rs.useBackends, sr)
		}
		if pc.DefaultBackend != "" {
			rs.defaultBackend = p.beByName[pc.DefaultBackend]
			if rs.defaultBackend == nil {
				return nil, fmt.Errorf("unable to find required default_backend: '%s'", pc.DefaultBackend)
			}
		}
	}
	var err error
	if rs.httpReq, err = compileActions(pc.HTTPRequest, env); err != nil {
		return nil, err
	}
	if rs.httpResp, err = compileActions(pc.HTTPResponse, env); err != nil {
		return nil, err
	}
	if rs.redirects, err = compileActions(pc.Redirects, env); err != nil {
		return nil, err
	}
	return rs, nil
}

func compileActions(rules []*haproxy.Rule, env *aclEnv) ([]*action, error) {
	var out []*action
	for _, r := range rules {
		c, err := compileCond(r.Cond, env)
		if err != nil {
			return nil, fmt.Errorf("[%s:%d] %s %s: %w", r.Pos.File, r.Pos.Line, r.Kind, r.Action, err)
		}
		a := &action{rule: r, cond: c}
		switch r.Action {
		case "set-header", "add-header":
			if a.value, err = compileExpr(r.Value, env); err != nil {
				return nil, fmt.Errorf("[%s:%d] %s %s: %w", r.Pos.File, r.Pos.Line, r.Kind, r.Action, err)
			}
		case "redirect":
			if r.Redirect != nil {
				if a.value, err = compileExpr(r.Redirect.Target, env); err != nil {
					return nil, fmt.Errorf("[%s:%d] %s: %w", r.Pos.File, r.Pos.Line, r.Kind, err)
				}
			}
		case "return", "deny", "tarpit":
			a.body = returnResponse(r)
		}
		out = append(out, a)
	}
	return out, nil
}

// returnResponse builds the response of `return`, or of `deny` with a
// payload; nil means HAProxy's default error page for the status.
func returnResponse(r *haproxy.Rule) []byte {
	hasHdr := false
	for i := 0; i+2 < len(r.Args); i++ {
		if r.Args[i] == "hdr" {
			hasHdr = true
		}
	}
	if r.Action != "return" && r.Body == "" && r.ContentType == "" && !hasHdr {
		return nil
	}
	var b strings.Builder
	st := r.Status
	b.WriteString("HTTP/1.1 " + strconv.Itoa(st) + " " + http1.ReasonPhrase(st) + "\r\n")
	b.WriteString("content-length: " + strconv.Itoa(len(r.Body)) + "\r\n")
	if r.ContentType != "" {
		b.WriteString("content-type: " + r.ContentType + "\r\n")
	}
	for i := 0; i+2 < len(r.Args); i++ {
		if r.Args[i] == "hdr" && i > 0 {
			b.WriteString(strings.ToLower(r.Args[i+1]) + ": " + r.Args[i+2] + "\r\n")
			i += 2
		}
	}
	b.WriteString("\r\n")
	b.WriteString(r.Body)
	return []byte(b.String())
}
