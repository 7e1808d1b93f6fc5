package proxy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

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
	useServers     []useServer
	tcpConn        []*action // tcp-request connection rules
	tcpContent     []*action // tcp-request content rules
	inspectDelay   time.Duration
	contentPayload bool // a content rule reads the payload (waits up to inspect-delay)
}

// useServer is a compiled `use-server NAME [if|unless cond]`.
type useServer struct {
	cond *cond
	name string
}

type switchRule struct {
	cond    *cond
	backend *Backend // static target
	expr    *expr    // dynamic target (%[...])
}

// action is one compiled http-request/http-response/redirect rule.
type action struct {
	rule   *haproxy.Rule
	cond   *cond
	value  *expr // set-header/add-header value, redirect target
	re     *regexp.Regexp
	body   []byte
	track  *trackAction // track-scN
	sample *expr        // set-var expression
}

func compileRules(p *Proxy, pc *haproxy.Proxy, front bool) (*ruleSet, error) {
	rs := &ruleSet{forwardfor: pc.Options.Forwardfor}
	env := p.aclEnv()
	env.Section = pc.Name
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
	for _, r := range pc.UseServers {
		c, err := compileCond(r.Cond, env)
		if err != nil {
			return nil, fmt.Errorf("[%s:%d] use-server: %w", r.Pos.File, r.Pos.Line, err)
		}
		rs.useServers = append(rs.useServers, useServer{cond: c, name: r.Target})
	}
	var err error
	if rs.httpReq, err = p.compileActions(pc, pc.HTTPRequest, env); err != nil {
		return nil, err
	}
	if rs.httpResp, err = p.compileActions(pc, pc.HTTPResponse, env); err != nil {
		return nil, err
	}
	if rs.redirects, err = p.compileActions(pc, pc.Redirects, env); err != nil {
		return nil, err
	}
	var conn, content []*haproxy.Rule
	for _, r := range pc.TCPRequest {
		switch r.Kind {
		case "tcp-request connection", "tcp-request session":
			conn = append(conn, r)
		case "tcp-request content":
			content = append(content, r)
			if r.Cond != nil {
				for _, and := range r.Cond.Terms {
					for _, t := range and {
						for _, a := range append(t.Alts, t.ACL) {
							if a != nil && readsPayload(a.Fetch) {
								rs.contentPayload = true
							}
						}
					}
				}
			}
		case "tcp-request inspect-delay":
			if len(r.Args) > 0 {
				rs.inspectDelay = parseStickPeriod(r.Args[0])
			}
		}
	}
	if rs.tcpConn, err = p.compileActions(pc, conn, env); err != nil {
		return nil, err
	}
	if rs.tcpContent, err = p.compileActions(pc, content, env); err != nil {
		return nil, err
	}
	return rs, nil
}

// readsPayload reports whether a fetch looks at the request's buffered
// bytes (tcp-request content then waits for them up to inspect-delay).
func readsPayload(fetch string) bool {
	return strings.HasPrefix(fetch, "req.") || strings.HasPrefix(fetch, "req_") || strings.HasPrefix(fetch, "payload")
}

