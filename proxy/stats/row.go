package stats

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Row is one line of the stats CSV: one string per column, empty where
// HAProxy leaves the field empty for this kind of row. Index it with the
// F* constants.
type Row [NumFields]string

// Row types (column "type").
const (
	TypeFrontend = 0
	TypeBackend  = 1
	TypeServer   = 2
	TypeListener = 3
)

// SetInt stores an integer field.
func (r *Row) SetInt(f int, v int64) { r[f] = strconv.FormatInt(v, 10) }

// Int returns an integer field, or 0 when empty or not a number.
func (r *Row) Int(f int) int64 {
	v, _ := strconv.ParseInt(r[f], 10, 64)
	return v
}

// Header is the CSV header line HAProxy 2.6 writes, with its trailing
// comma and newline.
var Header = func() string {
	var b strings.Builder
	b.WriteString("# ")
	for _, n := range FieldNames {
		b.WriteString(n)
		b.WriteByte(',')
	}
	b.WriteByte('\n')
	return b.String()
}()

// WriteCSV writes the header and the rows as HAProxy does: every field,
// the last included, is followed by a comma. Values containing a comma,
// quote or line break are quoted, quotes doubled.
func WriteCSV(w io.Writer, rows []Row) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(Header)
	for i := range rows {
		for _, v := range rows[i] {
			writeCSVField(bw, v)
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func writeCSVField(w *bufio.Writer, v string) {
	if !strings.ContainsAny(v, ",\"\r\n") {
		w.WriteString(v)
		return
	}
	w.WriteByte('"')
	w.WriteString(strings.ReplaceAll(v, `"`, `""`))
	w.WriteByte('"')
}

// ParseCSV reads CSV written by WriteCSV or by HAProxy (tests and tools
// use it to compare). The header line is skipped; blank lines end it.
func ParseCSV(r io.Reader) ([]Row, error) {
	var rows []Row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if line == "" {
			break
		}
		var row Row
		i := 0
		for f := 0; f < NumFields && i <= len(line); f++ {
			if i < len(line) && line[i] == '"' {
				var b strings.Builder
				i++
				for i < len(line) {
					if line[i] == '"' {
						if i+1 < len(line) && line[i+1] == '"' {
							b.WriteByte('"')
							i += 2
							continue
						}
						i++
						break
					}
					b.WriteByte(line[i])
					i++
				}
				row[f] = b.String()
				i++ // comma
				continue
			}
			j := strings.IndexByte(line[i:], ',')
			if j < 0 {
				row[f] = line[i:]
				i = len(line) + 1
				continue
			}
			row[f] = line[i : i+j]
			i += j + 1
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}
