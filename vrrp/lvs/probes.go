package lvs

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"hapair/checks"
	"hapair/parser/keepalived"
)

// supported are the checker kinds govrrpd runs (those the checks package
// has a probe for).
var supported = map[string]bool{"TCP_CHECK": true, "HTTP_GET": true, "SSL_GET": true, "MISC_CHECK": true, "SMTP_CHECK": true, "PING_CHECK": true}

// Probes returns the checkers of a real server that govrrpd runs, in
// order (a Ref's Check indexes this list): SMTP_CHECK host blocks become
// checkers of their own, inheriting the block's settings, as keepalived
// 2.2.7 treats them ("The SMTP_CHECK host block is deprecated. Please define
// additional checkers."). skipped lists the kinds it cannot run
// (UDP_CHECK, DNS_CHECK, FILE_CHECK, BFD_CHECK).
func Probes(rs *keepalived.RealServer) (probes []*keepalived.Checker, skipped []string) {
	for _, c := range rs.Checkers {
		if !supported[c.Kind] {
			skipped = append(skipped, c.Kind)
			continue
		}
		if c.Kind == "SMTP_CHECK" && len(c.Hosts) > 0 {
			for _, h := range c.Hosts {
				x := *h
				x.Kind = c.Kind
				if x.Retry == 0 {
					x.Retry = c.Retry
				}
				if x.DelayBeforeRetry == 0 {
					x.DelayBeforeRetry = c.DelayBeforeRetry
				}
				opts := map[string]string{}
				for k, v := range c.Options {
					opts[k] = v
				}
				for k, v := range h.Options {
					opts[k] = v
				}
				x.Options = opts
				probes = append(probes, &x)
			}
			continue
		}
		probes = append(probes, c)
	}
	return probes, skipped
}

// Timing is when a checker runs: keepalived's delay_loop (the checker's
// own, else the virtual_server's), retry and delay_before_retry, and the
// timeout of one check.
type Timing struct {
	DelayLoop, DelayBeforeRetry, Timeout time.Duration
	Retry                                int
	// Warmup is the upper bound of the random delay before the first
	// check (keepalived's warmup, by default delay_loop; 0 disables it).
	Warmup time.Duration
}

// TimingOf applies keepalived's defaults: delay_before_retry 1 s (3 s for
// HTTP_GET and SSL_GET), connect_timeout 5 s, misc_timeout = delay_loop,
// warmup = delay_loop.
func TimingOf(vs *keepalived.VirtualServer, c *keepalived.Checker) Timing {
	// The parser resolved the checker's timing from the checker, its
	// real server and its virtual server (keepalived's check_api.c).
	t := Timing{DelayLoop: c.DelayLoop, DelayBeforeRetry: c.DelayBeforeRetry, Retry: max(c.Retry, 0), Timeout: c.ConnectTimeout, Warmup: c.Warmup}
	if t.DelayLoop <= 0 {
		t.DelayLoop = vs.DelayLoop
	}
	if t.DelayLoop <= 0 {
		t.DelayLoop = 60 * time.Second
	}
	if t.Warmup < 0 {
		t.Warmup = t.DelayLoop
	}
	if t.DelayBeforeRetry <= 0 {
		t.DelayBeforeRetry = time.Second
		if c.Kind == "HTTP_GET" || c.Kind == "SSL_GET" {
			t.DelayBeforeRetry = 3 * time.Second
		}
	}
	if t.Timeout <= 0 {
		t.Timeout = 5 * time.Second
	}
	if c.Kind == "MISC_CHECK" {
		t.Timeout = c.MiscTimeout
		if t.Timeout <= 0 {
			t.Timeout = t.DelayLoop
		}
	}
	return t
}

func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(f * float64(time.Second)), nil
}

// MonitorConfig maps a checker's timing onto checks.Monitor: one success
// brings a checker up (rise 1); it goes down after retry+1 failures in a
// row (fall), retried every delay_before_retry (fastinter) and otherwise
// run every delay_loop. A non-alpha checker starts up but, like
// keepalived ("For non alpha mode, one failure is enough initially"), its
// first failure marks it down at once (StartUp with rise 1); a checker
// that is down (alpha mode, or down before a reload) starts down. rnd in
// [0,1) places the first check within warmup.
func MonitorConfig(t Timing, down bool, rnd float64) checks.Config {
	start := checks.StartUp
	if down {
		start = checks.StartDown
	}
	return checks.Config{
		Rise: 1, Fall: t.Retry + 1, Start: start, Timeout: t.Timeout,
		Delay:     time.Duration(rnd * float64(t.Warmup)),
		Intervals: checks.Intervals{Inter: t.DelayLoop, FastInter: t.DelayBeforeRetry, DownInter: t.DelayLoop},
	}
}

