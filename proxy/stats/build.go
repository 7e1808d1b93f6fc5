package stats

import "strconv"

// Counters are the traffic counters shared by frontends, backends and
// servers. Times are in milliseconds; rates per second over the last
// second; LastSess is the number of seconds since the last session, -1
// when there was none.
type Counters struct {
	Qcur, Qmax, Scur, Smax, Stot   int64
	Bin, Bout                      int64
	Dreq, Dresp, Ereq              int64
	Econ, Eresp, Wretr, Wredis     int64
	Rate, RateMax                  int64
	Hrsp                           [6]int64 // 1xx, 2xx, 3xx, 4xx, 5xx, other
	ReqRate, ReqRateMax, ReqTot    int64
	CliAbrt, SrvAbrt               int64
	LastSess                       int64
	Qtime, Ctime, Rtime, Ttime     int64
	QtimeMax, CtimeMax             int64
	RtimeMax, TtimeMax             int64
	ConnRate, ConnRateMax, ConnTot int64
	Intercepted, Dcon, Dses, Wrew  int64
	Connect, Reuse, Eint           int64
}

// Frontend describes a frontend (or the frontend side of a listen).
type Frontend struct {
	Name string
	IID  int // proxy id (HAProxy numbers user proxies from 2 when a stats socket exists)
	HTTP bool
	// Status is "OPEN", "STOP" (disabled) or "FULL"; empty means OPEN.
	Status  string
	Slim    int64 // maxconn
	RateLim int64
	Counters
	// H1 are the HTTP/1 module counters (h1_open_connections,
	// h1_open_streams, h1_total_connections, h1_total_streams,
	// h1_bytes_in, h1_bytes_out, h1_spliced_bytes_in,
	// h1_spliced_bytes_out).
	H1 [8]int64
}

// Backend describes a backend (or the backend side of a listen).
type Backend struct {
	Name string
	IID  int
	HTTP bool
	// Up is false when no server can take traffic (total weight 0 while
	// the backend has servers).
	Up bool
	// Weight is the total effective weight, Act and Bck the numbers of
	// usable active and backup servers, UWeight the user weight sum.
	Weight, Act, Bck, UWeight int
	Slim                      int64 // fullconn-derived session limit
	ChkDown                   int64 // transitions to DOWN
	LastChg                   int64 // seconds since the last change
	// Downtime is the total down time in seconds; shown only when the
	// backend has servers (HasServers).
	Downtime   int64
	HasServers bool
	LbTot      int64
	Algo       string // roundrobin, leastconn, source, ...
	Counters
	H1 [8]int64 // as Frontend.H1
}

// AdminState is a server's administrative state, set by the operator.
type AdminState int

// Administrative states (`set server be/s state ready|drain|maint`).
const (
	AdminReady AdminState = iota
	AdminDrain
	AdminMaint
)

// String returns the word the stats socket uses.
func (a AdminState) String() string {
	switch a {
	case AdminDrain:
		return "drain"
	case AdminMaint:
		return "maint"
	}
	return "ready"
}

// OpState is a server's operational state, decided by health checks.
type OpState int

// Operational states.
const (
	OpStopped  OpState = iota // DOWN
	OpRunning                 // UP
	OpStopping                // NOLB (http-check disable-on-404)
)

// Check is the state of a server's health check.
type Check struct {
	Status   string // L4OK, L4CON, L7STS, ... (with "* " prefix while running)
	Code     int    // L7 response code, 0 when none
	Duration int64  // ms, -1 when unknown
	Desc     string // "Layer4 check passed"
	Info     string // "Connection refused" (column last_chk)
	// Rise and Fall as configured; Health counts from 0 (down) to
	// Rise+Fall-1 (fully up); the server is up from Rise on.
	Rise, Fall, Health int
}

// Server describes one server of a backend.
type Server struct {
	Proxy, Name string
	IID, SID    int
	HTTP        bool
	Admin       AdminState
	Op          OpState
	Check       *Check // nil when the server has no health check
	// CheckPaused hides the check's result columns while the server is
	// in maintenance (HAProxy pauses its check), keeping its counters.
	CheckPaused bool
	Weight      int // effective weight
	UWeight     int // user weight
	Backup      bool
	Slim        int64 // maxconn, 0 for none
	Qlimit      int64 // maxqueue, 0 for none
	ChkFail     int64
	ChkDown     int64
	LastChg     int64
	Downtime    int64
	LbTot       int64
	Addr        string // ip:port
	Cookie      string
	// Connection pool gauges.
	SrvIcur, IdleConnCur, SafeConnCur, UsedConnCur, NeedConnEst int64
	Counters
}

