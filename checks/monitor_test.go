package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// scripted returns results from a list (the last one repeats) and records
// when each check started.
type scripted struct {
	mu      sync.Mutex
	results []Status
	times   []time.Time
	block   bool // block until ctx ends (a hanging server)
}

func (s *scripted) Check(ctx context.Context) Result {
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	st := s.results[min(len(s.times)-1, len(s.results)-1)]
	block := s.block
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return Result{Status: StatusL4TOUT}
	}
	return Result{Status: st}
}

func (s *scripted) starts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

func TestMonitorSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ck := &scripted{results: []Status{StatusL4OK, StatusL4CON, StatusL4CON, StatusL4CON, StatusL4CON, StatusL4OK, StatusL4OK}}
		events := make(chan Event, 10)
		m := NewMonitor("be/s1", ck, Config{
			Rise: 2, Fall: 3, Delay: 100 * time.Millisecond,
			Intervals: Intervals{Inter: 2 * time.Second, FastInter: 500 * time.Millisecond, DownInter: 5 * time.Second},
		}, events)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		t0 := time.Now()
		go func() { done <- m.Run(ctx) }()
		time.Sleep(20 * time.Second)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		var got []time.Duration
		for _, at := range ck.starts() {
			got = append(got, at.Sub(t0))
		}
		// ok (fully up: inter 2s), fail (fast .5), fail (fast .5), fail -> down (downinter 5),
		// fail (down 5), ok (going up: fast .5), ok -> up (inter 2)
		want := []time.Duration{100, 2100, 2600, 3100, 8100, 13100, 13600, 15600, 17600, 19600}
		if len(got) != len(want) {
			t.Fatalf("checks at %v, want %v ms", got, want)
		}
		for i := range want {
			if got[i] != want[i]*time.Millisecond {
				t.Fatalf("check %d at %v, want %vms (all: %v)", i, got[i], want[i], got)
			}
		}
		e1, e2 := <-events, <-events
		if e1.Up || e1.Name != "be/s1" || e1.Result.Status != StatusL4CON || e1.Health != 0 {
			t.Fatalf("first event %+v, want DOWN by L4CON", e1)
		}
		if !e2.Up || e2.Result.Status != StatusL4OK || e2.Health != 4 {
			t.Fatalf("second event %+v, want UP", e2)
		}
		select {
		case e := <-events:
			t.Fatalf("unexpected event %+v", e)
		default:
		}
		s := m.Snapshot()
		if !s.Up || s.Downs != 1 || s.Failed != 3 || s.Checks != 10 || s.Last.Status != StatusL4OK {
			t.Fatalf("snapshot %+v", s)
		}
	})
}

func TestMonitorTimeoutAndSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ck := &scripted{results: []Status{StatusL4OK}, block: true}
		events := make(chan Event, 1)
		r := 0.0 // first jitter: +10%, then -10%
		m := NewMonitor("x", ck, Config{
			Rise: 1, Fall: 1, Start: StartFullyUp, Timeout: 300 * time.Millisecond, Spread: 10,
			Intervals: Intervals{Inter: time.Second},
			Rand:      func() float64 { v := r; r = 1; return v },
		}, events)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		t0 := time.Now()
		go m.Run(ctx)
		e := <-events
		if e.Up || e.Result.Status != StatusL4TOUT || e.Result.Duration != 300*time.Millisecond {
			t.Fatalf("event %+v, want DOWN by L4TOUT after 300ms", e)
		}
		time.Sleep(3 * time.Second)
		st := ck.starts()
		// check 0 at 0 (ends .3), next after 1s+10% = 1.4, ends 1.7, next after 1s-10% = 2.6
		if len(st) < 3 || st[1].Sub(t0) != 1400*time.Millisecond || st[2].Sub(t0) != 2600*time.Millisecond {
			t.Fatalf("starts %v", st)
		}
		if s := m.Snapshot(); s.Last.Status != StatusL4TOUT || s.Up {
			t.Fatalf("snapshot %+v", s)
		}
	})
}

func TestMonitorDefaultTimeoutIsInter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ck := &scripted{results: []Status{StatusL4OK}, block: true}
		events := make(chan Event, 1)
		m := NewMonitor("x", ck, Config{Rise: 1, Fall: 1, Intervals: Intervals{Inter: 700 * time.Millisecond}}, events)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go m.Run(ctx)
		if e := <-events; e.Result.Duration != 700*time.Millisecond {
			t.Fatalf("timeout %v, want inter 700ms", e.Result.Duration)
		}
	})
}

// A blocked reader does not lose transitions; cancelling unblocks Run.
func TestMonitorStopsWhileSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ck := &scripted{results: []Status{StatusL4CON}}
		events := make(chan Event) // nobody reads
		m := NewMonitor("x", ck, Config{Rise: 1, Fall: 1, Intervals: Intervals{Inter: time.Second}}, events)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(5 * time.Second)
		if n := len(ck.starts()); n != 1 {
			t.Fatalf("%d checks ran while the transition was unread, want 1", n)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
	})
}

// TestMonitorOnHealth: OnHealth sees every result that moved the health
// counter (HAProxy's log-health-checks), not the ones that did not
// (a failure while fully down, a success while fully up), in order and
// before the transition event.
func TestMonitorOnHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ck := &scripted{results: []Status{StatusL4OK, StatusL4OK, StatusL4CON, StatusL4CON, StatusL4CON, StatusL4CON, StatusL4OK, StatusL4OK, StatusL4OK}}
		events := make(chan Event, 10)
		var mu sync.Mutex
		var seen []string
		m := NewMonitor("be/s1", ck, Config{Rise: 2, Fall: 3, Intervals: Intervals{Inter: time.Second},
			OnHealth: func(ev Event) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, fmt.Sprintf("%d/%v/%d", ev.Health, ev.Up, len(events)))
			}}, events)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(8500 * time.Millisecond)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		// health: 2 -> 4 (ok), 4 (ok, no move), 3, 2, 0 DOWN (3 fails),
		// 0 (fail, no move), 1, 4 UP, 4 (no move). The third field is the
		// number of transition events sent before the call.
		want := "4/true/0 3/true/0 2/true/0 0/false/0 1/false/1 4/true/1"
		if got := strings.Join(seen, " "); got != want {
			t.Errorf("OnHealth calls %q, want %q", got, want)
		}
	})
}
