#!/usr/bin/env python3
"""Retrieval quality: ragway against the usual recipes, same documents, same
embedding model, same run.

    run.py --corpus DIR --questions FILE --ragway URL --key ADMIN_KEY \
           --embed URL --model NAME [--label L] [--report OUT.jsonl]

Loads every file of DIR into ragway (`POST /v1/documents`, waits until each
is ready), asks every question of FILE through the admin's retrieval test
(`POST /api/admin/retrieval/test`, the retrieval chat answers use), and runs
two baselines over fixed-size chunks of the same files, embedded by the
same upstream: dense only (cosine) and BM25 only. Scores by document:
hit@1/3/5, MRR@10 and nDCG@10 over the answerable questions; for the
unanswerable ones, the share that got no source at all; for the multi-turn
follow-ups, ragway's hit@3 asked as a follow-up (with its history) and as
the standalone question; and every answerable question asked again after
an unrelated exchange (a follow-up's conversation about other documents),
which a history-aware query must not hurt. Prints a markdown table per split (tune, test, all)
and writes one line per question and recipe to --report, for comparing runs
(`compare.py`).

Standard library and numpy only, plus jieba for the BM25 baseline's Chinese
words (the usual recipe's tokenizer for Chinese).
"""

import argparse
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np

K = 10


def call(url, body=None, key=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    for attempt in range(5):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            if e.code in (429, 503) and attempt < 4:
                time.sleep(1 + attempt)
                continue
            raise SystemExit(f"{url}: {e.code} {e.read()[:500]!r}")


def load_questions(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def corpus_files(directory):
    return sorted(n for n in os.listdir(directory) if os.path.isfile(os.path.join(directory, n)))


# ---------------------------------------------------------------- ragway


def load_ragway(args, names):
    """Uploads each file (title = file name); returns document id -> name."""
    def upload(name):
        with open(os.path.join(args.corpus, name), encoding="utf-8", errors="replace") as f:
            text = f.read()
        doc = call(f"{args.ragway}/v1/documents", {"title": name, "text": text}, args.key)
        return doc["id"], name

    started = time.time()
    with ThreadPoolExecutor(4) as pool:
        ids = dict(pool.map(upload, names))
    failed = []
    for doc_id, name in ids.items():
        while True:
            doc = call(f"{args.ragway}/v1/documents/{doc_id}?wait=60", key=args.key)
            if doc["status"] in ("ready", "failed"):
                break
        if doc["status"] != "ready":
            failed.append((name, doc.get("error")))
    if failed:
        raise SystemExit(f"{len(failed)} documents failed: {failed[:5]}")
    print(f"# ragway: {len(ids)} documents ready in {time.time() - started:.0f} s", file=sys.stderr)
    return ids


def ask_ragway(args, question, history=None):
    """Ranked file names (by first appearance) and the raw sources."""
    body = {"top_k": args.top_k}
    if history:
        body["messages"] = history + [{"role": "user", "content": question}]
    else:
        body["question"] = question
    if args.rag_model:
        body["model"] = args.rag_model
    if args.candidates:
        body["candidates"] = args.candidates
    if args.rerank_threshold is not None:
        # Needs a rerank upstream (RAGWAY_RERANK_BASE_URL) in the ragway asked.
        body["rerank"] = True
        body["rerank_threshold"] = args.rerank_threshold
    test = call(f"{args.ragway}/api/admin/retrieval/test", body, args.key)
    return dedupe(s["title"] for s in test["sources"]), test["sources"]


def passages(sources):
    """The text the chat model is given for each source: the passage
    around the matched chunk when ragway widens it, else the chunk."""
    return [s.get("context") or s["text"] for s in sources]


# ------------------------------------------------------------- baselines


def split_recursive(text, size=1000, overlap=200, separators=("\n\n", "\n", " ", "")):
    """LangChain's RecursiveCharacterTextSplitter, in short: split on the
    coarsest separator that leaves pieces under `size`, then merge pieces
    into chunks of up to `size` characters with `overlap` carried over."""
    separator = separators[-1]
    for i, sep in enumerate(separators):
        if sep == "" or sep in text:
            separator, rest = sep, separators[i + 1:]
            break
    pieces = list(text) if separator == "" else text.split(separator)
    chunks, current = [], []

    def flush():
        if current:
            chunk = separator.join(current).strip()
            if chunk:
                chunks.append(chunk)

    length = 0
    for piece in pieces:
        if len(piece) > size:
            flush()
            current, length = [], 0
            chunks.extend(split_recursive(piece, size, overlap, rest) if rest else [piece])
            continue
        if length + len(piece) + len(separator) > size and current:
            flush()
            # Keep the tail of the chunk (up to `overlap` characters) as the start of the next.
            while current and length > overlap:
                length -= len(current.pop(0)) + len(separator)
        current.append(piece)
        length += len(piece) + len(separator)
    flush()
    return chunks


def embed(args, texts, kind):
    vectors = []
    for start in range(0, len(texts), 64):
        batch = texts[start:start + 64]
        body = {"model": args.model, "input": batch}
        if args.input_type:
            body["input_type"] = kind
        answer = call(f"{args.embed}/v1/embeddings", body, args.embed_key)
        vectors.extend(item["embedding"] for item in sorted(answer["data"], key=lambda d: d["index"]))
    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


CJK = re.compile(r"[\u3400-\u9fff]")


def tokens(text):
    text = text.lower()
    if CJK.search(text):
        import jieba
        return [t for t in jieba.lcut(text) if t.strip() and re.search(r"\w", t)]
    return re.findall(r"\w+", text)


class BM25:
    """Okapi BM25 (k1 1.5, b 0.75, the rank_bm25 defaults)."""

    def __init__(self, documents, k1=1.5, b=0.75):
        self.k1, self.b = k1, b
        self.freqs = []
        df = {}
        for doc in documents:
            counts = {}
            for t in doc:
                counts[t] = counts.get(t, 0) + 1
            self.freqs.append(counts)
            for t in counts:
                df[t] = df.get(t, 0) + 1
        self.lengths = np.array([len(d) for d in documents], dtype=np.float32)
        self.avg = float(self.lengths.mean()) if len(documents) else 0.0
        n = len(documents)
        self.idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1) for t, f in df.items()}

    def scores(self, query):
        scores = np.zeros(len(self.freqs), dtype=np.float32)
        for t in set(query):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i, counts in enumerate(self.freqs):
                f = counts.get(t)
                if f:
                    denom = f + self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
                    scores[i] += idf * f * (self.k1 + 1) / denom
        return scores


