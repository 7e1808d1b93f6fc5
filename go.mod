module hapair

go 1.26.0

require (
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/mdlayher/packet v1.2.0
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/mdlayher/socket v0.7.0 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/sync v0.23.0 // indirect
)
