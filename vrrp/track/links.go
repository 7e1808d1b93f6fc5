package track

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkLinks watches links with an rtnetlink subscription
// (RTMGRP_LINK), listing the existing links first. A link counts as up,
// like keepalived's IF_FLAGS_UP, when it is both administratively up
// (IFF_UP) and has carrier (IFF_RUNNING). A subscription that fails is
// opened again (netlink closes its channel on error). A tracked
// interface that does not exist counts as down (keepalived itself
// refuses to start then, unless dynamic_interfaces: "(VI_1) tracked
// interface X doesn't exist"; that check belongs to the daemon).
type NetlinkLinks struct {
	// Netns, if set, is the path of a network namespace to watch
	// (/run/netns/NAME); empty means the caller's.
	Netns string
}

// Watch implements LinkWatcher: it subscribes first, then lists the
// links, so that no change between the two is lost; a tracked name that
// does not exist is reported down.
func (nl NetlinkLinks) Watch(ctx context.Context, names []string, f func(name string, up bool)) error {
	tracked := map[string]bool{}
	for _, n := range names {
		tracked[n] = true
	}
	for ctx.Err() == nil {
		ch := make(chan netlink.LinkUpdate, 64)
		done := make(chan struct{})
		var links []netlink.Link
		err := nl.inNetns(func() error {
			if err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{}); err != nil {
				return err
			}
			var err error
			for i := 0; i < 5; i++ { // a dump can be interrupted: retry
				if links, err = netlink.LinkList(); !errors.Is(err, netlink.ErrDumpInterrupted) {
					break
				}
			}
			return err
		})
		if err != nil {
			close(done)
			return fmt.Errorf("netlink links: %w", err)
		}
		seen := map[string]bool{}
		for _, l := range links {
			if tracked[l.Attrs().Name] {
				seen[l.Attrs().Name] = true
				f(l.Attrs().Name, linkUp(l.Attrs().RawFlags))
			}
		}
		for _, n := range names {
			if !seen[n] {
				f(n, false)
			}
		}
	loop:
		for {
			select {
			case <-ctx.Done():
				close(done)
				for range ch { // the subscription closes ch once done
				}
				return ctx.Err()
			case u, ok := <-ch:
				if !ok {
					break loop
				}
				if !tracked[u.Attrs().Name] {
					continue
				}
				if u.Header.Type == unix.RTM_DELLINK {
					f(u.Attrs().Name, false)
					continue
				}
				f(u.Attrs().Name, linkUp(u.Attrs().RawFlags))
			}
		}
		close(done)
		// The subscription failed: open it again after a short pause; the
		// listing brings the state up to date.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return ctx.Err()
}

// linkUp is keepalived's IF_FLAGS_UP: administratively up and running.
func linkUp(flags uint32) bool {
	return flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0
}

// inNetns runs fn on a thread that entered nl.Netns (if set); the thread
// is discarded afterwards. Sockets opened by fn stay in that namespace.
func (nl NetlinkLinks) inNetns(fn func() error) error {
	if nl.Netns == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread dies with the goroutine
		fd, err := unix.Open(nl.Netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}
