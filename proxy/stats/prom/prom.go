// Package prom writes HAProxy 2.6's Prometheus exposition, the
// `http-request use-service prometheus-exporter` service, from the stats
// rows (stats.Row) and the process report (stats.Info). Metric names,
// types, labels and their order are HAProxy's, so dashboards and alerts
// written for HAProxy's exporter work unchanged.
package prom

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"hapair/proxy/stats"
)

// ContentType is the media type of the exposition, as HAProxy sends it.
const ContentType = "text/plain; version=0.0.4"

type scope int

const (
	scopeFrontend scope = iota
	scopeBackend
	scopeServer
)

var scopeNames = [...]string{"frontend", "backend", "server"}

// processMetric is a haproxy_process_* metric: the `show info` line
// that holds its value.
type processMetric struct {
	name, typ, info, help string
}

// objectMetric is a frontend, backend or server metric: the stats column
// that holds its value.
type objectMetric struct {
	scope     scope
	name, typ string
	field     int
	help      string
}

// Server and service states, in HAProxy's label order.
var (
	frontendStates = []string{"DOWN", "UP"}
	serverStates   = []string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}
	checkStates    = []string{"HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP",
		"L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK"}
	codeClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}
)

// msFields are the columns in milliseconds that the exporter shows in
// seconds.
var msFields = map[int]bool{
	stats.FQtime: true, stats.FCtime: true, stats.FRtime: true, stats.FTtime: true,
	stats.FQtimeMax: true, stats.FCtimeMax: true, stats.FRtimeMax: true, stats.FTtimeMax: true,
	stats.FCheckDuration: true,
}

// Filter selects what the exporter writes, from the query string of the
// request (HAProxy's `scope` and `no-maint` parameters).
type Filter struct {
	// Process, Frontend, Backend and Server enable the metric groups
	// (scopes global, frontend, backend and server).
	Process, Frontend, Backend, Server bool
	// NoMaint leaves out the servers in maintenance.
	NoMaint bool
}

// All is the filter of a request without parameters.
var All = Filter{Process: true, Frontend: true, Backend: true, Server: true}

// ParseQuery reads `scope=global|frontend|backend|server|*` (repeated,
// in order: an empty scope clears the selection) and `no-maint`. An
// unknown scope is an error (HAProxy answers 400).
func ParseQuery(query string) (Filter, error) {
	f := All
	first := true
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "no-maint":
			f.NoMaint = true
		case "scope":
			if first {
				f, first = Filter{NoMaint: f.NoMaint}, false
			}
			switch v {
			case "":
				f = Filter{NoMaint: f.NoMaint}
			case "*":
				f = Filter{Process: true, Frontend: true, Backend: true, Server: true, NoMaint: f.NoMaint}
			case "global":
				f.Process = true
			case "frontend":
				f.Frontend = true
			case "backend":
				f.Backend = true
			case "server":
				f.Server = true
			default:
				return f, fmt.Errorf("unknown scope %q", v)
			}
		}
	}
	return f, nil
}

// Write writes the whole exposition: process metrics, then frontend,
// backend and server metrics, each metric for every object in turn.
func Write(w io.Writer, rows []stats.Row, info *stats.Info) error {
	return WriteFiltered(w, rows, info, All)
}

