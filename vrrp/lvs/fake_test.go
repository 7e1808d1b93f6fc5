package lvs

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeIPVS is an IPVS that keeps a table the way the kernel does and
// refuses what the kernel would refuse (a service added twice, a
// destination of a missing service, updating a missing destination), so a
// test sees both the calls and their consistency.
type fakeIPVS struct {
	mu    sync.Mutex
	calls []string
	at    []time.Time
	table map[string]map[string]int // service -> "addr:port" -> weight
	errs  []error
}

func newFake() *fakeIPVS { return &fakeIPVS{table: map[string]map[string]int{}} }

func (f *fakeIPVS) record(call string, err error) error {
	f.calls = append(f.calls, call)
	f.at = append(f.at, time.Now())
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("%s: %w", call, err))
	}
	return err
}

func (f *fakeIPVS) AddService(s Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if _, ok := f.table[s.String()]; ok {
		err = unix.EEXIST
	} else {
		f.table[s.String()] = map[string]int{}
	}
	return f.record("add-service "+s.String(), err)
}

func (f *fakeIPVS) DelService(s Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if _, ok := f.table[s.String()]; !ok {
		err = unix.ESRCH
	}
	delete(f.table, s.String())
	return f.record("del-service "+s.String(), err)
}

func (f *fakeIPVS) UpdateService(s Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if _, ok := f.table[s.String()]; !ok {
		err = unix.ESRCH
	}
	return f.record(fmt.Sprintf("set-service %s %s", s, s.Scheduler), err)
}

func (f *fakeIPVS) AddDest(s Service, d Dest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	switch ds, ok := f.table[s.String()]; {
	case !ok:
		err = unix.ESRCH
	case hasKey(ds, destKey(d)):
		err = unix.EEXIST
	default:
		ds[destKey(d)] = d.Weight
	}
	return f.record(fmt.Sprintf("add-dest %s %s w%d", s, destKey(d), d.Weight), err)
}

func (f *fakeIPVS) UpdateDest(s Service, d Dest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	switch ds, ok := f.table[s.String()]; {
	case !ok:
		err = unix.ESRCH
	case !hasKey(ds, destKey(d)):
		err = unix.ENOENT
	default:
		ds[destKey(d)] = d.Weight
	}
	return f.record(fmt.Sprintf("set-dest %s %s w%d", s, destKey(d), d.Weight), err)
}

func (f *fakeIPVS) DelDest(s Service, d Dest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	switch ds, ok := f.table[s.String()]; {
	case !ok:
		err = unix.ESRCH
	case !hasKey(ds, destKey(d)):
		err = unix.ENOENT
	default:
		delete(ds, destKey(d))
	}
	return f.record(fmt.Sprintf("del-dest %s %s", s, destKey(d)), err)
}

func (f *fakeIPVS) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.table = map[string]map[string]int{}
	return f.record("flush", nil)
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }

// Calls returns the calls so far.
func (f *fakeIPVS) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Weight returns a destination's weight and whether it is in the table.
func (f *fakeIPVS) Weight(svc, dest string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.table[svc][dest]
	return w, ok
}

// Errors returns the calls the kernel would have refused.
func (f *fakeIPVS) Errors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.errs)
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logSink collects log lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logSink) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func (l *logSink) Count(sub string) int {
	n := 0
	for _, s := range l.Lines() {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func TestFakeIPVSRefusesLikeTheKernel(t *testing.T) {
	f := newFake()
	s := svcTCP
	d := Dest{Addr: s.Addr, Port: 80, Weight: 1}
	if f.AddDest(s, d) == nil {
		t.Fatal("dest of a missing service accepted")
	}
	if f.AddService(s) != nil || f.AddService(s) == nil {
		t.Fatal("service add semantics")
	}
	if f.UpdateDest(s, d) == nil || f.AddDest(s, d) != nil || f.AddDest(s, d) == nil {
		t.Fatal("dest add semantics")
	}
	if f.DelDest(s, d) != nil || f.DelDest(s, d) == nil {
		t.Fatal("dest del semantics")
	}
}
