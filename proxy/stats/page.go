package stats

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Page is the HTTP stats page of one proxy (`stats enable`, `stats uri`,
// `stats auth`, `stats realm`, `stats refresh`, `stats hide-version`,
// `stats admin if ...`). It works on plain request values so the engine
// serves it from its own HTTP code, without net/http.
type Page struct {
	// URI is the prefix that selects the page (default "/haproxy?stats").
	URI string
	// Realm of the Basic authentication (default "HAProxy Statistics").
	Realm string
	// Auth lists "user:password" pairs; empty means no authentication.
	Auth        []string
	Refresh     time.Duration
	HideVersion bool
	// Node is the host name shown in the title; Version is HAProxy's.
	Node, Version string
	Ctl           ServerControl
}

// Request is what the page needs from an HTTP request.
type Request struct {
	Method        string
	URI           string // path and query, as received
	Authorization string // the Authorization header
	// Admin is the result of the `stats admin if <cond>` condition,
	// evaluated by the engine: it enables the server action form.
	Admin bool
	Body  []byte // form body of a POST
}

// Response is the page's answer.
type Response struct {
	Status int
	Header [][2]string // lower-case names, in order
	Body   []byte
}

// Match reports whether a request URI selects the stats page: HAProxy
// compares the URI prefix only.
func (p *Page) Match(uri string) bool { return strings.HasPrefix(uri, p.uri()) }

func (p *Page) uri() string {
	if p.URI == "" {
		return "/haproxy?stats"
	}
	return p.URI
}

func (p *Page) authorized(h string) bool {
	if len(p.Auth) == 0 {
		return true
	}
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return false
	}
	for _, a := range p.Auth {
		if a == string(dec) {
			return true
		}
	}
	return false
}

// Handle answers a request for the page: 401 without valid credentials,
// the CSV for a ";csv" suffix, a redirect after an admin action, the HTML
// page otherwise.
func (p *Page) Handle(req *Request) *Response {
	if !p.authorized(req.Authorization) {
		realm := p.Realm
		if realm == "" {
			realm = "HAProxy Statistics"
		}
		body := "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
		return &Response{Status: 401, Header: [][2]string{
			{"content-length", strconv.Itoa(len(body))}, {"cache-control", "no-cache"},
			{"content-type", "text/html"}, {"www-authenticate", `Basic realm="` + realm + `"`},
		}, Body: []byte(body)}
	}
	suffix := strings.TrimPrefix(req.URI, p.uri())
	if req.Method == "POST" && req.Admin {
		st := p.adminAction(req.Body)
		return &Response{Status: 303, Header: [][2]string{
			{"cache-control", "no-cache"}, {"content-type", "text/plain"},
			{"location", p.uri() + ";st=" + st},
		}}
	}
	if strings.Contains(suffix, ";csv") {
		var b bytes.Buffer
		WriteCSV(&b, p.Ctl.Snapshot())
		return &Response{Status: 200, Header: [][2]string{{"cache-control", "no-cache"}, {"content-type", "text/plain"}}, Body: b.Bytes()}
	}
	hdr := [][2]string{{"cache-control", "no-cache"}, {"content-type", "text/html"}}
	refresh := p.Refresh > 0 && !strings.Contains(suffix, ";norefresh")
	if refresh {
		hdr = append(hdr, [2]string{"refresh", strconv.Itoa(int(p.Refresh / time.Second))})
	}
	return &Response{Status: 200, Header: hdr, Body: p.render(req.Admin, strings.Contains(suffix, ";up"))}
}

