package keepalived

import (
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar splits one (already preprocessed) line into tokens: words,
// quoted strings and braces. Which words open blocks is decided by the
// keyword tables, as keepalived decides it: an unknown keyword followed
// by '{' does not open a block ("Unexpected '{' - ignoring"), which is why
// the structure cannot live in the grammar.
var tokenLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Space", Pattern: `[ \t\r\f\v]+`},
	{Name: "Quoted", Pattern: `"(?:[^"\\]|\\.)*"?`},
	{Name: "Brace", Pattern: `[{}]`},
	{Name: "Word", Pattern: `[^\s{}"]+`},
})

type syntaxLine struct {
	Tokens []*syntaxToken `parser:"@@*"`
}

type syntaxToken struct {
	Quoted string `parser:"  @Quoted"`
	Brace  string `parser:"| @Brace"`
	Word   string `parser:"| @Word"`
}

var lineParser = participle.MustBuild[syntaxLine](
	participle.Lexer(tokenLexer),
	participle.Elide("Space"),
)

// token is a word or brace with its position.
type token struct {
	Pos    Pos
	Text   string // quotes removed
	Quoted bool
	Brace  byte // '{' or '}' for braces, else 0
	EOL    bool // last token of its line
}

func tokenize(lines []srcLine, d *Diagnostics) []token {
	var out []token
	for _, l := range lines {
		sl, err := lineParser.ParseString(l.Pos.File, l.Text)
		if err != nil {
			d.Errorf(l.Pos, "cannot parse line: %v", err)
			continue
		}
		start := len(out)
		for _, t := range sl.Tokens {
			switch {
			case t.Brace != "":
				out = append(out, token{Pos: l.Pos, Text: t.Brace, Brace: t.Brace[0]})
			case t.Quoted != "":
				s := t.Quoted[1:]
				if strings.HasSuffix(s, `"`) && !strings.HasSuffix(s, `\"`) || s == `"` {
					s = s[:len(s)-1]
				} else {
					d.Errorf(l.Pos, "Unmatched quote: '%s'", t.Quoted)
				}
				out = append(out, token{Pos: l.Pos, Text: s, Quoted: true})
			default:
				out = append(out, token{Pos: l.Pos, Text: t.Word})
			}
		}
		if len(out) > start {
			out[len(out)-1].EOL = true
		}
	}
	return out
}
