package balance

// roundRobin is HAProxy's weighted round robin (lb_fwrr.c, "fast weighted
// round robin"): each server advances its next position by
// total_weight/weight per pick, the server with the lowest position wins,
// and servers that join are first served from an "init" queue ordered by
// weight. Active and backup servers form two groups. A server going down,
// coming back or changing weight updates the state incrementally the way
// HAProxy does, so the sequence matches HAProxy's across changes too.
type roundRobin struct {
	srv  []fwrrSrv // by member index
	act  fwrrGroup
	bck  fwrrGroup
	seq  uint64
	full []int // scratch: saturated or skipped servers of one pick
	done bool  // initialised
}

// fwrrGroup is one group's trees and window.
type fwrrGroup struct {
	curr       fwrrHeap // servers placed in the current window
	t0, t1     fwrrHeap
	init, next *fwrrHeap
	currPos    int
	currWeight int
	nextWeight int
}

// fwrrSrv is a server's round-robin state.
type fwrrSrv struct {
	eweight int // weight*16 while usable, as last applied
	usable  bool
	backup  bool
	npos    int
	lpos    int
	rweight int
	tree    *fwrrHeap
	key     uint64 // tree key
	seq     uint64 // insertion order among equal keys
	hpos    int
}

func (a *roundRobin) rebuild(b *Balancer, v *view) {
	if a.done {
		return // changes arrive through changed
	}
	a.done = true
	n := len(b.members)
	a.srv = make([]fwrrSrv, n)
	a.full = make([]int, 0, n)
	for _, g := range []*fwrrGroup{&a.act, &a.bck} {
		*g = fwrrGroup{curr: fwrrHeap{rr: a}, t0: fwrrHeap{rr: a}, t1: fwrrHeap{rr: a}}
		g.init, g.next = &g.t0, &g.t1
	}
	for i, m := range b.members {
		s := &a.srv[i]
		s.backup = m.Backup
		s.eweight = b.weight[i] * weightScale
		s.usable = b.up[i] && s.eweight > 0
		if s.usable {
			a.group(i).nextWeight += s.eweight
		}
	}
	for _, g := range []*fwrrGroup{&a.act, &a.bck} {
		g.currPos, g.currWeight = g.nextWeight, g.nextWeight
	}
	for i := range a.srv {
		if a.srv[i].usable {
			a.queueByWeight(a.group(i).init, i)
		}
	}
}

func (a *roundRobin) group(i int) *fwrrGroup {
	if a.srv[i].backup {
		return &a.bck
	}
	return &a.act
}

// changed applies a change of member i's state or weight
// (fwrr_set_server_status_up/down, fwrr_update_server_weight).
func (a *roundRobin) changed(b *Balancer, i int) {
	s := &a.srv[i]
	g := a.group(i)
	newE := b.weight[i] * weightScale
	newUsable := b.up[i] && newE > 0
	switch {
	case !s.usable && !newUsable:
		s.eweight = newE
	case s.usable && !newUsable:
		g.nextWeight -= s.eweight
		a.dequeue(i)
		s.eweight, s.usable = newE, false
	case !s.usable && newUsable:
		s.eweight, s.usable = newE, true
		g.nextWeight += newE
		a.getSrv(i)
		s.npos = g.currPos + (g.nextWeight+g.currWeight-g.currPos)/newE
		a.queue(i)
	default:
		if newE == s.eweight {
			return
		}
		g.nextWeight = g.nextWeight - s.eweight + newE
		s.eweight = newE
		switch {
		case s.tree == g.init:
			a.dequeue(i)
			a.queueByWeight(g.init, i)
		case s.tree == nil:
			a.getSrv(i)
			s.npos = g.currPos + (g.nextWeight+g.currWeight-g.currPos)/newE
			a.queue(i)
		default:
			a.getSrv(i)
			prev := s.npos
			step := g.nextWeight / newE
			s.npos = s.lpos + step
			s.rweight = 0
			if s.npos > prev {
				s.npos = prev
			}
			if s.npos < g.currPos+2 {
				s.npos = g.currPos + step
			}
			a.dequeue(i)
			a.queue(i)
		}
	}
}

// dequeue removes server i from its tree.
func (a *roundRobin) dequeue(i int) {
	if t := a.srv[i].tree; t != nil {
		t.remove(i)
		a.srv[i].tree = nil
	}
}

// getSrv prepares server i when it leaves its tree (fwrr_get_srv).
func (a *roundRobin) getSrv(i int) {
	s, g := &a.srv[i], a.group(i)
	switch s.tree {
	case g.init:
		s.npos, s.rweight = 0, 0
	case g.next:
		s.npos += g.currWeight
	case nil:
		s.npos = g.currPos
	}
}

// queueByWeight inserts server i in t with the heaviest first, equal
// weights in insertion order (eb32 duplicates).
func (a *roundRobin) queueByWeight(t *fwrrHeap, i int) {
	a.insert(t, i, uint64(eweightMax-a.srv[i].eweight))
}

