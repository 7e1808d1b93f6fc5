package notify_test

import (
	"context"
	"log"

	"hapair/parser/keepalived"
	"hapair/vrrp/notify"
)

// Example shows how the daemon wires notifications: one Notifier for the
// whole configuration, Run for the daemon's lifetime, StateChanged on
// every state change of an instance (its ActNotify) or a sync group. At
// shutdown the daemon reports STOP for every instance then every group
// (as keepalived does) and only then cancels Run's context: queued events
// are still delivered and the STOP scripts get StopWait to finish.
func Example() {
	c, _ := keepalived.Load("/etc/keepalived/keepalived.conf", keepalived.Options{})
	if c == nil {
		return
	}
	cfg := notify.FromKeepalived(c)
	cfg.Log = func(s string) { log.Print(s) }
	n, err := notify.New(cfg) // err lists the scripts keepalived would disable
	if err != nil {
		log.Print(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	n.StateChanged(notify.Instance, "VI_1", notify.Master, 102)
	n.StateChanged(notify.Group, "G1", notify.Master, 0)

	n.StateChanged(notify.Instance, "VI_1", notify.Stop, 102)
	n.StateChanged(notify.Group, "G1", notify.Stop, 0)
	cancel()
	<-done
}
