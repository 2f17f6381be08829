#!/usr/bin/env python3
"""A relevance floor, chosen on data: from a deep dump of ragway's sources
(`run.py --dump` with `--top-k 50 --candidates 50`), how well each signal
tells a question the corpus answers from one it cannot, and what a floor
on it would cost: the share of unanswerable questions left without
sources against the share of answerable ones whose answering document is
lost (those that had it in the top 3).

    floor.py QUESTIONS DUMP [--split tune]

Signals, per question: the best cosine; its margin over the median cosine
of the vector search's top 50 (how far the best stands out of the crowd);
the best full-text (BM25) score; and whether the two searches agree on a
document among their first three.
"""

import argparse
import json
import statistics


def features(sources):
    cos = sorted((s["explain"]["vector_score"] for s in sources
                  if s.get("explain") and s["explain"].get("vector_score") is not None), reverse=True)
    text = [s["explain"]["text_score"] for s in sources
            if s.get("explain") and s["explain"].get("text_score") is not None]
    by_vector = {s["title"] for s in sources if s.get("explain") and (s["explain"].get("vector_rank") or 99) <= 3}
    by_text = {s["title"] for s in sources if s.get("explain") and (s["explain"].get("text_rank") or 99) <= 3}
    return {
        "best cosine": cos[0] if cos else 0.0,
        "cosine margin over median": (cos[0] - statistics.median(cos)) if cos else 0.0,
        "cosine margin over 10th": (cos[0] - cos[min(9, len(cos) - 1)]) if cos else 0.0,
        "best BM25": max(text) if text else 0.0,
        "searches agree (top 3)": float(bool(by_vector & by_text)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("questions")
    ap.add_argument("dump")
    ap.add_argument("--split", default="tune")
    args = ap.parse_args()
    questions = {q["id"]: q for q in map(json.loads, open(args.questions, encoding="utf-8")) if q}
    rows = []
    for line in open(args.dump, encoding="utf-8"):
        entry = json.loads(line)
        q = questions.get(entry["id"])
        if not q or q.get("history") or (args.split != "all" and q["split"] != args.split):
            continue
        titles = []
        for s in entry["sources"]:
            if s["title"] not in titles:
                titles.append(s["title"])
        hit3 = bool(set(titles[:3]) & set(q["docs"])) if q["docs"] else None
        rows.append((bool(q["docs"]), hit3, features(entry["sources"])))
    answerable = [r for r in rows if r[0]]
    unanswerable = [r for r in rows if not r[0]]
    print(f"{len(answerable)} answerable, {len(unanswerable)} unanswerable ({args.split})")
    for name in rows[0][2]:
        a = sorted(r[2][name] for r in answerable)
        u = sorted(r[2][name] for r in unanswerable)
        print(f"\n{name}: answerable median {statistics.median(a):.4f} "
              f"(10th pct {a[len(a) // 10]:.4f}), unanswerable median {statistics.median(u):.4f} "
              f"(90th pct {u[len(u) * 9 // 10]:.4f})")
        print("| floor | unanswerable without sources | answerable top-3 hits lost |")
        print("| --- | --- | --- |")
        hits = sum(1 for r in answerable if r[1])
        for t in sorted(set(u)):
            cut_u = sum(1 for r in unanswerable if r[2][name] <= t) / len(unanswerable)
            lost = sum(1 for r in answerable if r[1] and r[2][name] <= t) / max(hits, 1)
            print(f"| <= {t:.4f} | {cut_u:.2f} | {lost:.2f} |")


if __name__ == "__main__":
    main()
