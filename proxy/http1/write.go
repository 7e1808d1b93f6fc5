package http1

import (
	"bufio"
	"io"
	"strconv"
)

// writeName writes a header name lower-cased: HAProxy 2.6 forwards every
// header name in lower case on HTTP/1 (measured).
func writeName(w *bufio.Writer, name string) {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		w.WriteByte(c)
	}
}

// WriteFields writes the header fields, names lower-cased, without the
// final empty line.
func (h Header) WriteFields(w *bufio.Writer) {
	for _, f := range h {
		writeName(w, f.Name)
		w.WriteString(": ")
		w.WriteString(f.Value)
		w.WriteString("\r\n")
	}
}

// WriteHead writes the request line and the header fields, followed by a
// Connection header when conn is not empty, and the empty line.
func (req *Request) WriteHead(w *bufio.Writer, conn string) error {
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(req.Target)
	if req.Minor == 0 {
		w.WriteString(" HTTP/1.0\r\n")
	} else {
		w.WriteString(" HTTP/1.1\r\n")
	}
	req.Header.WriteFields(w)
	if conn != "" {
		w.WriteString("connection: ")
		w.WriteString(conn)
		w.WriteString("\r\n")
	}
	_, err := w.WriteString("\r\n")
	return err
}

// WriteHead writes the status line (always HTTP/1.1, as HAProxy does), the
// header fields, an optional Connection header and the empty line.
func (resp *Response) WriteHead(w *bufio.Writer, conn string) error {
	w.WriteString("HTTP/1.1 ")
	w.WriteByte(byte('0' + resp.Status/100%10))
	w.WriteByte(byte('0' + resp.Status/10%10))
	w.WriteByte(byte('0' + resp.Status%10))
	w.WriteByte(' ')
	w.WriteString(resp.Reason)
	w.WriteString("\r\n")
	resp.Header.WriteFields(w)
	if conn != "" {
		w.WriteString("connection: ")
		w.WriteString(conn)
		w.WriteString("\r\n")
	}
	_, err := w.WriteString("\r\n")
	return err
}

// CopyBody streams a body framed by f from src to dst without holding it
// whole: Content-Length bodies are copied by count, chunked bodies are
// re-chunked chunk by chunk (extensions dropped, trailers forwarded), and
// Length -1 copies until src ends. It returns the body bytes copied (chunk
// payloads only for chunked bodies) and flushes dst at the end.
func CopyBody(dst *bufio.Writer, src *bufio.Reader, f Framing) (int64, error) {
	var n int64
	var err error
	switch {
	case f.Chunked:
		n, err = copyChunked(dst, src)
	case f.Length > 0:
		n, err = copyN(dst, src, f.Length)
	case f.Length < 0:
		n, err = io.Copy(dst, src)
	}
	if err != nil {
		return n, err
	}
	return n, dst.Flush()
}

// maxCoalesce bounds how many payload bytes of chunks already received
// are merged into one output chunk, as HAProxy re-chunks what its buffer
// holds.
const maxCoalesce = 16384

func copyChunked(dst *bufio.Writer, src *bufio.Reader) (int64, error) {
	var total int64
	var pend []byte // payload of complete chunks merged into one
	flushPend := func() {
		if len(pend) > 0 {
			writeChunkHead(dst, int64(len(pend)))
			dst.Write(pend)
			dst.WriteString("\r\n")
			pend = pend[:0]
		}
	}
	for {
		line, err := readLine(src)
		if err != nil {
			return total, err
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return total, ErrBadChunk
		}
		if size == 0 {
			flushPend()
			dst.WriteString("0\r\n")
			// Trailers up to the empty line, names lower-cased.
			for {
				line, err := readLine(src)
				if err != nil {
					return total, err
				}
				if i := indexByte(line, ':'); i > 0 {
					writeName(dst, string(line[:i]))
					dst.Write(line[i:])
				} else {
					dst.Write(line)
				}
				dst.WriteString("\r\n")
				if len(line) == 0 {
					return total, nil
				}
			}
		}
		if int64(src.Buffered()) >= size+2 && int64(len(pend))+size <= maxCoalesce {
			// The whole chunk is here: merge it.
			b, _ := src.Peek(int(size) + 2)
			if b[size] == '\r' && b[size+1] == '\n' {
				pend = append(pend, b[:size]...)
				src.Discard(int(size) + 2)
				total += size
				if src.Buffered() == 0 {
					// Nothing more in hand: stream what we have.
					flushPend()
					if err := dst.Flush(); err != nil {
						return total, err
					}
				}
				continue
			}
			if b[size] != '\n' {
				return total, ErrBadChunk
			}
		}
		flushPend()
		writeChunkHead(dst, size)
		m, err := copyN(dst, src, size)
		total += m
		if err != nil {
			return total, err
		}
		line, err = readLine(src)
		if err != nil {
			return total, err
		}
		if len(line) != 0 {
			return total, ErrBadChunk
		}
		dst.WriteString("\r\n")
		if src.Buffered() == 0 {
			// Nothing more in hand: push what we have so a streaming
			// peer sees each chunk.
			if err := dst.Flush(); err != nil {
				return total, err
			}
		}
	}
}

func writeChunkHead(dst *bufio.Writer, size int64) {
	// Upper-case hex, as HAProxy writes chunk sizes.
	var hex [20]byte
	b := strconv.AppendInt(hex[:0], size, 16)
	for i, c := range b {
		if c >= 'a' {
			b[i] = c - 'a' + 'A'
		}
	}
	dst.Write(b)
	dst.WriteString("\r\n")
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// readLine returns one line without its LF or CRLF, refusing lines longer
// than the reader's buffer.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err == bufio.ErrBufferFull {
			err = ErrBadChunk
		}
		return nil, err
	}
	return trimEOL(line), nil
}

func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto end
		}
		if n > 1<<55 {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
end:
	if i == 0 {
		return 0, false
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	return n, true
}

// copyN copies n bytes through src's buffer without allocating.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return done, err
			}
		}
		k := int64(src.Buffered())
		if k > n-done {
			k = n - done
		}
		b, _ := src.Peek(int(k))
		if _, err := dst.Write(b); err != nil {
			return done, err
		}
		src.Discard(int(k))
		done += k
	}
	return done, nil
}
