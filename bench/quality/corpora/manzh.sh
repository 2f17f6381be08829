#!/usr/bin/env bash
# The Chinese retrieval-quality corpus: Debian's manpages-zh (Chinese
# translations of manual pages), rendered to UTF-8 plain text, one file per
# page. Nobody on the project wrote these pages, which is the point: the
# questions in bench/quality/questions/manzh.jsonl name these files.
#
#   bench/quality/corpora/manzh.sh OUT_DIR
#
# Writes OUT_DIR/man<section>-<name>.txt, the section taken from the page's
# own suffix (ls.1.gz -> man1-ls.txt, exec.3tcl.gz -> man3tcl-exec.txt), so
# pages of the same name in different sections stay apart. Symlinked pages
# are aliases of another page and are left out, as are pages that render to
# under 300 bytes or that are mostly untranslated: they would add duplicates
# and English noise, not Chinese retrieval. "Mostly untranslated" counts a
# CJK character and a run of Latin letters as one unit each (a character is
# about a word) and needs half the units CJK. A plain share of letters would
# drop short, fully translated pages whose option names and copyright lines
# are English (true.1, tail.1); counting words keeps those and still drops
# the pages left mostly in English (useradd.8, perlfunc.7).
# Deterministic (sorted input, no dates added) and idempotent: earlier
# man*-*.txt files in OUT_DIR are replaced. Prints how many pages it wrote.
# The question labels were written against manpages-zh 1.6.4.0-1 and groff
# 1.22.4 (Debian 12); other versions can move or reword text, which
# bench/quality/check_questions.py reports.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
OUT=$1
SRC=/usr/share/man/zh_CN

# Install what is missing (needs root or sudo; a no-op when all is there):
# the pages, groff to render them, col (bsdextrautils) to strip overstrikes.
missing=()
for pkg in manpages-zh groff-base bsdextrautils; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Docker-style images drop /usr/share/man through dpkg path excludes.
if ! compgen -G "$SRC/man*/*.gz" > /dev/null; then
  echo "no pages under $SRC: is /usr/share/man excluded by /etc/dpkg/dpkg.cfg.d?" >&2
  exit 1
fi

mkdir -p "$OUT"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

export LC_ALL=C.UTF-8
while IFS= read -r page; do
  [ -L "$page" ] && continue
  base=$(basename "$page" .gz)  # ls.1
  name=${base%.*}               # ls
  section=${base##*.}           # 1, 3tcl, ...
  # groff directly, not man(1): man-db's pipeline loops forever on some of
  # these pages (df.1). ".ad l" and -rHY=0 turn off justification and
  # hyphenation, so lines hold single spaces and whole words; col -bx drops
  # overstrikes and tabs. The timeout guards against any other such page.
  { printf '.ad l\n'; zcat "$page"; } | preconv -e utf-8 \
    | timeout 60 groff -t -Tutf8 -mandoc -rLL=100n -rHY=0 2> /dev/null \
    | col -bx > "$STAGE/man$section-$name.txt" || true
done < <(find "$SRC" -path "$SRC/man*/*.gz" | LC_ALL=C sort)

python3 - "$STAGE" "$OUT" << 'EOF'
import os, re, shutil, sys

stage, out = sys.argv[1], sys.argv[2]

def is_cjk(ch):
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FFFF

for old in os.listdir(out):
    if old.startswith("man") and "-" in old and old.endswith(".txt"):
        os.remove(os.path.join(out, old))

kept = skipped = 0
for name in sorted(os.listdir(stage)):
    path = os.path.join(stage, name)
    data = open(path, "rb").read()
    text = data.decode("utf-8", errors="replace")
    cjk = sum(1 for c in text if is_cjk(c))
    words = len(re.findall(r"[A-Za-z]+", text))
    if len(data) < 300 or cjk < 0.5 * (cjk + words):
        skipped += 1
        continue
    shutil.copyfile(path, os.path.join(out, name))
    kept += 1
print(f"{kept} pages written to {out} ({skipped} skipped: short or not Chinese)")
EOF
