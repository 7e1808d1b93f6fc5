package keepalived

import "strings"

// stmt is one statement: a keyword and its arguments on one line.
type stmt struct {
	Pos  Pos
	Kw   string
	Args []string
	// Quoted records which words were quoted (script lines keep quoting
	// to split argv the way keepalived does).
	Quoted []bool
}

// keyword is an entry of a block's keyword table, like keepalived's
// install_keyword: a handler for the statement and, for keywords that open
// a block, the table of the block (or a list handler for blocks whose
// lines are items, such as virtual_ipaddress).
type keyword struct {
	handle func(w *walker, s stmt)
	// sub is the table of the block this keyword opens.
	sub func(w *walker) table
	// list handles each line of a list block.
	list func(w *walker, s stmt)
	// end runs when the block closes.
	end func(w *walker)
}

type table map[string]keyword

// walker applies keyword tables to the token stream with a stack, as
// keepalived's parser does.
type walker struct {
	toks []token
	i    int
	d    *Diagnostics
	cfg  *Config
	opt  Options

	// The objects of the blocks being parsed.
	script  *VRRPScript
	inst    *Instance
	group   *SyncGroup
	vs      *VirtualServer
	rs      *RealServer
	checker *Checker
	// hostParent is the SMTP_CHECK whose host block is open.
	hostParent *Checker
	url        *URLCheck
	vsg        *VirtualServerGroup
	trackFile  *TrackFile
	vridSeen   map[*Instance]bool
	open       []stmt // the statements whose blocks are open
	// nextRulePref is the preference given to the next rule without one.
	nextRulePref int
	refs         []scriptRef
	closed       Pos // where the last block closed
	depth        int // braces open in the input, counted as keepalived's reader does
}

// nextStmt reads words up to the end of the line or a brace.
func (w *walker) nextStmt() (stmt, bool) {
	var s stmt
	for w.i < len(w.toks) {
		t := w.toks[w.i]
		if t.Brace != 0 {
			break
		}
		if s.Kw == "" {
			s.Pos, s.Kw = t.Pos, t.Text
		} else {
			s.Args = append(s.Args, t.Text)
			s.Quoted = append(s.Quoted, t.Quoted)
		}
		w.i++
		if t.EOL {
			break
		}
	}
	return s, s.Kw != ""
}

// peekBrace reports whether the next token is the given brace.
func (w *walker) peekBrace(b byte) bool {
	return w.i < len(w.toks) && w.toks[w.i].Brace == b
}

// block parses statements with tbl until the matching '}' (or the end of
// the input at top level).
func (w *walker) block(tbl table, list func(*walker, stmt), top bool) {
	for w.i < len(w.toks) {
		t := w.toks[w.i]
		if t.Brace == '}' {
			w.i++
			extra := false
			if w.depth--; w.depth < 0 {
				// More '}' than '{' so far in the whole input.
				w.d.Errorf(t.Pos, "Extra '}' found")
				w.depth, extra = 0, true
			}
			if top {
				w.d.Errorf(t.Pos, "Unknown keyword '}'")
				if !extra {
					// The braces balance overall, so an earlier block
					// was left open and swallowed a '}' (the seed's
					// case): say so, keepalived does not.
					w.d.Errorf(t.Pos, "stray '}' at top level: an extra closing brace, ignored")
				}
				continue
			}
			w.open = w.open[:len(w.open)-1]
			w.closed = t.Pos
			return
		}
		if t.Brace == '{' {
			w.i++
			w.depth++
			w.d.Errorf(t.Pos, "Unexpected '{' - ignoring")
			continue
		}
		s, ok := w.nextStmt()
		if !ok {
			continue
		}
		if list != nil {
			list(w, s)
			continue
		}
		kw, known := tbl[s.Kw]
		if !known {
			w.d.Errorf(s.Pos, "Unknown keyword '%s'", s.Kw)
			if _, isTop := topTable()[s.Kw]; isTop && len(w.open) > 0 {
				// The classic mistake (the seed has it): a block
				// left open swallows the next top-level section.
				o := w.open[len(w.open)-1]
				w.d.Errorf(s.Pos, "'%s' inside '%s' opened at line %d: that block is probably missing its '}'", s.Kw, strings.TrimSpace(o.Kw+" "+o.joinArgs()), o.Pos.Line)
			}
			// keepalived does not treat the unknown keyword's '{' as a
			// block: the next lines belong to the current block.
			continue
		}
		if kw.handle != nil {
			kw.handle(w, s)
		}
		w.noteScript(s)
		if kw.sub == nil && kw.list == nil {
			continue
		}
		if !w.peekBrace('{') {
			// keepalived accepts a block keyword without a block for
			// a few list keywords written on one line; report others.
			w.d.Errorf(s.Pos, "Missing '{' at end of line for '%s'", s.Kw)
			continue
		}
		w.i++
		w.depth++
		w.open = append(w.open, s)
		var sub table
		if kw.sub != nil {
			sub = kw.sub(w)
		}
		w.block(sub, kw.list, false)
		if kw.end != nil {
			kw.end(w)
		}
	}
	if !top {
		w.d.Errorf(Pos{}, "Missing '}' at end of configuration")
	}
}

// joinArgs returns the statement's arguments as one string.
func (s stmt) joinArgs() string { return strings.Join(s.Args, " ") }

// scriptWords returns the statement's arguments with the quoting of the
// first one, for notify-type keywords.
func (s stmt) scriptWords() ScriptWords {
	sw := ScriptWords{Words: append([]string(nil), s.Args...)}
	if len(s.Quoted) > 0 {
		sw.Quoted = s.Quoted[0]
	}
	return sw
}
