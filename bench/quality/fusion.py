#!/usr/bin/env python3
"""Fusion, chosen on data: replays ragway's candidates (both searches'
ranks and scores, from `run.py --dump` with `--top-k 50 --candidates N`,
so that every candidate either search found comes back) under other ways
of fusing them, and scores each by document like run.py.

    fusion.py QUESTIONS DUMP [--split tune]

Choose on one split (tune) and one corpus; confirm on the other split and
the other corpus. Never tune on what you report.
"""

import argparse
import json
import math
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from run import METRICS, dedupe, scores  # noqa: E402


def variants():
    yield "rrf k=60 (ragway's fusion)", lambda c: rrf(c, 60, 0.5)
    for w in (0.6, 0.7, 0.8, 0.9):
        yield f"weighted rrf k=60, vector {w}", lambda c, w=w: rrf(c, 60, w)
    yield "vector only", lambda c: [x for x in sorted(c, key=lambda x: -x["cos"]) if x["vr"]]
    yield "full text only", lambda c: [x for x in sorted(c, key=lambda x: x["tr"] or 1e9) if x["tr"]]
    for w in (0.5, 0.6, 0.7, 0.8, 0.9):
        yield f"convex, min-max, vector {w}", lambda c, w=w: convex(c, w)
    yield "vector, full text breaking near-ties (0.02)", lambda c: near_ties(c, 0.02)
    for w in (0.4, 0.5, 0.6):
        yield f"convex, min-max, vector {w}, text-only rows at the lowest cosine", lambda c, w=w: convex(c, w, True)
    for decay in (1.0, 0.5, 0.25):
        yield f"documents by their chunks' summed rrf (decay {decay})", lambda c, d=decay: by_document(c, d)


def by_document(cands, decay):
    """Documents ranked by the reciprocal-rank scores of all their chunks
    (each further chunk of a document counting `decay` times the one
    before: 1 is CombSUM, 0 would be the best chunk alone); each
    document's best chunk in that order, then the other chunks."""
    ranked = rrf(cands, 60, 0.5)
    score = {x["doc"]: 0.0 for x in ranked}
    weight = {x["doc"]: 1.0 for x in ranked}
    for x in ranked:
        s = 0.0
        if x["vr"]:
            s += 1 / (60 + x["vr"])
        if x["tr"]:
            s += 1 / (60 + x["tr"])
        score[x["doc"]] += weight[x["doc"]] * s
        weight[x["doc"]] *= decay
    order = {doc: i for i, doc in enumerate(sorted(score, key=lambda d: -score[d]))}
    # Each document's best chunk in the documents' order, then the rest.
    best, rest, seen = [], [], set()
    for x in sorted(ranked, key=lambda x: order[x["doc"]]):
        (rest if x["doc"] in seen else best).append(x)
        seen.add(x["doc"])
    return best + rest


def rrf(cands, k, w):
    def score(x):
        s = 0.0
        if x["vr"]:
            s += 2 * w / (k + x["vr"])
        if x["tr"]:
            s += 2 * (1 - w) / (k + x["tr"])
        return s
    return sorted(cands, key=lambda x: (-score(x), -x["cos"]))


def convex(cands, w, unread=False):
    """Cosines min-max normalised over the candidates, full-text scores
    divided by the best; with `unread`, a row only full text found counts
    as the lowest cosine (its own is known only once it is read)."""
    cos = [x["cos"] for x in cands if x["vr"] or not unread]
    text = [x["ts"] or 0.0 for x in cands]
    lo, hi = min(cos), max(cos)
    tmax = max(text) or 1.0

    def score(x):
        v = (x["cos"] - lo) / (hi - lo) if hi > lo else 1.0
        if unread and not x["vr"]:
            v = 0.0
        return w * v + (1 - w) * (x["ts"] or 0.0) / tmax
    return sorted(cands, key=lambda x: -score(x))


def near_ties(cands, margin):
    """Cosine decides, but a full-text hit within `margin` of the best ranks up."""
    return sorted(cands, key=lambda x: -(x["cos"] + (margin if x["tr"] and x["tr"] <= 3 else 0)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("questions")
    ap.add_argument("dump")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--depth", type=int, default=20, help="rows each search keeps (the server's for top_k 5: 20)")
    ap.add_argument("--top-k", type=int, default=10, help="chunks kept after fusion (as run.py asks)")
    ap.add_argument("--max-per-doc", type=int, default=0, help="at most this many chunks of one document (0: any)")
    args = ap.parse_args()
    questions = {q["id"]: q for q in map(json.loads, open(args.questions, encoding="utf-8")) if q}
    dump = [json.loads(line) for line in open(args.dump, encoding="utf-8")]
    print(f"| fusion ({args.split}, depth {args.depth}) | " + " | ".join(METRICS) + " |")
    print("| --- | " + " | ".join("---" for _ in METRICS) + " |")
    for name, fuse in variants():
        totals, n = dict.fromkeys(METRICS, 0.0), 0
        for entry in dump:
            q = questions.get(entry["id"])
            if not q or not q["docs"] or q.get("history") or (args.split != "all" and q["split"] != args.split):
                continue
            cands = []
            for s in entry["sources"]:
                e = s["explain"] or {}
                vr, tr = e.get("vector_rank"), e.get("text_rank")
                vr = vr if vr and vr <= args.depth else None
                tr = tr if tr and tr <= args.depth else None
                if vr or tr:
                    cands.append({"doc": s["title"], "cos": s["score"], "vr": vr, "tr": tr,
                                  "ts": e.get("text_score") if tr else None})
            ranked = fuse(cands) if cands else []
            if args.max_per_doc:
                seen, kept = {}, []
                for x in ranked:
                    seen[x["doc"]] = seen.get(x["doc"], 0) + 1
                    if seen[x["doc"]] <= args.max_per_doc:
                        kept.append(x)
                ranked = kept
            docs = dedupe(x["doc"] for x in ranked[:args.top_k])
            for m, v in scores(docs, set(q["docs"])).items():
                if m in totals:
                    totals[m] += v
            n += 1
        print(f"| {name} | " + " | ".join(f"{totals[m] / n:.2f}" for m in METRICS) + " |")
    print(f"\n{n} questions")


if __name__ == "__main__":
    main()
