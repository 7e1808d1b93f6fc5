package lvs

import (
	"errors"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"hapair/internal/testenv"
)

// TestDecodeOwnRequests: the production decoder reads back every request
// the encoder builds (the kernel's replies use the same attributes).
func TestDecodeOwnRequests(t *testing.T) {
	requireLittleEndian(t)
	d := Dest{Addr: netip.MustParseAddr("2001:db8::7"), Port: 443, Weight: 9, Method: FwdTunnel, UThreshold: 5, LThreshold: 1}
	for _, s := range []Service{svcTCP, {Family: unix.AF_INET6, Protocol: unix.IPPROTO_SCTP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 9, Scheduler: "mh", Netmask: 128}, {Family: unix.AF_INET, FWMark: 12, Scheduler: "rr"}} {
		b := serialize(t, ipvsCmdNewDest, &s, &d)
		gs, gd, err := decodeReply(b[16:])
		if err != nil {
			t.Fatal(err)
		}
		key := s
		key.Scheduler, key.Flags, key.Timeout, key.Netmask = "", 0, 0, 0
		if *gs != key || *gd != d {
			t.Fatalf("got %+v %+v\nwant %+v %+v", gs, gd, key, d)
		}
		b = serialize(t, ipvsCmdNewService, &s, nil)
		if gs, gd, err = decodeReply(b[16:]); err != nil || *gs != s || gd != nil {
			t.Fatalf("service: %+v %+v %v want %+v", gs, gd, err, s)
		}
	}
}

// TestDecodeKernelReplies decodes replies laid out as the kernel's
// ip_vs_genl_fill_service / ip_vs_genl_fill_dest write them: extra
// attributes (PE name, stats nests, connection counters, tunnel fields),
// the HASHED flag, and connection flags beyond the forwarding method.
func TestDecodeKernelReplies(t *testing.T) {
	requireLittleEndian(t)
	svc := unhex(t, `
		01 01 0000                                  # IPVS_CMD_NEW_SERVICE reply
		8000 0180                                   # IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, 128 bytes
		  0600 0100 0200 0000                       # AF_INET
		  0600 0200 0600 0000                       # TCP
		  1400 0300 c0000201 00000000 00000000 00000000
		  0600 0400 0050 0000                       # port 80
		  0800 0600 776c6300                        # "wlc"
		  0c00 0700 03000000 ffffffff               # PERSISTENT|HASHED
		  0800 0800 68010000                        # timeout 360
		  0800 0900 ffffffff                        # netmask
		  1c00 0a80                                 # IPVS_SVC_ATTR_STATS (nested), 28 bytes
		    0800 0100 01000000
		    0800 0200 02000000
		    0800 0300 03000000
		  1000 0c80                                 # IPVS_SVC_ATTR_STATS64 (nested), 16 bytes
		    0c00 0100 0100000000000000
	`)
	s, d, err := decodeReply(svc)
	if err != nil || d != nil {
		t.Fatalf("%v %v", err, d)
	}
	want := Service{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, Scheduler: "wlc", Flags: SvcPersistent | SvcHashed, Timeout: 360, Netmask: 0xffffffff}
	if *s != want {
		t.Fatalf("got %+v\nwant %+v", *s, want)
	}
	dst := unhex(t, `
		05 01 0000                                  # IPVS_CMD_NEW_DEST reply
		6000 0280                                   # IPVS_CMD_ATTR_DEST | NLA_F_NESTED, 96 bytes
		  1400 0100 c6336407 00000000 00000000 00000000 # 198.51.100.7
		  0600 0200 1f90 0000                       # port 8080
		  0800 0300 03010000                        # DROUTE | IP_VS_CONN_F_INACTIVE bits
		  0800 0400 07000000                        # weight 7
		  0800 0500 00000000
		  0800 0600 00000000
		  0800 0700 05000000                        # active conns
		  0800 0800 06000000                        # inactive conns
		  0600 0b00 0200 0000                       # AF_INET
		  0500 0d00 01000000                        # tun type (u8, padded)
	`)
	_, d, err = decodeReply(dst)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Dest{Addr: netip.MustParseAddr("198.51.100.7"), Port: 8080, Weight: 7, Method: FwdRoute}); *d != want {
		t.Fatalf("got %+v\nwant %+v", *d, want)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, b := range [][]byte{
		{1, 1},                               // short genl header
		{1, 1, 0, 0, 3},                      // short attribute header
		{1, 1, 0, 0, 8, 0, 1, 0},             // length beyond the buffer
		{1, 1, 0, 0, 2, 0, 1, 0},             // length below the header
		{1, 1, 0, 0, 8, 0, 1, 0, 5, 0, 1, 0}, // service with a 1-byte AF
	} {
		if _, _, err := decodeReply(b); err == nil {
			t.Errorf("% x accepted", b)
		}
	}
}

