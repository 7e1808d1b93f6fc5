package balance

import (
	"strings"
)

// keyFunc extracts the string or integer the hash algorithms hash. ok is
// false when the request lacks it (no such header or parameter): HAProxy
// then falls back to round robin.
type keyFunc func(b *Balancer, k Key) (h uint32, ok bool)

// hashed implements source, uri, url_param and hdr: a hash of part of the
// request looked up in the server map (hash-type map-based, HAProxy's
// default) or on the consistent-hashing ring (hash-type consistent).
type hashed struct {
	key keyFunc
}

func (a *hashed) rebuild(b *Balancer, v *view) {
	if b.consistent {
		b.buildRing(v)
	} else {
		b.buildTable(v)
	}
}

func (a *hashed) pick(b *Balancer, v *view, k Key, skip func(int) bool) int {
	h, ok := a.key(b, k)
	if !ok {
		// HAProxy falls back to round robin on the map.
		return b.fallbackRR(v, skip)
	}
	if b.avalanche {
		h = fullHash(h)
	}
	if b.consistent {
		return b.ringPick(v, h, skip, false)
	}
	if len(v.table) == 0 {
		return -1
	}
	p := int(h % uint32(len(v.table)))
	for range len(v.table) {
		i := v.table[p]
		if skip == nil || !skip(i) {
			return i
		}
		if p++; p == len(v.table) {
			p = 0
		}
	}
	return -1
}

// fallbackRR is the round robin the hash algorithms use when the request
// has no key.
func (b *Balancer) fallbackRR(v *view, skip func(int) bool) int {
	if b.consistent {
		// chash_get_next_server: walk the ring one point at a time
		// (verified against haproxy 2.6).
		n := uint32(len(v.ring))
		if n == 0 {
			return -1
		}
		start := b.rr.Add(1) - 1
		for j := range n {
			i := int(v.ring[(start+j)%n].srv)
			if (skip == nil || !skip(i)) && !b.saturated(i) {
				if j > 0 {
					b.rr.Add(j)
				}
				return i
			}
		}
		return -1
	}
	src := v.table
	if len(src) == 0 {
		src = v.group
	}
	n := uint32(len(src))
	start := b.rr.Add(1) - 1
	for j := range n {
		i := src[(start+j)%n]
		if (skip == nil || !skip(i)) && !b.saturated(i) {
			return i
		}
	}
	return -1
}

// sourceKey is `balance source`: the client address folded to 32 bits by
// XORing its big-endian 32-bit words (HAProxy's get_server_sh). An
// unknown address (a UNIX socket client) falls back to round robin.
func sourceKey(b *Balancer, k Key) (uint32, bool) {
	a := k.Src.Unmap()
	switch {
	case a.Is4():
		x := a.As4()
		return uint32(x[0])<<24 | uint32(x[1])<<16 | uint32(x[2])<<8 | uint32(x[3]), true
	case a.Is6():
		x := a.As16()
		var h uint32
		for w := 0; w < 16; w += 4 {
			h ^= uint32(x[w])<<24 | uint32(x[w+1])<<16 | uint32(x[w+2])<<8 | uint32(x[w+3])
		}
		return h, true
	}
	return 0, false
}

// uriKey is `balance uri [len n] [depth n] [whole] [path-only]`
// (get_server_uh): the target up to the query (or whole), cut to len
// characters, and to depth directory levels (depth1 = depth+1, 0 = any).
func uriKey(maxLen, depth1 int, whole, pathOnly bool) keyFunc {
	return func(b *Balancer, k Key) (uint32, bool) {
		u := k.Target
		if pathOnly {
			u = pathOf(u)
		}
		if maxLen > 0 && len(u) > maxLen {
			u = u[:maxLen]
		}
		slashes := 0
		end := 0
		for ; end < len(u); end++ {
			c := u[end]
			if c == '/' {
				slashes++
				if slashes == depth1 {
					break
				}
			} else if c == '?' && !whole {
				break
			}
		}
		return b.hash(u[:end]), true
	}
}

// pathOf returns the path of a request target: without scheme and
// authority for an absolute URI, and without the query.
func pathOf(u string) string {
	if !strings.HasPrefix(u, "/") {
		if i := strings.Index(u, "://"); i >= 0 {
			u = u[i+3:]
			if j := strings.IndexByte(u, '/'); j >= 0 {
				u = u[j:]
			} else {
				u = ""
			}
		}
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return u
}

// urlParamKey is `balance url_param <name>` (get_server_ph): the value of
// the first query parameter called name (case-sensitive).
func urlParamKey(name string) keyFunc {
	return func(b *Balancer, k Key) (uint32, bool) {
		q := k.Target
		i := strings.IndexByte(q, '?')
		if i < 0 {
			return 0, false
		}
		q = q[i+1:]
		for len(q) > 0 {
			p := q
			if j := strings.IndexByte(q, '&'); j >= 0 {
				p, q = q[:j], q[j+1:]
			} else {
				q = ""
			}
			if len(p) > len(name) && p[len(name)] == '=' && p[:len(name)] == name {
				return b.hash(p[len(name)+1:]), true
			}
		}
		return 0, false
	}
}

// hdrKey is `balance hdr(<name>) [use_domain_only]` (get_server_hh): the
// first value of the header; with use_domain_only, only the label before
// the last dot ("example" of "www.example.com").
func hdrKey(name string, domainOnly bool) keyFunc {
	return func(b *Balancer, k Key) (uint32, bool) {
		var val string
		found := false
		for _, f := range k.Header {
			if strings.EqualFold(f.Name, name) {
				val, found = f.Value, true
				break
			}
		}
		if !found {
			return 0, false
		}
		if i := strings.IndexByte(val, ','); i >= 0 {
			val = val[:i]
		}
		val = strings.Trim(val, " \t")
		if domainOnly {
			if d := strings.LastIndexByte(val, '.'); d > 0 {
				s := strings.LastIndexByte(val[:d], '.') + 1
				val = val[s:d]
			}
		}
		return b.hash(val), true
	}
}
