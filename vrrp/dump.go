package vrrp

import (
	"fmt"
	"io"
	"strings"
)

// WriteStats writes the instances' counters in keepalived 2.2.7's
// /tmp/keepalived.stats format (what SIGUSR2 dumps), in configuration
// order.
func (d *Daemon) WriteStats(w io.Writer) error {
	var b strings.Builder
	for _, in := range d.ordered() {
		s := in.stats.Snapshot()
		fmt.Fprintf(&b, "VRRP Instance: %s\n", in.name)
		fmt.Fprintf(&b, "  Advertisements:\n    Received: %d\n    Sent: %d\n", s.AdvertRcvd, s.AdvertSent)
		fmt.Fprintf(&b, "  Became master: %d\n  Released master: %d\n", s.BecomeMaster, s.ReleaseMaster)
		fmt.Fprintf(&b, "  Packet Errors:\n    Length: %d\n    TTL: %d\n    Invalid Type: %d\n    Advertisement Interval: %d\n    Address List: %d\n",
			s.PacketLenErr, s.IPTTLErr, s.InvalidType, s.AdvertIntervalErr, s.AddrListErr)
		fmt.Fprintf(&b, "  Authentication Errors:\n    Invalid Type: %d\n    Type Mismatch: %d\n    Failure: %d\n",
			0, s.AuthTypeMismatch, s.AuthFailure)
		fmt.Fprintf(&b, "  Priority Zero:\n    Received: %d\n    Sent: %d\n", s.PriZeroRcvd, s.PriZeroSent)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteData writes the "VRRP Topology" part of keepalived's
// /tmp/keepalived.data (what SIGUSR1 dumps) for the running instances.
func (d *Daemon) WriteData(w io.Writer) error {
	var b strings.Builder
	b.WriteString("------< VRRP Topology >------\n")
	for _, in := range d.ordered() {
		in.mu.Lock()
		st, prio := in.state, in.prio
		in.mu.Unlock()
		ic := in.cfg
		fmt.Fprintf(&b, " VRRP Instance = %s\n", in.name)
		fmt.Fprintf(&b, "   VRRP Version = %d\n", in.expect.Version)
		fmt.Fprintf(&b, "   State = %s\n", st)
		want := strings.ToUpper(ic.State)
		if want == "" {
			want = "BACKUP"
		}
		fmt.Fprintf(&b, "   Wantstate = %s\n", want)
		if in.ifi != nil {
			fmt.Fprintf(&b, "   Interface = %s\n", in.ifi.Name)
		}
		if in.src.IsValid() {
			fmt.Fprintf(&b, "   Using src_ip = %s\n", in.src)
		}
		if in.unicast {
			b.WriteString("   Unicast Peer =\n")
			for _, p := range in.peers {
				fmt.Fprintf(&b, "     %s\n", p)
			}
		} else {
			fmt.Fprintf(&b, "   Multicast address %s\n", groupFor(in.six))
		}
		fmt.Fprintf(&b, "   Virtual Router ID = %d\n", in.vrid)
		fmt.Fprintf(&b, "   Priority = %d\n", ic.Priority)
		fmt.Fprintf(&b, "   Effective priority = %d\n", prio)
		if in.expect.Version == 2 {
			fmt.Fprintf(&b, "   Advert interval = %d sec\n", int(in.expect.Interval.Seconds()))
		} else {
			fmt.Fprintf(&b, "   Advert interval = %d milli-sec\n", in.expect.Interval.Milliseconds())
		}
		preempt := "enabled"
		if ic.NoPreempt {
			preempt = "disabled"
		}
		fmt.Fprintf(&b, "   Preempt = %s\n", preempt)
		if ic.PreemptDelay > 0 {
			fmt.Fprintf(&b, "   Preempt delay = %g secs\n", ic.PreemptDelay.Seconds())
		}
		fmt.Fprintf(&b, "   Virtual IP (%d):\n", len(ic.VIPs))
		dev := ic.Interface
		if in.ifi != nil {
			dev = in.ifi.Name
		}
		for _, v := range ic.VIPs {
			r := resolveVIP(v, dev)
			fmt.Fprintf(&b, "     %s dev %s scope global\n", r.addr.IPNet, r.dev)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ordered returns the instances in configuration order.
func (d *Daemon) ordered() []*instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*instance
	for _, ic := range d.cfg.Instances {
		if in := d.insts[ic.Name]; in != nil {
			out = append(out, in)
		}
	}
	return out
}
