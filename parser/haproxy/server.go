package haproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// serverOption parses one option of a server or default-server line; n is
// how many words follow its name.
type serverOption struct {
	n       int
	apply   func(s *ServerParams, a []string) error
	notImpl bool
}

func durOpt(set func(s *ServerParams, d time.Duration)) func(*ServerParams, []string) error {
	return func(s *ServerParams, a []string) error {
		d, err := parseTime(a[0], "ms")
		if err != nil {
			return err
		}
		set(s, d)
		return nil
	}
}

func intOpt(set func(s *ServerParams, v int), lo, hi int) func(*ServerParams, []string) error {
	return func(s *ServerParams, a []string) error {
		v, err := strconv.Atoi(a[0])
		if err != nil || v < lo || v > hi {
			return fmt.Errorf("expects an integer between %d and %d (got '%s')", lo, hi, a[0])
		}
		set(s, v)
		return nil
	}
}

func flagOpt(set func(s *ServerParams)) func(*ServerParams, []string) error {
	return func(s *ServerParams, _ []string) error { set(s); return nil }
}

var serverOptions map[string]serverOption

func init() {
	serverOptions = map[string]serverOption{
		"check":          {0, flagOpt(func(s *ServerParams) { s.Check = true }), false},
		"no-check":       {0, flagOpt(func(s *ServerParams) { s.Check = false }), false},
		"inter":          {1, durOpt(func(s *ServerParams, d time.Duration) { s.Inter = d }), false},
		"fastinter":      {1, durOpt(func(s *ServerParams, d time.Duration) { s.FastInter = d }), false},
		"downinter":      {1, durOpt(func(s *ServerParams, d time.Duration) { s.DownInter = d }), false},
		"rise":           {1, intOpt(func(s *ServerParams, v int) { s.Rise = v }, 1, 1<<30), false},
		"fall":           {1, intOpt(func(s *ServerParams, v int) { s.Fall = v }, 1, 1<<30), false},
		"weight":         {1, intOpt(func(s *ServerParams, v int) { s.Weight = v }, 0, 256), false},
		"backup":         {0, flagOpt(func(s *ServerParams) { s.Backup = true }), false},
		"no-backup":      {0, flagOpt(func(s *ServerParams) { s.Backup = false }), false},
		"disabled":       {0, flagOpt(func(s *ServerParams) { s.Disabled = true }), false},
		"enabled":        {0, flagOpt(func(s *ServerParams) { s.Disabled = false }), false},
		"maxconn":        {1, intOpt(func(s *ServerParams, v int) { s.Maxconn = v }, 0, 1<<30), false},
		"maxqueue":       {1, intOpt(func(s *ServerParams, v int) { s.Maxqueue = v }, 0, 1<<30), false},
		"minconn":        {1, intOpt(func(s *ServerParams, v int) { s.Minconn = v }, 0, 1<<30), false},
		"send-proxy":     {0, flagOpt(func(s *ServerParams) { s.SendProxy = 1 }), false},
		"send-proxy-v2":  {0, flagOpt(func(s *ServerParams) { s.SendProxy = 2 }), false},
		"no-send-proxy":  {0, flagOpt(func(s *ServerParams) { s.SendProxy = 0 }), false},
		"slowstart":      {1, durOpt(func(s *ServerParams, d time.Duration) { s.Slowstart = d }), false},
		"cookie":         {1, func(s *ServerParams, a []string) error { s.Cookie = a[0]; return nil }, false},
		"port":           {1, intOpt(func(s *ServerParams, v int) { s.CheckPort = v }, 1, 65535), false},
		"addr":           {1, func(s *ServerParams, a []string) error { s.CheckAddr = a[0]; return nil }, false},
		"observe":        {1, func(s *ServerParams, a []string) error { s.Observe = a[0]; return nil }, true},
		"on-error":       {1, func(s *ServerParams, a []string) error { s.OnError = a[0]; return nil }, true},
		"on-marked-down": {1, nil, true},
		"on-marked-up":   {1, nil, true},
		"error-limit":    {1, intOpt(func(s *ServerParams, v int) { s.ErrorLimit = v }, 0, 1<<30), true},
		"redir":          {1, func(s *ServerParams, a []string) error { s.Redir = a[0]; return nil }, true},
		"track":          {1, func(s *ServerParams, a []string) error { s.Track = a[0]; return nil }, true},
		"resolvers":      {1, func(s *ServerParams, a []string) error { s.Resolvers = a[0]; return nil }, true},
		"resolve-prefer": {1, func(s *ServerParams, a []string) error { s.ResolvePrefer = a[0]; return nil }, false},
		"resolve-opts":   {1, nil, true},
		"resolve-net":    {1, nil, true},
		"init-addr":      {1, func(s *ServerParams, a []string) error { s.InitAddr = a[0]; return nil }, false},
		"ssl":            {0, flagOpt(func(s *ServerParams) { s.SSL = true }), true},
		"no-ssl":         {0, flagOpt(func(s *ServerParams) { s.SSL = false }), false},
		"check-ssl":      {0, flagOpt(func(s *ServerParams) { s.CheckSSL = true }), true},
		"no-check-ssl":   {0, flagOpt(func(s *ServerParams) { s.CheckSSL = false }), false},
		"verify":         {1, func(s *ServerParams, a []string) error { s.Verify = a[0]; return nil }, true},
		"verifyhost":     {1, nil, true},
		"ca-file":        {1, func(s *ServerParams, a []string) error { s.CAFile = a[0]; return nil }, true},
		"crt":            {1, nil, true},
		"sni":            {1, func(s *ServerParams, a []string) error { s.SNI = a[0]; return nil }, true},
		"alpn":           {1, nil, true},
		"check-alpn":     {1, nil, true},
		"check-sni":      {1, nil, true},
		"ciphers":        {1, nil, true},
		"ssl-min-ver":    {1, nil, true},
		"ssl-max-ver":    {1, nil, true},
		"no-sslv3":       {0, nil, true},
		"no-tlsv10":      {0, nil, true},
		"no-tlsv11":      {0, nil, true},
		"force-sslv3":    {0, nil, true},
		"force-tlsv12":   {0, nil, true},
		"agent-check":    {0, func(s *ServerParams, a []string) error { ensureAgent(s); return nil }, true},
		"agent-port":     {1, func(s *ServerParams, a []string) (err error) { ensureAgent(s).Port, err = atoiArg(a[0]); return }, true},
		"agent-inter": {1, func(s *ServerParams, a []string) (err error) {
			ensureAgent(s).Inter, err = parseTime(a[0], "ms")
			return
		}, true},
		"agent-addr":           {1, func(s *ServerParams, a []string) error { ensureAgent(s).Addr = a[0]; return nil }, true},
		"agent-send":           {1, func(s *ServerParams, a []string) error { ensureAgent(s).Send = a[0]; return nil }, true},
		"id":                   {1, nil, false},
		"check-send-proxy":     {0, nil, true},
		"source":               {1, nil, true},
		"pool-max-conn":        {1, nil, false},
		"pool-purge-delay":     {1, nil, false},
		"pool-low-conn":        {1, nil, false},
		"tfo":                  {0, nil, true},
		"namespace":            {1, nil, true},
		"proto":                {1, nil, true},
		"max-reuse":            {1, nil, false},
		"tcp-ut":               {1, nil, true},
		"non-stick":            {0, nil, true},
		"allow-0rtt":           {0, nil, true},
		"socks4":               {1, nil, true},
		"ws":                   {1, nil, true},
		"usesrc":               {1, nil, true},
		"log-proto":            {1, nil, true},
		"check-proto":          {1, nil, true},
		"check-via-socks4":     {0, nil, true},
		"no-agent-check":       {0, nil, true},
		"no-tls-tickets":       {0, nil, true},
		"send-proxy-v2-ssl":    {0, nil, true},
		"send-proxy-v2-ssl-cn": {0, nil, true},
		"proxy-v2-options":     {1, nil, true},
		"set-proxy-v2-tlv-fmt": {1, nil, true},
	}
}

