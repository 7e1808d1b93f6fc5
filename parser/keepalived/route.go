package keepalived

import (
	"net/netip"
	"strconv"
	"strings"
)

// routeTypes are the ip-route types keepalived accepts before the
// destination.
var routeTypes = map[string]bool{"blackhole": true, "unreachable": true, "prohibit": true, "throw": true, "unicast": true, "local": true, "broadcast": true}

// parsePrefix parses ADDR[/LEN] with keepalived's message for a bad one.
func (w *walker) parsePrefix(s stmt, a string) (netip.Prefix, bool) {
	if a == "default" || a == "all" {
		return netip.MustParsePrefix("0.0.0.0/0"), true
	}
	var p netip.Prefix
	var err error
	if strings.Contains(a, "/") {
		p, err = netip.ParsePrefix(a)
	} else {
		var ip netip.Addr
		if ip, err = netip.ParseAddr(a); err == nil {
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
	}
	if err != nil {
		w.d.Errorf(s.Pos, "VRRP parsed invalid IP %s. skipping IP...", a)
		return p, false
	}
	return p.Masked(), true
}

// parseRoute parses one virtual_routes/static_routes line:
// [src ADDR] [TYPE] DEST [via|gw GW [or GW]] [dev IF] [table T] [no_track] ...
// tracked says whether the route belongs to an instance (keepalived warns
// that a route without an interface cannot be tracked).
func (w *walker) parseRoute(s stmt, tracked bool) (Route, bool) {
	r := Route{Pos: s.Pos, Words: append([]string{s.Kw}, s.Args...)}
	words := r.Words
	i := 0
	next := func() string {
		if i+1 < len(words) {
			i++
			return words[i]
		}
		i++
		return ""
	}
	for ; i < len(words) && !r.Dst.IsValid(); i++ {
		switch wd := words[i]; {
		case wd == "src":
			if a, err := netip.ParseAddr(next()); err == nil {
				r.Src = a
			} else {
				w.d.Errorf(s.Pos, "VRRP parsed invalid IP %s. skipping IP...", words[i])
				return r, false
			}
		case routeTypes[wd]:
			r.Type = wd
		default:
			p, ok := w.parsePrefix(s, wd)
			if !ok {
				return r, false
			}
			r.Dst = p
		}
	}
	if !r.Dst.IsValid() {
		w.d.Errorf(s.Pos, "Route has no destination")
		return r, false
	}
	for ; i < len(words); i++ {
		switch wd := words[i]; wd {
		case "via", "gw", "or":
			switch wd {
			case "gw":
				w.d.Errorf(s.Pos, `"gw" for routes is deprecated. Please use "via"`)
			case "or":
				w.d.Errorf(s.Pos, `"or" for routes is deprecated. Please use "nexthop"`)
			}
			v := next()
			if v == "inet" || v == "inet6" {
				v = next()
			}
			a, err := netip.ParseAddr(v)
			if err != nil {
				w.d.Errorf(s.Pos, "VRRP parsed invalid IP %s. skipping IP...", v)
				return r, false
			}
			r.Via = append(r.Via, a)
		case "dev", "oif":
			r.Dev = next()
		case "table":
			r.Table = next()
		case "no_track":
			r.NoTrack = true
		case "nexthop":
			// "nexthop via GW dev IF weight N": the following words are
			// read by this loop.
		case "src":
			if a, err := netip.ParseAddr(next()); err == nil {
				r.Src = a
			}
		default:
			// metric, scope, proto, mtu, ...: kept in Words for the
			// netlink edge; they take one argument.
			if i+1 < len(words) && !isRouteFlag(wd) {
				i++
			}
		}
	}
	if tracked && r.Dev == "" && !r.NoTrack {
		w.d.Errorf(s.Pos, "Warning - cannot track route %s with no interface specified, not tracking", r.Dst)
		r.NoTrack = true
	}
	return r, true
}

// isRouteFlag lists the argument-less route options.
func isRouteFlag(w string) bool {
	switch w {
	case "onlink", "pervasive", "no_track", "fastopen_no_cookie":
		return true
	}
	return false
}

// parseRule parses one virtual_rules/static_rules line:
// [from ADDR] [to ADDR] [table T] [preference|priority|pref N] ...
func (w *walker) parseRule(s stmt) (Route, bool) {
	r := Route{Pos: s.Pos, Words: append([]string{s.Kw}, s.Args...)}
	words := r.Words
	for i := 0; i < len(words); i++ {
		val := ""
		if i+1 < len(words) {
			val = words[i+1]
		}
		switch words[i] {
		case "from", "to":
			p, ok := w.parsePrefix(s, val)
			if !ok {
				w.d.Errorf(s.Pos, "Invalid rule %s address %s", words[i], val)
				return r, false
			}
			if words[i] == "from" {
				r.From = p
			} else {
				r.To = p
			}
			i++
		case "table", "lookup":
			r.Table = val
			i++
		case "preference", "priority", "pref", "prio":
			n, err := strconv.Atoi(val)
			if err != nil {
				w.d.Errorf(s.Pos, "Invalid rule preference %s", val)
				return r, false
			}
			r.Pref = n
			i++
		case "no_track", "not", "l3mdev":
		default:
			i++ // iif, oif, fwmark, tos, ...: one argument each
		}
	}
	if r.Pref == 0 {
		// keepalived numbers rules without a preference downwards from
		// 16384 and says it is probably a mistake.
		if w.nextRulePref == 0 {
			w.nextRulePref = 16384
		}
		r.Pref = w.nextRulePref
		w.nextRulePref--
		w.d.Errorf(s.Pos, "Rule has no preference specified - setting to %d. This is probably not what you want.", r.Pref)
	}
	return r, true
}