func (p *Proxy) compileActions(pc *haproxy.Proxy, rules []*haproxy.Rule, env *aclEnv) ([]*action, error) {
	var out []*action
	for _, r := range rules {
		c, err := compileCond(r.Cond, env)
		if err != nil {
			return nil, fmt.Errorf("[%s:%d] %s %s: %w", r.Pos.File, r.Pos.Line, r.Kind, r.Action, err)
		}
		a := &action{rule: r, cond: c}
		switch r.Action {
		case "replace-header", "replace-value", "replace-path", "replace-pathq", "replace-uri":
			if a.re, err = regexp.Compile(r.Regex); err != nil {
				return nil, fmt.Errorf("[%s:%d] %s %s: bad regex: %w", r.Pos.File, r.Pos.Line, r.Kind, r.Action, err)
			}
			fallthrough
		case "set-path", "set-pathq", "set-uri", "set-query", "set-method", "set-header", "add-header":
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
		case "track-sc0", "track-sc1", "track-sc2":
			if a.track, err = p.compileTrack(r, pc); err != nil {
				return nil, fmt.Errorf("[%s:%d] %s: %w", r.Pos.File, r.Pos.Line, r.Kind, err)
			}
		case "set-var":
			if a.sample, err = compileExpr("%["+r.Value+"]", env); err != nil {
				return nil, fmt.Errorf("[%s:%d] %s %s: %w", r.Pos.File, r.Pos.Line, r.Kind, r.Action, err)
			}
		}
		if strings.HasSuffix(r.Action, ")") && strings.Contains(r.Action, "(") {
			// tcp-request rules keep the first argument glued to the
			// action: set-var(txn.x), sc-inc-gpc0(0).
			act, name, _ := strings.Cut(strings.TrimSuffix(r.Action, ")"), "(")
			nr := *r
			nr.Action, nr.Name = act, name
			if act != "set-var" && act != "unset-var" {
				nr.Args = append([]string{name}, r.Args...)
			}
			if act == "set-var" && len(r.Args) > 0 {
				nr.Value = r.Args[0]
				if a.sample, err = compileExpr("%["+nr.Value+"]", env); err != nil {
					return nil, fmt.Errorf("[%s:%d] %s %s: %w", r.Pos.File, r.Pos.Line, r.Kind, r.Action, err)
				}
			}
			a.rule = &nr
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

// rewrite applies the header and URI rewriting actions shared by
// http-request and (for headers) http-response. It reports whether the
// action was one of them.
func rewrite(a *action, t *txn, h *http1.Header, req *http1.Request) bool {
	r := a.rule
	switch r.Action {
	case "set-header":
		h.Set(r.Name, a.value.String(t))
	case "add-header":
		h.Add(r.Name, a.value.String(t))
	case "del-header":
		h.Del(r.Name)
	case "replace-header", "replace-value":
		repl := a.value.String(t)
		for i, f := range *h {
			if !strings.EqualFold(f.Name, r.Name) {
				continue
			}
			if r.Action == "replace-header" {
				if a.re.MatchString(f.Value) {
					(*h)[i].Value = a.re.ReplaceAllString(f.Value, hapRepl(repl))
				}
				continue
			}
			// Each comma-separated value is rewritten in place; the
			// separators and blanks around values are kept.
			var b strings.Builder
			v := f.Value
			for {
				item, rest, more := strings.Cut(v, ",")
				lead := len(item) - len(strings.TrimLeft(item, " \t"))
				core := strings.TrimSpace(item)
				trail := len(item) - lead - len(core)
				if trail < 0 {
					trail = 0
				}
				b.WriteString(item[:lead])
				if a.re.MatchString(core) {
					core = a.re.ReplaceAllString(core, hapRepl(repl))
				}
				b.WriteString(core)
				b.WriteString(item[len(item)-trail:])
				if !more {
					break
				}
				b.WriteByte(',')
				v = rest
			}
			(*h)[i].Value = b.String()
		}
	case "set-method":
		if req != nil {
			req.Method = a.value.String(t)
		}
	case "set-path", "set-pathq", "set-uri", "set-query", "replace-path", "replace-pathq", "replace-uri":
		if req == nil {
			return true
		}
		path, query, hasQ := strings.Cut(req.Target, "?")
		v := a.value.String(t)
		switch r.Action {
		case "set-path":
			req.Target = v
			if hasQ {
				req.Target += "?" + query
			}
		case "set-pathq", "set-uri":
			req.Target = v
		case "set-query":
			req.Target = path + "?" + v
		case "replace-path":
			if a.re.MatchString(path) {
				path = a.re.ReplaceAllString(path, hapRepl(v))
			}
			req.Target = path
			if hasQ {
				req.Target += "?" + query
			}
		case "replace-pathq", "replace-uri":
			if a.re.MatchString(req.Target) {
				req.Target = a.re.ReplaceAllString(req.Target, hapRepl(v))
			}
		}
	default:
		return false
	}
	return true
}

// hapRepl turns HAProxy's \1 back-references into Go's ${1}.
func hapRepl(s string) string {
	if !strings.Contains(s, "\\") && !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
			continue
		}
		if c == '$' {
			b.WriteString("$$")
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