func (a *roundRobin) insert(t *fwrrHeap, i int, key uint64) {
	a.seq++
	a.srv[i].key, a.srv[i].seq = key, a.seq
	a.srv[i].tree = t
	t.push(i)
}

// queue places server i after a pick: in the current window keyed by its
// next position, or in the next window when it is too far ahead.
func (a *roundRobin) queue(i int) {
	s, g := &a.srv[i], a.group(i)
	if !s.usable {
		s.tree = nil
		return
	}
	if s.eweight <= 0 || s.npos >= 2*g.currWeight || s.npos >= g.currWeight+g.nextWeight {
		s.npos -= g.currWeight
		a.queueByWeight(g.next, i)
		return
	}
	a.insert(&g.curr, i, uint64(uweightMax*s.npos+(eweightMax+s.rweight-s.eweight)/weightScale))
}

// fromGroup returns the server due at the current position, or one from
// the init queue when the current window has a hole, or -1.
func (a *roundRobin) fromGroup(g *fwrrGroup) int {
	if g.curr.len() > 0 {
		i := g.curr.first()
		if a.srv[i].npos <= g.currPos {
			return i
		}
	}
	if g.init.len() > 0 {
		i := g.init.first()
		a.srv[i].npos, a.srv[i].rweight = 0, 0
		return i
	}
	if g.curr.len() > 0 {
		return g.curr.first()
	}
	return -1
}

func (a *roundRobin) updatePosition(g *fwrrGroup, i int) {
	s := &a.srv[i]
	if s.npos == 0 {
		s.npos = g.currPos
	}
	s.lpos = s.npos
	s.npos += g.nextWeight / s.eweight
	s.rweight += g.nextWeight % s.eweight
	if s.rweight >= s.eweight {
		s.rweight -= s.eweight
		s.npos++
	}
}

func (a *roundRobin) pick(b *Balancer, v *view, k Key, skip func(int) bool) int {
	if v.backup && !b.allBackups {
		// HAProxy returns the first usable backup directly.
		i := v.group[0]
		if b.saturated(i) || skip != nil && skip(i) {
			return -1
		}
		return i
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	g := &a.act
	if v.backup {
		g = &a.bck
	}
	switched := false
	a.full = a.full[:0]
	got := -1
	for got < 0 {
		if g.currWeight == 0 {
			g.currPos, g.currWeight = g.nextWeight, g.nextWeight
		}
		i := a.fromGroup(g)
		for i < 0 {
			if switched {
				break
			}
			switched = true
			g.init, g.next = g.next, g.init
			g.currWeight = g.nextWeight
			g.currPos = g.currWeight
			i = a.fromGroup(g)
		}
		if i < 0 {
			break
		}
		a.updatePosition(g, i)
		a.dequeue(i)
		g.currPos++
		if !b.saturated(i) && (skip == nil || !skip(i)) {
			got = i
			break
		}
		a.full = append(a.full, i)
	}
	if got >= 0 {
		a.queue(got)
	}
	for _, i := range a.full {
		if switched {
			a.queueByWeight(g.init, i)
		} else {
			a.queue(i)
		}
	}
	return got
}

// fwrrHeap is a binary min-heap of member indexes ordered by key then
// insertion; it stands for HAProxy's eb32 trees (only the first element
// is ever read).
type fwrrHeap struct {
	rr *roundRobin
	h  []int
}

func (t *fwrrHeap) len() int   { return len(t.h) }
func (t *fwrrHeap) first() int { return t.h[0] }

func (t *fwrrHeap) less(x, y int) bool {
	a, b := &t.rr.srv[t.h[x]], &t.rr.srv[t.h[y]]
	return a.key < b.key || a.key == b.key && a.seq < b.seq
}

func (t *fwrrHeap) swap(x, y int) {
	t.h[x], t.h[y] = t.h[y], t.h[x]
	t.rr.srv[t.h[x]].hpos = x
	t.rr.srv[t.h[y]].hpos = y
}

func (t *fwrrHeap) push(i int) {
	t.h = append(t.h, i)
	t.rr.srv[i].hpos = len(t.h) - 1
	t.up(len(t.h) - 1)
}

func (t *fwrrHeap) remove(i int) {
	p := t.rr.srv[i].hpos
	last := len(t.h) - 1
	if p != last {
		t.swap(p, last)
	}
	t.h = t.h[:last]
	if p != last {
		t.down(p)
		t.up(p)
	}
}

func (t *fwrrHeap) up(x int) {
	for x > 0 {
		p := (x - 1) / 2
		if !t.less(x, p) {
			return
		}
		t.swap(x, p)
		x = p
	}
}

func (t *fwrrHeap) down(x int) {
	n := len(t.h)
	for {
		l := 2*x + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, x) {
			return
		}
		t.swap(x, m)
		x = m
	}
}
