package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"hapair/internal/netns"
)

// Probe timing: one request every Interval, each on a new connection that
// must connect within ConnectTimeout (below the kernel's first SYN
// retransmission at 1 s, so a SYN lost at a switch-over counts as a
// failure) and answer within RequestTimeout.
const (
	Interval       = 10 * time.Millisecond
	ConnectTimeout = 900 * time.Millisecond
	RequestTimeout = 1500 * time.Millisecond
	workers        = 200 // > RequestTimeout/Interval: the client never waits for a free worker
)

// Result is one probe request.
type Result struct {
	Sent, Done time.Time
	Backend    string // the backend's name from its answer
	Err        error
}

// Prober is a client that sends an HTTP request every 10 ms through the
// VIP, each independently of the others (a request that hangs does not
// delay the next one), and keeps every result.
type Prober struct {
	client  *netns.NS
	target  string
	hostHdr string
	jobs    chan *Result
	stop    chan struct{}
	done    sync.WaitGroup

	mu      sync.Mutex
	results []*Result
	pending int
}

// StartProber starts probing target (host:port) with the Host header
// hostHdr from the client's namespace. It stops when t's cleanups run.
func StartProber(t testing.TB, client *netns.NS, target, hostHdr string) *Prober {
	p := &Prober{client: client, target: target, hostHdr: hostHdr, jobs: make(chan *Result), stop: make(chan struct{})}
	// Sockets belong to the namespace of the thread that creates them:
	// every worker is a goroutine locked on a thread inside the client.
	for range workers {
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			client.Do(func() error {
				for r := range p.jobs {
					r.Backend, r.Err = Request(p.target, p.hostHdr)
					p.mu.Lock()
					r.Done = time.Now()
					p.pending--
					p.mu.Unlock()
				}
				return nil
			})
		}()
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		defer close(p.jobs)
		tick := time.NewTicker(Interval)
		defer tick.Stop()
		limit := time.After(24 * time.Hour) // bounded even if nobody stops it
		for {
			select {
			case <-p.stop:
				return
			case <-limit:
				return
			case <-tick.C:
			}
			r := &Result{Sent: time.Now()}
			p.mu.Lock()
			p.results = append(p.results, r)
			p.pending++
			p.mu.Unlock()
			select {
			case p.jobs <- r:
			default:
				p.mu.Lock()
				r.Err, r.Done = errors.New("no free client worker"), time.Now()
				p.pending--
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(p.Close)
	return p
}

// Close stops the prober and waits for its requests to end.
func (p *Prober) Close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.done.Wait()
}

// Request sends one GET / with the given Host header to addr on a new
// connection and returns the backend that answered (the demo backend's
// "backend=NAME" line).
func Request(addr, hostHdr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, ConnectTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(RequestTimeout))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", hostHdr)
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.Contains(status, " 200 ") {
		return "", fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(line, "backend=") {
			return strings.TrimSpace(strings.TrimPrefix(line, "backend=")), nil
		}
	}
}

// SucceededSince reports whether a request sent after since has
// succeeded: traffic flows again.
func (p *Prober) SucceededSince(since time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.results) - 1; i >= 0; i-- {
		r := p.results[i]
		if r.Sent.Before(since) {
			return false
		}
		if !r.Done.IsZero() && r.Err == nil {
			return true
		}
	}
	return false
}

// Outage is what the client saw in one window of time.
type Outage struct {
	Sent, Failed int
	// LongestGap is the longest time in the window without a request
	// completing successfully.
	LongestGap time.Duration
	// MaxLatency is the slowest successful request.
	MaxLatency time.Duration
	Backends   map[string]int
	FirstErr   error
	// Errors counts the failures by kind (refused, timeout, reset, ...).
	Errors map[string]int
}

// errKind names the kind of a probe failure for the figures.
func errKind(err error) string {
	if err == nil {
		return "unfinished"
	}
	s := err.Error()
	for _, k := range []string{"refused", "timeout", "reset", "EOF", "status", "no free client worker"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return "other"
}

// FailedBetween counts the failed requests sent in [from, to): after an
// event, they are what the event did not cover.
func (p *Prober) FailedBetween(from, to time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.results {
		if !r.Sent.Before(from) && r.Sent.Before(to) && !r.Done.IsZero() && r.Err != nil {
			n++
		}
	}
	return n
}

func (o Outage) String() string {
	s := fmt.Sprintf("sent=%d failed=%d longest_gap_ms=%d max_latency_ms=%d backends=%v",
		o.Sent, o.Failed, o.LongestGap.Milliseconds(), o.MaxLatency.Milliseconds(), o.Backends)
	if o.FirstErr != nil {
		s += fmt.Sprintf(" errors=%v first_error=%q", o.Errors, o.FirstErr)
	}
	return s
}

// Window waits (bounded) for the requests sent in [from, to) to end and
// returns what they saw.
func (p *Prober) Window(from, to time.Time) Outage {
	deadline := time.Now().Add(RequestTimeout + time.Second)
	for {
		p.mu.Lock()
		busy := false
		for i := len(p.results) - 1; i >= 0 && !p.results[i].Sent.Before(from); i-- {
			if r := p.results[i]; r.Sent.Before(to) && r.Done.IsZero() {
				busy = true
				break
			}
		}
		p.mu.Unlock()
		if !busy || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o := Outage{Backends: map[string]int{}, Errors: map[string]int{}}
	var ok []time.Time
	for _, r := range p.results {
		if r.Sent.Before(from) || !r.Sent.Before(to) {
			continue
		}
		o.Sent++
		if r.Done.IsZero() || r.Err != nil {
			o.Failed++
			o.Errors[errKind(r.Err)]++
			if o.FirstErr == nil {
				o.FirstErr = r.Err
			}
			continue
		}
		o.Backends[r.Backend]++
		ok = append(ok, r.Done)
		if l := r.Done.Sub(r.Sent); l > o.MaxLatency {
			o.MaxLatency = l
		}
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i].Before(ok[j]) })
	prev := from
	for _, d := range ok {
		if g := d.Sub(prev); g > o.LongestGap {
			o.LongestGap = g
		}
		prev = d
	}
	if g := to.Sub(prev); g > o.LongestGap {
		o.LongestGap = g
	}
	return o
}

// Get fetches path from addr with HTTP/1.0 and returns the whole response
// (status line, headers and body).
func Get(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: test.com\r\n\r\n", path)
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			if errors.Is(err, io.EOF) {
				return b.String(), nil
			}
			return b.String(), err
		}
	}
}
