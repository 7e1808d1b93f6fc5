//go:build race

package proxy

// raceEnabled: under the race detector rawIO is not used, because its raw
// system calls bypass the annotations through which net.Conn tells the
// detector that a write and the matching read are ordered (tests would
// report races between a server handler and the client that read its
// answer).
const raceEnabled = true
