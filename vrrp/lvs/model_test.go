package lvs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"hapair/checks"
	"hapair/parser/keepalived"
)

// loadConf parses text with the project's keepalived parser.
func loadConf(t testing.TB, text string) *keepalived.Config {
	t.Helper()
	cfg, d := keepalived.Load("/t/keepalived.conf", keepalived.Options{
		ConfigID:           "t",
		ReadFile:           func(string) ([]byte, error) { return []byte(text), nil },
		InterfaceExists:    func(string) bool { return true },
		SkipScriptSecurity: true,
	})
	if cfg == nil {
		t.Fatalf("load: %v", d.List)
	}
	return cfg
}

// step drives the model: "V/R/C down", "V/R/C up", "V/R/C ok [CODE]",
// "V/R/C fail [CODE]" (a raw result), "stop".
func step(t *testing.T, m *Model, s string) []Action {
	t.Helper()
	f := strings.Fields(s)
	if f[0] == "stop" {
		return m.Stop()
	}
	var r Ref
	if _, err := fmt.Sscanf(f[0], "%d/%d/%d", &r.VS, &r.RS, &r.Check); err != nil {
		t.Fatalf("bad step %q", s)
	}
	code := 0
	if len(f) > 2 {
		code, _ = strconv.Atoi(f[2])
	}
	switch f[1] {
	case "up":
		return m.Transition(r, true, checks.Result{Status: checks.StatusL4OK})
	case "down":
		return m.Transition(r, false, checks.Result{Status: checks.StatusL4CON, Info: "Connection refused"})
	case "ok":
		return m.Result(r, checks.Result{Status: checks.StatusProcOK, Code: code})
	case "fail":
		return m.Result(r, checks.Result{Status: checks.StatusProcErr, Code: code})
	}
	t.Fatalf("bad step %q", s)
	return nil
}

// visible drops log and FIFO lines.
func visible(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if a.Kind != ActLog && a.Kind != ActFifo {
			out = append(out, a.String())
		}
	}
	return out
}

func logs(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if a.Kind == ActLog {
			out = append(out, a.Msg)
		}
	}
	return out
}

type modelStep struct {
	in   string
	want []string
}

func runModel(t *testing.T, conf string, start []string, steps []modelStep) *Model {
	t.Helper()
	m, _ := NewModel(loadConf(t, conf))
	if got := visible(m.Start()); !slices.Equal(got, start) {
		t.Fatalf("Start:\n got %q\nwant %q", got, start)
	}
	for i, s := range steps {
		if got := visible(step(t, m, s.in)); !slices.Equal(got, s.want) {
			t.Fatalf("step %d %q:\n got %q\nwant %q", i, s.in, got, s.want)
		}
	}
	return m
}

const twoServers = `
virtual_server 192.0.2.1 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.21 8080 {
        weight 1
        notify_up "/n/up 21"
        notify_down "/n/down 21"
        TCP_CHECK { connect_timeout 3 }
    }
    real_server 192.0.2.22 8080 {
        weight 2
        TCP_CHECK { connect_timeout 3 }
        MISC_CHECK { misc_path "/bin/true" }
    }
}
`

func TestModelRemoveAndAddBack(t *testing.T) {
	runModel(t, twoServers,
		[]string{"vs0 add-service", "vs0 add 192.0.2.21:8080 w1", "vs0 add 192.0.2.22:8080 w2"},
		[]modelStep{
			{"0/0/0 down", []string{"vs0 del 192.0.2.21:8080", "script /n/down 21"}},
			{"0/0/0 down", nil}, // no change, no action
			{"0/0/0 up", []string{"vs0 add 192.0.2.21:8080 w1", "script /n/up 21"}},
			// Two checkers: the server leaves with the first failure and
			// comes back only when both pass again.
			{"0/1/0 down", []string{"vs0 del 192.0.2.22:8080"}},
			{"0/1/1 down", nil},
			{"0/1/0 up", nil},
			{"0/1/1 up", []string{"vs0 add 192.0.2.22:8080 w2"}},
			{"stop", []string{"vs0 del 192.0.2.21:8080", "vs0 del 192.0.2.22:8080", "vs0 del-service"}},
		})
}

