package balance

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"

	"hapair/parser/haproxy"
	"hapair/proxy/http1"
)

// HAProxy's weight scales: a user weight is 0..256; the round-robin and
// consistent-hashing algorithms work on effective weights scaled by 16
// (BE_WEIGHT_SCALE) so that slow starts and dynamic weights stay smooth.
const (
	weightScale = 16   // BE_WEIGHT_SCALE
	uweightMax  = 256  // SRV_UWGHT_RANGE
	eweightMax  = 4096 // SRV_EWGHT_MAX = SRV_UWGHT_RANGE * BE_WEIGHT_SCALE
)

// Member is one server of a backend as the balancer sees it.
type Member struct {
	Name string
	// ID is the server's numeric id (`id`, else its 1-based position in the
	// backend): `balance first` orders by it and consistent hashing places
	// the server's points on the ring from it, as HAProxy does.
	ID int
	// Weight is the configured weight (0..256; 0 means never picked).
	Weight int
	// Backup servers are used only when no active server is up.
	Backup bool
	// Maxconn is the server's maxconn (0: unlimited). A server with Maxconn
	// in-flight picks is saturated: roundrobin, static-rr, leastconn, first
	// and random pass over it, as HAProxy does before queueing.
	Maxconn int
}

// Key carries the parts of a request the hash algorithms read.
type Key struct {
	Src    netip.Addr   // client address (balance source)
	Target string       // request target as received (balance uri, url_param)
	Header http1.Header // request headers (balance hdr)
}

// Balancer picks servers for one backend. Create it with New; all methods
// are safe for concurrent use.
type Balancer struct {
	algo       algorithm
	members    []Member
	conns      []paddedCount
	allBackups bool
	hash       hashFunc
	consistent bool
	avalanche  bool

	mu     sync.Mutex // guards up, weight, the algorithm's mutable state and view rebuilds
	up     []bool
	weight []int
	view   atomic.Pointer[view]
	rr     atomic.Uint32 // fallback round-robin counter of the hash algorithms
}

// paddedCount keeps each server's in-flight counter on its own cache line,
// so that goroutines serving different servers do not contend.
type paddedCount struct {
	n atomic.Int64
	_ [56]byte
}

// view is an immutable snapshot of the usable servers, rebuilt whenever a
// server goes up or down or changes weight.
type view struct {
	group    []int // usable members of the group in use, in declaration order
	weights  []int // their user weights
	weightOf []int // user weight by member index (0 when not in group)
	backup   bool  // the group is the backup servers
	table    []int // map-based: HAProxy's weighted server map
	ring     []node
}

// algorithm is one load-balancing algorithm.
type algorithm interface {
	// rebuild is called with b.mu held after the usable set changed; v is
	// the new view, not yet published.
	rebuild(b *Balancer, v *view)
	// pick returns a member index or -1.
	pick(b *Balancer, v *view, k Key, skip func(int) bool) int
}

// incremental is implemented by algorithms that keep state across
// changes (roundrobin): changed is called with b.mu held after member i
// went up or down or changed weight, once the new view is built.
type incremental interface {
	changed(b *Balancer, i int)
}

// releaser is implemented by algorithms whose order depends on when a
// server's load last changed (leastconn).
type releaser interface {
	released(b *Balancer, i int)
}

// New builds the balancer of a backend from its `balance` and `hash-type`
// settings and its servers in declaration order. Every server starts up.
// allBackups is `option allbackups`.
func New(bal haproxy.Balance, h haproxy.HashType, members []Member, allBackups bool) (*Balancer, error) {
	b := &Balancer{
		members:    append([]Member(nil), members...),
		conns:      make([]paddedCount, len(members)),
		allBackups: allBackups,
		up:         make([]bool, len(members)),
		weight:     make([]int, len(members)),
		consistent: h.Method == "consistent",
		avalanche:  h.Avalanche,
	}
	f, ok := hashFunctions[h.Function]
	if !ok {
		return nil, fmt.Errorf("balance: unknown hash function %q", h.Function)
	}
	b.hash = f
	// Verified against haproxy 2.6: `hash-type consistent` without a
	// function avalanches the key (1.4 compatibility), while
	// `consistent djb2|wt6|crc32` does not unless `avalanche` is written.
	// The parser leaves Function empty when none is written, so an
	// explicit `consistent sdbm` does not avalanche, as in HAProxy.
	if b.consistent && h.Function == "" {
		b.avalanche = true
	}
	for i, m := range members {
		if m.Weight < 0 || m.Weight > uweightMax {
			return nil, fmt.Errorf("balance: server %s: weight %d out of range 0..%d", m.Name, m.Weight, uweightMax)
		}
		b.up[i] = true
		b.weight[i] = m.Weight
	}
	switch bal.Algo {
	case "", "roundrobin":
		b.algo = &roundRobin{}
	case "rdp-cookie":
		// goproxy does not parse RDP cookies yet: roundrobin, as the
		// parser warns.
		b.algo = &roundRobin{}
	case "static-rr":
		b.algo = &staticRR{}
	case "leastconn":
		b.algo = &leastConn{}
	case "first":
		b.algo = &first{}
	case "random":
		draws := 2
		if bal.Arg != "" {
			if _, err := fmt.Sscan(bal.Arg, &draws); err != nil || draws < 1 {
				return nil, fmt.Errorf("balance random: invalid number of draws %q", bal.Arg)
			}
		}
		b.algo = &random{draws: draws}
		b.consistent = true // HAProxy draws on the consistent-hash ring
	case "source":
		b.algo = &hashed{key: sourceKey}
	case "uri":
		depth := 0
		if bal.URIDepth > 0 {
			depth = bal.URIDepth + 1
		}
		b.algo = &hashed{key: uriKey(bal.URILen, depth, bal.URIWhole, bal.URIPathOnly)}
	case "url_param":
		b.algo = &hashed{key: urlParamKey(bal.Arg)}
	case "hdr":
		b.algo = &hashed{key: hdrKey(bal.Arg, bal.UseDomainOnly)}
	default:
		return nil, fmt.Errorf("balance: unknown algorithm %q", bal.Algo)
	}
	b.mu.Lock()
	b.rebuildLocked()
	b.mu.Unlock()
	return b, nil
}

