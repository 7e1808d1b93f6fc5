package haproxy

import (
	"fmt"
	"strings"
)

// Severity says whether a diagnostic stops the configuration from loading.
type Severity int

// Severities, as HAProxy prints them.
const (
	Warning Severity = iota // printed, the configuration still loads
	Alert                   // the configuration is refused
)

// Diagnostic is one message about a configuration file.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Msg      string
}

// Format renders the diagnostic as HAProxy 2.6 does on standard error, for
// the process pid: `[ALERT]    (pid) : config : parsing [FILE:LINE] : msg`.
func (d Diagnostic) Format(pid int) string {
	tag := "[WARNING]  "
	if d.Severity == Alert {
		tag = "[ALERT]    "
	}
	where := ""
	if d.Pos.File != "" {
		if d.Pos.Line > 0 {
			where = fmt.Sprintf("parsing [%s:%d] : ", d.Pos.File, d.Pos.Line)
		} else {
			where = fmt.Sprintf("parsing [%s] : ", d.Pos.File)
		}
	}
	return fmt.Sprintf("%s(%d) : config : %s%s", tag, pid, where, d.Msg)
}

// String renders the diagnostic without the pid, for tests and golden files.
func (d Diagnostic) String() string {
	sev := "WARNING"
	if d.Severity == Alert {
		sev = "ALERT"
	}
	return fmt.Sprintf("%s %s: %s", sev, d.Pos, d.Msg)
}

// Diagnostics collects the warnings and alerts found while loading.
type Diagnostics struct {
	List []Diagnostic
}

// Alertf records an error: the configuration will be refused.
func (d *Diagnostics) Alertf(pos Pos, format string, args ...any) {
	d.List = append(d.List, Diagnostic{pos, Alert, fmt.Sprintf(format, args...)})
}

// Warnf records a warning.
func (d *Diagnostics) Warnf(pos Pos, format string, args ...any) {
	d.List = append(d.List, Diagnostic{pos, Warning, fmt.Sprintf(format, args...)})
}

// HasAlerts reports whether any diagnostic refuses the configuration.
func (d *Diagnostics) HasAlerts() bool {
	for _, x := range d.List {
		if x.Severity == Alert {
			return true
		}
	}
	return false
}

// String lists all diagnostics, one per line.
func (d *Diagnostics) String() string {
	var b strings.Builder
	for _, x := range d.List {
		b.WriteString(x.String())
		b.WriteByte('\n')
	}
	return b.String()
}
