#!/usr/bin/env bash
# Fetches and generates the real-PDF collection the reader is measured on (tests/data/pdf-collection.json)
# into .cache/pdf-collection/ (git-ignored; nothing of it is committed):
# - German manuals from Debian's archive (apt-get download, no root): their PDFs and, next to each,
#   the package's copyright file and a line in SOURCES naming package and version;
# - German documents generated from the project's own corpus by tests/data/pdfcollection/generate.py
#   with LibreOffice (Writer, Impress, Calc), Chromium, groff + Ghostscript and TeX (LaTeX + dvips,
#   KOMA-Script, XeTeX, Texinfo) (each must be installed; .ci/run installs them).
# Needs apt's package lists (run 'apt-get update' first on a fresh machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${1:-$root/.cache/pdf-collection}"
python="${PYTHON:-$root/.venv/bin/python}"
mkdir -p "$target"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# file package member, one per line, for the documents taken from Debian packages.
"$python" - "$here/pdf-collection.json" > "$work/wanted" <<'EOF'
import json, sys
for d in json.load(open(sys.argv[1], encoding="utf-8"))["documents"]:
    if d.get("package"):
        print(d["file"], d["package"], d["member"])
EOF

while read -r file package member; do
  [ -s "$target/$file" ] && continue
  if ! ls "$work"/"$package"_*.deb >/dev/null 2>&1; then
    (cd "$work" && apt-get download -q "$package" >/dev/null)
    dpkg-deb -x "$work"/"$package"_*.deb "$work/x-$package"
  fi
  source="$work/x-$package/$member"
  case "$member" in
    *.gz) gunzip -c "$source" > "$target/$file.tmp" ;;
    *) cp "$source" "$target/$file.tmp" ;;
  esac
  copyright=$(ls "$work/x-$package"/usr/share/doc/*/copyright | head -n 1)
  cp "$copyright" "$target/$file.copyright"
  version=$(dpkg-deb -f "$work"/"$package"_*.deb Version)
  echo "$file: Debian package $package $version, /$member" >> "$target/SOURCES"
  mv "$target/$file.tmp" "$target/$file"
  echo "fetched $file ($package $version)"
done < "$work/wanted"

"$python" "$here/pdfcollection/generate.py" "$target"
