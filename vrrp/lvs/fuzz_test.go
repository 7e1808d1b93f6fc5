package lvs

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"hapair/checks"
)

// invariantConf mixes every feature the model has: quorum with
// hysteresis, a sorry server, inhibit_on_failure, two checkers on one
// server, misc_dynamic weights and an alpha checker.
const invariantConf = `
virtual_server 192.0.2.1 80 {
    protocol TCP
    quorum 3
    hysteresis 1
    sorry_server 192.0.2.99 80
    quorum_up /q/up
    quorum_down /q/down
    real_server 192.0.2.21 80 {
        weight 2
        inhibit_on_failure
        TCP_CHECK { }
        HTTP_GET { url { path / } }
    }
    real_server 192.0.2.22 80 {
        weight 2
        MISC_CHECK {
            misc_path /x
            misc_dynamic
        }
    }
    real_server 192.0.2.23 80 {
        weight 1
        TCP_CHECK { alpha }
    }
}`

// drive feeds the model one event per byte through a Checker's apply (so
// the fake sees exactly what the kernel would) and checks after every
// event that the IPVS table is what the model's state says, that no call
// would be refused by the kernel, and that Stop empties the table.
func drive(t *testing.T, events []byte) {
	f := newFake()
	c, err := New(loadConf(t, invariantConf), Options{IPVS: f, Logf: func(string, ...any) {}, Exec: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	m := c.model
	if !m.vss[0].rss[1].checks[0].dynamic || !m.vss[0].rss[2].checks[0].alpha || !m.vss[0].rss[0].inhibit {
		t.Fatal("invariantConf did not parse as intended")
	}
	c.apply(m.Start())
	check := func(step string) {
		t.Helper()
		if errs := f.Errors(); len(errs) > 0 {
			t.Fatalf("after %s: refused calls %v\ncalls %q", step, errs, f.Calls())
		}
		st := m.State()[0]
		const svc = "TCP 192.0.2.1:80"
		w, sorryIn := f.Weight(svc, "192.0.2.99:80")
		if sorryIn != st.SorryActive || (sorryIn && w != 1) {
			t.Fatalf("after %s: sorry in table %v (w%d), model says %v\ncalls %q", step, sorryIn, w, st.SorryActive, f.Calls())
		}
		if st.SorryActive == st.QuorumUp {
			t.Fatalf("after %s: sorry active %v with quorum up %v", step, st.SorryActive, st.QuorumUp)
		}
		if st.QuorumUp && (st.LiveWeight == 0 || st.LiveWeight < 3-1) || !st.QuorumUp && st.LiveWeight >= 3+1 {
			t.Fatalf("after %s: quorum up %v with live weight %d", step, st.QuorumUp, st.LiveWeight)
		}
		for i, rs := range st.RealServers {
			inhibit := i == 0
			got, in := f.Weight(svc, fmt.Sprintf("192.0.2.%d:80", 21+i))
			want, wantIn := realWeight(rs.Weight), rs.Alive && !st.SorryActive
			if inhibit {
				wantIn = true
				if !rs.Alive || st.SorryActive {
					want = 0
				}
			}
			if in != wantIn || (in && got != want) {
				t.Fatalf("after %s: rs %d in table %v w%d, want %v w%d (state %+v)\ncalls %q", step, i, in, got, wantIn, want, rs, f.Calls())
			}
			if rs.Alive != (rs.Failed == 0) {
				t.Fatalf("after %s: rs %d alive %v with %d failed checkers", step, i, rs.Alive, rs.Failed)
			}
		}
	}
	check("Start")
	nChecks := []int{2, 1, 1}
	for i, b := range events {
		r := Ref{VS: 0, RS: int(b) % 3}
		r.Check = int(b/3) % nChecks[r.RS]
		var step string
		switch (b / 6) % 4 {
		case 0:
			c.apply(m.Transition(r, false, checks.Result{Status: checks.StatusL4CON}))
			step = "down"
		case 1:
			c.apply(m.Transition(r, true, checks.Result{Status: checks.StatusL4OK}))
			step = "up"
		case 2:
			code := int(b>>5) + 1 // 1..8; 1 is a failure unless dynamic counts it
			st := checks.StatusProcOK
			if code == 1 {
				st = checks.StatusProcErr
			}
			c.apply(m.Result(r, checks.Result{Status: st, Code: code}))
			step = fmt.Sprintf("result %d", code)
		default:
			c.apply(m.Result(r, checks.Result{Status: checks.StatusProcOK}))
			step = "result 0"
		}
		check(fmt.Sprintf("event %d (%v %s)", i, r, step))
	}
	// Reloading the same configuration keeps every state: no IPVS call.
	n := len(f.Calls())
	oldState := m.State()
	c.reload(loadConf(t, invariantConf))
	if got := f.Calls()[n:]; len(got) != 0 {
		t.Fatalf("same-config reload made calls %q\nbefore %+v\nafter %+v", got, oldState, c.model.State())
	}
	m = c.model
	check("reload")
	c.apply(m.Stop())
	if errs := f.Errors(); len(errs) > 0 {
		t.Fatalf("Stop: refused calls %v", errs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.table) != 0 {
		t.Fatalf("table after Stop: %v", f.table)
	}
}

func FuzzModel(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 2, 6, 7, 8})
	f.Add([]byte{0, 3, 1, 2, 9, 10, 11, 8})
	f.Add([]byte{13, 45, 77, 109, 0, 1, 2, 6})
	f.Fuzz(func(t *testing.T, events []byte) {
		if len(events) > 200 {
			events = events[:200]
		}
		drive(t, events)
	})
}

// TestModelRandomSequences runs the invariants over fixed pseudo-random
// sequences, so plain `go test` covers far more than the seeds.
func TestModelRandomSequences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		ev := make([]byte, 60)
		for j := range ev {
			ev[j] = byte(rng.IntN(256))
		}
		drive(t, ev)
	}
}

// FuzzExpandRange: virtual_server_group ranges never panic, never expand
// beyond maxGroupRange and stay in one address family.
func FuzzExpandRange(f *testing.F) {
	for _, s := range []string{"192.0.2.11-20", "192.0.2.1", "2001:db8::a-ff", "::ffff:192.0.2.1-3", "1.2.3.4-", "-", "fe80::1%eth0-2", "192.0.2.255-255"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := expandRange(s)
		if err != nil {
			return
		}
		if len(addrs) == 0 || len(addrs) > maxGroupRange {
			t.Fatalf("%q: %d addresses", s, len(addrs))
		}
		for _, a := range addrs {
			if a.Is4() != addrs[0].Is4() {
				t.Fatalf("%q: mixed families %v", s, addrs)
			}
		}
	})
}
