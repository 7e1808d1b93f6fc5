package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"hapair/internal/e2e/lab"
	"hapair/internal/testenv"
)

// ours is goproxy + govrrpd, built once for the package run.
var ours struct {
	once  sync.Once
	build *lab.Build
	err   error
	dir   string
}

func TestMain(m *testing.M) {
	code := m.Run()
	printFigures(os.Stdout)
	if ours.dir != "" {
		os.RemoveAll(ours.dir)
	}
	os.Exit(code)
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func itoa(i int) string { return strconv.Itoa(i) }

// goTool is the go command that runs the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// requireLab skips without root or the tools (and fails under CI).
func requireLab(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range []string{"ip", "nsenter", "unshare", "python3", "make", "ps", "bash"} {
		testenv.LookPath(t, tool)
	}
}

func reference(t *testing.T) lab.Impl {
	return lab.Reference(testenv.LookPath(t, "haproxy"), testenv.LookPath(t, "keepalived"))
}

func oursImpl(t *testing.T) lab.Impl {
	t.Helper()
	ours.once.Do(func() {
		ours.dir, ours.err = os.MkdirTemp("", "e2e-build-")
		if ours.err == nil {
			// E2E_SRC builds the daemons from another tree (e.g. a
			// `git archive HEAD` export while the shared tree is mid-edit).
			src := os.Getenv("E2E_SRC")
			if src == "" {
				src = repoRoot(t)
			}
			ours.build, ours.err = lab.BuildOurs(src, ours.dir)
		}
	})
	if ours.err != nil {
		t.Fatal(ours.err)
	}
	return lab.Ours(ours.build)
}

// figure is one row of the closing table.
type figure struct {
	pair, step string
	took       time.Duration // how long the step's event took (restart, switch-over)
	o          *lab.Outage
}

var figures struct {
	mu   sync.Mutex
	rows []figure
}

// record logs a step's figures and keeps them for the closing table.
func record(t *testing.T, pair, step string, took time.Duration, o *lab.Outage) {
	t.Helper()
	if o != nil {
		t.Logf("%s: %s in %s; %s", pair, step, took.Round(time.Millisecond), o)
	} else {
		t.Logf("%s: %s in %s", pair, step, took.Round(time.Millisecond))
	}
	figures.mu.Lock()
	if o != nil {
		c := *o
		o = &c
	}
	figures.rows = append(figures.rows, figure{pair, step, took, o})
	figures.mu.Unlock()
}

func printFigures(w io.Writer) {
	figures.mu.Lock()
	defer figures.mu.Unlock()
	if len(figures.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nClient-visible outage per step (one request every %s through the VIP; connect timeout %s, request timeout %s)\n",
		lab.Interval, lab.ConnectTimeout, lab.RequestTimeout)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "pair\tstep\ttook_ms\tsent\tfailed\tlongest_gap_ms\tmax_latency_ms")
	for _, r := range figures.rows {
		if r.o == nil {
			fmt.Fprintf(tw, "%s\t%s\t%d\t-\t-\t-\t-\n", r.pair, r.step, r.took.Milliseconds())
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", r.pair, r.step, r.took.Milliseconds(),
			r.o.Sent, r.o.Failed, r.o.LongestGap.Milliseconds(), r.o.MaxLatency.Milliseconds())
	}
	tw.Flush()
	fmt.Fprintln(w, strings.Repeat("-", 20))
}
