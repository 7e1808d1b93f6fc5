//go:build !race

package proxy

// raceEnabled is false outside race builds: the HTTP path uses rawIO.
const raceEnabled = false