class Baselines:
    def __init__(self, args, names):
        started = time.time()
        self.args = args
        self.owner, texts = [], []
        for name in names:
            with open(os.path.join(args.corpus, name), encoding="utf-8", errors="replace") as f:
                for chunk in split_recursive(f.read()):
                    self.owner.append(name)
                    texts.append(chunk)
        self.texts = texts
        self.vectors = embed(args, texts, "passage")
        self.bm25 = BM25([tokens(t) for t in texts])
        print(f"# baselines: {len(texts)} chunks of 1,000 characters embedded in {time.time() - started:.0f} s",
              file=sys.stderr)

    def ranked(self, scores):
        """Ranked file names, and the texts of the first chunks (what a
        recipe would give the chat model)."""
        order = [i for i in np.argsort(-scores, kind="stable")[: K * 4] if scores[i] != 0]
        texts = [self.texts[i] for i in order[:PASSAGE_K]]
        return dedupe(self.owner[i] for i in order)[:K], texts, texts

    def dense(self, question):
        query = embed(self.args, [question], "query")[0]
        return self.ranked(self.vectors @ query)

    def bm25_only(self, question):
        return self.ranked(self.bm25.scores(tokens(question)))


# --------------------------------------------------------------- scoring


def dedupe(names):
    seen, out = set(), []
    for name in names:
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def scores(ranked, relevant):
    ranked = ranked[:K]
    hit = [i for i, name in enumerate(ranked) if name in relevant]
    first = hit[0] + 1 if hit else None
    dcg = sum(1 / math.log2(i + 2) for i in hit)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), K)))
    return {
        "rank": first,
        "hit@1": float(first is not None and first <= 1),
        "hit@3": float(first is not None and first <= 3),
        "hit@5": float(first is not None and first <= 5),
        "mrr@10": 1 / first if first else 0.0,
        "ndcg@10": dcg / ideal if ideal else 0.0,
    }


# Passage hit: the question's answering span is in one of the first
# PASSAGE_K sources, counted twice: in the matched chunks alone, and in
# what the chat model is given (ragway's widened passages).
PASSAGE_K = 5


def squash(text):
    return " ".join(text.split()).lower()


def passage_hit(texts, passage):
    if not passage:
        return None
    span = squash(passage)
    return float(any(span in squash(t) for t in texts[:PASSAGE_K]))


METRICS = ["hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10"]


def table(rows, recipes, split):
    out = [f"| recipe ({split}) | questions | " + " | ".join(METRICS)
           + f" | passage in first {PASSAGE_K}: chunks / as given | unanswerable: no sources |",
           "| --- | --- | " + " | ".join("---" for _ in METRICS) + " | --- | --- |"]
    for recipe in recipes:
        answerable = [r for r in rows if r["recipe"] == recipe and r["kind"] == "answerable"
                      and (split == "all" or r["split"] == split)]
        unanswerable = [r for r in rows if r["recipe"] == recipe and r["kind"] == "unanswerable"
                        and (split == "all" or r["split"] == split)]
        if not answerable:
            continue
        means = [sum(r[m] for r in answerable) / len(answerable) for m in METRICS]
        empty = (f"{sum(r['no_sources'] for r in unanswerable) / len(unanswerable):.2f}"
                 if unanswerable else "–")
        with_span = [r for r in answerable if r.get("passage") is not None]
        span = (f"{sum(r['passage_chunk'] for r in with_span) / len(with_span):.2f} / "
                f"{sum(r['passage'] for r in with_span) / len(with_span):.2f}" if with_span else "–")
        out.append(f"| {recipe} | {len(answerable)} | " + " | ".join(f"{m:.2f}" for m in means)
                   + f" | {span} | {empty} |")
    return "\n".join(out)