// adminAction applies the form of the admin page: b=<backend>,
// s=<server> (repeated), action=ready|drain|maint (and the older
// enable|disable). The result is HAProxy's: DONE, PART when some servers
// were unknown, NONE without servers, ERRP for an unknown action or
// backend or when no server was found.
func (p *Page) adminAction(body []byte) string {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return "ERRP"
	}
	var st AdminState
	switch v.Get("action") {
	case "ready", "enable":
		st = AdminReady
	case "drain":
		st = AdminDrain
	case "maint", "disable":
		st = AdminMaint
	default:
		return "ERRP"
	}
	be := v.Get("b")
	if be == "" || len(v["s"]) == 0 {
		return "NONE"
	}
	done := 0
	for _, s := range v["s"] {
		if err := p.Ctl.SetServerAdmin(be, s, st); err == nil {
			done++
		}
	}
	switch done {
	case 0:
		return "ERRP"
	case len(v["s"]):
		return "DONE"
	}
	return "PART"
}

// humanTime writes a duration in seconds like HAProxy's stats page
// ("5s", "2m3s", "1h2m", "3d4h").
func humanTime(s int64) string {
	switch {
	case s < 0:
		return "-"
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s/60%60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s/3600%24)
}

const pageStyle = `body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white;}
th,td { font-size: 10px;}
h1 { font-size: x-large; margin-bottom: 0.5em;}
table.tbl { border-collapse: collapse; border-style: none;}
table.tbl td, table.tbl th { text-align: right; border: 1px solid #808080; white-space: nowrap; padding: 2px 3px;}
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold; text-align: left;}
.titre { background: #20D0D0; color: #000000; font-weight: bold; text-align: center;}
.frontend { background: #e8e8d0;}
.backend { background: #e8e8d0;}
.active_up { background: #c0ffc0;}
.active_down { background: #ff9090;}
.active_going_down { background: #ffffa0;}
.active_going_up { background: #ffd020;}
.active_nolb { background: #20a0ff;}
.active_draining { background: #20a0FF;}
.maintain { background: #c07820;}
.backup_up { background: #b0d0ff;}
.backup_down { background: #ff9090;}
.active_no_check, .backup_no_check { background: #e0e0e0;}
`

func serverClass(r *Row) string {
	prefix := "active"
	if r[FBck] == "1" {
		prefix = "backup"
	}
	st := r[FStatus]
	switch {
	case st == "MAINT":
		return "maintain"
	case st == "no check":
		return prefix + "_no_check"
	case strings.HasPrefix(st, "UP "), strings.HasPrefix(st, "DRAIN "), strings.HasPrefix(st, "NOLB "):
		return prefix + "_going_down"
	case strings.HasPrefix(st, "DOWN "):
		return prefix + "_going_up"
	case st == "DRAIN":
		return prefix + "_draining"
	case st == "NOLB":
		return prefix + "_nolb"
	case strings.HasPrefix(st, "DOWN"):
		return prefix + "_down"
	}
	return prefix + "_up"
}

func (p *Page) render(admin, upOnly bool) []byte {
	var b bytes.Buffer
	in := p.Ctl.Info()
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	esc := html.EscapeString
	w("<!DOCTYPE html>\n<html><head><title>Statistics Report for HAProxy on %s</title>\n", esc(p.Node))
	w("<meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n<style type=\"text/css\"><!--\n%s--></style></head>\n<body>\n", pageStyle)
	if p.HideVersion {
		w("<h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy</a></h1>\n")
	} else {
		w("<h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy version %s, released %s</a></h1>\n", esc(p.Version), esc(in.ReleaseDate))
	}
	w("<h2>Statistics Report for pid %d on %s</h2>\n", in.Pid, esc(p.Node))
	up := in.Now.Sub(in.Start) / time.Second
	w("<p><b>General process information</b></p>\n<p>pid = %d (process #1, nbproc = 1, nbthread = %d)<br>\nuptime = %s<br>\nmaxconn = %d<br>\ncurrent conns = %d; current pipes = 0/0; conn rate = %d/sec<br>\n</p>\n",
		in.Pid, in.Nbthread, humanTime(int64(up)), in.Maxconn, in.CurrConns, in.ConnRate)

	rows := p.Ctl.Snapshot()
	for i := 0; i < len(rows); {
		px := rows[i][FPxname]
		j := i
		for j < len(rows) && rows[j][FPxname] == px {
			j++
		}
		p.renderProxy(&b, rows[i:j], admin, upOnly)
		i = j
	}
	w("</body></html>\n")
	return b.Bytes()
}

