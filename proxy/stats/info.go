package stats

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Info is the process report of `show info`. Fields the engine does not
// track stay zero, as HAProxy prints 0 for unused features.
type Info struct {
	Version      string // "2.6.12-1+deb12u4"; also printed as "Build info"
	ReleaseDate  string // "2026/10/17"
	Nbthread     int
	Pid          int
	Start        time.Time // process start; Uptime is measured from it
	Now          time.Time // the time of the report
	UlimitN      int
	Maxsock      int
	Maxconn      int
	HardMaxconn  int
	CurrConns    int64
	CumConns     int64
	CumReq       int64
	ConnRate     int64
	MaxConnRate  int64
	SessRate     int64
	MaxSessRate  int64
	Tasks        int64
	IdlePct      int
	Node         string // host name
	Stopping     bool
	Jobs         int64
	Listeners    int
	DroppedLogs  int64
	BytesOut     int64 // TotalBytesOut
	BytesOutRate int64
}

// WriteInfo writes the 69 "Name: value" lines of HAProxy 2.6's `show info`
// in its order (operators' scripts grep them by name).
func WriteInfo(w io.Writer, in *Info) error {
	up := in.Now.Sub(in.Start)
	if up < 0 {
		up = 0
	}
	secs := int64(up / time.Second)
	uptime := fmt.Sprintf("%dd %dh%02dm%02ds", secs/86400, secs/3600%24, secs/60%60, secs%60)
	i := strconv.FormatInt
	n := func(v int) string { return strconv.Itoa(v) }
	stopping := "0"
	if in.Stopping {
		stopping = "1"
	}
	lines := [][2]string{
		{"Name", "HAProxy"}, {"Version", in.Version}, {"Release_date", in.ReleaseDate},
		{"Nbthread", n(in.Nbthread)}, {"Nbproc", "1"}, {"Process_num", "1"}, {"Pid", n(in.Pid)},
		{"Uptime", uptime}, {"Uptime_sec", i(secs, 10)},
		{"Memmax_MB", "0"}, {"PoolAlloc_MB", "0"}, {"PoolUsed_MB", "0"}, {"PoolFailed", "0"},
		{"Ulimit-n", n(in.UlimitN)}, {"Maxsock", n(in.Maxsock)}, {"Maxconn", n(in.Maxconn)},
		{"Hard_maxconn", n(in.HardMaxconn)}, {"CurrConns", i(in.CurrConns, 10)},
		{"CumConns", i(in.CumConns, 10)}, {"CumReq", i(in.CumReq, 10)},
		{"MaxSslConns", "0"}, {"CurrSslConns", "0"}, {"CumSslConns", "0"},
		{"Maxpipes", "0"}, {"PipesUsed", "0"}, {"PipesFree", "0"},
		{"ConnRate", i(in.ConnRate, 10)}, {"ConnRateLimit", "0"}, {"MaxConnRate", i(in.MaxConnRate, 10)},
		{"SessRate", i(in.SessRate, 10)}, {"SessRateLimit", "0"}, {"MaxSessRate", i(in.MaxSessRate, 10)},
		{"SslRate", "0"}, {"SslRateLimit", "0"}, {"MaxSslRate", "0"},
		{"SslFrontendKeyRate", "0"}, {"SslFrontendMaxKeyRate", "0"}, {"SslFrontendSessionReuse_pct", "0"},
		{"SslBackendKeyRate", "0"}, {"SslBackendMaxKeyRate", "0"}, {"SslCacheLookups", "0"}, {"SslCacheMisses", "0"},
		{"CompressBpsIn", "0"}, {"CompressBpsOut", "0"}, {"CompressBpsRateLim", "0"},
		{"Tasks", i(in.Tasks, 10)}, {"Run_queue", "0"}, {"Idle_pct", n(in.IdlePct)}, {"node", in.Node},
		{"Stopping", stopping}, {"Jobs", i(in.Jobs, 10)}, {"Unstoppable Jobs", "0"},
		{"Listeners", n(in.Listeners)}, {"ActivePeers", "0"}, {"ConnectedPeers", "0"},
		{"DroppedLogs", i(in.DroppedLogs, 10)}, {"BusyPolling", "0"}, {"FailedResolutions", "0"},
		{"TotalBytesOut", i(in.BytesOut, 10)}, {"TotalSplicdedBytesOut", "0"}, {"BytesOutRate", i(in.BytesOutRate, 10)},
		{"DebugCommandsIssued", "0"}, {"CumRecvLogs", "0"}, {"Build info", in.Version},
		{"Memmax_bytes", "0"}, {"PoolAlloc_bytes", "0"}, {"PoolUsed_bytes", "0"},
		{"Start_time_sec", i(in.Start.Unix(), 10)}, {"Tainted", "0"},
	}
	bw := bufio.NewWriter(w)
	for _, l := range lines {
		bw.WriteString(l[0])
		bw.WriteString(": ")
		bw.WriteString(l[1])
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