func ensureAgent(s *ServerParams) *AgentCheck {
	if s.Agent == nil {
		s.Agent = &AgentCheck{}
	}
	return s.Agent
}

// applyServerOptions parses the options in w into sp; what names the line
// in messages ("server be/s1" or "default-server").
func (l *loader) applyServerOptions(ln Line, what string, sp *ServerParams, w []string) bool {
	for i := 0; i < len(w); i++ {
		opt, ok := serverOptions[w[i]]
		if !ok {
			l.d.Alertf(ln.Pos, "'%s' : unknown keyword '%s'.", what, w[i])
			return false
		}
		if opt.n > 0 && i+opt.n >= len(w) {
			l.d.Alertf(ln.Pos, "'%s' : '%s' expects an argument.", what, w[i])
			return false
		}
		args := w[i+1 : i+1+opt.n]
		if opt.apply != nil {
			if err := opt.apply(sp, args); err != nil {
				l.d.Alertf(ln.Pos, "'%s' : '%s' %v.", what, w[i], err)
				return false
			}
		}
		if opt.notImpl {
			l.d.Warnf(ln.Pos, "'%s' : '%s' is parsed but not implemented by goproxy yet; ignored.", what, w[i])
		}
		if opt.apply == nil || opt.notImpl {
			sp.Options = append(sp.Options, strings.Join(w[i:i+1+opt.n], " "))
		}
		i += opt.n
	}
	return true
}

