package checks

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseTCPCheckRuleErrors(t *testing.T) {
	for _, bad := range []string{"", "send", "send-binary zz", "expect", "expect string", "expect regex x",
		"expect rstring (", "connect port", "connect port 99999", "frobnicate"} {
		if _, err := ParseTCPCheckRule(strings.Fields(bad)); err == nil {
			t.Errorf("ParseTCPCheckRule(%q) accepted", bad)
		}
	}
}

func TestTCPCheckSequences(t *testing.T) {
	// Port override: the server address points at a closed port, the
	// connect rule at the real one.
	redis := serve(t, dialogue("", "$20\r\nrole:master\r\nfoo:bar\r\n", "+OK\r\n"))
	_, port, _ := net.SplitHostPort(redis)
	closed := closedPort(t)
	eof := serve(t, func(c net.Conn) { io.WriteString(c, "-ERR nope\r\n") }) // answers then closes
	tests := []struct {
		name  string
		addr  string
		rules [][]string
		want  Result
	}{
		{"redis role via connect port", closed, [][]string{
			{"connect", "port", port},
			{"send", "INFO replication\r\n"},
			{"expect", "string", "role:master"},
			{"send", "QUIT\r\n"},
			{"expect", "string", "+OK"},
		}, Result{Status: StatusL7OK, Info: "(tcp-check)"}},
		{"rstring and rbinary", redis, [][]string{
			{"send", "INFO\r\n"},
			{"expect", "rstring", "role:(master|slave)"},
			{"expect", "rbinary", "666F6F"}, // "foo"
		}, Result{Status: StatusL7OK, Info: "(tcp-check)"}},
		{"only connect", redis, [][]string{{"connect"}}, Result{Status: StatusL4OK}},
		{"mismatch then close is L7RSP", eof, [][]string{
			{"comment", "role check"},
			{"expect", "string", "+PONG"},
		}, Result{Status: StatusL7RSP, Info: "TCPCHK did not match content '+PONG' at step 2 comment: 'role check'"}},
		{"explicit connect refused", closed, [][]string{{"connect"}, {"send", "x"}},
			Result{Status: StatusL4CON, Info: "Connection refused at step 1 of tcp-check (connect)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(t.Context(), &TCPCheck{Addr: tt.addr, Steps: steps(t, tt.rules...)}, 2*time.Second)
			if r.Status != tt.want.Status || r.Info != tt.want.Info {
				t.Fatalf("got %v %q, want %v %q", r.Status, r.Info, tt.want.Status, tt.want.Info)
			}
		})
	}
}