func TestModelInhibitOnFailure(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 192.0.2.21 80 {
        weight 3
        inhibit_on_failure
        TCP_CHECK { }
    }
}`
	runModel(t, conf,
		[]string{"vs0 add-service", "vs0 add 192.0.2.21:80 w3"},
		[]modelStep{
			{"0/0/0 down", []string{"vs0 set 192.0.2.21:80 w0"}},
			{"0/0/0 up", []string{"vs0 set 192.0.2.21:80 w3"}},
			{"0/0/0 down", []string{"vs0 set 192.0.2.21:80 w0"}},
			// inhibited servers are really removed at shutdown
			{"stop", []string{"vs0 del 192.0.2.21:80", "vs0 del-service"}},
		})
}

func TestModelMiscDynamicWeight(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 192.0.2.21 80 {
        weight 10
        MISC_CHECK {
            misc_path "/x/check"
            misc_dynamic
        }
    }
}`
	runModel(t, conf,
		[]string{"vs0 add-service", "vs0 add 192.0.2.21:80 w10"},
		[]modelStep{
			{"0/0/0 ok 0", nil}, // same code as before: nothing
			{"0/0/0 ok 7", []string{"vs0 set 192.0.2.21:80 w5"}}, // 7-2
			{"0/0/0 ok 7", nil},
			{"0/0/0 ok 2", []string{"vs0 set 192.0.2.21:80 w0"}},
			{"0/0/0 ok 0", []string{"vs0 set 192.0.2.21:80 w10"}}, // back to the configured weight
			{"0/0/0 fail 1", nil},
			{"0/0/0 down", []string{"vs0 del 192.0.2.21:80"}},
			{"0/0/0 ok 4", nil}, // weight 2 stored while down, not programmed
			{"0/0/0 up", []string{"vs0 add 192.0.2.21:80 w2"}},
		})
}

func TestModelQuorumSorryServer(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    quorum 3
    quorum_up "/q/up"
    quorum_down "/q/down"
    sorry_server 192.0.2.99 80
    real_server 192.0.2.21 80 {
        weight 2
        TCP_CHECK { }
    }
    real_server 192.0.2.22 80 {
        weight 2
        TCP_CHECK { }
    }
}`
	m := runModel(t, conf,
		[]string{"vs0 add-service", "vs0 add 192.0.2.21:80 w2", "vs0 add 192.0.2.22:80 w2", "script /q/up"},
		[]modelStep{
			// 2 < 3: quorum lost, the live server leaves, the sorry server comes in
			{"0/0/0 down", []string{"vs0 del 192.0.2.21:80", "vs0 del 192.0.2.22:80", "vs0 add 192.0.2.99:80 w1", "script /q/down"}},
			{"0/1/0 down", nil}, // already out of the table
			// back up: not added while the sorry server stands in ...
			{"0/1/0 up", nil},
			// ... until the quorum is back: sorry out, live servers in
			{"0/0/0 up", []string{"vs0 del 192.0.2.99:80", "vs0 add 192.0.2.21:80 w2", "vs0 add 192.0.2.22:80 w2", "script /q/up"}},
		})
	st := m.State()[0]
	if !st.QuorumUp || st.SorryActive || st.LiveWeight != 4 {
		t.Fatalf("state %+v", st)
	}
}

func TestModelQuorumHysteresis(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    quorum 2
    hysteresis 1
    quorum_up "/q/up"
    quorum_down "/q/down"
    real_server 192.0.2.21 80 { TCP_CHECK { } }
    real_server 192.0.2.22 80 { TCP_CHECK { } }
    real_server 192.0.2.23 80 { TCP_CHECK { } }
}`
	runModel(t, conf,
		[]string{"vs0 add-service", "vs0 add 192.0.2.21:80 w1", "vs0 add 192.0.2.22:80 w1", "vs0 add 192.0.2.23:80 w1", "script /q/up"},
		[]modelStep{
			{"0/0/0 down", []string{"vs0 del 192.0.2.21:80"}},                   // 2 >= 2-1
			{"0/1/0 down", []string{"vs0 del 192.0.2.22:80"}},                   // 1 >= 1
			{"0/2/0 down", []string{"vs0 del 192.0.2.23:80", "script /q/down"}}, // 0
			{"0/0/0 up", []string{"vs0 add 192.0.2.21:80 w1"}},                  // 1 < 2+1
			{"0/1/0 up", []string{"vs0 add 192.0.2.22:80 w1"}},                  // 2 < 3
			{"0/2/0 up", []string{"vs0 add 192.0.2.23:80 w1", "script /q/up"}},  // 3 >= 3
		})
}

