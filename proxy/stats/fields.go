// Package stats produces HAProxy 2.6's statistics: the CSV of `show stat`
// and of the stats page's `;csv` export (exact column list and header,
// rows FRONTEND / servers / BACKEND per proxy), the `show info` report,
// the HTML stats page, and the stats socket's command loop.
//
// The package does not import the proxy engine. The engine fills the typed
// Frontend, Backend and Server structs (or Rows directly) from its atomic
// counters and implements ServerControl for the socket and the page.
package stats

// Field indices of a stats row, in HAProxy 2.6's column order. Monitoring
// tools (Nagios check_haproxy, collectd, telegraf) read the CSV by
// position: the order is fixed and columns are never inserted.
const (
	FPxname                       = iota // 0 pxname
	FSvname                              // 1 svname
	FQcur                                // 2 qcur
	FQmax                                // 3 qmax
	FScur                                // 4 scur
	FSmax                                // 5 smax
	FSlim                                // 6 slim
	FStot                                // 7 stot
	FBin                                 // 8 bin
	FBout                                // 9 bout
	FDreq                                // 10 dreq
	FDresp                               // 11 dresp
	FEreq                                // 12 ereq
	FEcon                                // 13 econ
	FEresp                               // 14 eresp
	FWretr                               // 15 wretr
	FWredis                              // 16 wredis
	FStatus                              // 17 status
	FWeight                              // 18 weight
	FAct                                 // 19 act
	FBck                                 // 20 bck
	FChkfail                             // 21 chkfail
	FChkdown                             // 22 chkdown
	FLastchg                             // 23 lastchg
	FDowntime                            // 24 downtime
	FQlimit                              // 25 qlimit
	FPid                                 // 26 pid
	FIid                                 // 27 iid
	FSid                                 // 28 sid
	FThrottle                            // 29 throttle
	FLbtot                               // 30 lbtot
	FTracked                             // 31 tracked
	FType                                // 32 type
	FRate                                // 33 rate
	FRateLim                             // 34 rate_lim
	FRateMax                             // 35 rate_max
	FCheckStatus                         // 36 check_status
	FCheckCode                           // 37 check_code
	FCheckDuration                       // 38 check_duration
	FHrsp1xx                             // 39 hrsp_1xx
	FHrsp2xx                             // 40 hrsp_2xx
	FHrsp3xx                             // 41 hrsp_3xx
	FHrsp4xx                             // 42 hrsp_4xx
	FHrsp5xx                             // 43 hrsp_5xx
	FHrspOther                           // 44 hrsp_other
	FHanafail                            // 45 hanafail
	FReqRate                             // 46 req_rate
	FReqRateMax                          // 47 req_rate_max
	FReqTot                              // 48 req_tot
	FCliAbrt                             // 49 cli_abrt
	FSrvAbrt                             // 50 srv_abrt
	FCompIn                              // 51 comp_in
	FCompOut                             // 52 comp_out
	FCompByp                             // 53 comp_byp
	FCompRsp                             // 54 comp_rsp
	FLastsess                            // 55 lastsess
	FLastChk                             // 56 last_chk
	FLastAgt                             // 57 last_agt
	FQtime                               // 58 qtime
	FCtime                               // 59 ctime
	FRtime                               // 60 rtime
	FTtime                               // 61 ttime
	FAgentStatus                         // 62 agent_status
	FAgentCode                           // 63 agent_code
	FAgentDuration                       // 64 agent_duration
	FCheckDesc                           // 65 check_desc
	FAgentDesc                           // 66 agent_desc
	FCheckRise                           // 67 check_rise
	FCheckFall                           // 68 check_fall
	FCheckHealth                         // 69 check_health
	FAgentRise                           // 70 agent_rise
	FAgentFall                           // 71 agent_fall
	FAgentHealth                         // 72 agent_health
	FAddr                                // 73 addr
	FCookie                              // 74 cookie
	FMode                                // 75 mode
	FAlgo                                // 76 algo
	FConnRate                            // 77 conn_rate
	FConnRateMax                         // 78 conn_rate_max
	FConnTot                             // 79 conn_tot
	FIntercepted                         // 80 intercepted
	FDcon                                // 81 dcon
	FDses                                // 82 dses
	FWrew                                // 83 wrew
	FConnect                             // 84 connect
	FReuse                               // 85 reuse
	FCacheLookups                        // 86 cache_lookups
	FCacheHits                           // 87 cache_hits
	FSrvIcur                             // 88 srv_icur
	FSrcIlim                             // 89 src_ilim
	FQtimeMax                            // 90 qtime_max
	FCtimeMax                            // 91 ctime_max
	FRtimeMax                            // 92 rtime_max
	FTtimeMax                            // 93 ttime_max
	FEint                                // 94 eint
	FIdleConnCur                         // 95 idle_conn_cur
	FSafeConnCur                         // 96 safe_conn_cur
	FUsedConnCur                         // 97 used_conn_cur
	FNeedConnEst                         // 98 need_conn_est
	FUweight                             // 99 uweight
	FAggServerStatus                     // 100 agg_server_status
	FAggServerCheckStatus                // 101 agg_server_check_status
	FAggCheckStatus                      // 102 agg_check_status
	FSep                                 // 103 -
	FSslSess                             // 104 ssl_sess
	FSslReusedSess                       // 105 ssl_reused_sess
	FSslFailedHandshake                  // 106 ssl_failed_handshake
	FH2HeadersRcvd                       // 107 h2_headers_rcvd
	FH2DataRcvd                          // 108 h2_data_rcvd
	FH2SettingsRcvd                      // 109 h2_settings_rcvd
	FH2RstStreamRcvd                     // 110 h2_rst_stream_rcvd
	FH2GoawayRcvd                        // 111 h2_goaway_rcvd
	FH2DetectedConnProtocolErrors        // 112 h2_detected_conn_protocol_errors
	FH2DetectedStrmProtocolErrors        // 113 h2_detected_strm_protocol_errors
	FH2RstStreamResp                     // 114 h2_rst_stream_resp
	FH2GoawayResp                        // 115 h2_goaway_resp
	FH2OpenConnections                   // 116 h2_open_connections
	FH2BackendOpenStreams                // 117 h2_backend_open_streams
	FH2TotalConnections                  // 118 h2_total_connections
	FH2BackendTotalStreams               // 119 h2_backend_total_streams
	FH1OpenConnections                   // 120 h1_open_connections
	FH1OpenStreams                       // 121 h1_open_streams
	FH1TotalConnections                  // 122 h1_total_connections
	FH1TotalStreams                      // 123 h1_total_streams
	FH1BytesIn                           // 124 h1_bytes_in
	FH1BytesOut                          // 125 h1_bytes_out
	FH1SplicedBytesIn                    // 126 h1_spliced_bytes_in
	FH1SplicedBytesOut                   // 127 h1_spliced_bytes_out
	// NumFields is the number of columns of a row.
	NumFields
)

