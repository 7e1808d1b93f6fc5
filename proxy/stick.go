package proxy

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"hapair/parser/haproxy"
	"hapair/proxy/acl"
)

// stickTable is a `stick-table` at run time: entries keyed by a sample
// (usually the client address) holding the counters the `store` list
// names and, for stick rules, the server an entry sticks to. Entries
// expire `expire` after their last use; at `size` entries the least
// recently used is dropped.
type stickTable struct {
	name   string
	size   int
	expire time.Duration
	// data types stored, with the period of the rate counters.
	store map[string]time.Duration

	mu      sync.Mutex
	entries map[string]*stickEntry
}

// stickEntry is one key of a stick table. Its fields are guarded by the
// table's mutex.
type stickEntry struct {
	key      string
	used     time.Time // last use (expiry and eviction)
	serverID int       // stick rules: the server's id, 0 = none
	refs     int       // trackers holding it (never expires meanwhile)

	connCnt, connCur, reqCnt, errCnt, gpc0, gpt0 int64
	connRate, reqRate, errRate                   freqCtr
}

// freqCtr is HAProxy's frequency counter over a sliding period: events
// of the current period plus the previous period's count weighted by the
// part of it still inside the window.
type freqCtr struct {
	start      time.Time
	curr, prev int64
}

func (f *freqCtr) rotate(now time.Time, period time.Duration) {
	if f.start.IsZero() {
		f.start = now
		return
	}
	el := now.Sub(f.start)
	if el < period {
		return
	}
	if el >= 2*period {
		f.prev = 0
		f.start = now
	} else {
		f.prev = f.curr
		f.start = f.start.Add(period)
	}
	f.curr = 0
}

func (f *freqCtr) add(now time.Time, period time.Duration, n int64) {
	f.rotate(now, period)
	f.curr += n
}

func (f *freqCtr) read(now time.Time, period time.Duration) int64 {
	if f.start.IsZero() || period <= 0 {
		return 0
	}
	el := now.Sub(f.start)
	curr, prev := f.curr, f.prev
	switch {
	case el >= 2*period:
		return 0
	case el >= period:
		prev, curr = curr, 0
		el -= period
	}
	remain := period - el
	return curr + int64(float64(prev)*float64(remain)/float64(period))
}

func newStickTable(name string, st *haproxy.StickTable) *stickTable {
	t := &stickTable{name: name, expire: st.Expire, store: map[string]time.Duration{}, entries: map[string]*stickEntry{}}
	t.size = parseSize(st.Size)
	for _, s := range st.Store {
		n, arg, _ := strings.Cut(strings.TrimSuffix(s, ")"), "(")
		var d time.Duration
		if arg != "" {
			d = parseStickPeriod(arg)
		}
		t.store[n] = d
	}
	return t
}

// parseSize reads 200k / 1m / 100 as HAProxy does (k, m, g: powers of 1024).
func parseSize(s string) int {
	mul := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mul, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mul, s = 1024*1024, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mul, s = 1024*1024*1024, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 1 << 20
	}
	return n * mul
}

// parseStickPeriod reads a rate period (default unit ms).
func parseStickPeriod(s string) time.Duration {
	units := []struct {
		suf string
		d   time.Duration
	}{{"ms", time.Millisecond}, {"us", time.Microsecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suf); ok {
			n, err := strconv.Atoi(v)
			if err == nil {
				return time.Duration(n) * u.d
			}
		}
	}
	n, _ := strconv.Atoi(s)
	return time.Duration(n) * time.Millisecond
}

// lookup returns the entry of key, or nil (expired entries are gone).
// Call with t.mu held.
func (t *stickTable) lookupLocked(key string, now time.Time) *stickEntry {
	e := t.entries[key]
	if e != nil && e.refs == 0 && t.expire > 0 && now.Sub(e.used) >= t.expire {
		delete(t.entries, key)
		return nil
	}
	return e
}

// getLocked returns the entry of key, created when missing.
func (t *stickTable) getLocked(key string, now time.Time) *stickEntry {
	if e := t.lookupLocked(key, now); e != nil {
		e.used = now
		return e
	}
	if len(t.entries) >= t.size {
		t.evictLocked(now)
	}
	e := &stickEntry{key: key, used: now}
	t.entries[key] = e
	return e
}