func (p *Page) renderProxy(b *bytes.Buffer, rows []Row, admin, upOnly bool) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	esc := html.EscapeString
	px := rows[0][FPxname]
	hasServers := false
	for i := range rows {
		if rows[i][FType] == "2" {
			hasServers = true
		}
	}
	form := admin && hasServers
	if form {
		w("<form method=\"post\">")
	}
	w("<table class=\"tbl\" width=\"100%%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%%\"><a name=\"%s\"></a>%s</th><th class=\"empty\" width=\"90%%\"></th></tr>\n</table>\n", esc(px), esc(px))
	w("<table class=\"tbl\" width=\"100%%\">\n<tr class=\"titre\">")
	if form {
		w("<th rowspan=2 width=1></th>")
	}
	w("<th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n")
	w("<tr class=\"titre\"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th></tr>\n")
	for i := range rows {
		r := &rows[i]
		var class, name string
		switch r[FSvname] {
		case "FRONTEND":
			class, name = "frontend", "Frontend"
		case "BACKEND":
			class, name = "backend", "Backend"
		default:
			if upOnly && !strings.HasPrefix(r[FStatus], "UP") && r[FStatus] != "no check" {
				continue
			}
			class, name = serverClass(r), r[FSvname]
		}
		w("<tr class=\"%s\">", class)
		if form {
			if r[FType] == "2" {
				w("<td><input type=\"checkbox\" name=\"s\" value=\"%s\"></td>", esc(r[FSvname]))
			} else {
				w("<td></td>")
			}
		}
		last := ""
		if r[FLastsess] != "" {
			last = humanTime(r.Int(FLastsess))
		}
		w("<td class=ac>%s</td>", esc(name))
		cells := []string{r[FQcur], r[FQmax], r[FQlimit], r[FRate], r[FRateMax], r[FRateLim],
			r[FScur], r[FSmax], r[FSlim], r[FStot], r[FLbtot], last, r[FBin], r[FBout],
			r[FDreq], r[FDresp], r[FEreq], r[FEcon], r[FEresp], r[FWretr], r[FWredis]}
		for _, c := range cells {
			w("<td>%s</td>", esc(c))
		}
		status := r[FStatus]
		if r[FType] != "0" && r[FLastchg] != "" {
			status = humanTime(r.Int(FLastchg)) + " " + status
		}
		lastChk := ""
		if r[FCheckStatus] != "" {
			lastChk = r[FCheckStatus]
			if r[FCheckCode] != "" {
				lastChk += "/" + r[FCheckCode]
			}
			if r[FCheckDuration] != "" {
				lastChk += " in " + r[FCheckDuration] + "ms"
			}
		}
		chk := ""
		if r[FChkfail] != "" {
			chk = r[FChkfail]
		}
		dwntme := ""
		if r[FDowntime] != "" {
			dwntme = humanTime(r.Int(FDowntime))
		}
		act, bck := r[FAct], r[FBck]
		if r[FType] == "2" {
			act, bck = yn(act), yn(bck)
		}
		for _, c := range []string{status, lastChk, r[FWeight], act, bck, chk, r[FChkdown], dwntme, r[FThrottle]} {
			w("<td>%s</td>", esc(c))
		}
		w("</tr>\n")
	}
	w("</table>\n")
	if form {
		w("<input type=\"hidden\" name=\"b\" value=\"%s\">Choose the action to perform on the checked servers : <select name=action><option value=\"\"></option><option value=\"ready\">Set state to READY</option><option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option></select><input type=\"submit\" value=\"Apply\"></form>\n", esc(px))
	}
	w("<p>\n")
}

func yn(s string) string {
	if s == "1" {
		return "Y"
	}
	if s == "0" {
		return "-"
	}
	return s
}
