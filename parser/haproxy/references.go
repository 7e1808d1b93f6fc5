package haproxy

// checkSectionReferences runs the checks HAProxy makes once the whole
// configuration is read, on names that point at other kinds of sections:
// `errorfiles NAME` needs an http-errors section NAME, `server ...
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
		}
	}
}