// Len returns the number of members.
func (b *Balancer) Len() int { return len(b.members) }

// Pick chooses a server for a new connection or request and counts it as
// in flight (call Done when it ends). skip, if not nil, excludes members
// (for example the server a retry must avoid). It returns an index into the
// members given to New, or -1 when no server is usable.
func (b *Balancer) Pick(k Key, skip func(i int) bool) int {
	v := b.view.Load()
	if len(v.group) == 0 {
		return -1
	}
	i := b.algo.pick(b, v, k, skip)
	if i >= 0 {
		b.conns[i].n.Add(1)
	}
	return i
}

// Take counts a pick of member i made outside the algorithm (use-server,
// a persistence cookie or stick table naming the server), without moving
// the algorithm's position, as HAProxy's direct access does. It fails
// when i has reached its maxconn; it does not look at up or weight.
func (b *Balancer) Take(i int) bool {
	if i < 0 || i >= len(b.conns) {
		return false
	}
	mc := int64(b.members[i].Maxconn)
	for {
		n := b.conns[i].n.Load()
		if mc > 0 && n >= mc {
			return false
		}
		if b.conns[i].n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Done ends an in-flight pick of member i.
func (b *Balancer) Done(i int) {
	if i >= 0 && i < len(b.conns) {
		b.conns[i].n.Add(-1)
		if r, ok := b.algo.(releaser); ok {
			r.released(b, i)
		}
	}
}

// Conns returns the in-flight picks of member i.
func (b *Balancer) Conns(i int) int {
	if i < 0 || i >= len(b.conns) {
		return 0
	}
	return int(b.conns[i].n.Load())
}

// SetUp marks member i up or down (health checks, `disable server`).
func (b *Balancer) SetUp(i int, up bool) {
	if i < 0 || i >= len(b.members) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.up[i] == up {
		return
	}
	b.up[i] = up
	b.rebuildLocked()
	if inc, ok := b.algo.(incremental); ok {
		inc.changed(b, i)
	}
}

// SetWeight changes member i's weight (`set weight`, agent checks); 0
// drains it. Weights are clamped to 0..256.
func (b *Balancer) SetWeight(i, w int) {
	if i < 0 || i >= len(b.members) {
		return
	}
	w = max(0, min(w, uweightMax))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.weight[i] == w {
		return
	}
	b.weight[i] = w
	b.rebuildLocked()
	if inc, ok := b.algo.(incremental); ok {
		inc.changed(b, i)
	}
}

// Weight returns member i's current weight.
func (b *Balancer) Weight(i int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.weight[i]
}

// Usable reports whether member i is up with a non-zero weight.
func (b *Balancer) Usable(i int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.up[i] && b.weight[i] > 0
}

// rebuildLocked recomputes the group in use and the algorithm's tables.
func (b *Balancer) rebuildLocked() {
	v := &view{}
	for i, m := range b.members {
		if !m.Backup && b.up[i] && b.weight[i] > 0 {
			v.group = append(v.group, i)
		}
	}
	if len(v.group) == 0 {
		v.backup = true
		for i, m := range b.members {
			if m.Backup && b.up[i] && b.weight[i] > 0 {
				v.group = append(v.group, i)
				if !b.allBackups {
					break // only the first usable backup
				}
			}
		}
	}
	v.weightOf = make([]int, len(b.members))
	for _, i := range v.group {
		v.weights = append(v.weights, b.weight[i])
		v.weightOf[i] = b.weight[i]
	}
	b.algo.rebuild(b, v)
	b.view.Store(v)
}

// saturated reports whether member i reached its maxconn.
func (b *Balancer) saturated(i int) bool {
	mc := b.members[i].Maxconn
	return mc > 0 && b.conns[i].n.Load() >= int64(mc)
}

// buildTable builds HAProxy's server map (lb_map.c recalc_server_map):
// weights divided by their greatest common divisor, then each slot given
// to the server whose accumulated weight is highest, the first declared
// winning ties. Hash algorithms index it with hash % len.
func (b *Balancer) buildTable(v *view) {
	g := 0
	for i := range b.members {
		if w := b.weight[i]; w > 0 {
			g = gcd(g, w)
		}
	}
	if g == 0 {
		return
	}
	ew := make([]int, len(v.group))
	tot := 0
	for j, w := range v.weights {
		ew[j] = (w + g - 1) / g
		tot += ew[j]
	}
	v.table = make([]int, tot)
	if tot == 1 {
		v.table[0] = v.group[0]
		return
	}
	score := make([]int, len(v.group))
	for o := range v.table {
		best, bestV := -1, math.MinInt
		for j := range v.group {
			score[j] += ew[j]
			s := (score[j] + tot) / tot
			if best < 0 || s > bestV {
				best, bestV = j, s
			}
		}
		v.table[o] = v.group[best]
		score[best] -= tot
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
