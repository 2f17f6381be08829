"""Upload files to ragway (or to a sink) and time them; standard library only.

    python3 bench/ingest_load.py sink PORT
        An HTTP server that reads every request body and throws it away: the
        raw-transfer baseline for the same client, bytes and concurrency.
    python3 bench/ingest_load.py load --url URL --key KEY [--threads 4] [--no-wait] FILE...
        POST each file to URL/v1/documents (multipart part `file`), then,
        unless --no-wait, poll until nothing is pending or processing and
        read back every document. Prints one JSON line; times are seconds
        from the first upload (end = the newest `updated_at` the server
        recorded, so polling adds no error).
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait on a delayed ACK (40 ms a request)

    def do_POST(self):
        left = int(self.headers.get("Content-Length", 0))
        while left > 0:
            left -= len(self.rfile.read(min(left, 1 << 20)))
        body = b'{"id":"sink","status":"pending"}'
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Api:
    """One keep-alive connection per thread."""

    def __init__(self, url, key):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.key = u.hostname, u.port, key
        self.local = threading.local()

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        headers["Authorization"] = f"Bearer {self.key}"
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.status >= 300:
                    raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
                return json.loads(data) if data else None
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise

    def upload(self, path):
        with open(path, "rb") as f:
            data = f.read()
        boundary = "ragwaybench" + os.urandom(8).hex()
        name = os.path.basename(path)
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        answer = self.request("POST", "/v1/documents", body,
                              {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return answer["id"], len(data)

    def busy(self):
        for status in ("pending", "processing"):
            if self.request("GET", f"/v1/documents?status={status}&limit=1")["data"]:
                return True
        return False

    def documents(self):
        out, after = [], None
        while True:
            page = self.request("GET", "/v1/documents?limit=100" + (f"&after={after}" if after else ""))
            out += page["data"]
            if not page.get("has_more"):
                return out
            after = page["next_cursor"]


def load(args):
    api = Api(args.url, args.key)
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        uploaded = list(pool.map(api.upload, args.files))
    upload_s = time.time() - t0
    result = {"files": len(uploaded), "bytes": sum(b for _, b in uploaded), "upload_s": upload_s}
    if not args.no_wait:
        while api.busy():
            time.sleep(0.05)
        docs = api.documents()
        ids = {i for i, _ in uploaded}
        docs = [d for d in docs if d["id"] in ids]
        result.update(
            total_s=max(d["updated_at"] for d in docs) / 1000 - t0,
            ready=sum(d["status"] == "ready" for d in docs),
            failed=sum(d["status"] == "failed" for d in docs),
            chunks=sum(d["chunk_count"] for d in docs),
            errors=sorted({d["error"] for d in docs if d.get("error")})[:3],
        )
    print(json.dumps(result))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("port", type=int)
    lo = sub.add_parser("load")
    lo.add_argument("--url", required=True)
    lo.add_argument("--key", default="")
    lo.add_argument("--threads", type=int, default=4)
    lo.add_argument("--no-wait", action="store_true")
    lo.add_argument("files", nargs="+")
    a = ap.parse_args()
    if a.cmd == "sink":
        ThreadingHTTPServer(("127.0.0.1", a.port), Sink).serve_forever()
    else:
        load(a)


if __name__ == "__main__":
    sys.exit(main())
