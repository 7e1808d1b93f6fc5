package checks

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestNextTick(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := time.Second
	for _, c := range []struct {
		name     string
		ended    time.Duration // after t0, the tick the check was due at
		timedOut bool
		grid     time.Duration // next grid time after t0
		wait     time.Duration
	}{
		{"fast check waits for the next tick", 100 * time.Millisecond, false, 2 * s, 1900 * time.Millisecond},
		{"timed out at the tick runs at once on the grid", 2*s + 5*time.Millisecond, true, 2 * s, 0},
		{"still running at the tick skips it", 2*s + 500*time.Millisecond, false, 4 * s, 1500 * time.Millisecond},
		{"ran over several ticks skips them all", 7 * s, false, 8 * s, s},
		{"timed out long after the tick skips too", 5 * s, true, 6 * s, s},
	} {
		grid, wait := nextTick(t0, t0.Add(c.ended), 2*s, c.timedOut)
		if grid.Sub(t0) != c.grid || wait != c.wait {
			t.Errorf("%s: grid %v wait %v, want %v %v", c.name, grid.Sub(t0), wait, c.grid, c.wait)
		}
	}
}

// sleepChecker takes d per check and records when each started.
type sleepChecker struct {
	d      time.Duration
	mu     sync.Mutex
	starts []time.Time
}

func (c *sleepChecker) Check(ctx context.Context) Result {
	c.mu.Lock()
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	select {
	case <-time.After(c.d):
		return Result{Status: StatusProcOK}
	case <-ctx.Done():
		return Result{Status: StatusProcTOUT}
	}
}

// TestMonitorFixedRate: with FixedRate a check that always times out
// starts every interval (keepalived's vrrp_script); without it the next
// check starts an interval after the previous one ended (HAProxy).
func TestMonitorFixedRate(t *testing.T) {
	for _, c := range []struct {
		fixed bool
		want  []time.Duration
	}{
		{true, []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second, 8 * time.Second}},
		{false, []time.Duration{0, 4 * time.Second, 8 * time.Second}},
	} {
		synctest.Test(t, func(t *testing.T) {
			ch := &sleepChecker{d: time.Hour}
			m := NewMonitor("s", ch, Config{Rise: 1, Fall: 1, Intervals: Intervals{Inter: 2 * time.Second}, FixedRate: c.fixed}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			t0 := time.Now()
			go m.Run(ctx)
			time.Sleep(9 * time.Second)
			cancel()
			synctest.Wait()
			ch.mu.Lock()
			defer ch.mu.Unlock()
			var got []time.Duration
			for _, s := range ch.starts {
				got = append(got, s.Sub(t0))
			}
			if len(got) != len(c.want) {
				t.Fatalf("fixed=%v: starts %v, want %v", c.fixed, got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("fixed=%v: starts %v, want %v", c.fixed, got, c.want)
					break
				}
			}
		})
	}
}
