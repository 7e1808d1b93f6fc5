// Command goproxy is a drop-in replacement for HAProxy: it reads an unchanged
// haproxy.cfg (HAProxy 2.x and 1.4 syntax) and accepts HAProxy's command line.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "goproxy: not implemented yet")
	os.Exit(1)
}
