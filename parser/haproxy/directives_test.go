package haproxy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"hapair/internal/testenv"
)

// directiveCase is one directive in a minimal configuration: the lines go
// into the section named by In (gl = global, df = defaults, fe = frontend
// fe, be = backend be, li = listen li).
type directiveCase struct {
	Key   string // "proxy acl", "global maxconn", "option httplog", "server check", "bind v4v6"
	In    string
	Lines string
	// Valid is the verdict goproxy must give; HAProxy must agree unless
	// Differs names why it cannot (files or modules this machine lacks).
	Valid   bool
	Differs string
}

// directiveTemplate is the configuration every case is inserted into; it is
// valid on its own for both goproxy and haproxy.
const directiveTemplate = `global
    maxconn 100
%s
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
%s
frontend fe
    bind 127.0.0.1:18000
%s
    default_backend be
backend be
    server s1 127.0.0.1:18001
%s
listen li
    bind 127.0.0.1:18002
    server s2 127.0.0.1:18003
%s
`

func (c directiveCase) config() string {
	parts := map[string]string{}
	parts[c.In] = "    " + strings.ReplaceAll(c.Lines, "\n", "\n    ")
	return fmt.Sprintf(directiveTemplate, parts["gl"], parts["df"], parts["fe"], parts["be"], parts["li"])
}

