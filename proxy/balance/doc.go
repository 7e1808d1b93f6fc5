// Package balance picks the server of a backend for each new connection or
// request, the way HAProxy 2.6's load-balancing algorithms do: roundrobin
// (HAProxy's "fast weighted round robin", with dynamic weights), static-rr
// and the hash algorithms on HAProxy's weighted server map (source, uri,
// url_param, hdr), consistent hashing (hash-type consistent), leastconn,
// first and random(draws).
//
// Each algorithm is a small type behind the algorithm interface. A
// Balancer holds the members (servers) of one backend with their up/down
// state, weights and in-flight counts; Pick is safe for concurrent use: the
// hash algorithms read an immutable snapshot without locking, the stateful
// ones (roundrobin, static-rr, leastconn, first) hold one mutex for a few
// hundred nanoseconds, and the connection counters are atomic.
//
// Backup servers are used only when no active server is usable; then only
// the first usable backup in declaration order, or all usable backups with
// `option allbackups` (allBackups).
package balance
