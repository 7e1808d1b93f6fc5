package checks

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTLSChecks(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("fine"))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failing handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	insecure := &tls.Config{InsecureSkipVerify: true} // HAProxy's `verify none`
	tests := []struct {
		name string
		c    Checker
		want Status
		code int
	}{
		{"check-ssl handshake", &TCP{Addr: addr, TLS: insecure}, StatusL6OK, 0},
		{"check-ssl verify fails", &TCP{Addr: addr, TLS: &tls.Config{ServerName: "example.com"}}, StatusL6RSP, 0},
		{"https ok", &HTTP{Addr: addr, TLS: insecure, Request: LegacyHTTPCheck("GET", "/ok", "HTTP/1.1\r\nHost: x")}, StatusL7OK, 200},
		{"https 404", &HTTP{Addr: addr, TLS: insecure, Request: KeepalivedHTTPGet("/missing", addr, "1.0")}, StatusL7STS, 404},
		{"plain http to a TLS port", &HTTP{Addr: addr, Request: LegacyHTTPCheck("GET", "/ok", "")}, StatusL7STS, 400},
	}
	for _, tt := range tests {
		r := Run(t.Context(), tt.c, 3*time.Second)
		if r.Status != tt.want || r.Code != tt.code {
			t.Errorf("%s: %v %d %q, want %v %d", tt.name, r.Status, r.Code, r.Info, tt.want, tt.code)
		}
	}
}
