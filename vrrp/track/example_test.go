package track_test

import (
	"context"
	"log"

	"hapair/parser/keepalived"
	"hapair/vrrp/track"
)

// Example shows how the daemon wires tracking: build the Config from
// keepalived.conf, read each instance's starting point with Current, and
// forward every Change to the goroutine that owns the instance (as
// EvPriority{c.Priority} and EvFault{c.Fault || c.Pending}).
func Example() {
	c, _ := keepalived.Load("/etc/keepalived/keepalived.conf", keepalived.Options{})
	if c == nil {
		return
	}
	cfg, warnings := track.FromKeepalived(c)
	for _, w := range warnings {
		log.Print(w)
	}
	perInstance := map[string]chan track.Change{}
	for _, in := range cfg.Instances {
		perInstance[in.Name] = make(chan track.Change, 16)
	}
	r := track.NewRunner(cfg, func(ch track.Change) {
		perInstance[ch.Instance] <- ch // the instance goroutine drains it
	})
	r.Log = func(s string) { log.Print(s) }
	for _, in := range cfg.Instances {
		start, _ := r.Current(in.Name)
		_ = start // initial priority, fault, pending
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
}