func (l *loader) parseDefaultServer(p *Proxy, ln Line) {
	l.applyServerOptions(ln, "default-server", &p.DefaultServer, ln.Words[1:])
}

func (l *loader) parseServer(p *Proxy, ln Line) {
	w := ln.Words
	if len(w) < 3 {
		l.d.Alertf(ln.Pos, "'server' expects <name> and <addr>[:<port>] as arguments.")
		return
	}
	s := &Server{Pos: ln.Pos, Name: w[1], ID: len(p.Servers) + 1, ServerParams: p.DefaultServer}
	s.Options = append([]string(nil), p.DefaultServer.Options...)
	if err := checkName(s.Name); err != nil {
		l.d.Alertf(ln.Pos, "character '%s' is not permitted in server name '%s'.", err.Error(), s.Name)
		return
	}
	if o, dup := l.serverIndex[p][s.Name]; dup {
		l.d.Alertf(ln.Pos, "backend '%s' : server name '%s' is already used at %s.", p.Name, s.Name, o.Pos)
		return
	}
	what := "server " + p.Name + "/" + s.Name
	a, err := parseAddr(w[2], false)
	if err != nil {
		l.d.Alertf(ln.Pos, "'%s' : %v.", what, err)
		return
	}
	s.Addr = a
	if !l.applyServerOptions(ln, what, &s.ServerParams, w[3:]) {
		return
	}
	if a.Net == "tcp" || a.Net == "tcp4" || a.Net == "tcp6" {
		if a.Host == "" {
			l.d.Alertf(ln.Pos, "'%s' : missing address.", what)
			return
		}
		if _, err := netip.ParseAddr(a.Host); err != nil && s.InitAddr == "" && s.Resolvers == "" {
			addrs, rerr := l.opt.Resolve(a.Host)
			if rerr != nil || len(addrs) == 0 {
				l.d.Alertf(ln.Pos, "%s '%s' : could not resolve address '%s'.", p.Kind, p.Name, a.Host)
				return
			}
			// Resolved once at start-up, like HAProxy without resolvers.
			s.Addr.Host = addrs[0]
		}
	}
	p.Servers = append(p.Servers, s)
	if l.serverIndex[p] == nil {
		l.serverIndex[p] = map[string]*Server{}
	}
	l.serverIndex[p][s.Name] = s
}
