#!/usr/bin/env python3
"""Which questions a change helped and which it hurt: compares two
per-question reports of run.py (--report), recipe by recipe (by default
the first recipe of each: ragway's label).

    compare.py BEFORE.jsonl AFTER.jsonl [--recipe-before L] [--recipe-after L]
"""

import argparse
import json


def load(path, recipe):
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    recipe = recipe or rows[0]["recipe"]
    return recipe, {r["id"]: r for r in rows if r["recipe"] == recipe}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--recipe-before")
    ap.add_argument("--recipe-after")
    args = ap.parse_args()
    name_a, before = load(args.before, args.recipe_before)
    name_b, after = load(args.after, args.recipe_after)
    better, worse = [], []
    for qid, a in before.items():
        b = after.get(qid)
        if not b or a["kind"] == "unanswerable":
            continue
        ra, rb = a["rank"] or 99, b["rank"] or 99
        if rb < ra:
            better.append((qid, ra, rb, b["ranked"][:3]))
        elif rb > ra:
            worse.append((qid, ra, rb, b["ranked"][:3]))
    show = lambda r: "-" if r == 99 else r  # noqa: E731
    print(f"{name_a} -> {name_b}: {len(better)} questions ranked better, {len(worse)} worse")
    for title, rows in (("better", better), ("worse", worse)):
        print(f"\n{title}:")
        for qid, ra, rb, top in sorted(rows):
            print(f"  {qid}: rank {show(ra)} -> {show(rb)}   now: {', '.join(top)}")
    for kind in ("unanswerable",):
        a = [r for r in before.values() if r["kind"] == kind]
        b = [r for r in after.values() if r["kind"] == kind]
        if a and b:
            print(f"\n{kind} without sources: {sum(r['no_sources'] for r in a)}/{len(a)} -> "
                  f"{sum(r['no_sources'] for r in b)}/{len(b)}")


if __name__ == "__main__":
    main()