// WriteFiltered writes the metric groups f selects.
func WriteFiltered(w io.Writer, rows []stats.Row, info *stats.Info, f Filter) error {
	bw := bufio.NewWriter(w)
	if f.Process {
		writeProcess(bw, info)
	}
	want := [3]bool{f.Frontend, f.Backend, f.Server}
	var objs [3][]*stats.Row
	hasServers := map[string]bool{}
	for i := range rows {
		r := &rows[i]
		switch r[stats.FType] {
		case "0":
			objs[scopeFrontend] = append(objs[scopeFrontend], r)
		case "1":
			objs[scopeBackend] = append(objs[scopeBackend], r)
		case "2":
			hasServers[r[stats.FPxname]] = true
			if f.NoMaint && r[stats.FStatus] == "MAINT" {
				continue
			}
			objs[scopeServer] = append(objs[scopeServer], r)
		}
	}
	servers := map[string][]*stats.Row{}
	for _, r := range objs[scopeServer] {
		servers[r[stats.FPxname]] = append(servers[r[stats.FPxname]], r)
	}
	for _, m := range objectMetrics {
		if !want[m.scope] {
			continue
		}
		var lines []string
		for _, r := range objs[m.scope] {
			if skip(m, r, hasServers) {
				continue
			}
			lines = append(lines, m.samples(r, servers[r[stats.FPxname]])...)
		}
		if m.field == stats.FHrsp1xx {
			lines = byCode(lines)
		}
		if len(lines) == 0 {
			continue
		}
		full := "haproxy_" + scopeNames[m.scope] + "_" + m.name
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", full, m.help, full, m.typ)
		for _, l := range lines {
			bw.WriteString(full)
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// skip reports the metrics HAProxy leaves out for an object: HTTP
// metrics of TCP proxies, check metrics of servers without a check,
// aggregates of backends without servers.
func skip(m objectMetric, r *stats.Row, hasServers map[string]bool) bool {
	if r[stats.FMode] != "http" && (strings.HasPrefix(m.name, "http_") || m.name == "intercepted_requests_total") {
		return true
	}
	switch m.field {
	case stats.FCheckStatus, stats.FCheckCode, stats.FCheckDuration:
		return r[stats.FCheckStatus] == ""
	case stats.FAggServerStatus, stats.FAggServerCheckStatus, stats.FAggCheckStatus:
		return !hasServers[r[stats.FPxname]]
	}
	return false
}

// byCode orders http_responses_total lines by code class first, as
// HAProxy does (each class for every object, then the next class).
func byCode(lines []string) []string {
	var out []string
	for i := range codeClasses {
		for j := i; j < len(lines); j += len(codeClasses) {
			out = append(out, lines[j])
		}
	}
	return out
}

// labels formats the label set of an object plus extra pairs.
func labels(r *stats.Row, scope scope, extra ...string) string {
	var b strings.Builder
	b.WriteString(`{proxy="`)
	b.WriteString(escape(r[stats.FPxname]))
	b.WriteByte('"')
	if scope == scopeServer {
		b.WriteString(`,server="`)
		b.WriteString(escape(r[stats.FSvname]))
		b.WriteByte('"')
	}
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&b, `,%s="%s"`, extra[i], escape(extra[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func escape(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// samples returns the lines (labels and value) of metric m for row r.
func (m objectMetric) samples(r *stats.Row, servers []*stats.Row) []string {
	one := func(v string, extra ...string) string { return labels(r, m.scope, extra...) + " " + v }
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	switch m.field {
	case stats.FStatus:
		var out []string
		if m.scope == scopeServer {
			st := serverState(r[stats.FStatus])
			for _, s := range serverStates {
				out = append(out, one(flag(s == st), "state", s))
			}
			return out
		}
		up := r[stats.FStatus] == "OPEN" || r[stats.FStatus] == "UP"
		for _, s := range frontendStates {
			out = append(out, one(flag((s == "UP") == up), "state", s))
		}
		return out
	case stats.FCheckStatus:
		st := strings.TrimPrefix(r[stats.FCheckStatus], "* ")
		var out []string
		for _, s := range checkStates {
			out = append(out, one(flag(s == st), "state", s))
		}
		return out
	case stats.FHrsp1xx:
		var out []string
		for i, c := range codeClasses {
			out = append(out, one(value(r, stats.FHrsp1xx+i), "code", c))
		}
		return out
	case stats.FAggServerStatus, stats.FAggServerCheckStatus:
		n := map[string]int{}
		for _, s := range servers {
			n[serverState(s[stats.FStatus])]++
		}
		var out []string
		for _, s := range serverStates {
			out = append(out, one(strconv.Itoa(n[s]), "state", s))
		}
		return out
	case stats.FAggCheckStatus:
		n := map[string]int{}
		for _, s := range servers {
			n[strings.TrimPrefix(s[stats.FCheckStatus], "* ")]++
		}
		var out []string
		for _, s := range checkStates {
			out = append(out, one(strconv.Itoa(n[s]), "state", s))
		}
		return out
	case stats.FCheckCode:
		if r[stats.FCheckCode] == "" {
			return []string{one("0")}
		}
	}
	return []string{one(value(r, m.field))}
}

// value formats column f: NaN when empty, seconds for the millisecond
// columns.
func value(r *stats.Row, f int) string {
	v := r[f]
	if v == "" {
		if msFields[f] {
			return "0.000000"
		}
		return "NaN"
	}
	if msFields[f] {
		n, _ := strconv.ParseInt(v, 10, 64)
		return strconv.FormatFloat(float64(n)/1000, 'f', 6, 64)
	}
	return v
}

// serverState maps a server's status column to the exporter's state.
func serverState(st string) string {
	switch {
	case st == "MAINT" || strings.HasPrefix(st, "MAINT"):
		return "MAINT"
	case strings.HasPrefix(st, "DRAIN"):
		return "DRAIN"
	case strings.HasPrefix(st, "NOLB"):
		return "NOLB"
	case strings.HasPrefix(st, "DOWN"):
		return "DOWN"
	}
	return "UP" // UP, UP n/m, no check
}

func writeProcess(w *bufio.Writer, info *stats.Info) {
	var b bytes.Buffer
	stats.WriteInfo(&b, info)
	vals := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			vals[k] = v
		}
	}
	for _, m := range processMetrics {
		full := "haproxy_process_" + m.name
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", full, m.help, full, m.typ)
		switch {
		case m.name == "build_info":
			fmt.Fprintf(w, "%s{version=\"%s\"} 1\n", full, escape(info.Version))
		case m.info == "":
			fmt.Fprintf(w, "%s NaN\n", full)
		default:
			v := vals[m.info]
			if v == "" {
				v = "0"
			}
			fmt.Fprintf(w, "%s %s\n", full, v)
		}
	}
}
