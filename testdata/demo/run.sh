#!/usr/bin/env bash
# `make run`: starts two demo backends and goproxy in the foreground on
# testdata/demo/haproxy.cfg (loopback only). Ctrl-C stops everything; the
# backends are stopped by their PIDs.
set -euo pipefail
cd "$(dirname "$0")/../.."
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
./bin/demobackend -listen 127.0.0.1:18001 -name web80 & pids+=($!)
./bin/demobackend -listen 127.0.0.1:18002 -name web8000 & pids+=($!)
cat <<TXT
goproxy is starting on 127.0.0.1:18080 (config: testdata/demo/haproxy.cfg)
  curl -H 'Host: test.com' http://127.0.0.1:18080/          # -> web80   (backend info_cache)
  curl -H 'Host: test.domain.com' http://127.0.0.1:18080/   # -> web8000 (backend cache_test)
  stats page:  http://127.0.0.1:18080/admin?stats   (CSV: /admin?stats;csv)
Ctrl-C stops goproxy and the demo backends.
TXT
./bin/goproxy -db -f testdata/demo/haproxy.cfg &
pids+=($!)
wait "${pids[-1]}"
