package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"hapair/parser/keepalived"
)

func ipNet(p netip.Prefix) *net.IPNet {
	if !p.IsValid() {
		return nil
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// tableID maps a table name or number to its id (0: main).
func tableID(s string) (int, error) {
	switch s {
	case "", "main":
		return unix.RT_TABLE_MAIN, nil
	case "local":
		return unix.RT_TABLE_LOCAL, nil
	case "default":
		return unix.RT_TABLE_DEFAULT, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("unknown routing table %q", s)
	}
	return n, nil
}

var routeTypeIDs = map[string]int{
	"": unix.RTN_UNICAST, "unicast": unix.RTN_UNICAST, "blackhole": unix.RTN_BLACKHOLE,
	"unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT, "throw": unix.RTN_THROW,
	"local": unix.RTN_LOCAL, "broadcast": unix.RTN_BROADCAST,
}

// netlinkRoute builds a virtual_routes entry as `ip route add` would.
func netlinkRoute(r keepalived.Route, defDev string) (*netlink.Route, error) {
	nr := &netlink.Route{Dst: ipNet(r.Dst), Type: routeTypeIDs[r.Type]}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	t, err := tableID(r.Table)
	if err != nil {
		return nil, err
	}
	nr.Table = t
	dev := r.Dev
	if dev == "" && len(r.Via) == 0 && nr.Type == unix.RTN_UNICAST {
		dev = defDev
	}
	if dev != "" {
		link, err := netlink.LinkByName(dev)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", r.Dst, err)
		}
		nr.LinkIndex = link.Attrs().Index
	}
	switch {
	case len(r.Via) == 1:
		nr.Gw = r.Via[0].AsSlice()
	case len(r.Via) > 1:
		for _, v := range r.Via {
			nr.MultiPath = append(nr.MultiPath, &netlink.NexthopInfo{Gw: v.AsSlice(), LinkIndex: nr.LinkIndex})
		}
	}
	if len(r.Via) == 0 && nr.Type == unix.RTN_UNICAST {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr, nil
}

// netlinkRule builds a virtual_rules entry as `ip rule add` would.
func netlinkRule(r keepalived.Route) (*netlink.Rule, error) {
	nr := netlink.NewRule()
	nr.Src, nr.Dst = ipNet(r.From), ipNet(r.To)
	nr.Family = unix.AF_INET
	if (r.From.IsValid() && r.From.Addr().Is6()) || (r.To.IsValid() && r.To.Addr().Is6()) {
		nr.Family = unix.AF_INET6
	}
	t, err := tableID(r.Table)
	if err != nil {
		return nil, err
	}
	nr.Table = t
	if r.Pref > 0 {
		nr.Priority = r.Pref
	}
	return nr, nil
}

// setRoutes adds (add) or removes the instance's virtual_routes and
// virtual_rules, reporting each failure.
func (in *instance) setRoutes(add bool) {
	if in.ifi == nil {
		return
	}
	for _, r := range in.cfg.Routes {
		nr, err := netlinkRoute(r, in.ifi.Name)
		if err == nil {
			if add {
				err = netlink.RouteReplace(nr)
			} else if err = netlink.RouteDel(nr); errors.Is(err, unix.ESRCH) {
				err = nil
			}
		}
		if err != nil {
			in.logf("virtual route %s: %v", r.Dst, err)
		}
	}
	for _, r := range in.cfg.Rules {
		nr, err := netlinkRule(r)
		if err == nil {
			if add {
				if err = netlink.RuleAdd(nr); errors.Is(err, unix.EEXIST) {
					err = nil
				}
			} else if err = netlink.RuleDel(nr); errors.Is(err, unix.ENOENT) {
				err = nil
			}
		}
		if err != nil {
			in.logf("virtual rule %v: %v", r.Words, err)
		}
	}
}
