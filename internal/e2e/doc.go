// Package e2e holds the acceptance tests of the project: the seed article's
// HAProxy + keepalived pair rebuilt in network namespaces (two load-balancer
// hosts, a web host, a client, on one bridge; see internal/e2e/lab) and its
// test procedure run for real, with the client-visible outage measured at
// every step by a client that sends a request every 10 ms through the VIP.
//
// Each load balancer runs either the reference programs (HAProxy 2.6 +
// keepalived 2.2.7 from Debian) or goproxy + govrrpd installed with the
// project's `make install` into a per-host prefix, so every scenario runs
// on the reference pair (which checks the lab and gives the figures ours
// are held to), on our pair, and on mixed pairs:
//
//   - TestSeedPair: the article's steps 1-5 (VIP on the master only; the
//     proxy killed and restarted by check_haproxy.sh; the VRRP daemon
//     stopped through its init script and the backup taking over; Host-based
//     routing and the stats page through the VIP; preemption on return),
//     then the proxy that cannot be restarted with the script as written and
//     the repair.
//   - TestSeedScriptStopsVRRP: the script's "stop keepalived" branch, which
//     needs `timeout 10` in vrrp_script to run at all.
//   - TestActiveActive: the two-VIP pair (VI_141/VI_142).
//
// The table of figures is printed when the package's tests end. Each lab
// host has its own network namespace and its own PID and mount namespaces,
// so that the seed's check_haproxy.sh, which counts `ps -C haproxy`, sees
// only the proxy of its own host, as on two machines.
//
// Environment: E2E_SRC builds goproxy and govrrpd from another tree (for
// example a `git archive HEAD` export); E2E_LOGS=1 prints the hosts'
// processes and govrrpd logs even when a test passes.
package e2e
