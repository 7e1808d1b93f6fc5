// Package mail sends the plain SMTP alerts keepalived sends when a VRRP
// instance or a real server changes state: one short exchange per alert
// (HELO, MAIL FROM, RCPT TO, DATA, QUIT), with keepalived's headers,
// subjects and bodies, so that the filters operators wrote for keepalived's
// mails keep matching.
package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Server says where and how alerts are sent (global_defs' smtp_server,
// smtp_helo_name, notification_email_from, smtp_connect_timeout).
type Server struct {
	Addr     string        // host or IP
	Port     int           // default 25
	HeloName string        // default: the local host name
	From     string        // default keepalived@<host name>
	Timeout  time.Duration // connect and per-reply timeout, default 30s
}

// Message is one alert.
type Message struct {
	To      []string
	Subject string
	Body    string
	Date    time.Time
}

// Send delivers m through s. It gives up at the first unexpected reply,
// returning an error that names the command.
func (s Server) Send(ctx context.Context, m Message) error {
	if len(m.To) == 0 {
		return errors.New("mail: no recipient")
	}
	port := s.Port
	if port == 0 {
		port = 25
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(s.Addr, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("mail: connecting to %s: %w", s.Addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	tp := textproto.NewConn(c)
	step := func(code int, format string, args ...any) error {
		c.SetDeadline(time.Now().Add(timeout))
		if format != "" {
			if err := tp.PrintfLine(format, args...); err != nil {
				return fmt.Errorf("mail: sending %q: %w", strings.Fields(format)[0], err)
			}
		}
		if _, _, err := tp.ReadResponse(code); err != nil {
			what := "greeting"
			if format != "" {
				what = strings.Fields(format)[0]
			}
			return fmt.Errorf("mail: %s: %w", what, err)
		}
		return nil
	}
	helo := s.HeloName
	if helo == "" {
		helo = hostname()
	}
	from := s.From
	if from == "" {
		from = "keepalived@" + hostname()
	}
	if err := step(220, ""); err != nil {
		return err
	}
	if err := step(250, "HELO %s", helo); err != nil {
		return err
	}
	if err := step(250, "MAIL FROM:<%s>", from); err != nil {
		return err
	}
	for _, to := range m.To {
		if err := step(250, "RCPT TO:<%s>", to); err != nil {
			return err
		}
	}
	if err := step(354, "DATA"); err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(timeout))
	w := bufio.NewWriter(c)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	fmt.Fprintf(w, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(w, "From: %s\r\n", from)
	fmt.Fprintf(w, "Subject: %s\r\n", m.Subject)
	fmt.Fprintf(w, "X-Mailer: Keepalived\r\n")
	fmt.Fprintf(w, "To: %s\r\n", strings.Join(m.To, ", "))
	fmt.Fprintf(w, "\r\n")
	for _, line := range strings.Split(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(line, ".") {
			line = "." + line // dot-stuffing (RFC 5321 4.5.2)
		}
		fmt.Fprintf(w, "%s\r\n", line)
	}
	fmt.Fprintf(w, ".\r\n")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("mail: sending the message: %w", err)
	}
	if err := step(250, ""); err != nil {
		return fmt.Errorf("mail: message refused: %w", err)
	}
	// The message is accepted; a failing QUIT does not matter.
	step(221, "QUIT")
	return nil
}

// VRRPSubject is keepalived's subject for a VRRP instance or group change:
// kind is "Instance" or "Group"; state is MASTER, BACKUP, FAULT, STOP.
func VRRPSubject(routerID, kind, name, state string) string {
	switch state {
	case "STOP":
		return fmt.Sprintf("[%s] VRRP %s %s - Stopping", routerID, kind, name)
	case "DELETED":
		return fmt.Sprintf("[%s] VRRP %s %s - Deleted", routerID, kind, name)
	}
	return fmt.Sprintf("[%s] VRRP %s %s - Entering %s state", routerID, kind, name, state)
}

// VRRPBody is keepalived's body for a VRRP state change.
func VRRPBody(state string) string {
	switch state {
	case "MASTER":
		return "=> VRRP Instance is now owning VRRP VIPs <="
	case "STOP":
		return "=> VRRP Instance stopping <="
	}
	return "=> VRRP Instance is no longer owning VRRP VIPs <="
}

// VRRPGroupBody is keepalived's body for a vrrp_sync_group state change
// (the instance variant is VRRPBody); state is MASTER, BACKUP, FAULT or
// STOP.
func VRRPGroupBody(state string) string {
	if state == "STOP" {
		return "=> All VRRP group instances are now stopping <="
	}
	return "=> All VRRP group instances are now in " + state + " state <="
}

// RealServerSubject is keepalived's subject when a real server of an LVS
// virtual server goes UP or DOWN.
func RealServerSubject(routerID, rs, vs, state string) string {
	return fmt.Sprintf("[%s] Realserver %s of virtual server %s - %s", routerID, rs, vs, state)
}

func hostname() string {
	h, err := osHostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
