package track

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"hapair/checks"
)

// LinkWatcher reports interface link states. Watch calls f with the
// current state of every interface in names first (down if it does not
// exist), then with every change, until ctx ends. NetlinkLinks is the
// real one.
type LinkWatcher interface {
	Watch(ctx context.Context, names []string, f func(name string, up bool)) error
}

// Runner runs the tracked objects of a Config and reports each change of
// an instance's outcome to OnChange. Create it with NewRunner, then call
// Run once.
type Runner struct {
	cfg      Config
	onChange func(Change)
	// Links watches interfaces; nil means NetlinkLinks{} (the daemon's
	// own network namespace).
	Links LinkWatcher
	// Log receives keepalived's log lines (`VRRP_Script(chk) succeeded`,
	// `VRRP_Script(chk) failed (exited with status 1)`,
	// `VRRP_Script(chk) timed_out`, `Script `chk` now returning 1`, link
	// and track_file changes); nil discards them.
	Log func(string)
	// FilePoll is how often track files are re-read in addition to
	// inotify events (0: 1s); it also catches files in directories
	// created later.
	FilePoll time.Duration

	mu    sync.Mutex
	state *State
}

// NewRunner returns a Runner for cfg. onChange is called serially, from
// one goroutine, for every change of an instance's Change; it must not
// block for long (forward to the instance's goroutine).
func NewRunner(cfg Config, onChange func(Change)) *Runner {
	// init_fail is not applied: keepalived 2.2.7 keeps such a script in
	// its INIT state like any other until the first result (measured:
	// same effective priority, same silent FAULT for weight 0).
	initial := map[Kind]map[string]Status{KindFile: {}}
	for _, f := range cfg.Files {
		initFile(f)
		initial[KindFile][f.Name] = Status{Known: true, Value: readTrackFile(f.Path)}
	}
	return &Runner{cfg: cfg, onChange: onChange, state: NewState(cfg.Instances, initial)}
}

// Current returns the present outcome for an instance: the daemon reads
// it at start, before any change is reported.
func (r *Runner) Current(instance string) (Change, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state.Current(instance)
}

// Set records an observation as the Runner would and reports the
// resulting changes to OnChange; the daemon may use it for objects it
// observes itself, tests use it to inject events.
func (r *Runner) Set(kind Kind, name string, st Status) {
	r.mu.Lock()
	changes := r.state.Set(kind, name, st)
	r.mu.Unlock()
	if r.onChange != nil {
		for _, c := range changes {
			r.onChange(c)
		}
	}
}

func (r *Runner) logf(format string, a ...any) {
	if r.Log != nil {
		r.Log(fmt.Sprintf(format, a...))
	}
}

// Run runs the scripts, watches the interfaces and files the instances
// track, and returns when ctx ends (with ctx's error), or earlier with
// an error if the link watcher cannot start.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()

	// One serialising goroutine turns observations into changes, so
	// that OnChange is never called concurrently.
	type obs struct {
		kind Kind
		name string
		st   Status
	}
	obsc := make(chan obs)
	send := func(o obs) {
		select {
		case obsc <- o:
		case <-ctx.Done():
		}
	}

	evc := make(chan checks.Event)
	for _, s := range r.cfg.Scripts {
		s := s
		timeout := s.Timeout
		if timeout <= 0 {
			timeout = s.Interval
		}
		inter := s.Interval
		if inter <= 0 {
			inter = time.Second
		}
		m := checks.NewMonitor(s.Name, &checks.Script{
			Argv: s.Argv, Credential: s.Credential,
			Warn: func(msg string) { r.logf("VRRP_Script(%s): %s", s.Name, msg) },
		}, checks.Config{
			Rise: max(s.Rise, 1), Fall: max(s.Fall, 1), Start: checks.StartUnknown,
			Intervals: checks.Intervals{Inter: inter}, Timeout: timeout,
			// keepalived starts a run every interval (a timer re-armed before
			// the spawn), not an interval after the previous run ended.
			FixedRate: true,
		}, evc)
		wg.Add(1)
		go func() { defer wg.Done(); m.Run(ctx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-evc:
				switch {
				case ev.Up:
					r.logf("VRRP_Script(%s) succeeded", ev.Name)
				case ev.Result.Status == checks.StatusProcTOUT:
					r.logf("VRRP_Script(%s) timed_out", ev.Name)
				default:
					r.logf("VRRP_Script(%s) failed (%s)", ev.Name, ev.Result.Info)
				}
				send(obs{KindScript, ev.Name, Status{Known: true, OK: ev.Up}})
			}
		}
	}()

	ifaces := map[string]bool{}
	for _, in := range r.cfg.Instances {
		for _, t := range in.Trackers {
			if t.Kind == KindInterface {
				ifaces[t.Name] = true
			}
		}
	}
	errc := make(chan error, 1)
	if len(ifaces) > 0 {
		lw := r.Links
		if lw == nil {
			lw = NetlinkLinks{}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := map[string]bool{}
			var names []string
			for n := range ifaces {
				names = append(names, n)
			}
			sort.Strings(names)
			err := lw.Watch(ctx, names, func(name string, up bool) {
				if !ifaces[name] {
					return
				}
				if was, ok := last[name]; ok && was == up {
					return
				}
				last[name] = up
				if up {
					r.logf("Netlink reports %s up", name)
				} else {
					r.logf("Netlink reports %s down", name)
				}
				send(obs{KindInterface, name, Status{Known: true, OK: up}})
			})
			if err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("track: watching links: %w", err)
				cancel()
			}
		}()
	}
	if len(r.cfg.Files) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.watchFiles(ctx, func(name string, v int) {
				send(obs{KindFile, name, Status{Known: true, Value: v}})
			})
		}()
	}
	for {
		select {
		case <-ctx.Done():
			select {
			case err := <-errc:
				return err
			default:
			}
			return ctx.Err()
		case o := <-obsc:
			r.Set(o.kind, o.name, o.st)
		}
	}
}
