// Command govrrpd is a drop-in replacement for keepalived's VRRP daemon: it
// reads an unchanged keepalived.conf and accepts keepalived's command line.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "govrrpd: not implemented yet")
	os.Exit(1)
}