// FieldNames are the column names of the CSV header, in order.
var FieldNames = [NumFields]string{
	"pxname",
	"svname",
	"qcur",
	"qmax",
	"scur",
	"smax",
	"slim",
	"stot",
	"bin",
	"bout",
	"dreq",
	"dresp",
	"ereq",
	"econ",
	"eresp",
	"wretr",
	"wredis",
	"status",
	"weight",
	"act",
	"bck",
	"chkfail",
	"chkdown",
	"lastchg",
	"downtime",
	"qlimit",
	"pid",
	"iid",
	"sid",
	"throttle",
	"lbtot",
	"tracked",
	"type",
	"rate",
	"rate_lim",
	"rate_max",
	"check_status",
	"check_code",
	"check_duration",
	"hrsp_1xx",
	"hrsp_2xx",
	"hrsp_3xx",
	"hrsp_4xx",
	"hrsp_5xx",
	"hrsp_other",
	"hanafail",
	"req_rate",
	"req_rate_max",
	"req_tot",
	"cli_abrt",
	"srv_abrt",
	"comp_in",
	"comp_out",
	"comp_byp",
	"comp_rsp",
	"lastsess",
	"last_chk",
	"last_agt",
	"qtime",
	"ctime",
	"rtime",
	"ttime",
	"agent_status",
	"agent_code",
	"agent_duration",
	"check_desc",
	"agent_desc",
	"check_rise",
	"check_fall",
	"check_health",
	"agent_rise",
	"agent_fall",
	"agent_health",
	"addr",
	"cookie",
	"mode",
	"algo",
	"conn_rate",
	"conn_rate_max",
	"conn_tot",
	"intercepted",
	"dcon",
	"dses",
	"wrew",
	"connect",
	"reuse",
	"cache_lookups",
	"cache_hits",
	"srv_icur",
	"src_ilim",
	"qtime_max",
	"ctime_max",
	"rtime_max",
	"ttime_max",
	"eint",
	"idle_conn_cur",
	"safe_conn_cur",
	"used_conn_cur",
	"need_conn_est",
	"uweight",
	"agg_server_status",
	"agg_server_check_status",
	"agg_check_status",
	"-",
	"ssl_sess",
	"ssl_reused_sess",
	"ssl_failed_handshake",
	"h2_headers_rcvd",
	"h2_data_rcvd",
	"h2_settings_rcvd",
	"h2_rst_stream_rcvd",
	"h2_goaway_rcvd",
	"h2_detected_conn_protocol_errors",
	"h2_detected_strm_protocol_errors",
	"h2_rst_stream_resp",
	"h2_goaway_resp",
	"h2_open_connections",
	"h2_backend_open_streams",
	"h2_total_connections",
	"h2_backend_total_streams",
	"h1_open_connections",
	"h1_open_streams",
	"h1_total_connections",
	"h1_total_streams",
	"h1_bytes_in",
	"h1_bytes_out",
	"h1_spliced_bytes_in",
	"h1_spliced_bytes_out"}
