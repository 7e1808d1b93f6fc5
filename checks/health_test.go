package checks

import (
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	t0 := time.Unix(1000, 0)
	iv := Intervals{Inter: 2 * time.Second, FastInter: 500 * time.Millisecond, DownInter: 10 * time.Second}
	// Each step: result, then expected up, health, changed, interval.
	type step struct {
		ok      bool
		up      bool
		health  int
		changed bool
		next    time.Duration
	}
	tests := []struct {
		name       string
		rise, fall int
		start      Start
		startNext  time.Duration
		steps      []step
	}{
		{"haproxy default: first failure marks down", 2, 3, StartUp, iv.FastInter, []step{
			{false, false, 0, true, iv.DownInter},
			{true, false, 1, false, iv.FastInter},
			{true, true, 4, true, iv.Inter},
		}},
		{"haproxy default: first success makes fully up", 2, 3, StartUp, iv.FastInter, []step{
			{true, true, 4, false, iv.Inter},
			{false, true, 3, false, iv.FastInter},
			{false, true, 2, false, iv.FastInter},
			{true, true, 4, false, iv.Inter},
			{false, true, 3, false, iv.FastInter},
			{false, true, 2, false, iv.FastInter},
			{false, false, 0, true, iv.DownInter},
			{false, false, 0, false, iv.DownInter},
		}},
		{"start down needs rise successes", 3, 2, StartDown, iv.DownInter, []step{
			{true, false, 1, false, iv.FastInter},
			{false, false, 0, false, iv.DownInter},
			{true, false, 1, false, iv.FastInter},
			{true, false, 2, false, iv.FastInter},
			{true, true, 4, true, iv.Inter},
		}},
		{"keepalived rise 1 fall 1", 1, 1, StartFullyUp, iv.Inter, []step{
			{false, false, 0, true, iv.DownInter},
			{false, false, 0, false, iv.DownInter},
			{true, true, 1, true, iv.Inter},
			{true, true, 1, false, iv.Inter},
		}},
		{"keepalived: first failure decides at once", 2, 2, StartUnknown, iv.FastInter, []step{
			{false, false, 0, true, iv.DownInter},
			{true, false, 1, false, iv.FastInter},
			{true, true, 3, true, iv.Inter},
		}},
		{"keepalived: first success decides at once", 2, 2, StartUnknown, iv.FastInter, []step{
			{true, true, 3, true, iv.Inter},
			{false, true, 2, false, iv.FastInter},
			{false, false, 0, true, iv.DownInter},
		}},
		{"zero rise and fall become 1", 0, 0, StartDown, iv.DownInter, []step{
			{true, true, 1, true, iv.Inter},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHealth(tt.rise, tt.fall, tt.start, t0)
			if got := iv.For(h.Phase()); got != tt.startNext {
				t.Fatalf("initial interval %v, want %v", got, tt.startNext)
			}
			for i, s := range tt.steps {
				now := t0.Add(time.Duration(i+1) * time.Second)
				changed := h.Observe(s.ok, now)
				if changed != s.changed || h.Up() != s.up || h.Value() != s.health {
					t.Fatalf("step %d (ok=%v): changed=%v up=%v health=%d, want %v %v %d",
						i, s.ok, changed, h.Up(), h.Value(), s.changed, s.up, s.health)
				}
				if changed && !h.LastChange().Equal(now) {
					t.Fatalf("step %d: LastChange %v, want %v", i, h.LastChange(), now)
				}
				if got := iv.For(h.Phase()); got != s.next {
					t.Fatalf("step %d: interval %v, want %v", i, got, s.next)
				}
			}
		})
	}
}

