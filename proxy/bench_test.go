package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
)

// fastBackend answers every request head (GET, no body) with a fixed
// 200 response, without allocating per request.
func fastBackend(b *testing.B) string {
	addr := freeAddr(b)
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					// Read up to the empty line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return addr
}

func benchProxy(b *testing.B, mode string) string {
	srv := fastBackend(b)
	fe := freeAddr(b)
	startProxy(b, `
defaults
  mode `+mode+`
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  option forwardfor
frontend f
  bind `+fe+`
  default_backend be
backend be
  server s1 `+srv+`
`, Options{})
	return fe
}

// BenchmarkHTTPProxy measures one keep-alive request/response through the
// proxy (client, proxy and backend on loopback in this process).
func BenchmarkHTTPProxy(b *testing.B) {
	fe := benchProxy(b, "http")
	c, err := net.Dial("tcp", fe)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /index.html HTTP/1.1\r\nHost: test.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReader(c)
	want := []byte("ok")
	body := make([]byte, 2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		// Skip the head, read the 2-byte body.
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) <= 2 {
				break
			}
		}
		if _, err := io.ReadFull(br, body); err != nil || !bytes.Equal(body, want) {
			b.Fatalf("body %q %v", body, err)
		}
	}
}

// BenchmarkHTTPProxyNewConn measures a request on a new client connection
// each time.
func BenchmarkHTTPProxyNewConn(b *testing.B) {
	fe := benchProxy(b, "http")
	req := []byte("GET / HTTP/1.1\r\nHost: test.com\r\nConnection: close\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", fe)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(req)
		if _, err := io.ReadAll(c); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
