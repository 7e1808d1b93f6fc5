package haproxy

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar only splits a file into lines of words, each with its
// position; meaning is given to keywords by the tables in Go. That keeps
// HAProxy's line-oriented strictness in one place.

// lineLexer is a hand-written participle lexer: HAProxy's word rules are
// simple, and a regular-expression lexer spent most of the load time of a
// 50,000-line generated configuration.
var lineLexer = &wordLexerDef{}

type syntaxFile struct {
	Lines []*syntaxLine `parser:"( @@ | Newline )*"`
}

// syntaxLine is one line's raw words. Words are captured as strings, not
// as structs with their own positions: that halves the load time of a large
// file, and the only use of a word's column (an unmatched quote) finds it
// again in the line's text.
type syntaxLine struct {
	Pos   lexer.Position
	Words []string `parser:"@Word+ ( Newline | EOF )"`
}

var lineParser = participle.MustBuild[syntaxFile](
	participle.Lexer(lineLexer),
)

// Line is one statement of a configuration file: its words, unquoted and
// unescaped, with the file position of the line.
type Line struct {
	Pos   Pos
	Words []string
}

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// lexFile splits src into lines of decoded words. Errors (an unmatched
// quote) are reported through d with HAProxy's wording; the lines that
// decode are still returned so that one mistake does not hide the others.
//
// onLine, when not nil, sees each decoded line before the next one is
// decoded: environment keywords (setenv...) change what "${NAME}" means on
// the lines after them.
func lexFile(name string, src []byte, d *Diagnostics, env func(string) (string, bool), onLine func([]string)) []Line {
	if len(src) > 0 && src[len(src)-1] != '\n' {
		// HAProxy 2.6 refuses the file ("Missing LF on last line, file
		// might have been truncated"). An editor that drops the final
		// newline is far more common than a truncated file: warn and go on.
		nl := strings.Count(string(src), "\n") + 1
		d.Warnf(Pos{name, nl}, "Missing LF on last line, file might have been truncated at position %d; accepted (HAProxy 2.6 refuses this file).", len(src)-strings.LastIndexByte(string(src), '\n'))
	}
	f, err := lineParser.ParseBytes(name, src)
	if err != nil {
		// The lexer accepts any byte sequence, so this is unexpected;
		// report it against the position participle gives.
		var perr participle.Error
		line := 0
		if ok := asParticipleError(err, &perr); ok {
			line = perr.Position().Line
		}
		d.Alertf(Pos{name, line}, "%s", err.Error())
		return nil
	}
	lines := make([]Line, 0, len(f.Lines))
	for _, sl := range f.Lines {
		if sl == nil || len(sl.Words) == 0 {
			continue
		}
		pos := Pos{name, sl.Pos.Line}
		words := sl.Words
		ok := true
		for i, w := range sl.Words {
			s, col, err := decodeWord(w, env)
			if err != nil {
				d.Alertf(pos, "%s at position %d", err, wordColumn(src, sl.Pos, sl.Words[:i+1])+col)
				ok = false
				break
			}
			words[i] = s
		}
		if ok {
			if onLine != nil {
				onLine(words)
			}
			lines = append(lines, Line{Pos: pos, Words: words})
		}
	}
	return lines
}

func asParticipleError(err error, out *participle.Error) bool {
	pe, ok := err.(participle.Error)
	if ok {
		*out = pe
	}
	return ok
}

// decodeWord applies HAProxy's quoting rules to one raw word: backslash
// escapes outside single quotes (\  \# \\ \' \" \r \n \t \xHH), literal
// single quotes, and environment expansion ($NAME, ${NAME}) inside double
// quotes only. It returns the column offset of an unmatched quote.
func decodeWord(raw string, env func(string) (string, bool)) (string, int, error) {
	var b strings.Builder
	b.Grow(len(raw))
	quote := byte(0)
	qpos := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
				continue
			}
			b.WriteByte(c)
		case c == '\\' && i+1 < len(raw):
			i++
			switch e := raw[i]; e {
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'x':
				if i+2 < len(raw) {
					if v, err := strconv.ParseUint(raw[i+1:i+3], 16, 8); err == nil {
						b.WriteByte(byte(v))
						i += 2
						continue
					}
				}
				return "", i - 1, fmt.Errorf("invalid hex escape sequence")
			case ' ', '#', '\\', '\'', '"', '$':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '\\':
			b.WriteByte(c)
		case c == '"':
			if quote == '"' {
				quote = 0
			} else {
				quote, qpos = '"', i
			}
		case c == '\'' && quote == 0:
			quote, qpos = '\'', i
		case c == '$' && quote == '"':
			name, n := envName(raw[i+1:])
			if n == 0 {
				b.WriteByte(c)
				continue
			}
			if v, ok := env(name); ok {
				b.WriteString(v)
			}
			i += n
		default:
			b.WriteByte(c)
		}
	}
	if quote != 0 {
		return "", qpos, fmt.Errorf("unmatched quote")
	}
	return b.String(), 0, nil
}

// envName reads NAME or {NAME} after a '$' and returns the name and how
// many bytes it spans.
func envName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 2 {
			return "", 0
		}
		return s[1:end], end + 1
	}
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n], n
}

// osEnv looks names up in the process environment.
func osEnv(name string) (string, bool) { return os.LookupEnv(name) }

// wordColumn returns the column of the last of words, the raw words of the
// line that starts at pos, by finding each in turn in the line's text.
func wordColumn(src []byte, pos lexer.Position, words []string) int {
	end := len(src)
	if nl := strings.IndexByte(string(src[min(pos.Offset, len(src)):]), '\n'); nl >= 0 {
		end = pos.Offset + nl
	}
	line := string(src[min(pos.Offset, len(src)):end])
	from, at := 0, 0
	for _, w := range words {
		i := strings.Index(line[from:], w)
		if i < 0 {
			return pos.Column
		}
		at = from + i
		from = at + len(w)
	}
	return pos.Column + at
}
