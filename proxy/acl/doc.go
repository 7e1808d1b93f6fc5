// Package acl compiles HAProxy's access control lists and sample
// expressions, and evaluates them against a transaction the way HAProxy 2.6
// does.
//
// A condition (`if`/`unless` followed by ACL names, `!`, `||`/`or` and
// anonymous `{ ... }` ACLs) is compiled once at load with CompileCond:
// regexes, networks, integer ranges, map files and userlists are all
// prepared then, so that Cond.Match only reads the request and does not
// allocate in the common cases. A log-format string with `%[fetch,conv...]`
// expressions (dynamic use_backend, set-header values) is compiled with
// CompileExpr and rendered with Expr.Eval.
//
// HAProxy's semantics kept here (each checked against haproxy 2.6 by the
// differential tests): a fetch may return several values (each occurrence
// of a header, split on commas for hdr()) and an ACL matches when any of
// them matches any pattern; a missing sample never matches, so its
// negation does; same-name ACLs are ORed; `-i` folds ASCII case; `-m dom`
// and `-m dir` match whole dot/slash delimited words; in a sample
// expression hdr() returns the last occurrence; path has no query and does
// not exist for "*" and CONNECT targets; known methods match exactly even
// with -i; empty cookie values are not found; map_beg keeps the longest
// prefix and map_ip the longest network; req.len counts the buffered head
// in HTTP mode.
//
// Fetches: hdr fhdr hdr_cnt fhdr_cnt hdr_val hdr_ip (and req.* forms, and
// the _beg/_end/_sub/_reg/_dom/_dir/_len/_found keyword forms), path pathq
// url query base url_param/urlp urlp_val method req.ver req.proto_http src
// dst src_port dst_port cook/req.cook cook_cnt cook_val http_auth
// http_auth_group always_true always_false wait_end str int bool ipv4 ipv6
// env hostname pid fe_name be_name date now rand var (Txn.Vars) nbsrv and
// srv_is_up (Env hooks), and in TCP mode req.len req.payload req.ssl_sni
// req.ssl_hello_type req.ssl_ver req.ssl_alpn (Txn.Payload), ssl_fc
// ssl_fc_sni (Txn.TLS, Txn.SNI), and for http-response rules status
// res.hdr/shdr res.fhdr res.hdr_cnt res.hdr_val res.cook/scook (Set-Cookie)
// res.cook_cnt res.cook_val res.ver (Txn.Status, RespHeader). Other fetches the parser knows (stick
// counters, certificates, bodies) compile but yield no sample.
//
// Converters: lower upper length base64 b64dec hex url_dec url_enc ltrim
// rtrim bytes field word regsub ipmask sdbm djb2 wt6 crc32 sha1 sha2 add
// sub mul div mod and or xor neg cpl not bool odd even iif host_only
// port_only json debug, and map/map_<match>[_<int|ip>] for every match
// method.
//
// Userlist passwords: insecure-password, and crypt(3) hashes $6$ (SHA-512),
// $5$ (SHA-256) and $1$ (MD5), implemented in Go from their
// specifications; other hash forms (DES, bcrypt, yescrypt) never match.
// Verified credentials are cached per userlist, since crypt is slow by
// design and HAProxy checks every request.
package acl
