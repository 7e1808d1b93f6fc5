// Package e2e holds the acceptance tests of the project: the seed article's
// HAProxy + keepalived pair rebuilt in network namespaces (two load-balancer
// hosts, a web host, a client, on one bridge) and its test procedure run
// for real, with the client-visible outage measured at every step.
//
// Each lab host has its own network namespace and its own PID and mount
// namespaces, so that the seed's check_haproxy.sh, which counts
// `ps -C haproxy`, sees only the proxy of its own host, as on two
// machines.
package e2e
