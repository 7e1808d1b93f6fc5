package haproxy

import (
	"io"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types of the line lexer.
const (
	tokWord lexer.TokenType = -(iota + 2)
	tokNewline
)

// wordLexerDef splits haproxy.cfg into words and newlines. Comments ('#'
// outside quotes) and blanks are dropped here. A word runs until unquoted
// white space or '#'; quotes may hold spaces; a backslash protects the next
// character. Quotes left open run to the end of the line and are reported
// by decodeWord with their column, as HAProxy does.
type wordLexerDef struct{}

func (*wordLexerDef) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{"EOF": lexer.EOF, "Word": tokWord, "Newline": tokNewline}
}

func (d *wordLexerDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexBytes(filename, b)
}

func (*wordLexerDef) LexString(filename string, s string) (lexer.Lexer, error) {
	return &wordLexer{src: s, pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}, nil
}

func (d *wordLexerDef) LexBytes(filename string, b []byte) (lexer.Lexer, error) {
	return d.LexString(filename, string(b))
}

type wordLexer struct {
	src string
	i   int
	pos lexer.Position
}

func (l *wordLexer) advance(n int) {
	l.i += n
	l.pos.Offset += n
	l.pos.Column += n
}

func (l *wordLexer) Next() (lexer.Token, error) {
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\n':
			t := lexer.Token{Type: tokNewline, Value: "\n", Pos: l.pos}
			l.i++
			l.pos.Offset++
			l.pos.Line++
			l.pos.Column = 1
			return t, nil
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.advance(1)
		case c == '#':
			n := 0
			for l.i+n < len(l.src) && l.src[l.i+n] != '\n' {
				n++
			}
			l.advance(n)
		default:
			start, pos := l.i, l.pos
			l.advance(wordLen(l.src[l.i:]))
			return lexer.Token{Type: tokWord, Value: l.src[start:l.i], Pos: pos}, nil
		}
	}
	return lexer.EOFToken(l.pos), nil
}

// wordLen returns the length of the raw word at the start of s.
func wordLen(s string) int {
	i := 0
	for i < len(s) {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\f', '\v', '\n', '#':
			return i
		case '\\':
			if i+1 < len(s) && s[i+1] != '\n' {
				i += 2
			} else {
				i++
			}
		case '"', '\'':
			i++
			for i < len(s) && s[i] != c && s[i] != '\n' {
				if c == '"' && s[i] == '\\' && i+1 < len(s) && s[i+1] != '\n' {
					i++
				}
				i++
			}
			if i < len(s) && s[i] == c {
				i++
			}
		default:
			i++
		}
	}
	return i
}