// proxyAndGlobalCases has one hand-written case per proxy keyword and per
// implemented global keyword.
var proxyAndGlobalCases = []directiveCase{
	{"proxy acl", "fe", "acl a path_beg /x", true, ""},
	{"proxy backlog", "fe", "backlog 100", true, ""},
	{"proxy balance", "be", "balance leastconn", true, ""},
	{"proxy bind", "fe", "bind 127.0.0.1:18010,127.0.0.1:18011", true, ""},
	{"proxy capture", "fe", "capture request header Host len 32", true, ""},
	{"proxy clitcpka-cnt", "fe", "clitcpka-cnt 3", true, ""},
	{"proxy clitcpka-idle", "fe", "clitcpka-idle 10s", true, ""},
	{"proxy clitcpka-intvl", "fe", "clitcpka-intvl 10s", true, ""},
	{"proxy compression", "li", "compression algo gzip", true, ""},
	{"proxy cookie", "be", "cookie SRV insert indirect nocache", true, ""},
	{"proxy declare", "fe", "declare capture request len 32", true, ""},
	{"proxy default-server", "be", "default-server inter 3s fall 2", true, ""},
	{"proxy default_backend", "li", "default_backend be", true, ""},
	{"proxy description", "li", "description the listen section", true, ""},
	{"proxy disabled", "li", "disabled", true, ""},
	{"proxy dispatch", "be", "dispatch 127.0.0.1:18020", true, ""},
	{"proxy email-alert", "be", "email-alert level alert", true, ""},
	{"proxy enabled", "li", "enabled", true, ""},
	{"proxy error-log-format", "fe", "error-log-format %ci", true, ""},
	{"proxy errorfile", "li", "errorfile 503 /etc/haproxy/errors/503.http", true, ""},
	{"proxy errorfiles", "li", "errorfiles missing_section", false, ""},
	{"proxy errorloc", "li", "errorloc 503 http://example.com/503", true, ""},
	{"proxy errorloc302", "li", "errorloc302 503 http://example.com/503", true, ""},
	{"proxy errorloc303", "li", "errorloc303 503 http://example.com/503", true, ""},
	{"proxy external-check", "be", "external-check command /bin/true", true, ""},
	{"proxy filter", "li", "filter compression", true, ""},
	{"proxy force-persist", "li", "force-persist if TRUE", true, ""},
	{"proxy fullconn", "be", "fullconn 100", true, ""},
	{"proxy hash-type", "be", "hash-type consistent", true, ""},
	{"proxy http-after-response", "li", "http-after-response set-header X-A b", true, ""},
	{"proxy http-check", "be", "option httpchk\nhttp-check send meth GET uri /health ver HTTP/1.1 hdr Host a.example\nhttp-check expect status 200", true, ""},
	{"proxy http-error", "li", "http-error status 503 content-type text/plain string down", true, ""},
	{"proxy http-request", "li", "http-request set-header X-A b if { path /a }", true, ""},
	{"proxy http-response", "li", "http-response del-header Server", true, ""},
	{"proxy http-reuse", "be", "http-reuse always", true, ""},
	{"proxy http-send-name-header", "be", "http-send-name-header X-Server", true, ""},
	{"proxy id", "li", "id 42", true, ""},
	{"proxy ignore-persist", "li", "ignore-persist if TRUE", true, ""},
	{"proxy load-server-state-from-file", "be", "load-server-state-from-file none", true, ""},
	{"proxy log", "li", "log 127.0.0.1:514 local0 info", true, ""},
	{"proxy log-format", "fe", "log-format \"%ci:%cp [%tr] %ft %b/%s\"", true, ""},
	{"proxy log-format-sd", "fe", "log-format-sd [exampleSDID@1234]", true, ""},
	{"proxy log-tag", "li", "log-tag web", true, ""},
	{"proxy max-keep-alive-queue", "be", "max-keep-alive-queue 10", true, ""},
	{"proxy maxconn", "fe", "maxconn 50", true, ""},
	{"proxy mode", "li", "mode tcp", true, ""},
	{"proxy monitor", "fe", "monitor-uri /m\nacl down nbsrv(be) lt 1\nmonitor fail if down", true, ""},
	{"proxy monitor-uri", "fe", "monitor-uri /alive", true, ""},
	{"proxy no", "li", "no option http-server-close", true, ""},
	{"proxy option", "li", "option forwardfor except 127.0.0.0/8 header X-Client if-none", true, ""},
	{"proxy persist", "be", "persist rdp-cookie", true, ""},
	{"proxy rate-limit", "fe", "rate-limit sessions 100", true, ""},
	{"proxy redirect", "fe", "redirect scheme https code 301 if !{ ssl_fc }", true, ""},
	{"proxy retries", "be", "retries 5", true, ""},
	{"proxy retry-on", "be", "retry-on conn-failure empty-response", true, ""},
	{"proxy server", "be", "server s9 127.0.0.1:18030 check inter 2s weight 10", true, ""},
	{"proxy server-state-file-name", "be", "server-state-file-name use-backend-name", true, ""},
	{"proxy server-template", "be", "server-template web 3 127.0.0.1:18040", true, ""},
	{"proxy source", "be", "source 0.0.0.0", true, ""},
	{"proxy srvtcpka-cnt", "be", "srvtcpka-cnt 3", true, ""},
	{"proxy srvtcpka-idle", "be", "srvtcpka-idle 10s", true, ""},
	{"proxy srvtcpka-intvl", "be", "srvtcpka-intvl 10s", true, ""},
	{"proxy stats", "li", "stats enable\nstats uri /st\nstats auth a:b\nstats refresh 5s\nstats admin if TRUE", true, ""},
	{"proxy stick", "be", "stick-table type ip size 1k\nstick on src", true, ""},
	{"proxy stick-table", "be", "stick-table type ip size 100k expire 30m store http_req_rate(10s)", true, ""},
	{"proxy tcp-check", "be", "option tcp-check\ntcp-check connect\ntcp-check send PING\\r\\n\ntcp-check expect string +PONG", true, ""},
	{"proxy tcp-request", "fe", "tcp-request connection reject if { src 192.0.2.1 }", true, ""},
	{"proxy tcp-response", "be", "tcp-response inspect-delay 1s", true, ""},
	{"proxy timeout", "li", "timeout tunnel 1h", true, ""},
	{"proxy unique-id-format", "fe", "unique-id-format %{+X}o\\ %ci:%cp", true, ""},
	{"proxy unique-id-header", "fe", "unique-id-format %ci\nunique-id-header X-Unique-ID", true, ""},
	{"proxy use-fcgi-app", "be", "use-fcgi-app php", true, "HAProxy refuses a missing fcgi-app section; goproxy does not check it yet"},
	{"proxy use-server", "li", "use-server s2 if { path /s2 }", true, ""},
	{"proxy use_backend", "fe", "use_backend be if { hdr(host) -i a.example }", true, ""},

	{"global busy-polling", "gl", "busy-polling", true, ""},
	{"global chroot", "gl", "chroot /var/empty", true, ""},
	{"global cpu-map", "gl", "cpu-map 1 0", true, ""},
	{"global daemon", "gl", "daemon", true, ""},
	{"global description", "gl", "description test box", true, ""},
	{"global gid", "gl", "gid 65534", true, ""},
	{"global group", "gl", "group nogroup", true, ""},
	{"global hard-stop-after", "gl", "hard-stop-after 30s", true, ""},
	{"global log", "gl", "log /dev/log local0 notice", true, ""},
	{"global log-send-hostname", "gl", "log-send-hostname lb1", true, ""},
	{"global log-tag", "gl", "log-tag lb", true, ""},
	{"global master-worker", "gl", "master-worker", true, ""},
	{"global maxconn", "gl", "maxconn 5000", true, ""},
	{"global nbproc", "gl", "nbproc 1", true, "HAProxy 2.5+ refuses nbproc; goproxy accepts the 1.x keyword"},
	{"global nbthread", "gl", "nbthread 2", true, ""},
	{"global node", "gl", "node lb1", true, ""},
	{"global noepoll", "gl", "noepoll", true, ""},
	{"global nogetaddrinfo", "gl", "nogetaddrinfo", true, ""},
	{"global nopoll", "gl", "nopoll", true, ""},
	{"global noreuseport", "gl", "noreuseport", true, ""},
	{"global nosplice", "gl", "nosplice", true, ""},
	{"global numa-cpu-mapping", "gl", "numa-cpu-mapping", true, ""},
	{"global pidfile", "gl", "pidfile /run/goproxy-test.pid", true, ""},
	{"global presetenv", "gl", "presetenv GOPROXY_X 1", true, ""},
	{"global profiling.tasks", "gl", "profiling.tasks off", true, ""},
	{"global quiet", "gl", "quiet", true, ""},
	{"global resetenv", "gl", "resetenv PATH", true, ""},
	{"global set-dumpable", "gl", "set-dumpable", true, ""},
	{"global setenv", "gl", "setenv GOPROXY_X 1", true, ""},
	{"global spread-checks", "gl", "spread-checks 5", true, ""},
	{"global stats", "gl", "stats socket /tmp/goproxy-directive-test.sock mode 600 level admin expose-fd listeners\nstats timeout 30s", true, ""},
	{"global thread-groups", "gl", "thread-groups 1", true, ""},
	{"global tune.bufsize", "gl", "tune.bufsize 32768", true, ""},
	{"global tune.fd.edge-triggered", "gl", "tune.fd.edge-triggered on", true, "HAProxy 2.6 hides this keyword behind expose-experimental-directives"},
	{"global tune.idle-pool.shared", "gl", "tune.idle-pool.shared on", true, ""},
	{"global tune.idletimer", "gl", "tune.idletimer 1000", true, ""},
	{"global tune.listener.multi-queue", "gl", "tune.listener.multi-queue on", true, ""},
	{"global tune.maxaccept", "gl", "tune.maxaccept 64", true, ""},
	{"global tune.maxpollevents", "gl", "tune.maxpollevents 200", true, ""},
	{"global tune.maxrewrite", "gl", "tune.maxrewrite 1024", true, ""},
	{"global tune.recv_enough", "gl", "tune.recv_enough 10000", true, ""},
	{"global tune.runqueue-depth", "gl", "tune.runqueue-depth 200", true, ""},
	{"global tune.sched.low-latency", "gl", "tune.sched.low-latency on", true, ""},
	{"global uid", "gl", "uid 65534", true, ""},
	{"global ulimit-n", "gl", "ulimit-n 10000", true, ""},
	{"global unsetenv", "gl", "unsetenv GOPROXY_X", true, ""},
	{"global user", "gl", "user nobody", true, ""},
	{"global zero-warning", "gl", "zero-warning", true, "zero-warning makes HAProxy refuse the template's warnings"},
}

