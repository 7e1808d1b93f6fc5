package acl

import (
	"encoding/binary"
)

// clientHello is what the tcp-request content fetches read from a TLS
// ClientHello at the start of the request buffer (req.ssl_*).
type clientHello struct {
	version uint16 // client_version
	sni     string
	alpn    []string
}

// parseClientHello decodes the first TLS record of b when it holds a
// complete ClientHello; ok is false otherwise (not TLS, or not all of it
// received yet).
func parseClientHello(b []byte) (h clientHello, ok bool) {
	// Record: type 22, version, length.
	if len(b) < 5 || b[0] != 22 || b[1] != 3 {
		return h, false
	}
	rl := int(binary.BigEndian.Uint16(b[3:5]))
	if len(b) < 5+rl {
		return h, false
	}
	p := b[5 : 5+rl]
	// Handshake: type 1, 24-bit length.
	if len(p) < 4 || p[0] != 1 {
		return h, false
	}
	hl := int(p[1])<<16 | int(p[2])<<8 | int(p[3])
	if len(p) < 4+hl {
		return h, false
	}
	p = p[4 : 4+hl]
	if len(p) < 2+32+1 {
		return h, false
	}
	h.version = binary.BigEndian.Uint16(p)
	p = p[34:]
	skip := func(lenBytes int) bool {
		if len(p) < lenBytes {
			return false
		}
		n := 0
		for i := range lenBytes {
			n = n<<8 | int(p[i])
		}
		if len(p) < lenBytes+n {
			return false
		}
		p = p[lenBytes+n:]
		return true
	}
	if !skip(1) || !skip(2) || !skip(1) { // session id, cipher suites, compression
		return h, false
	}
	if len(p) < 2 {
		return h, true // no extensions
	}
	el := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if len(p) < el {
		return h, false
	}
	p = p[:el]
	for len(p) >= 4 {
		typ := binary.BigEndian.Uint16(p)
		n := int(binary.BigEndian.Uint16(p[2:]))
		if len(p) < 4+n {
			return h, false
		}
		d := p[4 : 4+n]
		p = p[4+n:]
		switch typ {
		case 0: // server_name
			if len(d) < 2 {
				continue
			}
			d = d[2:]
			for len(d) >= 3 {
				nl := int(binary.BigEndian.Uint16(d[1:]))
				if len(d) < 3+nl {
					break
				}
				if d[0] == 0 && h.sni == "" {
					h.sni = string(d[3 : 3+nl])
				}
				d = d[3+nl:]
			}
		case 16: // application_layer_protocol_negotiation
			if len(d) < 2 {
				continue
			}
			d = d[2:]
			for len(d) >= 1 {
				nl := int(d[0])
				if len(d) < 1+nl {
					break
				}
				h.alpn = append(h.alpn, string(d[1:1+nl]))
				d = d[1+nl:]
			}
		}
	}
	return h, true
}
