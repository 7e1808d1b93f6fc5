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
// HAProxy's semantics kept here: a fetch may return several values (each
// occurrence of a header, split on commas for hdr()) and an ACL matches when
// any of them matches any pattern; a missing sample never matches, so the
// negation of a missing sample does; same-name ACLs are ORed; `-i` folds
// case; `-m dom` and `-m dir` match whole dot/slash delimited words;
// in a sample expression hdr() returns the last occurrence.
package acl