// argSamples gives plausible arguments to generated option, server and bind
// cases.
var argSamples = map[string]string{
	"server addr": "127.0.0.2", "server agent-addr": "127.0.0.1", "server agent-inter": "2s",
	"server agent-port": "8080", "server agent-send": "hello", "server alpn": "http/1.1",
	"server ca-file": "/etc/ssl/certs/ca-certificates.crt", "server check-alpn": "http/1.1",
	"server check-proto": "h2", "server check-sni": "a.example", "server ciphers": "HIGH",
	"server cookie": "s2", "server crt": "/nonexistent.pem", "server downinter": "5s",
	"server error-limit": "10", "server fall": "3", "server fastinter": "1s", "server id": "7",
	"server init-addr": "last,libc,none", "server inter": "2s", "server log-proto": "octet-count",
	"server max-reuse": "10", "server maxconn": "10", "server maxqueue": "10", "server minconn": "1",
	"server namespace": "test", "server observe": "layer4", "server on-error": "mark-down",
	"server on-marked-down": "shutdown-sessions", "server on-marked-up": "shutdown-backup-sessions",
	"server pool-low-conn": "1", "server pool-max-conn": "10", "server pool-purge-delay": "5s",
	"server port": "8080", "server proto": "h2", "server proxy-v2-options": "ssl", "server redir": "http://a.example",
	"server resolve-net": "10.0.0.0/8", "server resolve-opts": "allow-dup-ip", "server resolve-prefer": "ipv4",
	"server resolvers": "missing", "server rise": "2", "server set-proxy-v2-tlv-fmt(0x20)": "%[fc_pp_tlv(0x20)]",
	"server slowstart": "10s", "server sni": "str(a.example)", "server socks4": "127.0.0.1:1080",
	"server source": "0.0.0.0", "server ssl-max-ver": "TLSv1.3", "server ssl-min-ver": "TLSv1.2",
	"server tcp-ut": "10s", "server track": "li/s2", "server usesrc": "client", "server verify": "none",
	"server verifyhost": "a.example", "server weight": "10", "server ws": "auto", "server set-proxy-v2-tlv-fmt": "x",
	"bind alpn": "h2,http/1.1", "bind backlog": "100", "bind ca-file": "/etc/ssl/certs/ca-certificates.crt",
	"bind ciphers": "HIGH", "bind ciphersuites": "TLS_AES_128_GCM_SHA256", "bind crl-file": "/nonexistent.crl",
	"bind crt": "/nonexistent.pem", "bind crt-list": "/nonexistent.list", "bind curves": "X25519",
	"bind ecdhe": "prime256v1", "bind expose-fd": "listeners", "bind gid": "0", "bind group": "root",
	"bind id": "9", "bind interface": "lo", "bind level": "admin", "bind maxconn": "10", "bind mode": "600",
	"bind mss": "1400", "bind name": "b1", "bind namespace": "test", "bind nice": "10", "bind npn": "http/1.1",
	"bind process": "1", "bind proto": "h2", "bind quic-cc-algo": "cubic", "bind severity-output": "string",
	"bind ssl-max-ver": "TLSv1.3", "bind ssl-min-ver": "TLSv1.2", "bind tcp-ut": "10s", "bind thread": "1",
	"bind uid": "0", "bind user": "root", "bind verify": "none",
	"option forwardfor": "except 127.0.0.1", "option httpchk": "GET /", "option mysql-check": "user haproxy",
	"option smtpchk": "HELO a.example", "option http-restrict-req-hdr-names": "reject", "option pgsql-check": "user haproxy", "option httplog": "clf", "option originalto": "header X-Orig",
}

