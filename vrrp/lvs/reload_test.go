package lvs

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"hapair/checks"
)

const reloadConf1 = `
virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_algo rr
    quorum_up "/q/up"
    real_server 192.0.2.21 80 { TCP_CHECK { } }
    real_server 192.0.2.22 80 {
        weight 2
        inhibit_on_failure
        TCP_CHECK { }
    }
    real_server 192.0.2.23 80 {
        weight 3
        notify_up "/n/up 23"
        TCP_CHECK { }
    }
}
virtual_server fwmark 5 {
    quorum_down "/q/down 5"
    real_server 192.0.2.31 80 {
        notify_down "/n/down 31"
        TCP_CHECK { }
    }
}`

const reloadConf2 = `
virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_algo wlc
    quorum_up "/q/up"
    real_server 192.0.2.21 80 { TCP_CHECK { } }
    real_server 192.0.2.22 80 {
        weight 4
        inhibit_on_failure
        TCP_CHECK { }
    }
    real_server 192.0.2.23 80 {
        weight 5
        notify_up "/n/up 23"
        TCP_CHECK { }
    }
    real_server 192.0.2.24 80 { TCP_CHECK { } }
}
virtual_server 192.0.2.3 80 {
    protocol TCP
    real_server 192.0.2.51 80 { TCP_CHECK { } }
}`

func TestReloadReconcilesTable(t *testing.T) {
	f := newFake()
	var scripts []string
	c, err := New(loadConf(t, reloadConf1), Options{IPVS: f, Logf: t.Logf, Exec: func(s string) error { scripts = append(scripts, s); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	c.apply(c.model.Start())
	c.apply(c.model.Transition(Ref{0, 0, 0}, false, checks.Result{})) // .21 out
	c.apply(c.model.Transition(Ref{0, 1, 0}, false, checks.Result{})) // .22 at weight 0
	before := len(f.Calls())
	scripts = nil

	c.reload(loadConf(t, reloadConf2))
	got := f.Calls()[before:]
	want := []string{
		"set-service TCP 192.0.2.1:80 wlc",
		"set-dest TCP 192.0.2.1:80 192.0.2.23:80 w5", // new weight of a live server
		"add-dest TCP 192.0.2.1:80 192.0.2.24:80 w1", // new server
		"add-service TCP 192.0.2.3:80",               // new virtual server
		"add-dest TCP 192.0.2.3:80 192.0.2.51:80 w1",
		"del-service FWM 5", // removed virtual server
	}
	if !slices.Equal(got, want) {
		t.Fatalf("reload calls\n got %q\nwant %q", got, want)
	}
	if errs := f.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	// .21 stays down and out, .22 stays at weight 0: nothing was re-added.
	st := c.State()[0].RealServers
	if st[0].Alive || st[0].InIPVS || st[1].Alive || !st[1].InIPVS {
		t.Fatalf("state after reload %+v", st)
	}
	if w, _ := f.Weight("TCP 192.0.2.1:80", "192.0.2.22:80"); w != 0 {
		t.Fatalf("inhibited server weight %d", w)
	}
	// Only what the reload removed notifies: the live .31 and FWM 5's quorum.
	if want := []string{"/n/down 31", "/q/down 5"}; !slices.Equal(scripts, want) {
		t.Fatalf("scripts %q want %q", scripts, want)
	}
	// The migrated checker still works: .22 recovers with its new weight.
	c.apply(c.model.Transition(Ref{0, 1, 0}, true, checks.Result{}))
	if w, ok := f.Weight("TCP 192.0.2.1:80", "192.0.2.22:80"); !ok || w != 4 {
		t.Fatalf("recovered weight %d %v", w, ok)
	}

	// Reloading the same configuration changes nothing.
	before = len(f.Calls())
	c.reload(loadConf(t, reloadConf2))
	if got := f.Calls()[before:]; len(got) != 0 {
		t.Fatalf("no-op reload made calls %q", got)
	}
}

// TestReloadWhileRunning reloads a running Checker: a server that is down
// stays out (and its checker, restarted down, brings it back when it
// recovers), a new server is added, and the service is not recreated.
func TestReloadWhileRunning(t *testing.T) {
	ln1 := listen(t, "127.0.0.1:0")
	ln2 := listen(t, "127.0.0.2:0")
	p1, p2 := ln1.Addr().(*net.TCPAddr).Port, ln2.Addr().(*net.TCPAddr).Port
	rs1, rs2 := fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.2:%d", p2)
	conf := func(extra string) string {
		return fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    real_server 127.0.0.1 %d { TCP_CHECK { connect_timeout 1 } }
%s
}`, p1, extra)
	}
	f := newFake()
	c, logs := run(t, conf(""), Options{IPVS: f})
	svc := "TCP 192.0.2.1:80"
	waitFor(t, "rs1 added", waitLong, func() bool { _, ok := f.Weight(svc, rs1); return ok })
	ln1.Close()
	waitFor(t, "rs1 removed", waitLong, func() bool { _, ok := f.Weight(svc, rs1); return !ok })

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	extra := fmt.Sprintf("    real_server 127.0.0.2 %d { TCP_CHECK { connect_timeout 1 } }", p2)
	if err := c.Reload(ctx, loadConf(t, conf(extra))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "rs2 added", waitLong, func() bool { _, ok := f.Weight(svc, rs2); return ok })
	time.Sleep(300 * time.Millisecond) // three delay_loops: rs1 must not come back while down
	if _, ok := f.Weight(svc, rs1); ok {
		t.Fatalf("down server re-added by the reload: %q", f.Calls())
	}
	listen(t, rs1)
	waitFor(t, "rs1 back after recovering", waitLong, func() bool { _, ok := f.Weight(svc, rs1); return ok })
	for _, call := range f.Calls()[1:] {
		if call == "add-service "+svc || call == "del-service "+svc {
			t.Fatalf("service recreated: %q", f.Calls())
		}
	}
	if errs := f.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if logs.Count("Reloading: 1 virtual servers") != 1 {
		t.Fatal("reload not logged")
	}
}

func TestReloadNotRunning(t *testing.T) {
	c, err := New(loadConf(t, reloadConf1), Options{IPVS: newFake(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Reload(ctx, loadConf(t, reloadConf2)); err == nil {
		t.Fatal("reload of a checker that never ran succeeded")
	}
	if err := c.Reload(ctx, nil); err == nil {
		t.Fatal("nil config accepted")
	}
}
