package balance

// roundRobin is HAProxy's weighted round robin (lb_fwrr.c, "fast weighted
// round robin"): each server advances its next position by
// total_weight/weight per pick, the server with the lowest position wins,
// and servers that join are first served from an "init" queue ordered by
// weight. It reproduces HAProxy's order exactly, including for unequal
// weights; a weight change restarts the sequence.
type roundRobin struct {
	srv        []fwrrSrv // by group position
	curr       fwrrHeap  // servers placed in the current window
	t0, t1     fwrrHeap
	init, next *fwrrHeap
	currPos    int
	currWeight int
	nextWeight int
	seq        uint64
	full       []int // scratch: saturated or skipped servers of one pick
}

// fwrrSrv is a server's round-robin state.
type fwrrSrv struct {
	member  int
	eweight int
	npos    int
	rweight int
	tree    *fwrrHeap
	key     uint64 // tree key
	seq     uint64 // insertion order among equal keys
	hpos    int
}

func (a *roundRobin) rebuild(b *Balancer, v *view) {
	a.srv = make([]fwrrSrv, len(v.group))
	a.curr = fwrrHeap{rr: a}
	a.t0 = fwrrHeap{rr: a}
	a.t1 = fwrrHeap{rr: a}
	a.init, a.next = &a.t0, &a.t1
	tot := 0
	for j, i := range v.group {
		a.srv[j] = fwrrSrv{member: i, eweight: v.weights[j] * weightScale}
		tot += a.srv[j].eweight
	}
	a.currPos, a.currWeight, a.nextWeight = tot, tot, tot
	a.full = make([]int, 0, len(v.group))
	for j := range a.srv {
		a.queueByWeight(a.init, j)
	}
}

// queueByWeight inserts server j in t with the heaviest first, equal
// weights in insertion order (eb32 duplicates).
func (a *roundRobin) queueByWeight(t *fwrrHeap, j int) {
	a.insert(t, j, uint64(eweightMax-a.srv[j].eweight))
}

func (a *roundRobin) insert(t *fwrrHeap, j int, key uint64) {
	a.seq++
	a.srv[j].key, a.srv[j].seq = key, a.seq
	a.srv[j].tree = t
	t.push(j)
}

// queue places server j after a pick: in the current window keyed by its
// next position, or in the next window when it is too far ahead.
func (a *roundRobin) queue(j int) {
	s := &a.srv[j]
	if s.eweight <= 0 || s.npos >= 2*a.currWeight || s.npos >= a.currWeight+a.nextWeight {
		s.npos -= a.currWeight
		a.queueByWeight(a.next, j)
		return
	}
	a.insert(&a.curr, j, uint64(uweightMax*s.npos+(eweightMax+s.rweight-s.eweight)/weightScale))
}

// fromGroup returns the server due at the current position, or one from
// the init queue when the current window has a hole, or -1.
func (a *roundRobin) fromGroup() int {
	if a.curr.len() > 0 {
		j := a.curr.first()
		if a.srv[j].npos <= a.currPos {
			return j
		}
	}
	if a.init.len() > 0 {
		j := a.init.first()
		a.srv[j].npos, a.srv[j].rweight = 0, 0
		return j
	}
	if a.curr.len() > 0 {
		return a.curr.first()
	}
	return -1
}

func (a *roundRobin) updatePosition(j int) {
	s := &a.srv[j]
	if s.npos == 0 {
		s.npos = a.currPos
	}
	s.npos += a.nextWeight / s.eweight
	s.rweight += a.nextWeight % s.eweight
	if s.rweight >= s.eweight {
		s.rweight -= s.eweight
		s.npos++
	}
}

func (a *roundRobin) pick(b *Balancer, v *view, k Key, skip func(int) bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(a.srv) == 0 {
		return -1
	}
	switched := false
	a.full = a.full[:0]
	got := -1
	for got < 0 {
		if a.currWeight == 0 {
			a.currPos, a.currWeight = a.nextWeight, a.nextWeight
		}
		j := a.fromGroup()
		for j < 0 {
			if switched {
				break
			}
			switched = true
			a.init, a.next = a.next, a.init
			a.currWeight = a.nextWeight
			a.currPos = a.currWeight
			j = a.fromGroup()
		}
		if j < 0 {
			break
		}
		a.updatePosition(j)
		a.srv[j].tree.remove(j)
		a.srv[j].tree = nil
		a.currPos++
		i := a.srv[j].member
		if !b.saturated(i) && (skip == nil || !skip(i)) {
			got = j
			break
		}
		a.full = append(a.full, j)
	}
	if got >= 0 {
		a.queue(got)
	}
	for _, j := range a.full {
		if switched {
			a.queueByWeight(a.init, j)
		} else {
			a.queue(j)
		}
	}
	if got < 0 {
		return -1
	}
	return a.srv[got].member
}

// fwrrHeap is a binary min-heap of server positions ordered by key; it
// stands for HAProxy's eb32 trees (only the first element is ever read).
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

func (t *fwrrHeap) push(j int) {
	t.h = append(t.h, j)
	t.rr.srv[j].hpos = len(t.h) - 1
	t.up(len(t.h) - 1)
}

func (t *fwrrHeap) remove(j int) {
	p := t.rr.srv[j].hpos
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
