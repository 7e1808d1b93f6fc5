package keepalived

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// srcLine is one line after comments, conditionals and definitions.
type srcLine struct {
	Pos  Pos
	Text string
}

// reader expands include, @conditionals and $definitions the way
// keepalived does while it reads lines.
type reader struct {
	d        *Diagnostics
	configID string
	readFile func(string) ([]byte, error)
	defs     map[string][]string
	depth    int
	files    []string
	lines    []srcLine
}

const maxIncludeDepth = 32

func (r *reader) readPath(path string, pos Pos) {
	if r.depth > maxIncludeDepth {
		r.d.Errorf(pos, "include depth exceeds %d, not including %s", maxIncludeDepth, path)
		return
	}
	b, err := r.readFile(path)
	if err != nil {
		r.d.Errorf(pos, "Configuration file '%s' open problem (%v) - skipping", path, err)
		return
	}
	r.files = append(r.files, path)
	r.depth++
	defer func() { r.depth-- }()
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		p := Pos{File: path, Line: i + 1}
		text := stripComment(strings.TrimRight(lines[i], "\r"))
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		// @id / @^id: a line for one host only.
		if strings.HasPrefix(text, "@") {
			id, rest, _ := strings.Cut(text[1:], " ")
			rest = strings.TrimSpace(rest)
			want := true
			if strings.HasPrefix(id, "^") {
				id, want = id[1:], false
			}
			if (id == r.configID) != want || rest == "" {
				continue
			}
			text = rest
		}
		// $NAME=value definitions; a trailing backslash continues the
		// value on the next line (each line stays a line).
		if strings.HasPrefix(text, "$") {
			if name, val, ok := strings.Cut(text[1:], "="); ok && isName(strings.TrimSpace(name)) {
				name = strings.TrimSpace(name)
				var vals []string
				for {
					cont := strings.HasSuffix(val, "\\")
					vals = append(vals, strings.TrimSpace(strings.TrimSuffix(val, "\\")))
					if !cont || i+1 >= len(lines) {
						break
					}
					i++
					val = stripComment(strings.TrimRight(lines[i], "\r"))
				}
				r.defs[name] = vals
				continue
			}
		}
		if strings.HasPrefix(text, "~SEQ") {
			r.seq(text, p)
			continue
		}
		r.addLine(text, path, p)
	}
}

// addLine expands definitions in text and keeps the result (following
// include lines).
func (r *reader) addLine(text, path string, p Pos) {
	for _, exp := range r.expand(text, p) {
		if exp == "" {
			continue
		}
		if w := strings.Fields(exp); len(w) > 0 && w[0] == "include" {
			if len(w) < 2 {
				r.d.Errorf(p, "include requires a file name")
				continue
			}
			r.include(w[1], path, p)
			continue
		}
		r.lines = append(r.lines, srcLine{Pos: p, Text: exp})
	}
}

// maxSeq bounds the lines one ~SEQ may produce.
const maxSeq = 4096

// seq expands "~SEQ(var, start, step, end) rest" (and ~SEQx, hexadecimal
// values): rest is read once per value with $var set to it.
func (r *reader) seq(text string, p Pos) {
	hex := strings.HasPrefix(text, "~SEQx(")
	open := strings.IndexByte(text, '(')
	end := strings.IndexByte(text, ')')
	if open < 0 || end < open {
		r.d.Errorf(p, "Invalid ~SEQ specification '%s'", text)
		return
	}
	args := strings.Split(text[open+1:end], ",")
	rest := strings.TrimSpace(text[end+1:])
	name := strings.TrimSpace(args[0])
	var nums []int64
	for _, a := range args[1:] {
		n, err := strconv.ParseInt(strings.TrimSpace(a), 0, 64)
		if err != nil {
			r.d.Errorf(p, "Invalid ~SEQ value '%s'", strings.TrimSpace(a))
			return
		}
		nums = append(nums, n)
	}
	var start, step, last int64
	switch len(nums) {
	case 1:
		last = nums[0]
		start = 1
		if last < 0 {
			start = -1
		}
	case 2:
		start, last = nums[0], nums[1]
	case 3:
		start, step, last = nums[0], nums[1], nums[2]
	default:
		r.d.Errorf(p, "Invalid ~SEQ specification '%s'", text)
		return
	}
	if step == 0 {
		step = 1
		if last < start {
			step = -1
		}
	}
	if !isName(name) || (step > 0 && start > last) || (step < 0 && start < last) {
		r.d.Errorf(p, "Invalid ~SEQ specification '%s'", text)
		return
	}
	saved, had := r.defs[name]
	for i, v := 0, start; (step > 0 && v <= last) || (step < 0 && v >= last); i, v = i+1, v+step {
		if i == maxSeq {
			r.d.Errorf(p, "~SEQ produces more than %d lines, truncated", maxSeq)
			break
		}
		val := strconv.FormatInt(v, 10)
		if hex {
			val = strconv.FormatInt(v, 16)
		}
		r.defs[name] = []string{val}
		r.addLine(rest, p.File, p)
	}
	if had {
		r.defs[name] = saved
	} else {
		delete(r.defs, name)
	}
}

