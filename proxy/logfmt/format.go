package logfmt

import (
	"fmt"
	"strconv"
	"strings"
)

// The built-in format strings of HAProxy 2.6 (see "option tcplog",
// "option httplog" and "option httplog clf" in configuration.txt).
const (
	TCPLogFormat  = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
	HTTPLogFormat = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
	CLFLogFormat  = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl"
)

// kind is what one node of a compiled format prints.
type kind uint8

const (
	kSep kind = iota // a run of spaces: one space, never two in a row
	kText
	kCI
	kCP
	kFI
	kFP
	kBI
	kBP
	kSI
	kSP
	kDate        // %t
	kDateReq     // %tr
	kDateGMT     // %T
	kDateReqGMT  // %trg
	kDateLoc     // %Tl
	kDateReqLoc  // %trl
	kTs          // %Ts
	kMs          // %ms
	kF           // %f
	kFT          // %ft
	kB           // %b
	kS           // %s
	kTh          // %Th
	kTi          // %Ti
	kTR          // %TR
	kTq          // %Tq
	kTw          // %Tw
	kTc          // %Tc
	kTr          // %Tr
	kTd          // %Td
	kTa          // %Ta
	kTt          // %Tt
	kTu          // %Tu
	kST          // %ST
	kBytes       // %B
	kBytesUp     // %U
	kCC          // %CC
	kCS          // %CS
	kTermState   // %ts
	kTermStateCk // %tsc
	kAC          // %ac
	kFC          // %fc
	kBC          // %bc
	kSC          // %sc
	kRC          // %rc
	kSQ          // %sq
	kBQ          // %bq
	kHR          // %hr
	kHS          // %hs
	kHRL         // %hrl
	kHSL         // %hsl
	kReq         // %r
	kHM          // %HM
	kHU          // %HU
	kHP          // %HP
	kHPO         // %HPO
	kHQ          // %HQ
	kHV          // %HV
	kRT          // %rt
	kLC          // %lc
	kHost        // %H
	kPID         // %pid
	kID          // %ID
	kNoSSL       // %sslc, %sslv: no TLS here, always empty
	kExpr        // %[fetch]
	kGlobal      // %o: options for the nodes that follow
)

var varNames = map[string]kind{
	"ci": kCI, "cp": kCP, "fi": kFI, "fp": kFP, "bi": kBI, "bp": kBP, "si": kSI, "sp": kSP,
	"t": kDate, "tr": kDateReq, "T": kDateGMT, "trg": kDateReqGMT, "Tl": kDateLoc, "trl": kDateReqLoc,
	"Ts": kTs, "ms": kMs, "f": kF, "ft": kFT, "b": kB, "s": kS,
	"Th": kTh, "Ti": kTi, "TR": kTR, "Tq": kTq, "Tw": kTw, "Tc": kTc, "Tr": kTr, "Td": kTd,
	"Ta": kTa, "Tt": kTt, "Tu": kTu, "ST": kST, "B": kBytes, "U": kBytesUp, "CC": kCC, "CS": kCS,
	"ts": kTermState, "tsc": kTermStateCk, "ac": kAC, "fc": kFC, "bc": kBC, "sc": kSC, "rc": kRC,
	"sq": kSQ, "bq": kBQ, "hr": kHR, "hs": kHS, "hrl": kHRL, "hsl": kHSL, "r": kReq,
	"HM": kHM, "HU": kHU, "HP": kHP, "HPO": kHPO, "HQ": kHQ, "HV": kHV, "rt": kRT, "lc": kLC,
	"H": kHost, "pid": kPID, "ID": kID, "sslc": kNoSSL, "sslv": kNoSSL, "o": kGlobal,
}

// Node options, set with %{+Q,-X,...}.
const (
	optQuote = 1 << iota // +Q: quote strings
	optHex               // +X: hexadecimal numbers and addresses
	optEsc               // +E: backslash-escape '"', '\' and ']'
)

type node struct {
	kind kind
	opts uint8
	text string // literal text, or the fetch of a %[...]
	arg  int    // capture index of a fetch
}

// Format is a compiled log-format string. It is immutable and safe for
// concurrent use.
type Format struct {
	src   string
	nodes []node
}

// String returns the source string the format was compiled from.
func (f *Format) String() string { return f.src }

// TCPLog returns the format of `option tcplog`.
func TCPLog() *Format { return mustCompile(TCPLogFormat) }

// HTTPLog returns the format of `option httplog`.
func HTTPLog() *Format { return mustCompile(HTTPLogFormat) }

// CLFLog returns the format of `option httplog clf`.
func CLFLog() *Format { return mustCompile(CLFLogFormat) }

func mustCompile(s string) *Format {
	f, err := Compile(s)
	if err != nil {
		// The built-in strings are constants covered by tests.
		panic("logfmt: built-in format: " + err.Error())
	}
	return f
}