func TestModelAlpha(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    alpha
    quorum_up "/q/up"
    sorry_server 192.0.2.99 80
    real_server 192.0.2.21 80 {
        notify_up "/n/up"
        notify_down "/n/down"
        TCP_CHECK { }
    }
}`
	m, _ := NewModel(loadConf(t, conf))
	start := m.Start()
	// alpha: the server starts down, so the sorry server is brought in at once
	if got, want := visible(start), []string{"vs0 add-service", "vs0 add 192.0.2.99:80 w1"}; !slices.Equal(got, want) {
		t.Fatalf("Start: got %q want %q", got, want)
	}
	if l := logs(start); !slices.Contains(l, "Starting with quorum down 1-0=1 > 0 for VS [192.0.2.1]:tcp:80") {
		t.Fatalf("logs %q", l)
	}
	// The first failing result confirms the down state: notify_down runs once.
	if got := visible(step(t, m, "0/0/0 fail 1")); !slices.Equal(got, []string{"script /n/down"}) {
		t.Fatalf("first failure: %q", got)
	}
	if got := visible(step(t, m, "0/0/0 fail 1")); got != nil {
		t.Fatalf("second failure: %q", got)
	}
	got := visible(step(t, m, "0/0/0 up"))
	want := []string{"script /n/up", "vs0 del 192.0.2.99:80", "vs0 add 192.0.2.21:80 w1", "script /q/up"}
	if !slices.Equal(got, want) {
		t.Fatalf("up: got %q want %q", got, want)
	}
}

func TestModelForwardingPorts(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_kind DR
    real_server 192.0.2.21 8080 { TCP_CHECK { } }
}
virtual_server fwmark 7 {
    lb_kind TUN
    real_server 192.0.2.31 8080 { TCP_CHECK { } }
}
virtual_server fwmark 8 {
    lb_kind NAT
    real_server 192.0.2.41 8080 { TCP_CHECK { } }
}`
	runModel(t, conf, []string{
		"vs0 add-service", "vs0 add 192.0.2.21:80 w1", // DR: the service's port
		"vs1 add-service", "vs1 add 192.0.2.31:0 w1", // fwmark, not NAT: port 0
		"vs2 add-service", "vs2 add 192.0.2.41:8080 w1", // NAT keeps the real server's port
	}, nil)
}

func TestModelAlerts(t *testing.T) {
	conf := `
global_defs {
    router_id LVS_1
    notification_email { ops@example.org }
    smtp_server 127.0.0.1
    smtp_alert true
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 192.0.2.21 80 {
        TCP_CHECK { }
        HTTP_GET { url { path / } }
    }
}`
	m, _ := NewModel(loadConf(t, conf))
	got := visible(m.Start())
	want := []string{"vs0 add-service", "vs0 add 192.0.2.21:80 w1",
		"alert [LVS_1] Virtualserver [192.0.2.1]:tcp:80 - UP | => Starting with quorum up 1+0=1 <= 1 <="}
	if !slices.Equal(got, want) {
		t.Fatalf("Start:\n got %q\nwant %q", got, want)
	}
	steps := []modelStep{
		{"0/0/0 down", []string{"vs0 del 192.0.2.21:80",
			"alert [LVS_1] Virtualserver [192.0.2.1]:tcp:80 - DOWN | => Lost quorum 1+0=1 <= 0 <=",
			"alert [LVS_1] Realserver [192.0.2.21]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN | => TCP CHECK failed on service <="}},
		// A second checker's change still mails, with the server's state.
		{"0/0/1 down", []string{"alert [LVS_1] Realserver [192.0.2.21]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN | => CHECK failed on service : HTTP request failed <="}},
		{"0/0/0 up", []string{"alert [LVS_1] Realserver [192.0.2.21]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN | => TCP CHECK succeed on service <="}},
		{"0/0/1 up", []string{"vs0 add 192.0.2.21:80 w1",
			"alert [LVS_1] Virtualserver [192.0.2.1]:tcp:80 - UP | => Gained quorum 1+0=1 <= 1 <=",
			"alert [LVS_1] Realserver [192.0.2.21]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - UP | => CHECK succeed on service <="}},
	}
	for i, s := range steps {
		if got := visible(step(t, m, s.in)); !slices.Equal(got, s.want) {
			t.Fatalf("step %d %q:\n got %q\nwant %q", i, s.in, got, s.want)
		}
	}
}

func TestModelNoMailWithoutServer(t *testing.T) {
	// Real servers alert by default, but only when e-mail is configured.
	m, _ := NewModel(loadConf(t, twoServers))
	m.Start()
	for _, a := range step(t, m, "0/0/0 down") {
		if a.Kind == ActAlert {
			t.Fatalf("alert without notification_email/smtp_server: %v", a)
		}
	}
}

