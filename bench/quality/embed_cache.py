#!/usr/bin/env python3
"""A caching proxy for an OpenAI-compatible /v1/embeddings upstream, so that
a benchmark run that embeds what an earlier run embedded (the same chunks,
the same questions) costs nothing for those: on 2 cores, the CPU model is
most of a quality run, and most changes touch only part of what is embedded.

    embed_cache.py --upstream URL --cache FILE.sqlite [--port N]

Each input is kept by (model, input_type, text) in a SQLite file, as float32
vectors; misses go to the upstream in one batch, always asked for floats;
answers come back in the encoding the caller asked for (float or base64).
GET /v1/models is passed through. Standard library and numpy only.
"""

import argparse
import base64
import hashlib
import json
import sqlite3
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

LOCAL = threading.local()


def db(path):
    conn = getattr(LOCAL, "conn", None)
    if conn is None:
        conn = sqlite3.connect(path, timeout=60)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        LOCAL.conn = conn
    return conn


def key(model, input_type, text):
    return hashlib.sha256(f"{model}\0{input_type or ''}\0{text}".encode()).digest()


def make_handler(upstream, path):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with urllib.request.urlopen(upstream + self.path, timeout=60) as r:
                self.reply(r.status, json.loads(r.read()))

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            model, input_type = body.get("model", ""), body.get("input_type")
            conn = db(path)
            keys = [key(model, input_type, t) for t in inputs]
            found = {}
            for k in set(keys):
                row = conn.execute("SELECT vector FROM vectors WHERE key = ?", (k,)).fetchone()
                if row:
                    found[k] = row[0]
            missing = [i for i, k in enumerate(keys) if k not in found]
            if missing:
                ask = dict(body, input=[inputs[i] for i in missing], encoding_format="float")
                request = urllib.request.Request(
                    upstream + "/v1/embeddings", data=json.dumps(ask).encode(), method="POST")
                request.add_header("Content-Type", "application/json")
                if self.headers.get("Authorization"):
                    request.add_header("Authorization", self.headers["Authorization"])
                try:
                    with urllib.request.urlopen(request, timeout=600) as r:
                        answer = json.loads(r.read())
                except urllib.error.HTTPError as e:
                    self.reply(e.code, json.loads(e.read() or b"{}"))
                    return
                rows = sorted(answer["data"], key=lambda d: d["index"])
                for i, row in zip(missing, rows):
                    vector = np.asarray(row["embedding"], dtype="<f4").tobytes()
                    found[keys[i]] = vector
                    conn.execute("INSERT OR REPLACE INTO vectors VALUES (?, ?)", (keys[i], vector))
                conn.commit()
            as_base64 = body.get("encoding_format") == "base64"
            data = []
            for i, k in enumerate(keys):
                vector = found[k]
                embedding = (base64.b64encode(vector).decode() if as_base64
                             else np.frombuffer(vector, dtype="<f4").tolist())
                data.append({"object": "embedding", "index": i, "embedding": embedding})
            self.reply(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": 0, "total_tokens": 0}})

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    db(args.cache)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.upstream.rstrip("/"), args.cache))
    server.serve_forever()


if __name__ == "__main__":
    main()
