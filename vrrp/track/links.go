package track

import (
	"context"
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
// opened again (netlink closes its channel on error).
type NetlinkLinks struct {
	// Netns, if set, is the path of a network namespace to watch
	// (/run/netns/NAME); empty means the caller's.
	Netns string
}

// Watch implements LinkWatcher.
func (nl NetlinkLinks) Watch(ctx context.Context, f func(name string, up bool)) error {
	for ctx.Err() == nil {
		ch := make(chan netlink.LinkUpdate, 64)
		done := make(chan struct{})
		var errs = make(chan error, 1)
		err := nl.inNetns(func() error {
			return netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
				ListExisting: true,
				ErrorCallback: func(err error) {
					select {
					case errs <- err:
					default:
					}
				},
			})
		})
		if err != nil {
			close(done)
			return fmt.Errorf("netlink link subscription: %w", err)
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
				if u.Header.Type == unix.RTM_DELLINK {
					f(u.Attrs().Name, false)
					continue
				}
				fl := u.Attrs().RawFlags
				f(u.Attrs().Name, fl&unix.IFF_UP != 0 && fl&unix.IFF_RUNNING != 0)
			}
		}
		close(done)
		// Resubscribe after a short pause; the listing brings the state
		// up to date.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return ctx.Err()
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
