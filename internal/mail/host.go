package mail

import "os"

var osHostname = os.Hostname
