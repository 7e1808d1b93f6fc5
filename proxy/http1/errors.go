package http1

import "strconv"

// ErrorMessage returns HAProxy 2.6's built-in response for status as it
// leaves the proxy when a rule or the stream produces it (deny, 502, 503,
// 504...): lower-case header names, `connection: close` only on 400 and
// 408. It returns nil for a status HAProxy has no built-in page for.
func ErrorMessage(status int) []byte {
	t, ok := errorTexts[status]
	if !ok {
		return nil
	}
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, t.reason...)
	b = append(b, "\r\ncontent-length: "...)
	b = strconv.AppendInt(b, int64(len(t.body)), 10)
	b = append(b, "\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n"...)
	if status == 400 || status == 408 {
		b = append(b, "connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, t.body...)
}

// ParseErrorMessage returns the response HAProxy's HTTP/1 layer sends when
// it refuses a request head itself (malformed request 400, 422, or
// timeout http-request 408): the stored text as written, with its original
// header case.
func ParseErrorMessage(status int) []byte {
	t, ok := errorTexts[status]
	if !ok {
		return nil
	}
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, t.reason...)
	b = append(b, "\r\nContent-length: "...)
	b = strconv.AppendInt(b, int64(len(t.body)), 10)
	b = append(b, "\r\nCache-Control: no-cache\r\n"...)
	if status == 400 || status == 408 {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "Content-Type: text/html\r\n\r\n"...)
	return append(b, t.body...)
}

// ReasonPhrase returns HAProxy's reason phrase for status.
func ReasonPhrase(status int) string {
	if t, ok := errorTexts[status]; ok {
		return t.reason
	}
	switch status {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	}
	return "Unknown"
}