// include reads the files a glob names, relative to the including file's
// directory first and to the current directory after, in sorted order.
func (r *reader) include(pattern, from string, pos Pos) {
	try := []string{pattern}
	if !filepath.IsAbs(pattern) {
		try = []string{filepath.Join(filepath.Dir(from), pattern), pattern}
	}
	for _, pat := range try {
		matches, err := filepath.Glob(pat)
		if err != nil {
			r.d.Errorf(pos, "Invalid include pattern '%s' - %v", pattern, err)
			return
		}
		if len(matches) > 0 {
			sort.Strings(matches)
			for _, m := range matches {
				r.readPath(m, pos)
			}
			return
		}
	}
	r.d.Errorf(pos, "No config files matched '%s'.", pattern)
}

// expand substitutes $NAME and ${NAME}; a multi-line definition turns the
// line into several.
func (r *reader) expand(text string, pos Pos) []string {
	if !strings.Contains(text, "$") {
		return []string{text}
	}
	out := []string{""}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '$' {
			out[len(out)-1] += string(c)
			continue
		}
		name, n := defName(text[i+1:])
		if n == 0 {
			out[len(out)-1] += "$"
			continue
		}
		vals, ok := r.defs[name]
		if !ok {
			out[len(out)-1] += text[i : i+1+n]
			i += n
			continue
		}
		for j, v := range vals {
			if j > 0 {
				out = append(out, "")
			}
			out[len(out)-1] += v
		}
		i += n
	}
	return out
}

func defName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 2 {
			return "", 0
		}
		return s[1:end], end + 1
	}
	n := 0
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	return s[:n], n
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// stripComment drops what follows '!' or '#' outside double quotes.
func stripComment(s string) string {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '!', '#':
			if !inQuote {
				return s[:i]
			}
		}
	}
	return s
}

// Diagnostics collects what keepalived would report while parsing.
type Diagnostics struct {
	List []Diagnostic
	// SecurityViolation is set when a script fails the
	// enable_script_security checks (keepalived -t exits 6).
	SecurityViolation bool
	// Fatal is set when the file cannot be used at all (exit 2).
	Fatal bool
	// MissingInterface is set when an instance's interface or a tracked
	// interface does not exist (without dynamic_interfaces): keepalived
	// 2.2.7's VRRP process then stops with a configuration error and the
	// daemon exits (measured: exit 2 in the foreground).
	MissingInterface bool
}

// Diagnostic is one message, with keepalived's "(FILE: Line N) msg" form.
type Diagnostic struct {
	Pos Pos
	Msg string
}

func (d Diagnostic) String() string {
	if d.Pos.File == "" {
		return d.Msg
	}
	return fmt.Sprintf("(%s: Line %d) %s", d.Pos.File, d.Pos.Line, d.Msg)
}

// Errorf records a configuration problem (keepalived still runs).
func (d *Diagnostics) Errorf(pos Pos, format string, args ...any) {
	d.List = append(d.List, Diagnostic{pos, fmt.Sprintf(format, args...)})
}

// String lists the diagnostics, one per line.
func (d *Diagnostics) String() string {
	var b strings.Builder
	for _, x := range d.List {
		b.WriteString(x.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ExitCode is what `keepalived -t` exits with for these diagnostics:
// 0 clean, 5 problems reported but the daemon runs, 6 script security
// violation, 2 fatal.
func (d *Diagnostics) ExitCode() int {
	switch {
	case d.Fatal:
		return 2
	case d.SecurityViolation:
		return 6
	case len(d.List) > 0:
		return 5
	}
	return 0
}

func defaultReadFile(p string) ([]byte, error) { return os.ReadFile(p) }
