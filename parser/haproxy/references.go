package haproxy

import "slices"

// checkSectionReferences runs the checks HAProxy makes once the whole
// configuration is read, on names that point at other kinds of sections:
// a checked server needs a port to check; `errorfiles NAME` needs an http-errors section NAME, `server ...
// resolvers NAME` a resolvers section NAME; `bind ... ssl` needs a `crt`.
// Messages are HAProxy 2.6's.
func (l *loader) checkSectionReferences() {
	named := map[string]map[string]bool{}
	for _, s := range l.cfg.Sections {
		if named[s.Kind] == nil {
			named[s.Kind] = map[string]bool{}
		}
		named[s.Kind][s.Name] = true
	}
	for _, p := range l.cfg.Proxies {
		for _, name := range p.ErrorFilesFrom {
			if !named["http-errors"][name] {
				l.d.Alertf(p.Pos, "proxy '%s': unknown http-errors section '%s'.", p.Name, name)
			}
		}
		for _, b := range p.Binds {
			if b.SSL && len(b.Crt) == 0 && len(b.Addrs) > 0 {
				l.d.Alertf(b.Pos, "Proxy '%s': no SSL certificate specified for bind '%s' at [%s] (use 'crt').", p.Name, b.Addrs[0].Raw, b.Pos)
			}
		}
		for _, s := range p.Servers {
			if s.Resolvers != "" && !named["resolvers"][s.Resolvers] {
				l.d.Alertf(s.Pos, "%s '%s', server '%s': unable to find required resolvers '%s'", p.Kind, p.Name, s.Name, s.Resolvers)
			}
			if len(p.TCPCheck) > 0 && p.CheckKind != CheckTCPSeq && s == p.Servers[0] {
				l.d.Warnf(Pos{}, "%s '%s' uses tcp-check rules without 'option tcp-check', so the rules are ignored.", p.Kind, p.Name)
			}
			if NeedsCheckPort(p, s) {
				// HAProxy names no line here; we name the server's.
				l.d.Alertf(s.Pos, "%s '%s': server '%s' has neither service port nor check port nor tcp_check rule 'connect' with port information.", p.Kind, p.Name, s.Name)
			}
		}
	}
}

// NeedsCheckPort reports a checked server that has no port to check: no
// service port (or only an offset), no `port`, and no first `tcp-check
// connect port N`. HAProxy refuses such a configuration.
func NeedsCheckPort(p *Proxy, s *Server) bool {
	if !s.Check || p.Disabled || s.Addr.Net == "unix" || s.Addr.Net == "abns" {
		return false
	}
	if !(s.Addr.NoPort || s.Addr.PortOff) || s.CheckPort != 0 {
		return false
	}
	return !(p.CheckKind == CheckTCPSeq && len(p.TCPCheck) > 0 && p.TCPCheck[0].Action == "connect" && slices.Contains(p.TCPCheck[0].Args, "port"))
}
