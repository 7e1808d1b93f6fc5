// Package lvs is govrrpd's LVS part, what keepalived runs as its
// "checker" process (Keepalived_healthcheckers): it health-checks the
// real servers of every virtual_server block and keeps the kernel's IPVS
// table in line with the results.
//
// The package is split the way the other govrrpd parts are:
//
//   - Model is a pure state machine of keepalived 2.2.7's checker
//     semantics (ipwrapper.c): per real server, its checkers' states; a
//     real server is alive when none of its checkers failed; when it dies
//     it is removed from the virtual service (or set to weight 0 with
//     inhibit_on_failure), when it comes back it is added with its weight;
//     MISC_CHECK misc_dynamic exit codes set the weight; quorum and
//     hysteresis bring in the sorry_server and run quorum_up/quorum_down;
//     notify_up/notify_down and SMTP alerts follow keepalived's
//     conventions. Inputs are check results and checker transitions,
//     outputs are Actions (IPVS calls, scripts to run, alerts, log lines).
//   - IPVS is the kernel table behind a small interface, with a generic
//     netlink implementation (family "IPVS", include/uapi/linux/ip_vs.h)
//     and Services, which expands a virtual_server (address, fwmark or
//     virtual_server_group) into the IPVS services it stands for.
//   - Checker runs it all: one checks.Monitor per real-server checker
//     (delay_loop, retry, delay_before_retry mapped onto rise/fall and the
//     check intervals), the Model, and the IPVS calls, scripts and alerts
//     it asks for.
//
// Kernels without IP_VS (like the machines this project is built on) have
// no "IPVS" generic netlink family: Run then logs NoIPVSNotice once and
// the checks still run, with every IPVS call dropped (keepalived 2.2.7
// itself exits its checker process there: "IPVS: Can't initialize ipvs").
//
// # Running it in govrrpd
//
// The daemon starts it next to the VRRP part, unless -P (--vrrp) asks for
// VRRP only; -C (--check) runs it alone; -I (--dont-release-ipvs) is
// Options.KeepOnStop:
//
//	chk, err := lvs.New(cfg, lvs.Options{Logf: logf, Alert: mailer, KeepOnStop: dontReleaseIPVS})
//	if err != nil { ... }
//	g.Go(func() error { return chk.Run(ctx) }) // returns at once without virtual_server
//
// Alert receives keepalived's subjects and bodies ("[router_id] Realserver
// [192.0.2.21]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN", "=> TCP
// CHECK failed on service <="); the daemon sends them with its SMTP
// client. On SIGHUP the daemon calls chk.Reload(ctx, newCfg) with the new,
// valid configuration: servers that stay keep their state and IPVS entries.
// (When the first configuration had no virtual_server, Run has returned;
// build and run a new Checker instead.)
package lvs