func TestModelQuorumValidation(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    quorum 10
    hysteresis 12
    real_server 192.0.2.21 80 { weight 3 TCP_CHECK { } }
}`
	_, warn := NewModel(loadConf(t, conf))
	want := []string{
		"Warning - quorum 10 for [192.0.2.1]:tcp:80 exceeds total weight of real servers 3, reducing quorum to 3",
		"Virtual server [192.0.2.1]:tcp:80: hysteresis 12 >= quorum 3; setting hysteresis to 2",
	}
	if !slices.Equal(warn, want) {
		t.Fatalf("got %q\nwant %q", warn, want)
	}
}

func TestModelLogLines(t *testing.T) {
	m, _ := NewModel(loadConf(t, twoServers))
	m.Start()
	got := logs(step(t, m, "0/0/0 down"))
	want := []string{"Removing service [192.0.2.21]:tcp:8080 from VS [192.0.2.1]:tcp:80"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestModelIgnoresBadRefs(t *testing.T) {
	m, _ := NewModel(loadConf(t, twoServers))
	m.Start()
	for _, r := range []Ref{{-1, 0, 0}, {1, 0, 0}, {0, 5, 0}, {0, 0, 9}} {
		if a := m.Transition(r, false, checks.Result{}); a != nil {
			t.Fatalf("%v: %v", r, a)
		}
		if a := m.Result(r, checks.Result{}); a != nil {
			t.Fatalf("%v: %v", r, a)
		}
	}
}

func fifoLines(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if a.Kind == ActFifo {
			out = append(out, a.Msg)
		}
	}
	return out
}

func TestModelFifoLines(t *testing.T) {
	m, _ := NewModel(loadConf(t, twoServers))
	if got, want := fifoLines(m.Start()), []string{"VS [192.0.2.1]:tcp:80 UP"}; !slices.Equal(got, want) {
		t.Fatalf("Start: %q want %q", got, want)
	}
	if got, want := fifoLines(step(t, m, "0/0/0 down")), []string{"RS [192.0.2.21]:tcp:8080 [192.0.2.1]:tcp:80 DOWN"}; !slices.Equal(got, want) {
		t.Fatalf("down: %q want %q", got, want)
	}
	if got, want := fifoLines(step(t, m, "0/1/0 down")), []string{"RS [192.0.2.22]:tcp:8080 [192.0.2.1]:tcp:80 DOWN", "VS [192.0.2.1]:tcp:80 DOWN"}; !slices.Equal(got, want) {
		t.Fatalf("last server down: %q want %q", got, want)
	}
	if got, want := fifoLines(step(t, m, "0/1/1 down")), []string(nil); !slices.Equal(got, want) {
		t.Fatalf("second checker: %q want %q", got, want)
	}
	if got, want := fifoLines(step(t, m, "0/0/0 up")), []string{"RS [192.0.2.21]:tcp:8080 [192.0.2.1]:tcp:80 UP", "VS [192.0.2.1]:tcp:80 UP"}; !slices.Equal(got, want) {
		t.Fatalf("up: %q want %q", got, want)
	}
}

func TestModelOmegaStop(t *testing.T) {
	conf := `
global_defs {
    router_id R
    notification_email { a@example.org }
    smtp_server 127.0.0.1
    smtp_alert true
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    omega
    quorum_down "/q/down"
    real_server 192.0.2.21 80 {
        notify_down "/n/down"
        TCP_CHECK { }
    }
}`
	m, _ := NewModel(loadConf(t, conf))
	m.Start()
	got := visible(m.Stop())
	want := []string{"vs0 del 192.0.2.21:80", "script /n/down",
		"alert [R] Realserver [192.0.2.21]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN | => Shutting down <=",
		"script /q/down", "alert [R] Virtualserver [192.0.2.1]:tcp:80 - DOWN | => Shutting down <=",
		"vs0 del-service"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	// Without omega, shutdown is silent (TestModelRemoveAndAddBack).
}

// TestModelRealServerAlpha: alpha written on a real_server applies to its
// checkers (keepalived's checker alpha defaults to the real server's).
func TestModelRealServerAlpha(t *testing.T) {
	conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    sorry_server 192.0.2.99 80
    real_server 192.0.2.21 80 {
        alpha
        TCP_CHECK { }
    }
}`
	m, _ := NewModel(loadConf(t, conf))
	if got, want := visible(m.Start()), []string{"vs0 add-service", "vs0 add 192.0.2.99:80 w1"}; !slices.Equal(got, want) {
		t.Fatalf("Start: got %q want %q (the alpha server must start down)", got, want)
	}
}
