package daemon

import (
	"fmt"
	"net"
	"os"
)

// Notify sends state (for example "READY=1" or "RELOADING=1") to the
// service manager over $NOTIFY_SOCKET, the sd_notify protocol that
// HAProxy's -Ws and systemd's Type=notify use. Without NOTIFY_SOCKET it
// does nothing, so the same binary runs outside systemd.
func Notify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:] // abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
