#!/usr/bin/env python3
"""History-aware queries, chosen on data: asks ragway's retrieval test
(a corpus already loaded) with search texts built from a conversation in
several ways, and fuses some by reciprocal rank, as ragway could do in one
request. Scores hit@3 by document on the follow-ups (which need their
history) and on every answerable question asked after an unrelated
exchange (which must not be hurt by it), beside each asked alone.

    followup.py --questions FILE --ragway URL --key ADMIN_KEY [--split tune]

Run by run.sh with QUALITY_AFTER='python3 bench/quality/followup.py …'.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from run import after_unrelated, ask_ragway, load_questions, scores  # noqa: E402


def rrf(*lists, k=60):
    score = {}
    for ranked in lists:
        for i, name in enumerate(ranked):
            score[name] = score.get(name, 0.0) + 1 / (k + i + 1)
    return sorted(score, key=lambda n: -score[n])


def texts(history, q):
    users = [m["content"] for m in history if m["role"] == "user"]
    answers = [m["content"] for m in history if m["role"] == "assistant"]
    return {
        "alone": q,
        "last user turn + question": f"{users[-1]}\n{q}" if users else q,
        "last exchange + question": "\n".join(filter(None, [users[-1] if users else "",
                                                           answers[-1][:300] if answers else "", q])),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", required=True)
    ap.add_argument("--ragway", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--split", default="all")
    args = ap.parse_args()
    args.top_k, args.rag_model, args.candidates = 10, None, None
    questions = load_questions(args.questions)
    cases = [("follow-up", q["history"], q) for q in questions if q.get("history")]
    cases += [("after unrelated", history, q) for q, history in after_unrelated(questions)]
    totals = {}
    for kind, history, q in cases:
        if args.split != "all" and q["split"] != args.split:
            continue
        ranked = {name: ask_ragway(args, text)[0] for name, text in texts(history, q["q"]).items()}
        ranked["rrf(alone, last user turn + question)"] = rrf(ranked["alone"], ranked["last user turn + question"])
        ranked["rrf(alone, last exchange + question)"] = rrf(ranked["alone"], ranked["last exchange + question"])
        ranked["ragway (its history rule)"] = ask_ragway(args, q["q"], history)[0]
        for name, docs in ranked.items():
            key = (kind, name)
            hit, n = totals.get(key, (0.0, 0))
            totals[key] = (hit + scores(docs, set(q["docs"]))["hit@3"], n + 1)
    names = list(dict.fromkeys(name for _, name in totals))
    kinds = list(dict.fromkeys(kind for kind, _ in totals))
    print(f"| search text ({args.split}) | " + " | ".join(f"hit@3 {k} ({totals[(k, names[0])][1]})"
                                                       for k in kinds) + " |")
    print("| --- | " + " | ".join("---" for _ in kinds) + " |")
    for name in names:
        print(f"| {name} | " + " | ".join(f"{totals[(k, name)][0] / totals[(k, name)][1]:.2f}"
                                         for k in kinds) + " |")


if __name__ == "__main__":
    main()