func TestHealthCounters(t *testing.T) {
	t0 := time.Unix(0, 0)
	h := NewHealth(2, 3, StartUp, t0)
	h.Observe(false, t0.Add(1*time.Second)) // down at 1s
	h.Observe(false, t0.Add(2*time.Second)) // health already 0: not counted
	if h.Failed() != 1 || h.Downs() != 1 {
		t.Fatalf("failed=%d downs=%d, want 1 1", h.Failed(), h.Downs())
	}
	if got := h.Downtime(t0.Add(4 * time.Second)); got != 3*time.Second {
		t.Fatalf("downtime while down = %v, want 3s", got)
	}
	h.Observe(true, t0.Add(5*time.Second))
	h.Observe(true, t0.Add(6*time.Second)) // up at 6s after 5s down
	if got := h.Downtime(t0.Add(100 * time.Second)); got != 5*time.Second {
		t.Fatalf("downtime after recovery = %v, want 5s", got)
	}
}

func TestHealthForce(t *testing.T) {
	t0 := time.Unix(0, 0)
	h := NewHealth(2, 3, StartUp, t0)
	if h.Force(true, t0) || h.Value() != 4 {
		t.Fatalf("force up while up: changed or health %d", h.Value())
	}
	if !h.Force(false, t0.Add(time.Second)) || h.Up() || h.Value() != 0 || h.Downs() != 1 {
		t.Fatalf("force down: up=%v health=%d downs=%d", h.Up(), h.Value(), h.Downs())
	}
	if !h.Force(true, t0.Add(3*time.Second)) || !h.Up() || h.Downtime(t0.Add(9*time.Second)) != 2*time.Second {
		t.Fatalf("force up: up=%v downtime=%v", h.Up(), h.Downtime(t0.Add(9*time.Second)))
	}
	u := NewHealth(1, 1, StartUnknown, t0)
	if u.Known() || u.Up() {
		t.Fatal("unknown start must be neither known nor up")
	}
	if !u.Force(false, t0) || !u.Known() {
		t.Fatal("forcing an unknown state down must report a change")
	}
}

func TestIntervalsFallBackToInter(t *testing.T) {
	iv := Intervals{Inter: time.Second}
	for _, p := range []Phase{PhaseUp, PhaseGoingDown, PhaseGoingUp, PhaseDown} {
		if got := iv.For(p); got != time.Second {
			t.Errorf("phase %d: %v, want inter", p, got)
		}
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		inter, connect, check time.Duration
		wantConn, wantTotal   time.Duration
	}{
		{2 * time.Second, 5 * time.Second, 0, 2 * time.Second, 2 * time.Second},
		{2 * time.Second, 5 * time.Second, time.Second, 2 * time.Second, 3 * time.Second},
		{2 * time.Second, 500 * time.Millisecond, time.Second, 500 * time.Millisecond, 1500 * time.Millisecond},
		{2 * time.Second, 0, time.Second, 2 * time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		c, tot := Timeouts(tt.inter, tt.connect, tt.check)
		if c != tt.wantConn || tot != tt.wantTotal {
			t.Errorf("Timeouts(%v,%v,%v) = %v,%v want %v,%v", tt.inter, tt.connect, tt.check, c, tot, tt.wantConn, tt.wantTotal)
		}
	}
}

func TestResultReason(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Status: StatusL4CON, Info: "Connection refused"},
			`reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms`},
		{Result{Status: StatusL7STS, Code: 404, Info: "File not found", Duration: 1500 * time.Microsecond},
			`reason: Layer7 wrong status, code: 404, info: "File not found", check duration: 1ms`},
		{Result{Status: StatusL7RSP, Duration: 201 * time.Millisecond},
			`reason: Layer7 invalid response, check duration: 201ms`},
		{Result{Status: StatusL4TOUT, Duration: 2 * time.Second},
			`reason: Layer4 timeout, check duration: 2000ms`},
	}
	for _, tt := range tests {
		if got := tt.r.Reason(); got != tt.want {
			t.Errorf("Reason() = %s\nwant       %s", got, tt.want)
		}
	}
	for s := StatusUnknown; s <= StatusProcOK; s++ {
		if s.String() == "UNK" && s != StatusUnknown {
			t.Errorf("status %d has no name", s)
		}
	}
	if Status(99).String() != "UNK" {
		t.Error("out-of-range status must print UNK")
	}
}