func FuzzDecodeReply(f *testing.F) {
	f.Add(rawRequest(ipvsCmdNewService, &svcTCP, nil)[16:])
	d := Dest{Addr: netip.MustParseAddr("192.0.2.21"), Port: 80, Weight: 1}
	f.Add(rawRequest(ipvsCmdNewDest, &svcTCP, &d)[16:])
	f.Add([]byte{1, 1, 0, 0, 5, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, d, err := decodeReply(b)
		if err != nil {
			return
		}
		// What decodes must survive an encode/decode round trip.
		if s != nil && (s.Addr.IsValid() || s.FWMark != 0) && (s.Family == unix.AF_INET || s.Family == unix.AF_INET6) {
			if s.Addr.IsValid() && family(s.Addr) != s.Family {
				return
			}
			if len(s.Scheduler) >= schedNameMaxLen || slices.Contains([]byte(s.Scheduler), 0) {
				return
			}
			out := request(1, ipvsCmdNewService, s, nil).Serialize()
			s2, _, err := decodeReply(out[16:])
			if err != nil || *s2 != *s {
				t.Fatalf("round trip %+v -> %+v (%v)", s, s2, err)
			}
		}
		if d != nil && d.Addr.IsValid() && s != nil && s.Family != 0 {
			out := request(1, ipvsCmdNewDest, &Service{Family: unix.AF_INET, FWMark: 1}, d).Serialize()
			_, d2, err := decodeReply(out[16:])
			if err != nil || *d2 != *d {
				t.Fatalf("round trip %+v -> %+v (%v)", d, d2, err)
			}
		}
	})
}

// TestNetlinkAgainstKernel programs a real IPVS table in a network
// namespace of its own and reads it back. On a kernel without IP_VS
// (these machines and CI) it asserts what happens instead: the family
// lookup fails with ErrNoIPVS and the kernel indeed has no IPVS table
// (TestNoIPVSKernel then shows the checker logs its notice and runs on).
func TestNetlinkAgainstKernel(t *testing.T) {
	testenv.RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // switches this thread
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		netns.Set(orig)
		ns.Close()
	}()
	n, err := NewNetlink()
	if err != nil {
		if !errors.Is(err, ErrNoIPVS) {
			t.Fatalf("NewNetlink: %v does not wrap ErrNoIPVS", err)
		}
		if _, statErr := os.Stat("/proc/net/ip_vs"); statErr == nil {
			t.Fatalf("the kernel has /proc/net/ip_vs but the IPVS family lookup failed: %v", err)
		}
		t.Logf("kernel without IP_VS: %v", err)
		return
	}
	s := Service{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, Scheduler: "wrr", Flags: SvcPersistent, Timeout: 60, Netmask: 0xffffffff}
	d := Dest{Addr: netip.MustParseAddr("192.0.2.21"), Port: 8080, Weight: 3, Method: FwdMasq}
	if err := n.AddService(s); err != nil {
		t.Fatal(err)
	}
	if err := n.AddDest(s, d); err != nil {
		t.Fatal(err)
	}
	d.Weight = 0
	if err := n.UpdateDest(s, d); err != nil {
		t.Fatal(err)
	}
	svcs, err := n.Services()
	if err != nil || len(svcs) != 1 || svcs[0].Addr != s.Addr || svcs[0].Scheduler != "wrr" || svcs[0].Timeout != 60 {
		t.Fatalf("services %+v %v", svcs, err)
	}
	dests, err := n.Dests(s)
	if err != nil || len(dests) != 1 || dests[0] != d {
		t.Fatalf("dests %+v %v", dests, err)
	}
	if err := n.DelDest(s, d); err != nil {
		t.Fatal(err)
	}
	if err := n.DelService(s); err != nil {
		t.Fatal(err)
	}
	if err := n.Flush(); err != nil {
		t.Fatal(err)
	}
}
