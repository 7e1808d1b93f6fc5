//go:build !race

package haproxy

// raceEnabled relaxes timing budgets under the race detector.
const raceEnabled = false
