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
#   RELAY_POSTGRES=postgres://postgres@127.0.0.1:5432/test bench/relay_throughput.sh
#       # PostgreSQL instead of SQLite (a database of its own per build, dropped after)
#   RELAY_POSTGRES=… RELAY_REPLICAS=2 bench/relay_throughput.sh
#       # and a second replica on the same database: half the connections to each
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
PG=${RELAY_POSTGRES:-}
if [ -n "$PG" ]; then
  DB="ragway_relay_$$"
  for db in "$DB" "${DB}_other"; do psql "$PG" -qc "CREATE DATABASE $db" > /dev/null; done
  export DATABASE_URL="${PG%/*}/$DB"
  OTHER_DATABASE_URL="${PG%/*}/${DB}_other"
  export RAGWAY_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
  export RAGWAY_BLOB_URL="file://$WORK/blobs" RAGWAY_VECTOR_URL="$WORK/lancedb"
  trap 'cleanup; for db in "$DB" "${DB}_other"; do psql "$PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" > /dev/null 2>&1 || true; done' EXIT
fi
start_upstream "$UP_PORT"
start_ragway "$RW_PORT" "$WORK/data" --admin
if [ "${RELAY_REPLICAS:-1}" = 2 ]; then
  # Replica B: the same database, its own LanceDB handle and port; A's key works on both.
  RAGWAY_DATA_DIR="$WORK/b" RAGWAY_LISTEN="127.0.0.1:$((RW_PORT + 2))" "$BIN/ragway" serve 2> "$WORK/b.log" &
  wait_for "http://127.0.0.1:$((RW_PORT + 2))/health"
  VIA_B="http://127.0.0.1:$((RW_PORT + 2))/v1/chat/completions"
fi
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
  local data=${1:-$WORK/data}
  if [ -n "$PG" ]; then
    local url=$DATABASE_URL
    [ "$data" = "$WORK/other" ] && url=$OTHER_DATABASE_URL
    psql "$url" -tAc "SELECT COUNT(*) FROM conversations"
    return
  fi
  python3 - "$data/ragway.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM conversations").fetchone()[0])
PY
}

# Two replicas at once, half the connections each: summed req/s and
# requests, the worse p50 and p99.
run_two() { # model key connections
  run "$VIA" "$1" "$2" $(($3 / 2)) > "$WORK/two-a" &
  run "$VIA_B" "$1" "$2" $(($3 - $3 / 2)) > "$WORK/two-b"
  wait %%
  read -r ra pa qa ta ba < "$WORK/two-a"
  read -r rb pb qb tb bb < "$WORK/two-b"
  python3 -c "import sys; a=sys.argv[1:]; print(f'{float(a[0])+float(a[5]):.0f} {max(float(a[1]),float(a[6])):.2f} {max(float(a[2]),float(a[7])):.2f} {int(a[3])+int(a[8])} {int(a[4])+int(a[9])}')" \
    "$ra" "$pa" "$qa" "$ta" "$ba" "$rb" "$pb" "$qb" "$tb" "$bb"
}

DIRECT="http://127.0.0.1:$UP_PORT/v1/chat/completions"
VIA="$BASE/v1/chat/completions"
# Another build (RELAY_OTHER_BIN) beside this one, with its own data.
kinds="default no-rag one-conn"
if [ -n "${RELAY_OTHER_BIN:-}" ]; then
  if [ -n "$PG" ]; then
    DATABASE_URL=$OTHER_DATABASE_URL RAGWAY_VECTOR_URL="$WORK/other-lancedb" \
      RAGWAY_BLOB_URL="file://$WORK/other-blobs" start_other "$RELAY_OTHER_BIN" $((RW_PORT + 1))
  else
    start_other "$RELAY_OTHER_BIN" $((RW_PORT + 1))
  fi
  kinds="default other-default no-rag one-conn other-one-conn"
fi
[ -z "${VIA_B:-}" ] || kinds="$kinds two-replicas"
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
    if [ "$kind" = two-replicas ]; then
      figures=$(run_two "$model" "$key" "$conns")
    else
      figures=$(run "$url" "$model" "$key" "$conns")
    fi
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
