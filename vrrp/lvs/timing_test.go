package lvs

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"hapair/checks"
	"hapair/parser/keepalived"
)

// scripted is a probe whose outcome the test sets, recording when it ran
// (in the bubble's fake time, as seconds since start).
type scripted struct {
	start time.Time
	fail  atomic.Bool
	mu    sync.Mutex
	runs  []float64
}

func (s *scripted) Check(context.Context) checks.Result {
	s.mu.Lock()
	s.runs = append(s.runs, time.Since(s.start).Seconds())
	s.mu.Unlock()
	if s.fail.Load() {
		return checks.Result{Status: checks.StatusL4CON}
	}
	return checks.Result{Status: checks.StatusL4OK}
}

func (s *scripted) Runs() []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

// callTimes returns when (seconds since start) the fake got each call.
func (f *fakeIPVS) callTimes(start time.Time) map[string][]float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]float64{}
	for i, c := range f.calls {
		out[c] = append(out[c], f.at[i].Sub(start).Seconds())
	}
	return out
}

const timingConf = `
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 5
    real_server 192.0.2.21 80 {
        TCP_CHECK {
            retry 2
            delay_before_retry 1
            warmup 0
        }
    }
}`

// runBubble runs a Checker with a scripted probe inside a synctest
// bubble for d of fake time, calling at(t) hooks on the way.
func runBubble(t *testing.T, p *scripted, f *fakeIPVS, conf string, steps func()) {
	runBubbleRand(t, p, f, conf, nil, steps)
}

func runBubbleRand(t *testing.T, p *scripted, f *fakeIPVS, conf string, rnd func() float64, steps func()) {
	c, err := New(loadConf(t, conf), Options{IPVS: f, Logf: t.Logf, Rand: rnd,
		NewProbe: func(*keepalived.VirtualServer, *keepalived.RealServer, *keepalived.Checker) (checks.Checker, error) {
			return p, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	steps()
	cancel()
	<-done
}

// TestRetryTiming checks keepalived's schedule in fake time: checks every
// delay_loop; after a failure, retries every delay_before_retry; the
// server is removed after retry+1 failures and is checked every
// delay_loop while down.
func TestRetryTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := &scripted{start: start}
		f := newFake()
		runBubble(t, p, f, timingConf, func() {
			time.Sleep(12 * time.Second)
			p.fail.Store(true)
			time.Sleep(8 * time.Second) // t=20
			p.fail.Store(false)
			time.Sleep(5 * time.Second) // t=25
		})
		if got, want := p.Runs(), []float64{0, 5, 10, 15, 16, 17, 22}; !slices.Equal(got, want) {
			t.Fatalf("checks ran at %v, want %v", got, want)
		}
		times := f.callTimes(start)
		if got := times["del-dest TCP 192.0.2.1:80 192.0.2.21:80"]; !slices.Equal(got, []float64{17, 25}) { // 25: shutdown
			t.Fatalf("removed at %v", got)
		}
		if got := times["add-dest TCP 192.0.2.1:80 192.0.2.21:80 w1"]; !slices.Equal(got, []float64{0, 22}) {
			t.Fatalf("added at %v", got)
		}
	})
}

// TestFirstFailureIsEnough: at start-up one failure marks a server down
// (keepalived sets retry_it = retry for non-alpha checkers).
func TestFirstFailureIsEnough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := &scripted{start: start}
		p.fail.Store(true)
		f := newFake()
		runBubble(t, p, f, timingConf, func() { time.Sleep(7 * time.Second) })
		if got := f.callTimes(start)["del-dest TCP 192.0.2.1:80 192.0.2.21:80"]; len(got) == 0 || got[0] != 0 {
			t.Fatalf("removed at %v, want 0", got)
		}
		if got, want := p.Runs(), []float64{0, 5}; !slices.Equal(got, want) {
			t.Fatalf("checks ran at %v, want %v", got, want)
		}
	})
}

// TestAlphaStartsDown: in alpha mode the server is not in the table until
// its first success.
func TestAlphaStartsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := &scripted{start: start}
		p.fail.Store(true)
		f := newFake()
		conf := `
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 5
    alpha
    real_server 192.0.2.21 80 {
        TCP_CHECK {
            retry 2
            warmup 0
        }
    }
}`
		runBubble(t, p, f, conf, func() {
			time.Sleep(7 * time.Second)
			p.fail.Store(false)
			time.Sleep(5 * time.Second)
		})
		times := f.callTimes(start)
		if got := times["add-dest TCP 192.0.2.1:80 192.0.2.21:80 w1"]; !slices.Equal(got, []float64{10}) {
			t.Fatalf("added at %v, want [10]\n%v", got, f.Calls())
		}
	})
}

// TestWarmup: the first check runs at a random point within warmup, which
// defaults to delay_loop.
func TestWarmup(t *testing.T) {
	for _, c := range []struct {
		conf string
		want []float64
	}{
		{"virtual_server 192.0.2.1 80 {\n protocol TCP\n delay_loop 4\n real_server 192.0.2.21 80 { TCP_CHECK { } }\n}", []float64{1, 5, 9}},
		{"virtual_server 192.0.2.1 80 {\n protocol TCP\n delay_loop 4\n real_server 192.0.2.21 80 { TCP_CHECK { warmup 2 } }\n}", []float64{0.5, 4.5, 8.5}},
		{"virtual_server 192.0.2.1 80 {\n protocol TCP\n delay_loop 4\n real_server 192.0.2.21 80 { TCP_CHECK { warmup 0 } }\n}", []float64{0, 4, 8}},
	} {
		synctest.Test(t, func(t *testing.T) {
			p := &scripted{start: time.Now()}
			runBubbleRand(t, p, newFake(), c.conf, func() float64 { return 0.25 }, func() { time.Sleep(10 * time.Second) })
			if got := p.Runs(); !slices.Equal(got, c.want) {
				t.Fatalf("checks ran at %v, want %v", got, c.want)
			}
		})
	}
}
