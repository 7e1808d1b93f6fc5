package logfmt

import (
	"net/netip"
	"strconv"
)

// Syslog levels of the event messages, as HAProxy sends them.
const (
	LevelServerDown  = 1 // alert
	LevelServerUp    = 5 // notice
	LevelNoServer    = 0 // emerg
	LevelProxyStop   = 4 // warning
	LevelTransaction = 6 // info
)

// AppendConnect appends the line HAProxy logs at accept time for a proxy
// without a log format (no option tcplog/httplog/log-format):
// "Connect from 127.0.0.1:50356 to 127.0.0.77:28102 (plain/HTTP)".
func AppendConnect(dst []byte, client, frontAddr netip.AddrPort, frontend string, http bool) []byte {
	dst = append(dst, "Connect from "...)
	dst = client.AppendTo(dst)
	dst = append(dst, " to "...)
	dst = frontAddr.AppendTo(dst)
	dst = append(dst, " ("...)
	dst = append(dst, frontend...)
	if http {
		return append(dst, "/HTTP)"...)
	}
	return append(dst, "/TCP)"...)
}

// ServerEvent describes a server state change for the UP/DOWN messages.
type ServerEvent struct {
	Backend, Server string
	Backup          bool
	// Reason is the check's description ("Layer4 connection problem",
	// "Layer7 wrong status", "Layer4 check passed", ...); Code is the
	// status code of an L7 check (HasCode), Info the check's extra text
	// ("Connection refused"), Duration the check duration in ms.
	Reason   string
	Code     int
	HasCode  bool
	Info     string
	Duration int64
	// The backend's state after the change.
	ActiveLeft, BackupLeft int
	// Sessions active on the server, requeued, and left in its queue.
	SessionsActive, Requeued, Queued int
}

func (e *ServerEvent) appendHead(dst []byte) []byte {
	if e.Backup {
		dst = append(dst, "Backup "...)
	}
	dst = append(dst, "Server "...)
	dst = append(dst, e.Backend...)
	dst = append(dst, '/')
	return append(dst, e.Server...)
}

// appendReason appends ", reason: ..., check duration: Nms. ", or ". "
// when the event has no check result (HAProxy with option
// log-health-checks, which logs the check on its own line).
func (e *ServerEvent) appendReason(dst []byte) []byte {
	if e.Reason == "" {
		return append(dst, ". "...)
	}
	return append(e.appendCheck(dst), ". "...)
}

// appendCheck appends ", reason: X[, code: N][, info: "..."], check
// duration: Nms".
func (e *ServerEvent) appendCheck(dst []byte) []byte {
	dst = append(dst, ", reason: "...)
	dst = append(dst, e.Reason...)
	if e.HasCode {
		dst = append(dst, ", code: "...)
		dst = strconv.AppendInt(dst, int64(e.Code), 10)
	}
	if e.Info != "" {
		dst = append(dst, ", info: \""...)
		dst = append(dst, e.Info...)
		dst = append(dst, '"')
	}
	dst = append(dst, ", check duration: "...)
	dst = strconv.AppendInt(dst, e.Duration, 10)
	return append(dst, "ms"...)
}

// AppendHealthCheck appends the line of `option log-health-checks` for a
// check that moved the health counter: "Health check for server be/s1
// failed, reason: Layer4 connection problem, info: \"Connection
// refused\", check duration: 0ms, status: 2/3 UP." (level LevelServerUp).
// health is the counter after the check (0..rise+fall-1) and up the
// state after it; the status shows, as HAProxy, the position among the
// fall checks while UP and among the rise checks while DOWN.
func AppendHealthCheck(dst []byte, e *ServerEvent, passed bool, health, rise, fall int, up bool) []byte {
	dst = append(dst, "Health check for "...)
	if e.Backup {
		dst = append(dst, "backup "...)
	}
	dst = append(dst, "server "...)
	dst = append(dst, e.Backend...)
	dst = append(dst, '/')
	dst = append(dst, e.Server...)
	if passed {
		dst = append(dst, " succeeded"...)
	} else {
		dst = append(dst, " failed"...)
	}
	dst = e.appendCheck(dst)
	dst = append(dst, ", status: "...)
	if up {
		dst = strconv.AppendInt(dst, int64(health-rise+1), 10)
		dst = append(dst, '/')
		dst = strconv.AppendInt(dst, int64(fall), 10)
		return append(dst, " UP."...)
	}
	dst = strconv.AppendInt(dst, int64(health), 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, int64(rise), 10)
	return append(dst, " DOWN."...)
}

