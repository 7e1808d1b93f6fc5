package notify

import (
	"strings"
	"testing"
)

// FuzzParseCommand: any notify line gives a command or an error, never a
// panic, and a command always has a program.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/s.sh master a 'b c'", `"/x y"`, `'unterminated`, `a\ b`, "", "   "} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, quoted bool) {
		words := strings.Fields(s)
		if quoted && len(words) > 0 {
			words = []string{s}
		}
		c, err := ParseCommand(words, quoted)
		if err == nil && (c == nil || len(c.Argv) == 0) {
			t.Fatalf("%q: no program and no error", s)
		}
		if fromJoined(s) != nil && len(fromJoined(s).Argv) == 0 {
			t.Fatalf("%q: fromJoined without program", s)
		}
	})
}