def after_unrelated(questions):
    """Every answerable question with the history of a follow-up about
    other documents (its conversation, its question and a short answer),
    the follow-ups taken in turn."""
    follow = [q for q in questions if q.get("history")]
    for j, q in enumerate(questions if follow else []):
        if q.get("history") or not q["docs"]:
            continue
        other = next((h for n in range(len(follow)) for h in [follow[(j + n) % len(follow)]]
                      if not set(h["docs"]) & set(q["docs"])), None)
        if other:
            yield q, other["history"] + [{"role": "user", "content": other["q"]},
                                         {"role": "assistant", "content": "Done."}]


def paired_table(label, title, asked, alone, pairs):
    """hit@3 of each pair's first row against its second, as a table."""
    first = sum(a["hit@3"] for a, _ in pairs) / len(pairs)
    second = sum(b["hit@3"] for _, b in pairs) / len(pairs)
    return (f"| {title} ({len(pairs)}) | {asked} | {alone} |\n| --- | --- | --- |\n"
            f"| {label} | {first:.2f} | {second:.2f} |\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--ragway", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--embed", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--embed-key", default=os.environ.get("EMBED_API_KEY"),
                    help="the embeddings upstream's key (default: $EMBED_API_KEY)")
    ap.add_argument("--label", default="ragway")
    ap.add_argument("--report")
    ap.add_argument("--rag-model", help="the ragway model whose retrieval settings apply")
    ap.add_argument("--input-type", action="store_true",
                    help="send input_type query/passage to the embeddings upstream (baselines)")
    ap.add_argument("--skip-load", action="store_true", help="the corpus is in ragway already")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--top-k", type=int, default=K, help="sources asked of ragway (1-50)")
    ap.add_argument("--candidates", type=int, help="rows each of ragway's searches takes")
    ap.add_argument("--rerank-threshold", type=float,
                    help="rerank the candidates and leave out those scored below this "
                         "(ragway must have a rerank upstream)")
    ap.add_argument("--dump", help="write every question's sources, with their explain, here")
    args = ap.parse_args()

    names = corpus_files(args.corpus)
    questions = load_questions(args.questions)
    if not args.skip_load:
        load_ragway(args, names)
    baselines = None if args.no_baselines else Baselines(args, names)

    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None
    rows = []
    standalone = {}
    for q in questions:
        kind = ("unanswerable" if not q["docs"] else
                "follow-up" if q.get("history") else "answerable")
        def ask_rag(text, q=q):
            ranked, sources = ask_ragway(args, text, q.get("history"))
            if dump is not None:
                dump.write(json.dumps({"id": q["id"], "sources": [
                    {k: s.get(k) for k in ("title", "chunk_id", "score", "rerank_score", "explain")}
                    for s in sources]}, ensure_ascii=False) + "\n")
            return ranked, passages(sources), [s["text"] for s in sources]

        recipes = {args.label: ask_rag}
        if baselines and kind != "follow-up":
            recipes["dense only, 1,000-character chunks"] = baselines.dense
            recipes["BM25 only, same chunks"] = baselines.bm25_only
        for recipe, ask in recipes.items():
            ranked, texts, chunks = ask(q["q"])
            row = {"id": q["id"], "recipe": recipe, "kind": kind, "split": q["split"],
                   "ranked": ranked[:K], "no_sources": not ranked,
                   "passage": passage_hit(texts, q.get("passage")),
                   "passage_chunk": passage_hit(chunks, q.get("passage"))}
            row.update(scores(ranked, set(q["docs"])))
            rows.append(row)
            if kind == "answerable" and recipe == args.label:
                standalone[q["id"]] = row

    # A history-aware query must not hurt a new question that follows an
    # unrelated exchange: every answerable question asked again after one.
    shifted = []
    for q, history in after_unrelated(questions):
        ranked, _ = ask_ragway(args, q["q"], history)
        row = {"id": q["id"] + "~after", "recipe": args.label, "kind": "after-unrelated",
               "split": q["split"], "ranked": ranked[:K], "no_sources": not ranked}
        row.update(scores(ranked, set(q["docs"])))
        rows.append(row)
        shifted.append((row, standalone[q["id"]]))

    recipes = dedupe(r["recipe"] for r in rows)
    for split in ("tune", "test", "all"):
        print(table(rows, recipes, split))
        print()
    follow = [r for r in rows if r["kind"] == "follow-up"]
    if follow:
        paired = [(r, standalone.get(q["standalone"])) for r in follow
                  for q in questions if q["id"] == r["id"]]
        print(paired_table(args.label, "follow-ups", "hit@3 asked as a follow-up",
                           "hit@3 of the same question standalone", [(f, s) for f, s in paired if s]))
    if shifted:
        print(paired_table(args.label, "after an unrelated exchange", "hit@3", "hit@3 standalone", shifted))
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
