#!/bin/bash
# Lists checklist ids (S12, L86, T30, D9, ...) that reached the rendered public docs; exits 1
# if there are any. They belong in `//` comments and private items, not in rustdoc.
# Run after `make doc`: bash scripts/check_doc_ids.sh
set -u
cd "$(dirname "$0")/.." && cd "${CARGO_TARGET_DIR:-target}/doc/asyncio" || { echo "run make doc first" >&2; exit 2; }
found=0
while read -r f; do
  grep -q 'http-equiv="refresh"' "$f" && continue # redirect pages carry no docs
  hits=$(sed -e 's/<[^>]*>//g' "$f" | grep -noP '(?<![A-Za-z0-9_./-])[SLTD][0-9]{1,3}(?![A-Za-z0-9_])')
  if [ -n "$hits" ]; then
    echo "$hits" | sed "s|^|$f:|"
    found=1
  fi
done < <(find . -name '*.html' ! -name 'all.html' | sort)
exit $found
