package proxy

import (
	"strconv"
	"strings"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// cookiePersist is a backend's `cookie` persistence, applied the way
// HAProxy 2.6 does (measured against it, see TestCookieDifferential):
//
//   - request: the first cookie called Name whose value (before '~' in
//     prefix mode) equals a server's `cookie` value sends the request to
//     that server when it is up, or even down with `option persist`;
//     insert+indirect removes the cookie from the request, prefix mode
//     strips "SRV~" from its value;
//   - response: the server's own Set-Cookie of that name is removed in
//     insert mode (kept with preserve, also removed when indirect and the
//     client came with a valid cookie), rewritten to the server's value in
//     rewrite mode, prefixed with "SRV~" in prefix mode; insert mode adds
//     "Set-Cookie: NAME=SRV; path=/" unless the client already had a
//     valid cookie for this server (a server without `cookie` gets a
//     removal cookie), and nocache adds "Cache-control: private" to a
//     cacheable response.
type cookiePersist struct {
	cfg     *haproxy.Cookie
	insert  bool
	rewrite bool
	prefix  bool
	persist bool   // option persist
	attrs   string // "; domain=...; HttpOnly; Secure; attr" of inserted cookies
}

func newCookiePersist(pc *haproxy.Proxy) *cookiePersist {
	c := pc.Cookie
	if c == nil {
		return nil
	}
	cp := &cookiePersist{cfg: c, insert: c.Mode == "insert", rewrite: c.Mode == "rewrite", prefix: c.Mode == "prefix", persist: pc.Options.Persist}
	var b strings.Builder
	for _, d := range c.Domains {
		// HAProxy joins several domains into one attribute each.
		b.WriteString("; domain=" + d)
	}
	if c.HTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	for _, a := range c.Attrs {
		b.WriteString("; " + a)
	}
	cp.attrs = b.String()
	return cp
}

// cookieState is what the request's persistence cookie said.
type cookieState struct {
	srv    *Server // server designated by a valid cookie (may be down with option persist)
	direct bool    // srv is used for this request (HAProxy's SF_DIRECT)
}

// request looks for the persistence cookie in the request's Cookie
// headers, edits them as the mode requires and returns the designated
// server, if any.
func (cp *cookiePersist) request(be *Backend, h *http1.Header) cookieState {
	var st cookieState
	name := cp.cfg.Name
	assigned := false
	for i := 0; i < len(*h); i++ {
		f := &(*h)[i]
		if !strings.EqualFold(f.Name, "cookie") || !strings.Contains(f.Value, name) {
			continue
		}
		v := f.Value
		changed := false
		for pos := 0; pos < len(v); {
			// One cookie: [start,end) between delimiters, blanks trimmed.
			next := strings.IndexByte(v[pos:], ';')
			if next < 0 {
				next = len(v)
			} else {
				next += pos
			}
			start, end := pos, next
			for start < end && (v[start] == ' ' || v[start] == '\t') {
				start++
			}
			for end > start && (v[end-1] == ' ' || v[end-1] == '\t') {
				end--
			}
			ck := v[start:end]
			eq := strings.IndexByte(ck, '=')
			if eq < 0 || strings.TrimRight(ck[:eq], " \t") != name {
				pos = next + 1
				continue
			}
			val := strings.TrimLeft(ck[eq+1:], " \t")
			id := val
			delim := -1
			if cp.prefix {
				if delim = strings.IndexByte(val, '~'); delim >= 0 {
					id = val[:delim]
				}
			} else if j := strings.IndexByte(val, '|'); j >= 0 {
				id = val[:j] // NAME=SRV|<dates>
			}
			if !assigned && id != "" {
				for _, s := range be.Servers {
					if s.Cfg.Cookie == "" || s.Cfg.Cookie != id {
						continue
					}
					if s.up.Load() || cp.persist {
						st.srv, st.direct = s, true
						assigned = true
						break
					}
				}
			}
			switch {
			case cp.prefix && delim >= 0:
				// Keep the application's value only.
				vs := start + eq + 1 + (len(ck[eq+1:]) - len(val))
				v = v[:vs] + val[delim+1:] + v[end:]
				changed = true
				pos = vs + len(val) - delim - 1
				if k := strings.IndexByte(v[pos:], ';'); k >= 0 {
					pos += k + 1
				} else {
					pos = len(v)
				}
			case cp.insert && cp.cfg.Indirect:
				// The server never sees the cookie: remove it with the
				// delimiter before it (or after it when it comes first).
				if from := strings.LastIndexByte(v[:start], ';'); from >= 0 {
					v = v[:from] + v[next:]
					pos = from + 1
				} else if next < len(v) {
					k := next + 1
					for k < len(v) && (v[k] == ' ' || v[k] == '\t') {
						k++
					}
					v = v[k:]
					pos = 0
				} else {
					v = ""
					pos = 0
				}
				changed = true
			default:
				pos = next + 1
			}
		}
		if !changed {
			continue
		}
		if strings.TrimSpace(v) == "" {
			*h = append((*h)[:i], (*h)[i+1:]...)
			i--
			continue
		}
		f.Value = v
	}
	return st
}

// response applies the cookie mode to the server's response: srv served
// it, direct says the client came with a valid cookie for srv.
func (cp *cookiePersist) response(resp *http1.Response, srv *Server, direct bool, method string) {
	name := cp.cfg.Name
	found := false
	h := &resp.Header
	for i := 0; i < len(*h); i++ {
		f := &(*h)[i]
		if !strings.EqualFold(f.Name, "set-cookie") {
			continue
		}
		v := f.Value
		eq := strings.IndexByte(v, '=')
		if eq < 0 || strings.TrimSpace(v[:eq]) != name {
			continue
		}
		found = true
		switch {
		case cp.cfg.Preserve:
		case cp.insert || direct && cp.cfg.Indirect:
			*h = append((*h)[:i], (*h)[i+1:]...)
			i--
		case cp.rewrite && srv.Cfg.Cookie != "":
			vs := eq + 1
			for vs < len(v) && (v[vs] == ' ' || v[vs] == '\t') {
				vs++
			}
			ve := strings.IndexByte(v[vs:], ';')
			if ve < 0 {
				ve = len(v)
			} else {
				ve += vs
			}
			for ve > vs && (v[ve-1] == ' ' || v[ve-1] == '\t') {
				ve--
			}
			f.Value = v[:vs] + srv.Cfg.Cookie + v[ve:]
		case cp.prefix && srv.Cfg.Cookie != "":
			vs := eq + 1
			for vs < len(v) && (v[vs] == ' ' || v[vs] == '\t') {
				vs++
			}
			f.Value = v[:vs] + srv.Cfg.Cookie + "~" + v[vs:]
		}
	}
	if !cp.insert || found && cp.cfg.Preserve || direct || cp.cfg.PostOnly && method != "POST" {
		return
	}
	var b strings.Builder
	if srv.Cfg.Cookie == "" {
		b.WriteString(name + "=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/")
	} else {
		b.WriteString(name + "=" + srv.Cfg.Cookie + "; path=/")
	}
	b.WriteString(cp.attrs)
	h.Add("set-cookie", b.String())
	if cp.cfg.NoCache && cacheable(resp) {
		h.Add("cache-control", "private")
	}
}

// cacheable reports whether a response is explicitly cacheable the way
// HAProxy 2.6 decides it for `cookie ... nocache`: a Cache-Control
// public, max-age or s-maxage (non-zero) directive not cancelled by a
// later private, no-cache, no-store or zero max-age, on a status that
// may be cached.
func cacheable(resp *http1.Response) bool {
	switch resp.Status {
	case 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501:
	default:
		return false
	}
	ok := false
	for _, d := range resp.Header.Values("cache-control") {
		d = strings.ToLower(d)
		switch {
		case d == "public":
			ok = true
		case d == "private" || d == "no-cache" || d == "no-store" || strings.HasPrefix(d, "private=") || strings.HasPrefix(d, "no-cache="):
			ok = false
		case strings.HasPrefix(d, "max-age=") || strings.HasPrefix(d, "s-maxage="):
			n, _ := strconv.Atoi(d[strings.IndexByte(d, '=')+1:])
			ok = n > 0
		}
	}
	return ok
}
