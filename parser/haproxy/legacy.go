package haproxy

import (
	"regexp"
	"strings"
)

// legacyKeywords maps HAProxy 1.x proxy keywords that HAProxy 2.x refuses
// to their modern form. Each returns the line rewritten (nil Words: the
// line is consumed) and warns naming the modern keyword, so that old
// configurations run unchanged while their owners learn the new syntax.
var legacyKeywords = map[string]func(l *loader, ln Line) Line{
	"contimeout": legacyTimeout("connect"),
	"clitimeout": legacyTimeout("client"),
	"srvtimeout": legacyTimeout("server"),
	"redispatch": func(l *loader, ln Line) Line {
		l.d.Warnf(ln.Pos, "'redispatch' is HAProxy 1.x syntax (refused since 2.1); accepted as 'option redispatch'.")
		return Line{Pos: ln.Pos, Words: []string{"option", "redispatch"}}
	},
	"block": func(l *loader, ln Line) Line {
		l.d.Warnf(ln.Pos, "'block' is HAProxy 1.x syntax (refused since 2.0); accepted as 'http-request deny %s'.", strings.Join(ln.Words[1:], " "))
		return Line{Pos: ln.Pos, Words: append([]string{"http-request", "deny"}, ln.Words[1:]...)}
	},
	"reqadd": legacyAddHeader("http-request"),
	"rspadd": legacyAddHeader("http-response"),
	"reqdel": legacyDelHeader("http-request"), "reqidel": legacyDelHeader("http-request"),
	"rspdel": legacyDelHeader("http-response"), "rspidel": legacyDelHeader("http-response"),
	"reqrep":  legacyUnsupported,
	"reqirep": legacyUnsupported, "reqpass": legacyUnsupported, "reqipass": legacyUnsupported,
	"reqallow": legacyUnsupported, "reqiallow": legacyUnsupported, "reqdeny": legacyUnsupported,
	"reqideny": legacyUnsupported, "reqtarpit": legacyUnsupported, "reqitarpit": legacyUnsupported,
	"reqsetbe": legacyUnsupported, "reqisetbe": legacyUnsupported,
	"rsprep": legacyUnsupported, "rspirep": legacyUnsupported,
	"rspdeny": legacyUnsupported, "rspideny": legacyUnsupported,
	"grace": func(l *loader, ln Line) Line {
		l.d.Warnf(ln.Pos, "'grace' is HAProxy 1.x syntax (removed in 2.5); ignored (goproxy stops gracefully on SIGUSR1, see 'hard-stop-after').")
		return Line{}
	},
	"monitor-net": func(l *loader, ln Line) Line {
		l.d.Warnf(ln.Pos, "'monitor-net' is HAProxy 1.x syntax (removed in 2.4); ignored (the modern form is 'http-request return status 200 if { src %s }').", strings.Join(ln.Words[1:], " "))
		return Line{}
	},
	"appsession": func(l *loader, ln Line) Line {
		l.d.Warnf(ln.Pos, "'appsession' is HAProxy 1.x syntax (removed in 1.6); ignored (the modern form uses stick-table and stick on).")
		return Line{}
	},
}

func legacyTimeout(modern string) func(*loader, Line) Line {
	return func(l *loader, ln Line) Line {
		l.d.Warnf(ln.Pos, "'%s' is HAProxy 1.x syntax (refused since 2.1); accepted as 'timeout %s'.", ln.Words[0], modern)
		return Line{Pos: ln.Pos, Words: append([]string{"timeout", modern}, ln.Words[1:]...)}
	}
}

// legacyAddHeader maps `reqadd "Name: value" [cond]` to
// `http-request add-header Name value [cond]`.
func legacyAddHeader(modern string) func(*loader, Line) Line {
	return func(l *loader, ln Line) Line {
		if len(ln.Words) < 2 {
			l.d.Alertf(ln.Pos, "'%s' expects <header> as an argument.", ln.Words[0])
			return Line{}
		}
		name, val, ok := strings.Cut(ln.Words[1], ":")
		if !ok {
			l.d.Alertf(ln.Pos, "'%s %s' : header line without ':'.", ln.Words[0], ln.Words[1])
			return Line{}
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		l.d.Warnf(ln.Pos, "'%s' is HAProxy 1.x syntax (refused since 2.1); accepted as '%s add-header %s %s'.", ln.Words[0], modern, name, val)
		return Line{Pos: ln.Pos, Words: append([]string{modern, "add-header", name, val}, ln.Words[2:]...)}
	}
}

// legacyUnsupported handles the regex header rewriting keywords of 1.x
// (reqrep and friends), whose line-oriented semantics have no exact
// modern equivalent: refused with the pointer HAProxy gives.
func legacyUnsupported(l *loader, ln Line) Line {
	l.d.Alertf(ln.Pos, "The '%s' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-header' / 'http-request del-header' / 'http-request deny' instead; goproxy does not translate it automatically.", ln.Words[0])
	return Line{}
}

// headerLineRE matches the 1.x regexes that name one whole header line:
// ^Name:, ^Name:.*, ^Name:\ .*, with the name made of token characters.
var headerLineRE = regexp.MustCompile(`^\^([A-Za-z0-9!#$%&'*+.^_|~-]+):(?:\\? ?\.\*)?$`)

// legacyDelHeader maps `reqdel|reqidel|rspdel|rspidel ^Name:.* [cond]` to
// `http-request|http-response del-header Name [cond]` when the regex names
// one header (the common use); other regexes are refused like HAProxy
// does, since their line-oriented meaning has no exact modern equivalent.
func legacyDelHeader(modern string) func(*loader, Line) Line {
	return func(l *loader, ln Line) Line {
		if len(ln.Words) < 2 {
			l.d.Alertf(ln.Pos, "'%s' expects <regex> as an argument.", ln.Words[0])
			return Line{}
		}
		m := headerLineRE.FindStringSubmatch(ln.Words[1])
		if m == nil {
			return legacyUnsupported(l, ln)
		}
		l.d.Warnf(ln.Pos, "'%s' is HAProxy 1.x syntax (refused since 2.1); accepted as '%s del-header %s'.", ln.Words[0], modern, m[1])
		return Line{Pos: ln.Pos, Words: append([]string{modern, "del-header", m[1]}, ln.Words[2:]...)}
	}
}