// generatedCases makes one case per option, server option and bind option
// from the keyword tables, so that a new table entry without a case fails
// TestEveryDirectiveHasACase only if it cannot be generated.
func generatedCases() []directiveCase {
	var out []directiveCase
	for k, kw := range optionKeywords {
		in := "li"
		if kw.cap == CapFE {
			in = "fe"
		} else if kw.cap == CapBE {
			in = "be"
		}
		line := strings.TrimSpace("option " + k + " " + argSamples["option "+k])
		out = append(out, directiveCase{Key: "option " + k, In: in, Lines: line, Valid: true})
	}
	for k, o := range serverOptions {
		args := ""
		if o.n > 0 {
			args = " " + argSamples["server "+k]
		}
		out = append(out, directiveCase{Key: "server " + k, In: "be", Lines: "server s8 127.0.0.1:18050 " + k + args, Valid: true})
	}
	for k, o := range bindOptions {
		args := ""
		if o.n > 0 {
			args = " " + argSamples["bind "+k]
		}
		out = append(out, directiveCase{Key: "bind " + k, In: "fe", Lines: "bind 127.0.0.1:18060 " + k + args, Valid: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// generatedExpectations corrects the generated cases where the plain form
// is not valid, or where HAProxy cannot agree on this machine.
var generatedExpectations = map[string]struct {
	valid   bool
	differs string
}{
	"bind crl-file":                      {true, "TLS is not implemented yet: files of TLS options are not opened"},
	"bind crt":                           {true, "TLS is not implemented yet: files of TLS options are not opened"},
	"bind crt-list":                      {true, "TLS is not implemented yet: files of TLS options are not opened"},
	"bind ssl":                           {false, ""},
	"bind namespace":                     {true, "network namespace 'test' does not exist on this machine"},
	"server namespace":                   {true, "network namespace 'test' does not exist on this machine"},
	"bind quic-cc-algo":                  {true, "Debian's HAProxy 2.6 is built without QUIC"},
	"option external-check":              {true, "HAProxy also wants 'external-check' in global; goproxy does not check it"},
	"option forceclose":                  {true, "HAProxy 1.x option (refused since 2.0): accepted as 'option httpclose' with a warning"},
	"option http-tunnel":                 {true, "HAProxy 1.x option (refused since 2.1): accepted with a warning"},
	"option http-use-htx":                {true, "HAProxy 1.9/2.0 option (refused since 2.1): accepted with a warning"},
	"option http_proxy":                  {true, "refused since HAProxy 2.5: accepted with a not-implemented warning"},
	"option http-drop-request-trailers":  {true, "HAProxy 2.8 option: accepted with a not-implemented warning"},
	"option http-drop-response-trailers": {true, "HAProxy 2.8 option: accepted with a not-implemented warning"},
	"server agent-check":                 {true, "HAProxy refuses agent-check without agent-port; goproxy does not check it yet"},
	"server check-ssl":                   {true, "HAProxy refuses ssl checks without ca-file or 'verify none'; goproxy does not check it yet"},
	"server ssl":                         {true, "HAProxy refuses ssl without ca-file or 'verify none'; goproxy does not check it yet"},
	"server resolvers":                   {false, ""},
	"server set-proxy-v2-tlv-fmt":        {true, "HAProxy 2.9 keyword: accepted with a not-implemented warning"},
	"server track":                       {true, "HAProxy refuses tracking a server without check; goproxy does not check it yet"},
	"server usesrc":                      {true, "HAProxy refuses usesrc without source; goproxy does not check it yet"},
}

func allDirectiveCases() []directiveCase {
	cases := append([]directiveCase{}, proxyAndGlobalCases...)
	for _, c := range generatedCases() {
		if e, ok := generatedExpectations[c.Key]; ok {
			c.Valid, c.Differs = e.valid, e.differs
		}
		cases = append(cases, c)
	}
	return cases
}

// TestEveryDirectiveHasACase keeps the rule "one table entry, one test":
// every proxy keyword and every implemented global keyword has a case.
func TestEveryDirectiveHasACase(t *testing.T) {
	have := map[string]bool{}
	for _, c := range allDirectiveCases() {
		if have[c.Key] {
			t.Errorf("two cases for %q", c.Key)
		}
		have[c.Key] = true
	}
	for k := range proxyKeywords {
		if !have["proxy "+k] {
			t.Errorf("proxy keyword %q has no case in proxyAndGlobalCases", k)
		}
	}
	for k, kw := range globalKeywords {
		if !kw.notImpl && !have["global "+k] {
			t.Errorf("global keyword %q has no case in proxyAndGlobalCases", k)
		}
	}
}

// TestDirectives loads every case with goproxy, checks the verdict, and
// asks haproxy -c for its verdict on the same text.
func TestDirectives(t *testing.T) {
	haproxy := ""
	if _, err := exec.LookPath("haproxy"); err == nil || testenv.InCI() {
		haproxy = testenv.LookPath(t, "haproxy")
	}
	dir := t.TempDir()
	for _, c := range allDirectiveCases() {
		t.Run(c.Key, func(t *testing.T) {
			src := c.config()
			cfg, d := Parse("directive.cfg", []byte(src), LoadOptions{Resolve: fakeResolve})
			if (cfg != nil) != c.Valid {
				t.Errorf("goproxy valid=%v, want %v:\n%s\n%s", cfg != nil, c.Valid, d, src)
			}
			if haproxy == "" || c.Differs != "" {
				return
			}
			path := filepath.Join(dir, strings.NewReplacer(" ", "_", "/", "_").Replace(c.Key)+".cfg")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(haproxy, "-c", "-f", path).CombinedOutput()
			if (err == nil) != c.Valid {
				t.Errorf("haproxy valid=%v, goproxy wants %v:\n%s", err == nil, c.Valid, out)
			}
		})
	}
}
