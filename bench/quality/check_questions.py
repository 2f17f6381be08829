#!/usr/bin/env python3
"""Checks a retrieval-quality question set against its corpus.

    python3 bench/quality/check_questions.py QUESTIONS.jsonl CORPUS_DIR

A question set is only useful if its labels are right: a document name that
does not exist, or a passage that is not in the document it claims, would
silently turn a good retrieval into a miss. So this verifies, before any
retrieval is run, that:

  - every line is a JSON object with a unique `id`, a non-empty `q`, a
    `docs` list and a `split` of "tune" or "test";
  - answerable questions (non-empty `docs`) name files that exist in
    CORPUS_DIR, and their `passage` (20-120 characters, one line) is a
    verbatim substring of the first listed document;
  - unanswerable questions have `docs: []` and no passage;
  - multi-turn questions have a `history` of user/assistant turns and a
    `standalone` id naming an answerable question with the same `docs`.

Prints a one-line summary; exits 1 and lists every problem otherwise.
"""

import json
import os
import sys

MAX_LINES = 10_000
MIN_PASSAGE, MAX_PASSAGE = 20, 120


def load(path):
    """The question objects, with their line numbers; malformed lines are problems."""
    rows, problems = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if n > MAX_LINES:
                problems.append(f"{path}: more than {MAX_LINES} lines")
                break
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"line {n}: not JSON ({e})")
                continue
            if not isinstance(obj, dict):
                problems.append(f"line {n}: not a JSON object")
                continue
            rows.append((n, obj))
    return rows, problems


def check(rows, corpus):
    problems = []
    texts = {}

    def text_of(name):
        if name not in texts:
            path = os.path.join(corpus, name)
            if os.path.basename(name) != name or not os.path.isfile(path):
                texts[name] = None
            else:
                with open(path, encoding="utf-8", errors="replace") as f:
                    texts[name] = f.read()
        return texts[name]

    by_id = {}
    for n, q in rows:
        qid = q.get("id")
        if not isinstance(qid, str) or not qid:
            problems.append(f"line {n}: missing id")
            continue
        if qid in by_id:
            problems.append(f"{qid}: duplicate id")
        by_id[qid] = q

    counts = {"answerable": 0, "unanswerable": 0, "multi-turn": 0}
    for n, q in rows:
        qid = q.get("id", f"line {n}")
        where = f"{qid}"
        if not isinstance(q.get("q"), str) or not q["q"].strip():
            problems.append(f"{where}: empty q")
        if q.get("split") not in ("tune", "test"):
            problems.append(f"{where}: split must be tune or test")
        docs = q.get("docs")
        if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
            problems.append(f"{where}: docs must be a list of file names")
            continue
        if len(set(docs)) != len(docs):
            problems.append(f"{where}: repeated doc in docs")
        for d in docs:
            if text_of(d) is None:
                problems.append(f"{where}: doc {d!r} not in {corpus}")

        if "history" in q or "standalone" in q:
            counts["multi-turn"] += 1
            hist = q.get("history")
            if not isinstance(hist, list) or not hist:
                problems.append(f"{where}: history must be a non-empty list")
            else:
                for t in hist:
                    if not isinstance(t, dict) or t.get("role") not in ("user", "assistant") \
                            or not isinstance(t.get("content"), str) or not t["content"].strip():
                        problems.append(f"{where}: bad history turn {t!r}")
            target = by_id.get(q.get("standalone"))
            if target is None:
                problems.append(f"{where}: standalone {q.get('standalone')!r} not found")
            elif not target.get("docs"):
                problems.append(f"{where}: standalone {target['id']} is unanswerable")
            elif target["docs"] != docs:
                problems.append(f"{where}: docs differ from standalone {target['id']}")
            continue

        if not docs:
            counts["unanswerable"] += 1
            if q.get("passage"):
                problems.append(f"{where}: unanswerable question has a passage")
            continue

        counts["answerable"] += 1
        passage = q.get("passage")
        if not isinstance(passage, str):
            problems.append(f"{where}: missing passage")
            continue
        if not MIN_PASSAGE <= len(passage) <= MAX_PASSAGE:
            problems.append(f"{where}: passage is {len(passage)} characters")
        if "\n" in passage:
            problems.append(f"{where}: passage spans lines")
        first = text_of(docs[0])
        if first is not None and passage not in first:
            problems.append(f"{where}: passage not found in {docs[0]}: {passage!r}")
    return counts, problems


def main():
    if len(sys.argv) != 3:
        print("usage: " + __doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    questions, corpus = sys.argv[1], sys.argv[2]
    if not os.path.isdir(corpus):
        sys.exit(f"{corpus}: not a directory (build it with bench/quality/corpora/*.sh)")
    rows, problems = load(questions)
    counts, more = check(rows, corpus)
    problems += more
    for p in problems:
        print(p)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    if problems:
        print(f"{questions}: {len(problems)} problem(s); {summary}")
        sys.exit(1)
    print(f"{questions}: ok; {summary}")


if __name__ == "__main__":
    main()
