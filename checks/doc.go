// Package checks runs the health checks that both daemons need: goproxy's
// server checks (HAProxy's `check`, `option httpchk`, `http-check`,
// `tcp-check`, `option mysql-check`, `option smtpchk`) and govrrpd's
// vrrp_script, MISC_CHECK, TCP_CHECK, HTTP_GET and PING_CHECK.
//
// The package is split the way HAProxy and keepalived think about checks:
//
//   - A Checker performs one probe and returns a Result carrying HAProxy's
//     check status (L4OK, L4CON, L7STS, ...), a code, an info text and the
//     duration: TCP, HTTP, TCPCheck, MySQL, SMTP, Script and ICMP.
//   - Health is a pure rise/fall counter (HAProxy's check->health) that
//     says whether the target is up, whether a result changed that, and
//     which interval (inter, fastinter, downinter) applies next.
//   - Monitor runs a Checker on a schedule with a per-check timeout and
//     jitter, feeds Health, keeps the last Result and reports transitions
//     on a channel.
//
// The package never imports the config parsers: each daemon maps its own
// typed configuration into these types, so the checks stay reusable.
package checks
