package checks

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"time"
)

// MySQL is HAProxy's `option mysql-check [user <name> [post-41]]`: it
// reads the server's greeting; without User a protocol-10 handshake
// passes (L7OK, code 0, no info, as HAProxy 2.6 reports it). With User it logs in with an
// empty password (4.1 protocol unless Pre41) and requires an OK packet,
// then sends COM_QUIT. An error packet is L7STS with the MySQL error
// number as code and its raw message as info (with the SQL state:
// "#HY000Too many connections", measured on HAProxy 2.6).
type MySQL struct {
	Addr           string
	ConnectTimeout time.Duration
	User           string
	// Pre41 sends the pre-4.1 login packet (`pre-41`; post-41 is
	// HAProxy's default).
	Pre41 bool
}

// Check runs the exchange.
func (c *MySQL) Check(ctx context.Context) Result {
	conn, fail := dial(ctx, c.Addr, c.ConnectTimeout, nil)
	if fail != nil {
		return *fail
	}
	defer conn.Close()
	defer watch(ctx, conn)()
	setDeadline(ctx, conn)
	seq, greet, r, ok := mysqlPacket(conn)
	if !ok {
		return r
	}
	if len(greet) < 2 || greet[0] != 10 {
		return Result{Status: StatusL7RSP, Info: "Unsupported MySQL protocol"}
	}
	if c.User == "" {
		return Result{Status: StatusL7OK}
	}
	var login []byte
	if c.Pre41 {
		// client flags SECURE_CONNECTION (2), max packet (3), user NUL,
		// empty password NUL (HAProxy 2.6's pre-41 packet)
		login = []byte{0x00, 0x80, 0x00, 0x00, 0x01}
	} else {
		// client flags PROTOCOL_41|SECURE_CONNECTION (4), max packet (4),
		// charset utf8 (1), 23 zero bytes: HAProxy 2.6's packet, byte for
		// byte (TestMySQLLoginMatchesHAProxy).
		login = make([]byte, 32)
		binary.LittleEndian.PutUint32(login, 0x00008200)
		binary.LittleEndian.PutUint32(login[4:], 0x01008000)
		login[8] = 0x21
	}
	login = append(login, c.User...)
	login = append(login, 0, 0) // NUL after the user, empty password
	if err := writeMySQL(conn, seq+1, login); err != nil {
		return ioFailure(err, StatusL7TOUT, StatusL7RSP)
	}
	_, reply, r, ok := mysqlPacket(conn)
	if !ok {
		return r
	}
	if len(reply) == 0 || reply[0] != 0 {
		return Result{Status: StatusL7RSP, Info: "Unexpected MySQL reply"}
	}
	writeMySQL(conn, 0, []byte{0x01}) // COM_QUIT
	return Result{Status: StatusL7OK}
}

// mysqlPacket reads one packet; an error packet becomes an L7STS result.
func mysqlPacket(conn net.Conn) (seq byte, payload []byte, r Result, ok bool) {
	var h [4]byte
	if _, err := io.ReadFull(conn, h[:]); err != nil {
		return 0, nil, ioFailure(err, StatusL7TOUT, StatusL7RSP), false
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	if n > 1<<16 {
		return 0, nil, Result{Status: StatusL7RSP, Info: "MySQL packet too large"}, false
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(conn, payload); err != nil {
		return 0, nil, ioFailure(err, StatusL7TOUT, StatusL7RSP), false
	}
	if n >= 3 && payload[0] == 0xff {
		code := int(binary.LittleEndian.Uint16(payload[1:3]))
		// HAProxy 2.6 keeps the 4.1 SQL state in the info: "#HY000Too many connections".
		return 0, nil, Result{Status: StatusL7STS, Code: code, Info: string(payload[3:])}, false
	}
	return h[3], payload, Result{}, true
}

func writeMySQL(conn net.Conn, seq byte, payload []byte) error {
	p := make([]byte, 4, 4+len(payload))
	p[0], p[1], p[2], p[3] = byte(len(payload)), byte(len(payload)>>8), byte(len(payload)>>16), seq
	_, err := conn.Write(append(p, payload...))
	return err
}
