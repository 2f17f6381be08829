#!/usr/bin/env bash
# The English corpus of the retrieval-quality benchmark: git's manual pages
# and guides as Debian's git-doc package ships them (AsciiDoc sources), so
# the documents are real, written by people outside this project, and the
# same on every machine that installs the same package version.
#
#   bench/quality/corpora/git.sh OUT_DIR
#
# Copies every git*.txt manual page or guide (git-reset.txt, gittutorial.txt,
# gitglossary.txt, ...) and user-manual.txt into OUT_DIR, one file per
# document. Include fragments (diff-options.txt, config.txt, cmds-*.txt, ...)
# are left out: they are pieces of other pages, not documents a user would
# upload. A kept file must open with an AsciiDoc title, which guards against
# a future package adding a git*-named fragment. include:: lines are left as
# they are (a user uploading these files would upload them as shipped), so
# the questions only ask about text that is in the file itself.
#
# Deterministic (sorted, byte-for-byte copies) and idempotent: running it
# again over the same OUT_DIR leaves the same files. Prints the count.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
OUT=$1
SRC=/usr/share/doc/git-doc

if [ ! -d "$SRC" ]; then
  echo "installing git-doc ($SRC is missing)" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends git-doc >&2
fi

# is_document FILE: opens with a title, either a setext one ("Title" over a
# line of "=") or a one-line "= Title".
is_document() {
  local l1 l2
  l1=$(sed -n 1p "$1")
  l2=$(sed -n 2p "$1")
  [[ $l2 =~ ^=+$ || $l1 =~ ^=\  ]]
}

mkdir -p "$OUT"
count=0
while IFS= read -r name; do
  f="$SRC/$name"
  [ -f "$f" ] || continue
  if ! is_document "$f"; then
    echo "skipping $name: not a standalone document" >&2
    continue
  fi
  cp -f "$f" "$OUT/$name"
  chmod 644 "$OUT/$name"
  count=$((count + 1))
done < <(cd "$SRC" && LC_ALL=C ls -1 -- git*.txt user-manual.txt 2>/dev/null | LC_ALL=C sort)

if [ "$count" -eq 0 ]; then
  echo "no documents found in $SRC" >&2
  exit 1
fi
echo "$count documents in $OUT"
