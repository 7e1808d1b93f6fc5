package balance

import (
	"math/rand/v2"
	"slices"
)

// staticRR is `balance static-rr`: round robin over HAProxy's weighted
// server map (map_get_server_rr). Weights are read when the map is built.
type staticRR struct {
	idx int
}

func (a *staticRR) rebuild(b *Balancer, v *view) { b.buildTable(v) }

func (a *staticRR) pick(b *Balancer, v *view, k Key, skip func(int) bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(v.table)
	if n == 0 {
		return -1
	}
	if a.idx < 0 || a.idx >= n {
		a.idx = 0
	}
	p := a.idx
	for range n {
		i := v.table[p]
		p++
		if p == n {
			p = 0
		}
		if !b.saturated(i) && (skip == nil || !skip(i)) {
			a.idx = p
			return i
		}
	}
	return -1
}

// leastConn is `balance leastconn` (lb_fwlc.c): the server with the fewest
// in-flight picks relative to its weight, key (inflight+1)*4096/eweight (0
// when idle), equal keys in the order their key last changed (HAProxy
// re-inserts a server in its tree at every pick and release), which makes
// a round robin among equally loaded servers.
type leastConn struct {
	last []uint64 // per member: sequence of its last pick
	seq  uint64
}

func (a *leastConn) rebuild(b *Balancer, v *view) {
	if a.last == nil {
		a.last = make([]uint64, len(b.members))
	}
}

func (a *leastConn) pick(b *Balancer, v *view, k Key, skip func(int) bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	best := -1
	var bestKey, bestSeq uint64
	for j, i := range v.group {
		if b.saturated(i) || skip != nil && skip(i) {
			continue
		}
		var key uint64
		if n := b.conns[i].n.Load(); n > 0 {
			key = uint64(n+1) * eweightMax / uint64(v.weights[j]*weightScale)
		}
		if best < 0 || key < bestKey || key == bestKey && a.last[i] < bestSeq {
			best, bestKey, bestSeq = i, key, a.last[i]
		}
	}
	if best >= 0 {
		a.seq++
		a.last[best] = a.seq
	}
	return best
}

// released re-queues member i behind the servers of equal load, as
// HAProxy's fwlc_srv_reposition does when a connection ends.
func (a *leastConn) released(b *Balancer, i int) {
	b.mu.Lock()
	a.seq++
	a.last[i] = a.seq
	b.mu.Unlock()
}

// first is `balance first`: the usable server with the lowest id that
// still has a free slot below its maxconn, so that servers fill up one
// after the other.
type first struct {
	order []int // usable members by ID
}

func (a *first) rebuild(b *Balancer, v *view) {
	a.order = append([]int(nil), v.group...)
	slices.SortStableFunc(a.order, func(x, y int) int { return b.members[x].ID - b.members[y].ID })
}

func (a *first) pick(b *Balancer, v *view, k Key, skip func(int) bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, i := range a.order {
		if !b.saturated(i) && (skip == nil || !skip(i)) {
			return i
		}
	}
	return -1
}

// random is `balance random[(draws)]`: draws random points on the
// consistent-hashing ring (so weights count) and keeps the server with the
// fewest in-flight picks relative to its weight (power of N choices).
type random struct {
	draws int
}

func (a *random) rebuild(b *Balancer, v *view) { b.buildRing(v) }

func (a *random) pick(b *Balancer, v *view, k Key, skip func(int) bool) int {
	best := -1
	for range a.draws {
		i := b.ringPick(v, rand.Uint32(), skip, true)
		if i < 0 {
			break
		}
		if best < 0 || best != i && b.conns[i].n.Load()*int64(v.weightOf[best]) < b.conns[best].n.Load()*int64(v.weightOf[i]) {
			best = i
		}
	}
	return best
}
