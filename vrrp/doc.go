// Package vrrp is govrrpd's VRRP engine: the instance state machine as
// keepalived 2.2.7 runs it (a pure type: events and the current time in,
// actions out), the network edge (raw IP protocol 112 sockets, virtual
// addresses through netlink, gratuitous ARP and unsolicited neighbour
// advertisements) and the Daemon that wires them for a parsed
// keepalived.conf. Packet encoding lives in the advert subpackage.
package vrrp