// Compile parses a log-format string as HAProxy does: runs of spaces become
// a single separator that is not repeated after empty fields, `%%` is a
// literal percent, `%{flags}name` a variable, `%[fetch]` a sample fetch.
// Unknown variables and fetches are errors, as in HAProxy.
func Compile(s string) (*Format, error) {
	f := &Format{src: s}
	var defOpts uint8
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			f.nodes = append(f.nodes, node{kind: kText, text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			flush()
			for i < len(s) && s[i] == ' ' {
				i++
			}
			f.nodes = append(f.nodes, node{kind: kSep})
		case c == '%' && i+1 < len(s) && s[i+1] == '%':
			text.WriteByte('%')
			i += 2
		case c == '%':
			flush()
			i++
			opts := defOpts
			if i < len(s) && s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("log-format %q: missing '}' at column %d", s, i+1)
				}
				var err error
				opts, err = parseFlags(s[i+1:i+end], opts)
				if err != nil {
					return nil, fmt.Errorf("log-format %q: %w", s, err)
				}
				i += end + 1
			}
			if i < len(s) && s[i] == '[' {
				end := strings.IndexByte(s[i:], ']')
				if end < 0 {
					return nil, fmt.Errorf("log-format %q: missing ']' at column %d", s, i+1)
				}
				n, err := compileFetch(s[i+1 : i+end])
				if err != nil {
					return nil, fmt.Errorf("log-format %q: %w", s, err)
				}
				n.opts = opts
				f.nodes = append(f.nodes, n)
				i += end + 1
				continue
			}
			j := i
			for j < len(s) && isAlnum(s[j]) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("log-format %q: unexpected character at column %d after '%%'", s, i+1)
			}
			k, ok := varNames[s[i:j]]
			if !ok {
				return nil, fmt.Errorf("log-format %q: no such format variable '%s'", s, s[i:j])
			}
			if k == kGlobal {
				defOpts = opts
			} else {
				f.nodes = append(f.nodes, node{kind: k, opts: opts})
			}
			i = j
		default:
			text.WriteByte(c)
			i++
		}
	}
	flush()
	return f, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// parseFlags applies "+Q,-X,+E" to opts.
func parseFlags(s string, opts uint8) (uint8, error) {
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		if len(f) < 2 || (f[0] != '+' && f[0] != '-') {
			return 0, fmt.Errorf("invalid flag %q", f)
		}
		var bit uint8
		switch f[1:] {
		case "Q":
			bit = optQuote
		case "X":
			bit = optHex
		case "E":
			bit = optEsc
		case "M":
			continue // mandatory: always on here, as in HAProxy's defaults
		default:
			return 0, fmt.Errorf("unknown flag %q", f)
		}
		if f[0] == '+' {
			opts |= bit
		} else {
			opts &^= bit
		}
	}
	return opts, nil
}

// The sample fetches a log-format may use: those answered from a Record.
const (
	fSrc = iota
	fSrcPort
	fDst
	fDstPort
	fFeName
	fBeName
	fSrvName
	fStatus
	fMethod
	fPath
	fQuery
	fURL
	fUniqueID
	fReqHdr
	fResHdr
	fReqMethod
	fReqURI
	fReqVer
)

var fetchNames = map[string]int{
	"src": fSrc, "src_port": fSrcPort, "dst": fDst, "dst_port": fDstPort,
	"fe_name": fFeName, "be_name": fBeName, "srv_name": fSrvName, "status": fStatus,
	"method": fMethod, "path": fPath, "query": fQuery, "url": fURL, "unique-id": fUniqueID,
	"capture.req.method": fReqMethod, "capture.req.uri": fReqURI, "capture.req.ver": fReqVer,
}

func compileFetch(expr string) (node, error) {
	name, arg, hasArg := strings.Cut(expr, "(")
	if strings.ContainsAny(expr, ", ") {
		return node{}, fmt.Errorf("sample %q: converters are not supported", expr)
	}
	n := node{kind: kExpr, text: name}
	if hasArg {
		arg, ok := strings.CutSuffix(arg, ")")
		idx, err := strconv.Atoi(arg)
		if !ok || err != nil || idx < 0 {
			return node{}, fmt.Errorf("sample %q: invalid argument", expr)
		}
		switch name {
		case "capture.req.hdr":
			n.arg = fReqHdr<<16 | idx
		case "capture.res.hdr":
			n.arg = fResHdr<<16 | idx
		default:
			return node{}, fmt.Errorf("unknown fetch method '%s'", name)
		}
		return n, nil
	}
	f, ok := fetchNames[name]
	if !ok {
		return node{}, fmt.Errorf("unknown fetch method '%s'", name)
	}
	n.arg = f << 16
	return n, nil
}
