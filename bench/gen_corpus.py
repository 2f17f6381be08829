"""Generate benchmark corpora (deterministic for a given seed; nothing here is committed output).

    python3 bench/gen_corpus.py text  OUT_DIR --files 10 --bytes 5000000
    python3 bench/gen_corpus.py pdf   OUT_DIR --count 200
    python3 bench/gen_corpus.py small OUT_DIR --count 2000
    python3 bench/gen_corpus.py html OUT_DIR --count 2000

text:  large plain-text files of English prose (varied sentences and paragraphs).
pdf:   small valid PDFs with a text layer, 1-3 pages each, written by hand
       with fixtures/pdfgen.py (Helvetica, one Tj per line).
small: 1-4 KB .txt and .md files spread over a few subfolders.
html:  1-4 KB .html pages (the same prose in headings and paragraphs).
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from pdfgen import text_pdf  # noqa: E402

SUBJECTS = [
    "The harbour master", "Every new employee", "Our finance team", "The night ferry",
    "A careful reader", "The quarterly report", "Most travellers", "The lighthouse keeper",
    "This policy", "The regional office", "Each project lead", "The maintenance crew",
    "Customers in the northern district", "The training programme", "An experienced engineer",
    "The museum curator", "A volunteer from the coast guard", "The logistics department",
]
VERBS = [
    "reviews", "schedules", "approves", "records", "explains", "publishes", "inspects",
    "postpones", "summarises", "reimburses", "tracks", "compares", "announces", "updates",
    "questions", "archives", "negotiates", "repairs",
]
OBJECTS = [
    "the tide tables for the coming week", "travel expenses above the usual limit",
    "the safety checklist before departure", "twenty-five days of annual leave",
    "the budget for the spring workshop", "every incident in the shared log",
    "the changes to the evening timetable", "the contract with the catering supplier",
    "the results of the customer survey", "repairs to the old pier", "the onboarding handbook",
    "fuel consumption across the fleet", "the winter maintenance plan",
    "the inventory of spare parts", "complaints about the booking system",
]
TAILS = [
    "", "", "", " before the end of the month", " whenever the weather turns",
    " in close cooperation with the local council", ", although nobody asked for it",
    " so that the next shift knows what happened", " after a short discussion with the board",
    " at least twice a year", ", which saves everyone a great deal of time",
    " unless the director decides otherwise",
]
OPENERS = ["", "", "", "In practice, ", "Since last spring, ", "According to the handbook, ",
           "On rare occasions, ", "As a rule, ", "Meanwhile, ", "By contrast, "]
ENDS = [".", ".", ".", ".", "!", "?"]
TOPICS = ["Leave", "Travel", "Ferries", "Budget", "Safety", "Tides", "Suppliers", "Training",
          "Maintenance", "Archives", "Surveys", "Fleet"]


def sentence(rng):
    opener = rng.choice(OPENERS)
    subject = rng.choice(SUBJECTS)
    if opener:
        subject = subject[0].lower() + subject[1:]
    s = f"{opener}{subject} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}"
    if rng.random() < 0.3:
        s += f" and {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    if rng.random() < 0.15:
        s += f" (case {rng.randrange(10000, 99999)})"
    return s + rng.choice(ENDS)


def paragraph(rng):
    return " ".join(sentence(rng) for _ in range(rng.randint(3, 8)))


def prose(rng, size, markdown=False):
    parts, n, i = [], 0, 0
    while n < size:
        if markdown and i % 3 == 0:
            h = f"{'#' if i == 0 else '##'} {rng.choice(TOPICS)} {rng.randrange(1, 100)}"
            parts.append(h)
            n += len(h) + 2
        p = paragraph(rng)
        parts.append(p)
        n += len(p) + 2
        i += 1
    return "\n\n".join(parts)[:size].rsplit(" ", 1)[0] + "\n"


def gen_text(out, files, size, seed):
    for i in range(files):
        rng = random.Random(seed * 1000 + i)
        with open(os.path.join(out, f"corpus-{i:02d}.txt"), "w") as f:
            f.write(prose(rng, size))


def wrap(text, width=90):
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def gen_pdf(out, count, seed):
    for i in range(count):
        rng = random.Random(seed * 1000 + i)
        pages = []
        for _ in range(rng.randint(1, 3)):
            lines = []
            while len(lines) < 46:
                lines += wrap(paragraph(rng)) + [""]
            pages.append(lines[:50])
        with open(os.path.join(out, f"report-{i:03d}.pdf"), "wb") as f:
            f.write(text_pdf(pages, size=11, leading=14, x=56, y=760))


def gen_small(out, count, seed):
    for i in range(count):
        rng = random.Random(seed * 1000 + i)
        folder = os.path.join(out, f"team-{i % 10}", f"year-{2015 + i % 7}")
        os.makedirs(folder, exist_ok=True)
        markdown = i % 2 == 1
        body = prose(rng, rng.randint(1024, 4096), markdown=markdown)
        with open(os.path.join(folder, f"note-{i:04d}.{'md' if markdown else 'txt'}"), "w") as f:
            f.write(body)


def gen_html(out, count, seed):
    import html as escape
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        rng = random.Random(seed * 1000 + i)
        body = prose(rng, rng.randint(1024, 4096), markdown=False)
        paragraphs = "".join(f"<p>{escape.escape(p)}</p>\n" for p in body.split("\n\n") if p.strip())
        page = f"<!doctype html><html><head><title>Note {i}</title></head><body><h1>Note {i}</h1>\n{paragraphs}</body></html>\n"
        with open(os.path.join(out, f"note-{i:04d}.html"), "w") as f:
            f.write(page)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["text", "pdf", "small", "html"])
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--bytes", type=int, default=5_000_000)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.kind == "text":
        gen_text(a.out, a.files, a.bytes, a.seed)
    elif a.kind == "pdf":
        gen_pdf(a.out, a.count, a.seed)
    elif a.kind == "html":
        gen_html(a.out, a.count, a.seed)
    else:
        gen_small(a.out, a.count, a.seed)


if __name__ == "__main__":
    main()
