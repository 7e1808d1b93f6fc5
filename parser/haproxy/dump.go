package haproxy

import (
	"io"
	"strings"

	"hapair/internal/dump"
)

// Dump writes the typed configuration in a stable, line-oriented text form
// for golden files and inspection: one `path = value` line per non-zero
// field, with maps sorted.
func Dump(w io.Writer, c *Config) { dump.Write(w, c) }

// String returns the dump as a string.
func (c *Config) String() string {
	var b strings.Builder
	Dump(&b, c)
	return b.String()
}
