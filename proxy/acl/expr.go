package acl

import (
	"fmt"
	"strconv"
	"strings"

	"hapair/parser/haproxy"
)

// Expr is a compiled log-format string: literal text and %[sample]
// expressions, as in `use_backend %[req.hdr(host),lower,map(f,def)]` or
// `http-request set-header X-Path be_%[path,field(2,/)]`.
type Expr struct {
	parts []exprPart
}

type exprPart struct {
	lit  string
	smp  *sampleExpr
	kind byte // 0 literal, 's' sample, or a log-format alias below
}

// sampleExpr is a fetch followed by converters.
type sampleExpr struct {
	fetch *fetch
	convs []conv
}

// aliases are the log-format variables goproxy renders outside %[ ].
var aliases = map[string]byte{
	"ci": 'c', "cp": 'p', "fi": 'i', "fp": 'o', "f": 'f', "ft": 'f', "b": 'b', "H": 'H', "pid": 'P',
}

// CompileExpr compiles a log-format string.
func CompileExpr(s string, env *Env) (*Expr, error) {
	if env == nil {
		env = &Env{}
	}
	e := &Expr{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			e.parts = append(e.parts, exprPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			lit.WriteByte(s[i+1])
			i++
			continue
		}
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		j := i + 1
		if j < len(s) && s[j] == '{' {
			// %{+Q}[...]: the options change log lines only; haproxy
			// renders header values and return bodies without them
			// (verified).
			k := strings.IndexByte(s[j:], '}')
			if k < 0 {
				return nil, fmt.Errorf("log-format '%s': missing '}' after '%%{'", s)
			}
			j += k + 1
		}
		if j < len(s) && s[j] == '[' {
			end := closingBracket(s, j)
			if end < 0 {
				return nil, fmt.Errorf("log-format '%s': missing ']' after '%%['", s)
			}
			se, err := compileSampleExpr(s[j+1:end], env)
			if err != nil {
				return nil, fmt.Errorf("log-format '%s': %w", s, err)
			}
			flush()
			e.parts = append(e.parts, exprPart{smp: se, kind: 's'})
			i = end
			continue
		}
		k := j
		for k < len(s) && (s[k] >= 'a' && s[k] <= 'z' || s[k] >= 'A' && s[k] <= 'Z') {
			k++
		}
		a, ok := aliases[s[j:k]]
		if !ok {
			return nil, fmt.Errorf("log-format '%s': unknown variable '%%%s'", s, s[j:k])
		}
		flush()
		e.parts = append(e.parts, exprPart{kind: a})
		i = k - 1
	}
	flush()
	return e, nil
}

// closingBracket returns the index of the ']' that closes the '[' at
// open, skipping brackets inside parentheses (converter arguments).
func closingBracket(s string, open int) int {
	depth := 0
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
		case ']':
			if depth <= 0 {
				return i
			}
		}
	}
	return -1
}

// compileSampleExpr compiles "fetch(args),conv(args),...".
func compileSampleExpr(s string, env *Env) (*sampleExpr, error) {
	parts, err := splitTop(s)
	if err != nil {
		return nil, err
	}
	se := &sampleExpr{}
	for i, p := range parts {
		name, args, err := splitCall(p)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			if se.fetch, err = compileFetch(name, args, false, env); err != nil {
				return nil, err
			}
			continue
		}
		cv, err := compileConv(haproxy.Converter{Name: name, Args: args}, env)
		if err != nil {
			return nil, err
		}
		se.convs = append(se.convs, cv)
	}
	return se, nil
}

// splitTop splits s on commas outside parentheses.
func splitTop(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return nil, fmt.Errorf("unbalanced parenthesis in '%s'", s)
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("missing closing ')' in '%s'", s)
	}
	return append(out, s[start:]), nil
}

// splitCall splits "name(a,b)" into its name and arguments.
func splitCall(s string) (string, []string, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexByte(s, '(')
	if i < 0 {
		if s == "" {
			return "", nil, fmt.Errorf("empty sample expression")
		}
		return s, nil, nil
	}
	if !strings.HasSuffix(s, ")") {
		return "", nil, fmt.Errorf("missing closing ')' after arguments to '%s'", s[:i])
	}
	inner := s[i+1 : len(s)-1]
	if inner == "" {
		return s[:i], nil, nil
	}
	args, err := splitTop(inner)
	if err != nil {
		return "", nil, err
	}
	for k, a := range args {
		args[k] = unescapeArg(strings.TrimSpace(a))
	}
	return s[:i], args, nil
}

// unescapeArg removes surrounding quotes from an argument and the
// backslashes that protect quotes, commas, parentheses and backslashes;
// other backslashes are kept (regsub back-references such as \\1).
func unescapeArg(a string) string {
	if len(a) >= 2 && (a[0] == '"' || a[0] == '\'') && a[len(a)-1] == a[0] {
		a = a[1 : len(a)-1]
	}
	if !strings.Contains(a, "\\") {
		return a
	}
	var b strings.Builder
	for i := 0; i < len(a); i++ {
		if a[i] == '\\' && i+1 < len(a) && strings.IndexByte("\\\"',()", a[i+1]) >= 0 {
			i++
		}
		b.WriteByte(a[i])
	}
	return b.String()
}

// value evaluates the sample expression: the fetch's first value through
// the converters.
func (se *sampleExpr) value(t *Txn) (sample, bool) {
	s, _, ok := se.fetch.next(t, cursor{})
	if !ok {
		return sample{}, false
	}
	for _, cv := range se.convs {
		if s, ok = cv(s); !ok {
			return sample{}, false
		}
	}
	return s, true
}

// Eval renders the expression for t. A sample that cannot be fetched
// renders as nothing.
func (e *Expr) Eval(t *Txn) string {
	if len(e.parts) == 1 {
		switch p := e.parts[0]; p.kind {
		case 0:
			return p.lit
		case 's':
			s, _ := p.smp.value(t)
			return s.str()
		}
	}
	var b strings.Builder
	for _, p := range e.parts {
		switch p.kind {
		case 0:
			b.WriteString(p.lit)
		case 's':
			if s, ok := p.smp.value(t); ok {
				b.WriteString(s.str())
			}
		case 'c':
			b.WriteString(t.Src.Addr().Unmap().String())
		case 'p':
			b.WriteString(strconv.Itoa(int(t.Src.Port())))
		case 'i':
			b.WriteString(t.Dst.Addr().Unmap().String())
		case 'o':
			b.WriteString(strconv.Itoa(int(t.Dst.Port())))
		case 'f':
			b.WriteString(t.Frontend)
		case 'b':
			b.WriteString(t.Backend)
		case 'H':
			b.WriteString(hostname())
		case 'P':
			b.WriteString(strconv.Itoa(pid()))
		}
	}
	return b.String()
}

// Static reports whether the expression has no %[ ] or variable (its
// Eval is a constant).
func (e *Expr) Static() bool {
	for _, p := range e.parts {
		if p.kind != 0 {
			return false
		}
	}
	return true
}

// Sample evaluates an expression made of one sample (%[fetch,conv...])
// and reports whether the fetch produced a value: the key of track-sc
// and stick rules, and set-var, which do nothing without one. Other
// expressions render as Eval does and are always found.
func (e *Expr) Sample(t *Txn) (string, bool) {
	if len(e.parts) == 1 && e.parts[0].kind == 's' {
		s, ok := e.parts[0].smp.value(t)
		if !ok {
			return "", false
		}
		return s.str(), true
	}
	return e.Eval(t), true
}
