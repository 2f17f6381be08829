#!/usr/bin/env bash
# A login flood against a release build: 400 wrong-password logins fired at
# once (threads released together), first all from one address, then each
# from its own address (relayed by a "proxy" ragway trusts, so the only bound
# left is RAGWAY_LOGIN_CONCURRENCY). Reports for each round the answers
# (401: verified and wrong; 429: refused unhashed), the share answered 429,
# and ragway's peak RSS growth over its resident size just before the round
# (sampled every 5 ms). Target (issue 24): growth <= 100 MB, >= 95 % 429.
#
#   bench/login_flood.sh [requests=400]
#
# Prints a markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-400}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
. bench/common.sh

UP_PORT=19150
RW_PORT=19151
start_upstream "$UP_PORT"
export RAGWAY_ADMIN_PASSWORD='the bench admin passphrase' RAGWAY_TRUSTED_PROXIES=127.0.0.1
start_ragway "$RW_PORT" "$WORK/data"

python3 - "http://127.0.0.1:$RW_PORT/api/admin/login" "$RW_PID" "$REQUESTS" <<'PY'
import json, sys, threading, time, urllib.error, urllib.request

url, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))

def flood(forwarded_for):
    statuses, gate = [], threading.Barrier(n)
    def one(i):
        headers = {"content-type": "application/json"}
        if forwarded_for:
            headers["x-forwarded-for"] = forwarded_for(i)
        req = urllib.request.Request(url, data=b'{"password": "a wrong guess"}', headers=headers)
        gate.wait()
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                statuses.append(r.status)
        except urllib.error.HTTPError as e:
            statuses.append(e.code)
        except OSError:
            statuses.append(0)
    before, peak, done = rss_kb(), [rss_kb()], threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb())
            time.sleep(0.005)
    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - started
    done.set()
    sampler.join()
    return statuses, (peak[0] - before) / 1024, elapsed

print("| round | requests | 401 (verified) | 429 (unhashed) | other | share 429 | peak RSS growth MB | seconds |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
rounds = (("one address", None),
          ("one address each", lambda i: f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"))
for name, forwarded_for in rounds:
    statuses, growth, elapsed = flood(forwarded_for)
    c401, c429 = statuses.count(401), statuses.count(429)
    other = len(statuses) - c401 - c429
    print(f"| {name} | {n} | {c401} | {c429} | {other} | {100 * c429 / n:.1f} % | {growth:.1f} | {elapsed:.1f} |")
PY
