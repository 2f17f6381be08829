#!/usr/bin/env bash
# Chat requests per second through ragway's relay, closed loop (wrk, each
# connection sends its next request when the last is answered), against
# the fake upstream answered straight (the provider's own ceiling), in
# alternating rounds of one run:
#
#   direct:     the fake upstream itself (and over one connection)
#   default:    ragway's default model (retrieval on, the knowledge base empty)
#   no-rag:     a model with retrieval off
#   one-conn:   the default model over one connection (latency added, not load)
#
# After each ragway round the conversations it saved are counted against the
# requests it answered (every chat answer is saved).
#
#   bench/relay_throughput.sh [connections=32] [seconds=10] [rounds=3]
#   RELAY_STREAM=true bench/relay_throughput.sh          # streamed answers
#   RELAY_PROFILE=/tmp/prof bench/relay_throughput.sh    # also `perf record` ragway in one round
#   RELAY_SQL=1 bench/relay_throughput.sh                # and time each SQL statement (one connection)
#   RELAY_OTHER_BIN=/tmp/ragway-old bench/relay_throughput.sh   # another build's default model, each round
#
# Prints a markdown table (req/s, p50, p99, saved/answered).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${1:-32}
SECONDS_PER_ROUND=${2:-10}
ROUNDS=${3:-3}
STREAM=${RELAY_STREAM:-false}
command -v wrk > /dev/null || { apt-get install -y -q wrk > /dev/null 2>&1 || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }; }
. bench/common.sh

UP_PORT=19140
RW_PORT=19141
start_upstream "$UP_PORT"
start_ragway "$RW_PORT" "$WORK/data" --admin
BASE="http://127.0.0.1:$RW_PORT"
curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"id":"plain","retrieval":false}' "$BASE/api/admin/models" > /dev/null

# wrk's request: the same chat body every time, the key as a bearer token.
lua() { # model key
  cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
wrk.body = '{"model":"$1","stream":$STREAM,"messages":[{"role":"user","content":"What is the tide schedule for the harbour this week?"}]}'
LUA
}

# run URL MODEL KEY CONNECTIONS: wrk's figures as "req/s p50_ms p99_ms requests non2xx".
run() {
  lua "$2" "$3"
  local threads=2
  [ "$4" -ge 2 ] || threads=1
  wrk -t"$threads" -c"$4" -d"${SECONDS_PER_ROUND}s" --latency -s "$WORK/post.lua" "$1" 2>&1 |
    python3 -c '
import re, sys
out = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
total = int(re.search(r"(\d+) requests in", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
p50, p99 = ms("50%"), ms("99%")
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {total} {int(bad.group(1)) if bad else 0}")'
}

# Conversations ragway has saved so far.
saved() { # [data dir]
  python3 - "${1:-$WORK/data}/ragway.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM conversations").fetchone()[0])
PY
}

DIRECT="http://127.0.0.1:$UP_PORT/v1/chat/completions"
VIA="$BASE/v1/chat/completions"
# Another build (RELAY_OTHER_BIN) beside this one, with its own data.
kinds="default no-rag one-conn"
if [ -n "${RELAY_OTHER_BIN:-}" ]; then
  start_other "$RELAY_OTHER_BIN" $((RW_PORT + 1))
  kinds="default other-default no-rag one-conn other-one-conn"
fi
# Warm both paths (connection pools, SQLite page cache).
SECONDS_PER_ROUND=1 run "$DIRECT" fake-chat none "$CONNECTIONS" > /dev/null
SECONDS_PER_ROUND=1 run "$VIA" ragway "$KEY" "$CONNECTIONS" > /dev/null
[ -z "${OTHER_KEY:-}" ] || SECONDS_PER_ROUND=1 run "$OTHER" ragway "$OTHER_KEY" "$CONNECTIONS" > /dev/null

echo "| path | round | req/s | p50 ms | p99 ms | non-2xx | conversations saved / answered |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row() { # path round figures [saved]
  read -r rps p50 p99 total bad <<< "$3"
  local kept="-"
  [ -z "${4:-}" ] || kept="$4 / $((total - bad))"
  echo "| $1 | $2 | $rps | $p50 | $p99 | $bad | $kept |"
}
for round in $(seq "$ROUNDS"); do
  row direct "$round" "$(run "$DIRECT" fake-chat none "$CONNECTIONS")"
  row direct-one-conn "$round" "$(run "$DIRECT" fake-chat none 1)"
  for kind in $kinds; do
    model=ragway conns=$CONNECTIONS url=$VIA key=$KEY data=$WORK/data
    [ "$kind" = no-rag ] && model=plain
    case $kind in *one-conn) conns=1 ;; esac
    case $kind in other-*) url=$OTHER key=$OTHER_KEY data=$WORK/other ;; esac
    before=$(saved "$data")
    if [ -n "${RELAY_PROFILE:-}" ] && [ "$round" = 1 ] && [ "$kind" = default ]; then
      mkdir -p "$RELAY_PROFILE"
      perf record -F 999 -o "$RELAY_PROFILE/perf.data" -p "$RW_PID" -- sleep "$SECONDS_PER_ROUND" 2> /dev/null &
      PERF_PID=$!
    fi
    figures=$(run "$url" "$model" "$key" "$conns")
    [ -z "${PERF_PID:-}" ] || { wait "$PERF_PID" || true; PERF_PID=; }
    row "$kind" "$round" "$figures" "$(( $(saved "$data") - before ))"
  done
done
if [ -n "${RELAY_PROFILE:-}" ]; then
  perf report -i "$RELAY_PROFILE/perf.data" --no-children --sort dso,symbol --stdio 2> /dev/null |
    grep -v '^#' | grep -v '^$' | head -60 > "$RELAY_PROFILE/top.txt"
  echo >&2 "profile: $RELAY_PROFILE/top.txt"
fi

# Each SQL statement of a request, timed by sqlx's own statement log: one
# connection for a few seconds with ragway logging every statement.
if [ -n "${RELAY_SQL:-}" ]; then
  kill "$RW_PID"; wait "$RW_PID" 2> /dev/null || true
  RUST_LOG=warn,sqlx::query=debug start_ragway "$RW_PORT" "$WORK/data"
  answered=$(run "$VIA" ragway "$KEY" 1 | awk '{print $4 - $5}')
  kill "$RW_PID"; wait "$RW_PID" 2> /dev/null || true
  python3 - "$WORK/data.log" "$answered" <<'PY'
import collections, re, sys
log, answered = sys.argv[1], int(sys.argv[2])
by = collections.defaultdict(list)
for line in open(log, errors="replace"):
    m = re.search(r'summary="([^"]*)".*elapsed_secs=([\d.e-]+)', line)
    if m:
        by[m.group(1)].append(float(m.group(2)) * 1000)
total = sum(sum(v) for v in by.values())
print()
print(f"SQL per answered request ({answered} answered, one connection):")
print()
print("| statement | per request | mean ms | ms per request | share |")
print("| --- | --- | --- | --- | --- |")
for summary, times in sorted(by.items(), key=lambda kv: -sum(kv[1])):
    print(f"| `{summary[:60]}` | {len(times) / answered:.2f} | {sum(times) / len(times):.3f} | "
          f"{sum(times) / answered:.3f} | {sum(times) / total:.0%} |")
print(f"| all | {sum(len(v) for v in by.values()) / answered:.2f} | | {total / answered:.3f} | |")
PY
fi
