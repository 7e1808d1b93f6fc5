package track

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseLeadingInt: any file content reads as a number without
// panicking, and a plain decimal reads as itself.
func FuzzParseLeadingInt(f *testing.F) {
	for _, s := range []string{"", "0\n", "-254", "  +17 trailing", "9999999999999999999999", "-", "x1", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := parseLeadingInt(s)
		if n, err := strconv.Atoi(strings.Trim(s, " \t\n\v\f\r")); err == nil && n >= -1<<31 && n <= 1<<31-1 && v != n {
			t.Fatalf("%q read as %d, want %d", s, v, n)
		}
	})
}
