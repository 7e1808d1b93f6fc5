package vrrp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"hapair/parser/keepalived"
	"hapair/vrrp/advert"
)

// testInstance is a resolved multicast v2 instance without sockets.
func testInstance(t *testing.T) (*instance, *Machine) {
	cfg := &keepalived.Config{Instances: []*keepalived.Instance{{
		Name: "VI_1", State: "BACKUP", Interface: "eth0", VRID: 51, Priority: 100, AdvertInt: time.Second,
		Version: 2, AuthType: "PASS", AuthPass: "secret",
		VIPs: []keepalived.VIP{{Prefix: netip.MustParsePrefix("192.0.2.200/32")}},
	}}}
	d, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := d.insts["VI_1"]
	in.ifi = &net.Interface{Index: 7, Name: "eth0"}
	in.src = netip.MustParseAddr("192.0.2.2")
	in.expect = advert.Expect{Version: 2, VRID: 51, AuthType: advert.AuthPass, Auth: advert.PasswordBytes("secret"),
		Interval: time.Second, Addrs: in.advAddrs, CheckTTL: true}
	in.resolved = true
	m := NewMachine(in.machineConfig())
	m.Handle(EvStart{}, timeNow())
	return in, m
}

func goodAdvert(t *testing.T, mod func(p *advert.Packet)) []byte {
	p := &advert.Packet{Version: 2, VRID: 51, Priority: 150, AuthType: advert.AuthPass,
		Auth: advert.PasswordBytes("secret"), Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.200")}}
	if mod != nil {
		mod(p)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bad packets are dropped and counted by reason; they never change the
// instance's timer or state.
func TestReceiveCountsDrops(t *testing.T) {
	src, grp := netip.MustParseAddr("192.0.2.1"), advert.Group4
	corrupt := goodAdvert(t, nil)
	corrupt[7] ^= 0xff
	tests := []struct {
		name    string
		payload []byte
		ttl     int
		dst     netip.Addr
		counter func(s StatsSnapshot) uint64
	}{
		{"checksum", corrupt, 255, grp, func(s StatsSnapshot) uint64 { return s.ChecksumErr }},
		{"ttl", goodAdvert(t, nil), 64, grp, func(s StatsSnapshot) uint64 { return s.IPTTLErr }},
		{"truncated", goodAdvert(t, nil)[:12], 255, grp, func(s StatsSnapshot) uint64 { return s.PacketLenErr }},
		{"version", goodAdvert(t, func(p *advert.Packet) { p.Version = 3 }), 255, grp, func(s StatsSnapshot) uint64 { return s.VersionErr }},
		{"auth type", goodAdvert(t, func(p *advert.Packet) { p.AuthType = 0 }), 255, grp, func(s StatsSnapshot) uint64 { return s.AuthTypeMismatch }},
		{"password", goodAdvert(t, func(p *advert.Packet) { p.Auth = advert.PasswordBytes("wrong") }), 255, grp, func(s StatsSnapshot) uint64 { return s.AuthFailure }},
		{"interval", goodAdvert(t, func(p *advert.Packet) { p.Interval = 2 * time.Second }), 255, grp, func(s StatsSnapshot) uint64 { return s.AdvertIntervalErr }},
		{"vip list", goodAdvert(t, func(p *advert.Packet) { p.Addrs[0] = netip.MustParseAddr("192.0.2.9") }), 255, grp, func(s StatsSnapshot) uint64 { return s.AddrListErr }},
		{"unicast on multicast instance", goodAdvert(t, nil), 255, netip.MustParseAddr("192.0.2.2"), func(s StatsSnapshot) uint64 { return s.OtherErr }},
		{"bad type", func() []byte { b := goodAdvert(t, nil); b[0] = 0x22; return b }(), 255, grp, func(s StatsSnapshot) uint64 { return s.InvalidType }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, m := testInstance(t)
			before := m.Deadline()
			in.receive(m, rxPacket{ifindex: 7, src: src, dst: tt.dst, ttl: tt.ttl, payload: tt.payload})
			s := in.stats.Snapshot()
			if tt.counter(s) != 1 || s.AdvertRcvd != 0 {
				t.Fatalf("counters %+v", s)
			}
			if m.Deadline() != before || m.State() != Backup {
				t.Fatal("a dropped packet changed the machine")
			}
		})
	}
	// A good one is counted and resets the master-down timer.
	in, m := testInstance(t)
	before := m.Deadline()
	time.Sleep(time.Millisecond)
	in.receive(m, rxPacket{ifindex: 7, src: src, dst: grp, ttl: 255, payload: goodAdvert(t, nil)})
	if in.stats.Snapshot().AdvertRcvd != 1 || !m.Deadline().After(before) || m.Master() != src {
		t.Fatalf("good advert not accepted: %+v", in.stats.Snapshot())
	}
}

// FuzzReceive feeds arbitrary payloads through the daemon's receive path:
// it must never panic.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{0x21, 51, 100, 1, 1, 1, 0, 0, 192, 0, 2, 200, 0, 0, 0, 0, 0, 0, 0, 0}, 255)
	f.Add([]byte{0x31, 51, 100, 1, 0, 100, 0, 0, 192, 0, 2, 200}, 255)
	f.Fuzz(func(t *testing.T, b []byte, ttl int) {
		in, m := testInstance(t)
		in.d.dispatch(rxPacket{ifindex: 7, src: netip.MustParseAddr("192.0.2.1"), dst: advert.Group4, ttl: ttl, payload: b})
		select {
		case pk := <-in.rx:
			in.receive(m, pk)
		default:
		}
	})
}
