// Package http1 reads and writes HTTP/1.x message heads and streams their
// bodies the way HAProxy's H1 multiplexer does. It is shared by the proxy
// engine (forwarding) and by ACL evaluation (sample fetches).
package http1

import "strings"

// Field is one header line as received: the name keeps its original case.
type Field struct {
	Name, Value string
}

// Header is a message's header fields in order. Order and duplicates are
// kept because HAProxy forwards them as received and hdr_cnt counts them.
type Header []Field

// Get returns the first value of name (case-insensitive), or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether at least one field is called name.
func (h Header) Has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Values returns every value of name the way HAProxy's hdr() fetch sees
// them: each occurrence split on commas, with surrounding blanks removed.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h {
		if !strings.EqualFold(f.Name, name) {
			continue
		}
		for _, v := range strings.Split(f.Value, ",") {
			out = append(out, strings.Trim(v, " \t"))
		}
	}
	return out
}

// FullValues returns every occurrence of name unsplit, as HAProxy's
// fhdr()/req.fhdr() fetches see them.
func (h Header) FullValues(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Add appends a field.
func (h *Header) Add(name, value string) {
	*h = append(*h, Field{name, value})
}

// Del removes every field called name.
func (h *Header) Del(name string) {
	out := (*h)[:0]
	for _, f := range *h {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	*h = out
}

// Set replaces every field called name by one field with value.
func (h *Header) Set(name, value string) {
	h.Del(name)
	h.Add(name, value)
}
