package proxy

import (
	"sync/atomic"
	"time"
)

// Counters are the lock-free statistics of a frontend, backend or server,
// named after the columns of HAProxy's stats CSV so the stats page can
// print them directly. Not every counter applies to every object, as in
// HAProxy (for example dreq is frontend/backend only).
type Counters struct {
	Scur, Smax, Stot atomic.Int64 // current, max and total sessions
	Bin, Bout        atomic.Int64 // bytes in (from clients) and out (to clients)
	Dreq, Dresp      atomic.Int64 // requests and responses denied
	Ereq             atomic.Int64 // request errors (frontend)
	Econ             atomic.Int64 // connection errors to servers
	Eresp            atomic.Int64 // response errors
	Wretr, Wredis    atomic.Int64 // retries and redispatches
	Qcur, Qmax       atomic.Int64 // queued requests
	Lbtot            atomic.Int64 // times a server was picked
	ReqTot           atomic.Int64 // HTTP requests (req_tot)
	// Hrsp counts HTTP responses by class: [0] 1xx ... [4] 5xx, [5] other.
	Hrsp [6]atomic.Int64
	// CliAbrt, SrvAbrt count transfers aborted by the client or server.
	CliAbrt, SrvAbrt atomic.Int64
	// Dcon counts connections refused by tcp-request connection rules.
	Dcon atomic.Int64
	// Intercepted counts requests answered by the proxy itself.
	Intercepted atomic.Int64
	// LastSess is the Unix time of the last session (lastsess).
	LastSess atomic.Int64
}

// incCur increments a current counter and raises its max.
func incCur(cur, max *atomic.Int64) {
	v := cur.Add(1)
	for {
		m := max.Load()
		if v <= m || max.CompareAndSwap(m, v) {
			return
		}
	}
}

// session marks the start of a session on c.
func (c *Counters) session(now time.Time) {
	incCur(&c.Scur, &c.Smax)
	c.Stot.Add(1)
	c.LastSess.Store(now.Unix())
}

// status counts an HTTP response status.
func (c *Counters) status(st int) {
	i := st/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	c.Hrsp[i].Add(1)
}
