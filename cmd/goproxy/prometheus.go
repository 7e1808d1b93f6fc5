package main

import (
	"bytes"
	"fmt"
	"strings"

	"hapair/parser/haproxy"
	"hapair/proxy"
	"hapair/proxy/stats/prom"
)

// prometheusService is the name of HAProxy's exporter service in
// `http-request use-service prometheus-exporter`.
const prometheusService = "prometheus-exporter"

// usesPrometheus reports whether a proxy of cfg routes requests to the
// exporter service.
func usesPrometheus(cfg *haproxy.Config) bool {
	for _, pc := range cfg.Proxies {
		for _, r := range pc.HTTPRequest {
			if r.Action == "use-service" && len(r.Args) > 0 && r.Args[0] == prometheusService {
				return true
			}
		}
	}
	return false
}

// badRequest is HAProxy's 400 answer, sent for an unknown scope.
const badRequest = "HTTP/1.1 400 Bad request\r\ncontent-length: 90\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"

// prometheusResponse is the whole HTTP/1.1 response of the exporter for
// a request target: the exposition of the scopes its query selects
// (every proxy and server by default), with HAProxy's headers.
func (c *proxyControl) prometheusResponse(target string) []byte {
	_, query, _ := strings.Cut(target, "?")
	f, err := prom.ParseQuery(query)
	if err != nil {
		return []byte(badRequest)
	}
	rows := c.Snapshot()
	info := c.Info()
	var body bytes.Buffer
	prom.WriteFiltered(&body, rows, &info, f)
	head := fmt.Sprintf("HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n", prom.ContentType, body.Len())
	return append([]byte(head), body.Bytes()...)
}

// serveService answers `http-request use-service NAME`: the exporter, or
// nil for a service goproxy does not have.
func (c *proxyControl) serveService(p *proxy.Proxy, fe *proxy.Frontend, name string, req *proxy.StatsRequest) []byte {
	if name != prometheusService {
		return nil
	}
	return c.prometheusResponse(req.Target)
}