func appendLeft(dst []byte, act, bck int, word string) []byte {
	dst = strconv.AppendInt(dst, int64(act), 10)
	dst = append(dst, " active and "...)
	dst = strconv.AppendInt(dst, int64(bck), 10)
	dst = append(dst, " backup servers "...)
	dst = append(dst, word...)
	dst = append(dst, '.')
	if act == 0 && bck > 0 {
		dst = append(dst, " Running on backup."...)
	}
	return dst
}

func (e *ServerEvent) appendDownTail(dst []byte) []byte {
	dst = appendLeft(dst, e.ActiveLeft, e.BackupLeft, "left")
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(e.SessionsActive), 10)
	dst = append(dst, " sessions active, "...)
	dst = strconv.AppendInt(dst, int64(e.Requeued), 10)
	dst = append(dst, " requeued, "...)
	dst = strconv.AppendInt(dst, int64(e.Queued), 10)
	return append(dst, " remaining in queue."...)
}

func (e *ServerEvent) appendUpTail(dst []byte) []byte {
	dst = appendLeft(dst, e.ActiveLeft, e.BackupLeft, "online")
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(e.Requeued), 10)
	dst = append(dst, " sessions requeued, "...)
	dst = strconv.AppendInt(dst, int64(e.Queued), 10)
	return append(dst, " total in queue."...)
}

// AppendServerDown appends "Server be/s1 is DOWN, reason: ..., check
// duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0
// requeued, 0 remaining in queue." (level LevelServerDown).
func AppendServerDown(dst []byte, e *ServerEvent) []byte {
	dst = e.appendHead(dst)
	dst = append(dst, " is DOWN"...)
	dst = e.appendReason(dst)
	return e.appendDownTail(dst)
}

// AppendServerUp appends "Server be/s1 is UP, reason: Layer4 check passed,
// check duration: 0ms. 2 active and 0 backup servers online. 0 sessions
// requeued, 0 total in queue." (level LevelServerUp).
func AppendServerUp(dst []byte, e *ServerEvent) []byte {
	dst = e.appendHead(dst)
	dst = append(dst, " is UP"...)
	dst = e.appendReason(dst)
	return e.appendUpTail(dst)
}

// AppendServerMaint appends "Server be/s1 is going DOWN for maintenance. 0
// active and 0 backup servers left. 0 sessions active, 0 requeued, 0
// remaining in queue." (level LevelServerDown).
func AppendServerMaint(dst []byte, e *ServerEvent) []byte {
	dst = e.appendHead(dst)
	dst = append(dst, " is going DOWN for maintenance. "...)
	return e.appendDownTail(dst)
}

// AppendServerReady appends "Server be/s1 is UP/READY (leaving forced
// maintenance)." (level LevelServerUp).
func AppendServerReady(dst []byte, e *ServerEvent) []byte {
	dst = e.appendHead(dst)
	return append(dst, " is UP/READY (leaving forced maintenance)."...)
}

// AppendServerDrain appends "Server be/s1 enters drain state. 0 active and
// 0 backup servers online. 0 sessions requeued, 0 total in queue." (level
// LevelServerUp).
func AppendServerDrain(dst []byte, e *ServerEvent) []byte {
	dst = e.appendHead(dst)
	dst = append(dst, " enters drain state. "...)
	return e.appendUpTail(dst)
}

// AppendServerUndrain appends "Server be/s1 is UP (leaving forced drain)."
// (level LevelServerUp).
func AppendServerUndrain(dst []byte, e *ServerEvent) []byte {
	dst = e.appendHead(dst)
	return append(dst, " is UP (leaving forced drain)."...)
}

// AppendNoServer appends "backend be has no server available!" (level
// LevelNoServer).
func AppendNoServer(dst []byte, backend string) []byte {
	dst = append(dst, "backend "...)
	dst = append(dst, backend...)
	return append(dst, " has no server available!"...)
}

// AppendProxyStopped appends "Proxy fe stopped (cumulated conns: FE: 0, BE:
// 0)." logged on soft stop (level LevelProxyStop).
func AppendProxyStopped(dst []byte, proxy string, feConns, beConns int64) []byte {
	dst = append(dst, "Proxy "...)
	dst = append(dst, proxy...)
	dst = append(dst, " stopped (cumulated conns: FE: "...)
	dst = strconv.AppendInt(dst, feConns, 10)
	dst = append(dst, ", BE: "...)
	dst = strconv.AppendInt(dst, beConns, 10)
	return append(dst, ")."...)
}