// evictLocked drops expired entries, else the least recently used
// untracked one.
func (t *stickTable) evictLocked(now time.Time) {
	var oldest *stickEntry
	for k, e := range t.entries {
		if e.refs > 0 {
			continue
		}
		if t.expire > 0 && now.Sub(e.used) >= t.expire {
			delete(t.entries, k)
			continue
		}
		if oldest == nil || e.used.Before(oldest.used) {
			oldest = e
		}
	}
	if len(t.entries) >= t.size && oldest != nil {
		delete(t.entries, oldest.key)
	}
}

// track starts tracking e (track-scN): the connection counters count it.
func (t *stickTable) track(e *stickEntry, now time.Time, httpReq bool) {
	t.mu.Lock()
	e.refs++
	e.used = now
	e.connCnt++
	e.connCur++
	if p, ok := t.store["conn_rate"]; ok {
		e.connRate.add(now, p, 1)
	}
	if httpReq {
		t.countRequestLocked(e, now)
	}
	t.mu.Unlock()
}

// untrack ends a tracking started by track.
func (t *stickTable) untrack(e *stickEntry) {
	t.mu.Lock()
	e.refs--
	e.connCur--
	e.used = time.Now()
	t.mu.Unlock()
}

func (t *stickTable) countRequestLocked(e *stickEntry, now time.Time) {
	e.reqCnt++
	if p, ok := t.store["http_req_rate"]; ok {
		e.reqRate.add(now, p, 1)
	}
}

// countError counts an HTTP error response (4xx but 401 and 407, as
// HAProxy's http_err counters).
func (t *stickTable) countError(e *stickEntry, now time.Time) {
	t.mu.Lock()
	e.errCnt++
	if p, ok := t.store["http_err_rate"]; ok {
		e.errRate.add(now, p, 1)
	}
	t.mu.Unlock()
}

// value reads one counter of e; ok is false when the table does not
// store it (HAProxy then gives no sample).
func (t *stickTable) value(e *stickEntry, what string, now time.Time) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if what == "trackers" {
		return int64(e.refs), true
	}
	p, stored := t.store[what]
	if !stored {
		switch what {
		case "get_gpc0", "inc_gpc0", "clr_gpc0":
			_, stored = t.store["gpc0"]
		case "get_gpt0":
			_, stored = t.store["gpt0"]
		case "sess_cnt":
			p, stored = t.store["conn_cnt"]
		case "sess_rate":
			p, stored = t.store["conn_rate"]
		}
		if !stored {
			return 0, false
		}
	}
	switch what {
	case "conn_cnt", "sess_cnt":
		return e.connCnt, true
	case "conn_cur":
		return e.connCur, true
	case "conn_rate", "sess_rate":
		return e.connRate.read(now, p), true
	case "http_req_cnt":
		return e.reqCnt, true
	case "http_req_rate":
		return e.reqRate.read(now, p), true
	case "http_err_cnt":
		return e.errCnt, true
	case "http_err_rate":
		return e.errRate.read(now, p), true
	case "get_gpc0", "gpc0":
		return e.gpc0, true
	case "inc_gpc0":
		e.gpc0++
		return e.gpc0, true
	case "clr_gpc0":
		v := e.gpc0
		e.gpc0 = 0
		return v, true
	case "get_gpt0", "gpt0":
		return e.gpt0, true
	}
	return 0, false
}

// counterNames are the stick counter data a fetch can read.
var counterNames = map[string]bool{
	"conn_cnt": true, "conn_cur": true, "conn_rate": true, "sess_cnt": true, "sess_rate": true,
	"http_req_cnt": true, "http_req_rate": true, "http_err_cnt": true, "http_err_rate": true,
	"get_gpc0": true, "inc_gpc0": true, "clr_gpc0": true, "get_gpt0": true, "trackers": true,
}

// trackers are the stick counters (sc0..sc2) a transaction tracks:
// those of the connection (tcp-request) and of the current request
// (http-request).
type trackers struct {
	sc   [3]*stickEntry
	tab  [3]*stickTable
	http [3]bool // tracked by http-request: released at the request's end
	src  string  // client address as a table key
}

