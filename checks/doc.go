// Package checks runs the health checks that both daemons need: goproxy's
// server checks (HAProxy's `check`, `option httpchk`, `http-check`,
// `tcp-check`, `option mysql-check`, `option smtpchk`, `option
// redis-check`, `check-ssl`) and govrrpd's vrrp_script, MISC_CHECK,
// TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK and PING_CHECK.
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
//
// # Mapping haproxy.cfg
//
//	server ... check inter I fastinter F downinter D rise R fall N
//	    Config{Rise: R, Fall: N, Intervals: Intervals{I, F, D}, Start: StartUp}
//	    defaults: inter 2s, rise 2, fall 3
//	timeout check / timeout connect
//	    connect, total := Timeouts(inter, timeoutConnect, timeoutCheck)
//	    Config.Timeout = total; the checker's ConnectTimeout = connect
//	spread-checks P       Config.Spread = P
//	(start-up spread)     Config.Delay = FirstCheckDelay(minInter, pos, n)
//	port P / addr A       Addr, _ = CheckAddr(serverAddr, A, P)
//	check (plain)         &TCP{Addr}
//	check-ssl verify none TCP/HTTP .TLS = &tls.Config{InsecureSkipVerify: true}
//	option httpchk M U V  &HTTP{Request: LegacyHTTPCheck(M, U, V)}
//	http-check send ...   Request, err = HTTPCheckSend(Request, args)
//	http-check expect ... e, err := ParseHTTPExpect(args); HTTP.Expect = append(...)
//	option tcp-check + tcp-check ...
//	                      &TCPCheck{Steps: ParseTCPCheckRule(args)...}
//	option redis-check    RedisCheck(addr)
//	option mysql-check [user U [post-41|pre-41]]
//	                      &MySQL{User: U, Pre41: pre41}
//	option smtpchk [HELO|EHLO D]
//	                      &SMTP{Verb, Domain}
//
// Log lines: "Server be/s is DOWN, " + Result.Reason() + ". N active and M
// backup servers left. ..."; stats CSV: check_status = Status.String(),
// check_code = Code when Status.HasCode(), check_duration = Duration in
// ms, last_chk = Info, check_health/rise/fall, chkfail, chkdown, lastchg
// and downtime from Monitor.Snapshot.
//
// # Mapping keepalived.conf
//
//	vrrp_script { script S interval I timeout T rise R fall N user U init_fail }
//	    argv, err := SplitCommand(S)
//	    &Script{Argv: argv, Credential: uid/gid of U}
//	    Config{Rise: R, Fall: N, Intervals: Intervals{Inter: I},
//	           Timeout: T (0 means I), Start: StartUnknown}
//	    (weight, reverse and init_fail's "unknown counts as failed" stay with
//	    the caller; keepalived's rise/fall default to 1)
//	MISC_CHECK { misc_path misc_timeout misc_dynamic user }
//	    &Script{...}; misc_dynamic reads Result.Code (exit status)
//	TCP_CHECK { connect_ip connect_port bindto connect_timeout }
//	    &TCP{Addr: CheckAddr(rs, ip, port), Source: bindto, ConnectTimeout}
//	HTTP_GET / SSL_GET { url { path P digest D status_code C } virtualhost H http_protocol V }
//	    &HTTP{Request: KeepalivedHTTPGet(P, H or "ip:port", V), Digest: D,
//	          Expect: ParseHTTPExpect({"status", C or "200-299"}), TLS: for SSL_GET}
//	SMTP_CHECK { helo_name N }   &SMTP{Verb: "HELO", Domain: N}
//	PING_CHECK                   &ICMP{Addr: rs}
//	delay_loop L, retry N, delay_before_retry B (real_server checkers)
//	    Config{Rise: 1, Fall: N+1, Start: StartFullyUp,
//	           Intervals: Intervals{Inter: L, FastInter: B, DownInter: L}}
//	    (or call Run(ctx, checker, timeout) directly for one probe)
package checks
