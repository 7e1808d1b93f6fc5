package logfmt

import "testing"

// TestHealthCheckLines: the lines of option log-health-checks and the
// reason-less transitions that come with them, as measured on HAProxy
// 2.6 (rise 2, fall 3).
func TestHealthCheckLines(t *testing.T) {
	fail := &ServerEvent{Backend: "be", Server: "s1", Reason: "Layer4 connection problem", Info: "Connection refused"}
	pass := &ServerEvent{Backend: "be", Server: "s1", Reason: "Layer4 check passed"}
	cases := []struct{ got, want string }{
		{string(AppendHealthCheck(nil, pass, true, 4, 2, 3, true)),
			"Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: 0ms, status: 3/3 UP."},
		{string(AppendHealthCheck(nil, fail, false, 3, 2, 3, true)),
			`Health check for server be/s1 failed, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms, status: 2/3 UP.`},
		{string(AppendHealthCheck(nil, fail, false, 0, 2, 3, false)),
			`Health check for server be/s1 failed, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms, status: 0/2 DOWN.`},
		{string(AppendHealthCheck(nil, pass, true, 1, 2, 3, false)),
			"Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: 0ms, status: 1/2 DOWN."},
		{string(AppendHealthCheck(nil, &ServerEvent{Backend: "be", Server: "b", Backup: true, Reason: "Layer7 check passed", HasCode: true, Code: 200, Duration: 3}, true, 4, 2, 3, true)),
			"Health check for backup server be/b succeeded, reason: Layer7 check passed, code: 200, check duration: 3ms, status: 3/3 UP."},
		{string(AppendServerDown(nil, &ServerEvent{Backend: "be", Server: "s1"})),
			"Server be/s1 is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."},
		{string(AppendServerUp(nil, &ServerEvent{Backend: "be", Server: "s1", ActiveLeft: 1})),
			"Server be/s1 is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}