// release ends the request's trackings (all when whole).
func (tr *trackers) release(whole bool) {
	for i := range tr.sc {
		if tr.sc[i] != nil && (whole || tr.http[i]) {
			tr.tab[i].untrack(tr.sc[i])
			tr.sc[i], tr.tab[i], tr.http[i] = nil, nil, false
		}
	}
}

// countRequest counts a new HTTP request on the counters the connection
// tracks (tcp-request track-sc).
func (tr *trackers) countRequest(now time.Time) {
	for i, e := range tr.sc {
		if e != nil && !tr.http[i] {
			t := tr.tab[i]
			t.mu.Lock()
			t.countRequestLocked(e, now)
			t.mu.Unlock()
		}
	}
}

// countStatus counts an HTTP error status on every tracked counter.
func (tr *trackers) countStatus(status int, now time.Time) {
	if status < 400 || status > 499 || status == 401 || status == 407 {
		return
	}
	for i, e := range tr.sc {
		if e != nil {
			tr.tab[i].countError(e, now)
		}
	}
}

// stickCounterFetch compiles sc_X(n[,table]), scN_X([table]) and
// src_X([table]) for acl.Env.Counter.
func (p *Proxy) stickCounterFetch(name string, args []string, section string) (func(*acl.Txn) (int64, bool), bool, error) {
	switch {
	case strings.HasPrefix(name, "sc_"):
		what := name[3:]
		if !counterNames[what] {
			return nil, false, nil
		}
		if len(args) == 0 {
			return nil, true, fmt.Errorf("missing stick counter number")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 2 {
			return nil, true, fmt.Errorf("invalid stick counter '%s'", args[0])
		}
		return scFetch(n, what), true, nil
	case len(name) > 4 && name[0] == 's' && name[1] == 'c' && name[2] >= '0' && name[2] <= '2' && name[3] == '_':
		what := name[4:]
		if !counterNames[what] {
			return nil, false, nil
		}
		return scFetch(int(name[2]-'0'), what), true, nil
	case strings.HasPrefix(name, "src_"):
		what := name[4:]
		if !counterNames[what] || what == "trackers" {
			return nil, false, nil
		}
		tname := section
		if len(args) > 0 {
			tname = args[0]
		}
		t := p.tables[tname]
		if t == nil {
			return nil, true, fmt.Errorf("no stick-table '%s'", tname)
		}
		return func(at *acl.Txn) (int64, bool) {
			now := time.Now()
			key := at.Src.Addr().Unmap().String()
			t.mu.Lock()
			e := t.lookupLocked(key, now)
			if e == nil && what == "inc_gpc0" {
				e = t.getLocked(key, now)
			}
			t.mu.Unlock()
			if e == nil {
				return 0, true
			}
			return t.value(e, what, now)
		}, true, nil
	}
	return nil, false, nil
}

func scFetch(n int, what string) func(*acl.Txn) (int64, bool) {
	return func(at *acl.Txn) (int64, bool) {
		tr, _ := at.Stick.(*trackers)
		if tr == nil || tr.sc[n] == nil {
			return 0, false
		}
		return tr.tab[n].value(tr.sc[n], what, time.Now())
	}
}

// trackAction is a compiled track-scN / sc-inc-gpc0 / sc-set-gpt0 rule.
type trackAction struct {
	n     int
	key   *acl.Expr
	table *stickTable
}

// compileTrack compiles `track-scN KEY [table T]` of section pc.
func (p *Proxy) compileTrack(r *haproxy.Rule, pc *haproxy.Proxy) (*trackAction, error) {
	n := int(r.Action[len("track-sc")] - '0')
	if len(r.Args) == 0 {
		return nil, fmt.Errorf("'%s' expects a sample expression", r.Action)
	}
	ta := &trackAction{n: n}
	tname := pc.Name
	if len(r.Args) >= 3 && r.Args[1] == "table" {
		tname = r.Args[2]
	}
	ta.table = p.tables[tname]
	if ta.table == nil {
		return nil, fmt.Errorf("'%s': no stick-table '%s'", r.Action, tname)
	}
	e, err := acl.CompileExpr("%["+r.Args[0]+"]", p.aclEnv())
	if err != nil {
		return nil, fmt.Errorf("'%s': %w", r.Action, err)
	}
	ta.key = e
	return ta, nil
}

// do tracks the key in counter n unless it is already tracked.
func (ta *trackAction) do(tr *trackers, at *acl.Txn, httpReq bool) {
	if tr.sc[ta.n] != nil {
		return
	}
	key, ok := ta.key.Sample(at)
	if !ok {
		return
	}
	now := time.Now()
	ta.table.mu.Lock()
	e := ta.table.getLocked(key, now)
	ta.table.mu.Unlock()
	ta.table.track(e, now, httpReq)
	tr.sc[ta.n], tr.tab[ta.n], tr.http[ta.n] = e, ta.table, httpReq
}

// scAction runs sc-inc-gpc0(N) / sc-set-gpt0(N) VALUE.
func scAction(r *haproxy.Rule, tr *trackers) {
	if len(r.Args) == 0 {
		return
	}
	n, err := strconv.Atoi(r.Args[0])
	if err != nil || n < 0 || n > 2 || tr.sc[n] == nil {
		return
	}
	t, e := tr.tab[n], tr.sc[n]
	t.mu.Lock()
	defer t.mu.Unlock()
	switch r.Action {
	case "sc-inc-gpc0":
		if _, ok := t.store["gpc0"]; ok {
			e.gpc0++
		}
	case "sc-set-gpt0":
		if _, ok := t.store["gpt0"]; ok && len(r.Args) > 1 {
			v, _ := strconv.ParseInt(r.Args[1], 10, 64)
			e.gpt0 = v
		}
	}
}

// stickRule is a compiled `stick on|match|store-request KEY [table T]
// [if|unless cond]` line.
type stickRule struct {
	match, store bool
	key          *acl.Expr
	table        *stickTable
	cond         *cond
}

// compileStickRules compiles a backend's stick lines. The parser keeps
// their words; conditions may name ACLs of the section.
func (p *Proxy) compileStickRules(pc *haproxy.Proxy) ([]*stickRule, error) {
	var out []*stickRule
	for _, r := range pc.StickRules {
		w := r.Args
		if len(w) < 2 {
			return nil, fmt.Errorf("[%s:%d] 'stick' expects 'on', 'match' or 'store-request' and a pattern", r.Pos.File, r.Pos.Line)
		}
		sr := &stickRule{}
		switch w[0] {
		case "on":
			sr.match, sr.store = true, true
		case "match":
			sr.match = true
		case "store-request":
			sr.store = true
		default:
			return nil, fmt.Errorf("[%s:%d] 'stick %s' is not supported", r.Pos.File, r.Pos.Line, w[0])
		}
		tname := pc.Name
		rest := w[2:]
		if len(rest) >= 2 && rest[0] == "table" {
			tname = rest[1]
			rest = rest[2:]
		}
		sr.table = p.tables[tname]
		if sr.table == nil {
			return nil, fmt.Errorf("[%s:%d] 'stick': no stick-table '%s'", r.Pos.File, r.Pos.Line, tname)
		}
		e, err := acl.CompileExpr("%["+w[1]+"]", p.aclEnv())
		if err != nil {
			return nil, fmt.Errorf("[%s:%d] 'stick': %w", r.Pos.File, r.Pos.Line, err)
		}
		sr.key = e
		c := r.Cond
		if c == nil && len(rest) > 0 {
			if c, err = condFromWords(rest, pc); err != nil {
				return nil, fmt.Errorf("[%s:%d] 'stick': %w", r.Pos.File, r.Pos.Line, err)
			}
		}
		if sr.cond, err = compileCond(c, p.aclEnv()); err != nil {
			return nil, fmt.Errorf("[%s:%d] 'stick': %w", r.Pos.File, r.Pos.Line, err)
		}
		out = append(out, sr)
	}
	return out, nil
}

// condFromWords builds `if|unless [!]acl [[!]acl...] [or ...]` from words
// naming ACLs of pc (anonymous { } ACLs are not supported here).
func condFromWords(w []string, pc *haproxy.Proxy) (*haproxy.Cond, error) {
	if len(w) == 0 || w[0] != "if" && w[0] != "unless" {
		return nil, fmt.Errorf("unexpected '%s' (expects 'table', 'if' or 'unless')", strings.Join(w, " "))
	}
	c := &haproxy.Cond{Unless: w[0] == "unless", Raw: w}
	var and []haproxy.CondTerm
	for _, x := range w[1:] {
		if x == "||" || x == "or" {
			c.Terms = append(c.Terms, and)
			and = nil
			continue
		}
		neg := strings.HasPrefix(x, "!")
		name := strings.TrimPrefix(x, "!")
		var alts []*haproxy.ACL
		for _, a := range pc.ACLs {
			if a.Name == name {
				alts = append(alts, a)
			}
		}
		if len(alts) == 0 {
			return nil, fmt.Errorf("no such ACL : '%s'", name)
		}
		and = append(and, haproxy.CondTerm{Negate: neg, Name: name, ACL: alts[len(alts)-1], Alts: alts})
	}
	c.Terms = append(c.Terms, and)
	return c, nil
}

// stickMatch returns the server a `stick match`/`stick on` rule sends the
// request to (up, or down with option persist), or nil.
func (be *Backend) stickMatch(t *txn) *Server {
	for _, sr := range be.stick {
		if !sr.match || !sr.cond.ok(t) {
			continue
		}
		key, ok := sr.key.Sample(t.aclTxn())
		if !ok {
			continue
		}
		sr.table.mu.Lock()
		e := sr.table.lookupLocked(key, time.Now())
		id := 0
		if e != nil {
			id = e.serverID
			e.used = time.Now()
		}
		sr.table.mu.Unlock()
		if id == 0 {
			continue
		}
		for _, s := range be.Servers {
			if s.id == id && (s.up.Load() || be.Cfg.Options.Persist) {
				return s
			}
		}
	}
	return nil
}

// stickStore records srv for the request's keys (`stick store-request`,
// `stick on`).
func (be *Backend) stickStore(t *txn, srv *Server) {
	for _, sr := range be.stick {
		if !sr.store || !sr.cond.ok(t) {
			continue
		}
		key, ok := sr.key.Sample(t.aclTxn())
		if !ok {
			continue
		}
		now := time.Now()
		sr.table.mu.Lock()
		sr.table.getLocked(key, now).serverID = srv.id
		sr.table.mu.Unlock()
	}
}

// commonAction runs the actions tcp-request and http-request share:
// track-scN, sc-inc-gpc0, sc-set-gpt0, set-var and unset-var. It reports
// whether a was one of them.
func (s *session) commonAction(a *action, t *txn, httpReq bool) bool {
	r := a.rule
	switch r.Action {
	case "track-sc0", "track-sc1", "track-sc2":
		a.track.do(s.trackers(t), t.aclTxn(), httpReq)
	case "sc-inc-gpc0", "sc-set-gpt0":
		scAction(r, s.trackers(t))
	case "set-var":
		if a.sample == nil {
			return true
		}
		v, ok := a.sample.lit, true
		if a.sample.e != nil {
			v, ok = a.sample.e.Sample(t.aclTxn())
		}
		if ok {
			if s.vars == nil {
				s.vars = map[string]string{}
			}
			s.vars[r.Name] = v
			t.vars = s.vars
		}
	case "unset-var":
		delete(s.vars, r.Name)
	default:
		return false
	}
	return true
}

// trackers returns the session's stick counters, attached to t.
func (s *session) trackers(t *txn) *trackers {
	if s.trk == nil {
		s.trk = &trackers{}
	}
	t.trk = s.trk
	return s.trk
}

// endRequest releases what an HTTP request tracked and clears its
// variables (txn., req. and res. scopes; sess. ones live on).
func (s *session) endRequest(status int) {
	if s.trk != nil {
		s.trk.countStatus(status, time.Now())
		s.trk.release(false)
	}
	for k := range s.vars {
		if !strings.HasPrefix(k, "sess.") && !strings.HasPrefix(k, "proc.") {
			delete(s.vars, k)
		}
	}
}
