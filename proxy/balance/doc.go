// Package balance picks the server of a backend for each new connection or
// request, the way HAProxy 2.6's load-balancing algorithms do: roundrobin
// (HAProxy's "fast weighted round robin", with dynamic weights), static-rr
// and the hash algorithms on HAProxy's weighted server map (source, uri,
// url_param, hdr), consistent hashing (hash-type consistent), leastconn,
// first and random(draws). rdp-cookie falls back to roundrobin.
//
// Each algorithm is a small type behind the algorithm interface. A
// Balancer holds the members (servers) of one backend with their up/down
// state, weights and in-flight counts; Pick is safe for concurrent use: the
// hash algorithms read an immutable snapshot without locking, the stateful
// ones (roundrobin, static-rr, leastconn, first) hold one mutex for well
// under a microsecond, and the connection counters are atomic.
//
// Backup servers are used only when no active server is usable; then only
// the first usable backup in declaration order, or all usable backups with
// `option allbackups` (allBackups).
//
// Verified against haproxy 2.6 by the differential tests (same requests,
// same server): roundrobin sequences for any weights, across `set weight`,
// `disable server` and `enable server` at run time; static-rr; source,
// uri (len, depth, whole, path-only), url_param and hdr (use_domain_only)
// with sdbm, djb2, wt6 and crc32, map-based and consistent, with and
// without avalanche, including the round-robin fallback when the key is
// missing; backups and allbackups; leastconn with connections held open
// and released; first and roundrobin with server maxconn. Facts learnt on
// the way: `source` hashes the address itself (XOR of its 32-bit words),
// not with the hash function; the server map divides weights by their
// GCD; `hash-type consistent` without a function implies avalanche.
//
// Saturation: a member with Maxconn in-flight picks is passed over by
// roundrobin, static-rr, leastconn, first and random, and Pick returns -1
// when every usable member is saturated (the caller queues). The hash
// algorithms ignore Maxconn, as HAProxy does (the request waits in that
// server's queue).
package balance
