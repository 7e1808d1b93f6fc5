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
	// ShowNode, when set (`stats show-node`), is the node name shown in
	// the title; ShowDesc (`stats show-desc`) a description under the
	// process information. Node is the host name; Version is HAProxy's.
	ShowNode, ShowDesc string
	Node, Version      string
	Ctl                ServerControl
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
h2 { font-family: helvetica, arial; font-size: x-large; font-weight: bold; font-style: italic; color: #6020a0; margin-top: 0em; margin-bottom: 0em;}
h3 { font-family: helvetica, arial; font-size: 16px; font-weight: bold; color: #b00040; background: #e8e8d0; margin-top: 0em; margin-bottom: 0em;}
li { margin-top: 0.25em; margin-right: 2em;}
.hr {margin-top: 0.25em; border-color: black; border-bottom-style: solid;}
.titre	{background: #20D0D0;color: #000000; font-weight: bold; text-align: center;}
.total	{background: #20D0D0;color: #ffff80;}
.frontend	{background: #e8e8d0;}
.socket	{background: #d0d0d0;}
.backend	{background: #e8e8d0;}
.active_down		{background: #ff9090;}
.active_going_up		{background: #ffd020;}
.active_going_down	{background: #ffffa0;}
.active_up		{background: #c0ffc0;}
.active_nolb		{background: #20a0ff;}
.active_draining		{background: #20a0FF;}
.active_no_check		{background: #e0e0e0;}
.backup_down		{background: #ff9090;}
.backup_going_up		{background: #ff80ff;}
.backup_going_down	{background: #c060ff;}
.backup_up		{background: #b0d0ff;}
.backup_nolb		{background: #90b0e0;}
.backup_draining		{background: #cc9900;}
.backup_no_check		{background: #e0e0e0;}
.maintain	{background: #c07820;}
.rls      {letter-spacing: 0.2em; margin-right: 1px;}
a.px:link {color: #ffff40; text-decoration: none;}a.px:visited {color: #ffff40; text-decoration: none;}a.px:hover {color: #ffffff; text-decoration: none;}a.lfsb:link {color: #000000; text-decoration: none;}a.lfsb:visited {color: #000000; text-decoration: none;}a.lfsb:hover {color: #505050; text-decoration: none;}
table.tbl { border-collapse: collapse; border-style: none;}
table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}
table.tbl td.ac { text-align: center;}
table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}
table.tbl th.empty { border-style: none; empty-cells: hide; background: white;}
table.tbl th.desc { background: white; border-style: solid solid none solid; text-align: left; padding: 2px 3px;}
table.lgd { border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black;}
table.lgd td { border-width: 1px; border-style: solid solid solid solid; border-color: gray; padding: 2px;}
table.lgd td.noborder { border-style: none; padding: 2px; white-space: nowrap;}
table.det { border-collapse: collapse; border-style: none;}
table.det th { text-align: left; border-width: 0px; padding: 0px 1px 0px 0px; font-style:normal;font-size:11px;font-weight:bold;font-family: sans-serif;}
table.det td { text-align: right; border-width: 0px; padding: 0px 0px 0px 4px; white-space: nowrap; font-style:normal;font-size:11px;font-weight:normal;}
u {text-decoration:none; border-bottom: 1px dotted black;}
`

const pageLegend = `<table class="lgd"><tr>
<td class="active_up">&nbsp;</td><td class="noborder">active UP </td><td class="backup_up">&nbsp;</td><td class="noborder">backup UP </td></tr><tr>
<td class="active_going_down"></td><td class="noborder">active UP, going down </td><td class="backup_going_down"></td><td class="noborder">backup UP, going down </td></tr><tr>
<td class="active_going_up"></td><td class="noborder">active DOWN, going up </td><td class="backup_going_up"></td><td class="noborder">backup DOWN, going up </td></tr><tr>
<td class="active_down"></td><td class="noborder">active or backup DOWN &nbsp;</td><td class="active_no_check"></td><td class="noborder">not checked </td></tr><tr>
<td class="maintain"></td><td class="noborder" colspan="3">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr><tr>
<td class="active_draining"></td><td class="noborder" colspan="3">active or backup SOFT STOPPED for maintenance &nbsp;</td></tr></table>
Note: "NOLB"/"DRAIN" = UP with load-balancing disabled.`

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

// render writes the page in HAProxy 2.6's layout: the process block with
// the legend and the display options, then one table per proxy.
func (p *Page) render(admin, upOnly bool) []byte {
	var b bytes.Buffer
	in := p.Ctl.Info()
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	esc := html.EscapeString
	on := ""
	if p.ShowNode != "" {
		on = " on " + esc(p.ShowNode)
	}
	w("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"\n\"http://www.w3.org/TR/html4/loose.dtd\">\n")
	w("<html><head><title>Statistics Report for HAProxy%s</title>\n<link rel=\"icon\" href=\"data:,\">\n", on)
	w("<meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n<style type=\"text/css\"><!--\n%s--></style></head>\n<body>", pageStyle)
	if p.HideVersion {
		w("<h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy</a></h1>\n")
	} else {
		w("<h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy version %s, released %s</a></h1>\n", esc(p.Version), esc(in.ReleaseDate))
	}
	w("<h2>Statistics Report for pid %d%s</h2>\n<hr width=\"100%%\" class=\"hr\">\n<h3>&gt; General process information</h3>\n", in.Pid, on)
	up := int64(in.Now.Sub(in.Start) / time.Second)
	w("<table border=0><tr><td align=\"left\" nowrap width=\"1%%\">\n<p><b>pid = </b> %d (process #1, nbproc = 1, nbthread = %d)<br>\n", in.Pid, in.Nbthread)
	w("<b>uptime = </b> %dd %dh%02dm%02ds<br>\n", up/86400, up/3600%24, up/60%60, up%60)
	w("<b>system limits:</b> memmax = unlimited; ulimit-n = %d<br>\n<b>maxsock = </b> %d; <b>maxconn = </b> %d; <b>maxpipes = </b> 0<br>\n", in.UlimitN, in.Maxsock, in.Maxconn)
	w("current conns = %d; current pipes = 0/0; conn rate = %d/sec; bit rate = 0.000 kbps<br>\nRunning tasks: 0/%d; idle = %d %%<br>\n", in.CurrConns, in.ConnRate, in.Tasks, in.IdlePct)
	if p.ShowDesc != "" {
		w("<b>%s</b><br>\n", esc(p.ShowDesc))
	}
	w("</td><td align=\"center\" nowrap>\n%s</td>", pageLegend)
	uri := esc(p.uri())
	w("<td align=\"left\" valign=\"top\" nowrap width=\"1%%\"><b>Display option:</b><ul style=\"margin-top: 0.25em;\">")
	if upOnly {
		w("<li><a href=\"%s\">Show all servers</a><br>\n", uri)
	} else {
		w("<li><a href=\"%s;up\">Hide 'DOWN' servers</a><br>\n", uri)
	}
	w("<li><a href=\"%s\">Refresh now</a><br>\n<li><a href=\"%s;csv\">CSV export</a><br>\n</ul></td></tr></table>\n", uri, uri)

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
	px := esc(rows[0][FPxname])
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
	w("<table class=\"tbl\" width=\"100%%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%%\"><a name=\"%s\"></a><a class=px href=\"#%s\">%s</a></th><th class=\"empty\" width=\"90%%\"></th></tr>\n</table>\n", px, px, px)
	w("<table class=\"tbl\" width=\"100%%\">\n<tr class=\"titre\">")
	// With `stats admin`, every table has a first column for the
	// checkboxes, empty where there is nothing to check.
	if form {
		w("<th rowspan=2 width=1></th>")
	} else if admin {
		w("<th rowspan=2></th>")
	}
	w("<th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n")
	w("<tr class=\"titre\"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th>\n</tr>")
	td := func(v string) { w("<td>%s</td>", esc(v)) }
	tdc := func(v string) { w("<td class=ac>%s</td>", v) }
	dash := func(v string) string {
		if v == "" || v == "0" {
			return "-"
		}
		return v
	}
	for i := range rows {
		r := &rows[i]
		var class, name string
		switch r[FSvname] {
		case "FRONTEND":
			class, name = "frontend", "Frontend"
		case "BACKEND":
			class, name = "backend", "Backend"
		default:
			if upOnly && (strings.HasPrefix(r[FStatus], "DOWN") || r[FStatus] == "MAINT") {
				continue
			}
			class, name = serverClass(r), r[FSvname]
		}
		w("<tr class=\"%s\">", class)
		if form && r[FType] == "2" {
			w("<td><input type=\"checkbox\" name=\"s\" value=\"%s\"></td>", esc(r[FSvname]))
		} else if admin {
			w("<td></td>")
		}
		w("<td class=ac><a name=\"%s/%s\"></a><a class=lfsb href=\"#%s/%s\">%s</a></td>", px, esc(name), px, esc(name), esc(name))
		last := ""
		if r[FLastsess] != "" {
			last = humanTime(r.Int(FLastsess))
			if r.Int(FLastsess) < 0 {
				last = "?"
			}
		}
		switch r[FType] {
		case "0": // frontend: no queue, session limit shown
			w("<td colspan=3></td>")
			td(r[FRate])
			td(r[FRateMax])
			td(dash(r[FRateLim]))
			for _, c := range []string{r[FScur], r[FSmax], r[FSlim], r[FStot], "", "", r[FBin], r[FBout], r[FDreq], r[FDresp], r[FEreq], "", "", "", ""} {
				td(c)
			}
			tdc(esc(r[FStatus]))
			w("<td class=ac colspan=8></td></tr>")
			continue
		case "2":
			for _, c := range []string{r[FQcur], r[FQmax], dash(r[FQlimit]), r[FRate], r[FRateMax], "", r[FScur], r[FSmax], dash(r[FSlim]), r[FStot], r[FLbtot], last,
				r[FBin], r[FBout], "", r[FDresp], "", r[FEcon], r[FEresp], r[FWretr], r[FWredis]} {
				td(c)
			}
		default:
			for _, c := range []string{r[FQcur], r[FQmax], "", r[FRate], r[FRateMax], "", r[FScur], r[FSmax], r[FSlim], r[FStot], r[FLbtot], last,
				r[FBin], r[FBout], r[FDreq], r[FDresp], "", r[FEcon], r[FEresp], r[FWretr], r[FWredis]} {
				td(c)
			}
		}
		status := esc(r[FStatus])
		if r[FStatus] == "no check" {
			status = "<i>no check</i>"
		} else if r[FLastchg] != "" {
			status = humanTime(r.Int(FLastchg)) + " " + status
		}
		tdc(status)
		lastChk := ""
		if r[FCheckStatus] != "" {
			lastChk = r[FCheckStatus]
			if r[FCheckCode] != "" {
				lastChk += "/" + r[FCheckCode]
			}
			if r[FCheckDuration] != "" {
				lastChk += " in " + r[FCheckDuration] + "ms"
			}
			w("<td class=ac><u> %s</u></td>", esc(lastChk))
		} else if r[FType] == "1" {
			tdc("&nbsp;")
		} else {
			w("<td></td>")
		}
		tdc(esc(r[FWeight] + "/" + r[FUweight]))
		if r[FType] == "2" {
			tdc(yn(r[FAct]))
			tdc(yn(r[FBck]))
			if r[FChkfail] == "" {
				w("<td colspan=3></td>")
			} else {
				td(r[FChkfail])
				td(r[FChkdown])
				td(humanTime(r.Int(FDowntime)))
			}
			tdc(dash(r[FThrottle]))
		} else {
			tdc(esc(r[FAct]))
			tdc(esc(r[FBck]))
			tdc("&nbsp;")
			td(r[FChkdown])
			if r[FDowntime] != "" {
				td(humanTime(r.Int(FDowntime)))
			} else {
				w("<td>&nbsp;</td>")
			}
			td("")
		}
		w("</tr>\n")
	}
	w("</table>")
	if form {
		w("Choose the action to perform on the checked servers : <select name=action><option value=\"\"></option><option value=\"ready\">Set state to READY</option><option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option></select><input type=\"hidden\" name=\"b\" value=\"%s\"><input type=\"submit\" value=\"Apply\"></form>", px)
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