// NewProbe builds the checks.Checker for one keepalived checker of rs in
// vs: TCP_CHECK is checks.TCP, HTTP_GET/SSL_GET one checks.HTTP per url
// (all must pass, in order), MISC_CHECK checks.Script (misc_dynamic: exit
// 2..255 counts as success, the Model reads the weight from the code),
// SMTP_CHECK checks.SMTP, PING_CHECK checks.ICMP. g (global_defs, may be
// nil) gives the default script user of MISC_CHECK.
func NewProbe(g *keepalived.Global, vs *keepalived.VirtualServer, rs *keepalived.RealServer, c *keepalived.Checker) (checks.Checker, error) {
	ip := rs.IP.Unmap()
	if c.ConnectIP.IsValid() {
		ip = c.ConnectIP.Unmap()
	}
	port := rs.Port
	if c.ConnectPort != 0 {
		port = c.ConnectPort
	}
	addr := netip.AddrPortFrom(ip, uint16(port)).String()
	timing := TimingOf(vs, c)
	switch c.Kind {
	case "TCP_CHECK":
		t := &checks.TCP{Addr: addr, ConnectTimeout: timing.Timeout}
		if b := c.Options["bindto"]; b != "" {
			a, err := netip.ParseAddr(b)
			if err != nil {
				return nil, fmt.Errorf("%s: TCP_CHECK bindto %q: %w", c.Pos, b, err)
			}
			t.Source = &net.TCPAddr{IP: a.AsSlice()}
		}
		return t, nil
	case "HTTP_GET", "SSL_GET":
		if len(c.URLs) == 0 {
			return nil, fmt.Errorf("%s: HTTP/SSL_GET checker has no urls specified", c.Pos)
		}
		host := c.VirtualHost
		if host == "" {
			host = vs.VirtualHost
		}
		sni := host
		if host == "" {
			host = addr
		}
		var all multi
		for _, u := range c.URLs {
			codes := "200-299"
			if len(u.StatusCode) > 0 {
				codes = strings.Join(u.StatusCode, ",")
			}
			e, err := checks.ParseHTTPExpect([]string{"status", codes})
			if err != nil {
				return nil, fmt.Errorf("%s: status_code %s: %w", c.Pos, codes, err)
			}
			h := &checks.HTTP{
				Addr:           addr,
				ConnectTimeout: timing.Timeout,
				Request:        checks.KeepalivedHTTPGet(u.Path, host, c.Options["http_protocol"]),
				Expect:         []checks.HTTPExpect{e},
				Digest:         strings.ToLower(u.Digest),
			}
			if c.Kind == "SSL_GET" {
				h.TLS = &tls.Config{InsecureSkipVerify: true} // keepalived does not verify without a CA
				if _, ok := c.Options["enable_sni"]; ok {
					h.TLS.ServerName = sni
				}
			}
			all = append(all, h)
		}
		return all, nil
	case "MISC_CHECK":
		argv, err := checks.SplitCommand(c.MiscPath)
		if err != nil || len(argv) == 0 {
			return nil, fmt.Errorf("%s: misc_path %q: cannot split it (%v)", c.Pos, c.MiscPath, err)
		}
		s := &checks.Script{Argv: argv}
		if s.Credential, err = scriptCredential(g, c.Options["user"]); err != nil {
			return nil, fmt.Errorf("%s: Unable to set user for misc script %s (%v)", c.Pos, argv[0], err)
		}
		if !c.MiscDynamic {
			return s, nil
		}
		return dynamic{s}, nil
	case "SMTP_CHECK":
		if c.ConnectPort == 0 && rs.Port == 0 {
			addr = netip.AddrPortFrom(ip, 25).String()
		}
		return &checks.SMTP{Addr: addr, ConnectTimeout: timing.Timeout, Verb: "HELO", Domain: c.Options["helo_name"]}, nil
	case "PING_CHECK":
		return &checks.ICMP{Addr: ip.String()}, nil
	}
	return nil, fmt.Errorf("%s: %s is not supported", c.Pos, c.Kind)
}

// multi runs checkers in order and returns the first failure (or the last
// success): keepalived's HTTP_GET with several url blocks.
type multi []checks.Checker

func (m multi) Check(ctx context.Context) checks.Result {
	var r checks.Result
	for _, c := range m {
		if r = c.Check(ctx); !r.OK() {
			return r
		}
	}
	return r
}

// dynamic is a misc_dynamic MISC_CHECK: exit 2..255 passes (the weight
// is status-2), only 1 (or death by a signal) fails.
type dynamic struct{ s *checks.Script }

func (d dynamic) Check(ctx context.Context) checks.Result {
	r := d.s.Check(ctx)
	if r.Status == checks.StatusProcErr && r.Code >= 2 && r.Code <= 255 && !strings.HasPrefix(r.Info, "killed") {
		r.Status = checks.StatusProcOK
	}
	return r
}
