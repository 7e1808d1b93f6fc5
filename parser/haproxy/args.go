package haproxy

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// intArg parses word i of ln as a non-negative integer.
func (l *loader) intArg(ln Line, i int) (int, bool) {
	if i >= len(ln.Words) {
		l.d.Alertf(ln.Pos, "'%s' expects an integer argument.", ln.Words[0])
		return 0, false
	}
	v, err := strconv.Atoi(ln.Words[i])
	if err != nil || v < 0 {
		l.d.Alertf(ln.Pos, "'%s' expects an integer argument (got '%s').", ln.Words[0], ln.Words[i])
		return 0, false
	}
	return v, true
}

// strArg returns word i of ln, alerting when it is missing.
func (l *loader) strArg(ln Line, i int) string {
	if i >= len(ln.Words) {
		l.d.Alertf(ln.Pos, "'%s' expects an argument.", strings.Join(ln.Words[:min(i, len(ln.Words))], " "))
		return ""
	}
	return ln.Words[i]
}

// durationArg parses word i as a HAProxy time: a number with an optional
// unit (us, ms, s, m, h, d); defUnit applies to bare numbers.
func (l *loader) durationArg(ln Line, i int, defUnit string) (time.Duration, bool) {
	name := strings.Join(ln.Words[:min(i, len(ln.Words))], " ")
	if i >= len(ln.Words) {
		l.d.Alertf(ln.Pos, "'%s' expects an integer value (in milliseconds)", name)
		return 0, false
	}
	d, err := parseTime(ln.Words[i], defUnit)
	if err != nil {
		l.d.Alertf(ln.Pos, "%s in '%s'", err, name)
		return 0, false
	}
	return d, true
}

// parseTime parses a HAProxy time value.
func parseTime(s, defUnit string) (time.Duration, error) {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		if s == "" {
			return 0, fmt.Errorf("missing value")
		}
		return 0, fmt.Errorf("unexpected character '%c'", s[0])
	}
	v, err := strconv.ParseInt(s[:n], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value too large")
	}
	unit := s[n:]
	if unit == "" {
		unit = defUnit
	}
	var mul time.Duration
	switch unit {
	case "us":
		mul = time.Microsecond
	case "ms":
		mul = time.Millisecond
	case "s":
		mul = time.Second
	case "m":
		mul = time.Minute
	case "h":
		mul = time.Hour
	case "d":
		mul = 24 * time.Hour
	default:
		return 0, fmt.Errorf("unexpected character '%c'", unit[0])
	}
	// HAProxy keeps timers in milliseconds on 32 bits.
	if v > int64((1<<31-1)*time.Millisecond/mul) {
		return 0, fmt.Errorf("timer overflow")
	}
	return time.Duration(v) * mul, nil
}

// unknownKeyword reports an unknown keyword with HAProxy's "did you mean"
// suggestion.
func (l *loader) unknownKeyword(ln Line, section string, known []string) {
	kw := ln.Words[0]
	if s := suggest(kw, known); s != "" {
		l.d.Alertf(ln.Pos, "unknown keyword '%s' in '%s' section; did you mean '%s' maybe ?", kw, section, s)
		return
	}
	l.d.Alertf(ln.Pos, "unknown keyword '%s' in '%s' section", kw, section)
}

// suggest returns the known word closest to w, if it is close enough to be
// a plausible typo.
func suggest(w string, known []string) string {
	sort.Strings(known)
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := editDistance(w, k); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= max(1, len(w)/3) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func systemResolve(host string) ([]string, error) { return net.LookupHost(host) }

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}