// Status returns the server's status as the stats page and CSV show it:
// "UP", "DOWN", "UP 1/3" (going down), "DOWN 1/2" (going up), "NOLB",
// "DRAIN", "MAINT", "no check".
func (s *Server) Status() string {
	if s.Admin == AdminMaint {
		return "MAINT"
	}
	c := s.Check
	checked := c != nil
	var health, rise, fall int
	if checked {
		health, rise, fall = c.Health, c.Rise, c.Fall
	}
	goingDown := func(base string) string {
		return base + " " + strconv.Itoa(health-rise+1) + "/" + strconv.Itoa(fall)
	}
	switch s.Op {
	case OpRunning:
		down := checked && health < rise+fall-1
		if s.Admin == AdminDrain {
			if down {
				return goingDown("DRAIN")
			}
			return "DRAIN"
		}
		if down {
			return goingDown("UP")
		}
		if !checked {
			return "no check"
		}
		return "UP"
	case OpStopping:
		if !checked || health == rise+fall-1 {
			return "NOLB"
		}
		return goingDown("NOLB")
	}
	if checked && health > 0 {
		return "DOWN " + strconv.Itoa(health) + "/" + strconv.Itoa(rise)
	}
	return "DOWN"
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func mode(http bool) string {
	if http {
		return "http"
	}
	return "tcp"
}

// setInts sets consecutive integer fields starting at f.
func (r *Row) setInts(f int, vs ...int64) {
	for i, v := range vs {
		r.SetInt(f+i, v)
	}
}

func (r *Row) setHrsp(c *Counters) {
	for i, v := range c.Hrsp {
		r.SetInt(FHrsp1xx+i, v)
	}
}

func (r *Row) setZeros(from, to int) {
	for f := from; f <= to; f++ {
		r[f] = "0"
	}
}

// Row returns the frontend's CSV row.
func (f *Frontend) Row() Row {
	var r Row
	c := &f.Counters
	r[FPxname], r[FSvname] = f.Name, "FRONTEND"
	r.setInts(FScur, c.Scur, c.Smax, f.Slim, c.Stot, c.Bin, c.Bout, c.Dreq, c.Dresp, c.Ereq)
	r[FStatus] = f.Status
	if r[FStatus] == "" {
		r[FStatus] = "OPEN"
	}
	r.setInts(FPid, 1, int64(f.IID), 0)
	r.setInts(FType, TypeFrontend, c.Rate, f.RateLim, c.RateMax)
	if f.HTTP {
		r.setHrsp(c)
		r.SetInt(FIntercepted, c.Intercepted)
		r.setZeros(FCacheLookups, FCacheHits)
	}
	r.setInts(FReqRate, c.ReqRate, c.ReqRateMax, c.ReqTot)
	r.setZeros(FCompIn, FCompRsp)
	r[FMode] = mode(f.HTTP)
	r.setInts(FConnRate, c.ConnRate, c.ConnRateMax, c.ConnTot)
	r.setInts(FDcon, c.Dcon, c.Dses, c.Wrew)
	r.SetInt(FEint, c.Eint)
	r[FSep] = "-"
	r.setZeros(FSep+1, NumFields-1)
	r.setInts(FH1OpenConnections, f.H1[:]...)
	return r
}

// Row returns the backend's CSV row.
func (b *Backend) Row() Row {
	var r Row
	c := &b.Counters
	r[FPxname], r[FSvname] = b.Name, "BACKEND"
	r.setInts(FQcur, c.Qcur, c.Qmax, c.Scur, c.Smax, b.Slim, c.Stot, c.Bin, c.Bout, c.Dreq, c.Dresp)
	r.setInts(FEcon, c.Econ, c.Eresp, c.Wretr, c.Wredis)
	r[FStatus] = "UP"
	if !b.Up {
		r[FStatus] = "DOWN"
	}
	r.setInts(FWeight, int64(b.Weight), int64(b.Act), int64(b.Bck))
	r.setInts(FChkdown, b.ChkDown, b.LastChg)
	if b.HasServers {
		r.SetInt(FDowntime, b.Downtime)
	}
	r.setInts(FPid, 1, int64(b.IID), 0)
	r.SetInt(FLbtot, b.LbTot)
	r.setInts(FType, TypeBackend, c.Rate)
	r.SetInt(FRateMax, c.RateMax)
	if b.HTTP {
		r.setHrsp(c)
		r.SetInt(FReqTot, c.ReqTot)
		r.setZeros(FCacheLookups, FCacheHits)
	}
	r.setInts(FCliAbrt, c.CliAbrt, c.SrvAbrt)
	r.setZeros(FCompIn, FCompRsp)
	r.SetInt(FLastsess, c.LastSess)
	r.setInts(FQtime, c.Qtime, c.Ctime, c.Rtime, c.Ttime)
	r[FMode], r[FAlgo] = mode(b.HTTP), b.Algo
	r.setInts(FWrew, c.Wrew, c.Connect, c.Reuse)
	r.setInts(FQtimeMax, c.QtimeMax, c.CtimeMax, c.RtimeMax, c.TtimeMax, c.Eint)
	r.SetInt(FUweight, int64(b.UWeight))
	r.setZeros(FAggServerStatus, FAggCheckStatus)
	r[FSep] = "-"
	r.setZeros(FSep+1, NumFields-1)
	r.setInts(FH1OpenConnections, b.H1[:]...)
	return r
}

// Row returns the server's CSV row.
func (s *Server) Row() Row {
	var r Row
	c := &s.Counters
	r[FPxname], r[FSvname] = s.Proxy, s.Name
	r.setInts(FQcur, c.Qcur, c.Qmax, c.Scur, c.Smax)
	if s.Slim > 0 {
		r.SetInt(FSlim, s.Slim)
	}
	r.setInts(FStot, c.Stot, c.Bin, c.Bout)
	r.SetInt(FDresp, c.Dresp)
	r.setInts(FEcon, c.Econ, c.Eresp, c.Wretr, c.Wredis)
	r[FStatus] = s.Status()
	r.setInts(FWeight, int64(s.Weight), b2i(!s.Backup), b2i(s.Backup))
	r.SetInt(FLastchg, s.LastChg)
	if s.Qlimit > 0 {
		r.SetInt(FQlimit, s.Qlimit)
	}
	r.setInts(FPid, 1, int64(s.IID), int64(s.SID))
	r.SetInt(FLbtot, s.LbTot)
	r.setInts(FType, TypeServer, c.Rate)
	r.SetInt(FRateMax, c.RateMax)
	if ck := s.Check; ck != nil {
		r.setInts(FChkfail, s.ChkFail, s.ChkDown)
		r.SetInt(FDowntime, s.Downtime)
	}
	if ck := s.Check; ck != nil && !s.CheckPaused {
		r[FCheckStatus] = ck.Status
		if ck.Code > 0 {
			r.SetInt(FCheckCode, int64(ck.Code))
		}
		if ck.Duration >= 0 {
			r.SetInt(FCheckDuration, ck.Duration)
		}
		r[FLastChk] = ck.Info
		r[FCheckDesc] = ck.Desc
		r.setInts(FCheckRise, int64(ck.Rise), int64(ck.Fall), int64(ck.Health))
	}
	if s.HTTP {
		r.setHrsp(c)
		r.SetInt(FReqTot, c.ReqTot)
	}
	r.setInts(FCliAbrt, c.CliAbrt, c.SrvAbrt)
	r.SetInt(FLastsess, c.LastSess)
	r.setInts(FQtime, c.Qtime, c.Ctime, c.Rtime, c.Ttime)
	r[FAddr], r[FCookie], r[FMode] = s.Addr, s.Cookie, mode(s.HTTP)
	r.setInts(FWrew, c.Wrew, c.Connect, c.Reuse)
	r.SetInt(FSrvIcur, s.SrvIcur)
	r.setInts(FQtimeMax, c.QtimeMax, c.CtimeMax, c.RtimeMax, c.TtimeMax, c.Eint)
	r.setInts(FIdleConnCur, s.IdleConnCur, s.SafeConnCur, s.UsedConnCur, s.NeedConnEst, int64(s.UWeight))
	r[FSep] = "-"
	r.setZeros(FSslSess, FSslFailedHandshake)
	return r
}
