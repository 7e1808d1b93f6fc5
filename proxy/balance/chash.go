package balance

import (
	"slices"
)

// node is one point of a server on the consistent-hashing ring.
type node struct {
	key uint32
	srv int32 // member index
}

// buildRing places weight*16 points per usable server at
// full_hash(id*4096 + n), as HAProxy's lb_chash.c does with the default
// `hash-key id`, and sorts them.
func (b *Balancer) buildRing(v *view) {
	n := 0
	for _, w := range v.weights {
		n += w * weightScale
	}
	v.ring = make([]node, 0, n)
	for j, i := range v.group {
		base := uint32(b.members[i].ID) * eweightMax
		for p := 0; p < v.weights[j]*weightScale; p++ {
			v.ring = append(v.ring, node{key: fullHash(base + uint32(p)), srv: int32(i)})
		}
	}
	slices.SortStableFunc(v.ring, func(a, b node) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
}

// ringLookup returns the ring position closest to h: the next point at or
// after h, or the previous one when it is at least as close (HAProxy's
// chash_get_server_hash).
func ringLookup(ring []node, h uint32) int {
	n := len(ring)
	next, _ := slices.BinarySearchFunc(ring, h, func(e node, t uint32) int {
		switch {
		case e.key < t:
			return -1
		case e.key > t:
			return 1
		}
		return 0
	})
	if next == n {
		next = 0
	}
	prev := next - 1
	if prev < 0 {
		prev = n - 1
	}
	dp := h - ring[prev].key
	dn := ring[next].key - h
	if dp <= dn {
		return prev
	}
	return next
}

// ringPick looks h up and walks forward past skipped servers (and
// saturated ones when checkSat).
func (b *Balancer) ringPick(v *view, h uint32, skip func(int) bool, checkSat bool) int {
	if len(v.ring) == 0 {
		return -1
	}
	p := ringLookup(v.ring, h)
	for range len(v.ring) {
		i := int(v.ring[p].srv)
		if (skip == nil || !skip(i)) && !(checkSat && b.saturated(i)) {
			return i
		}
		p++
		if p == len(v.ring) {
			p = 0
		}
	}
	return -1
}
