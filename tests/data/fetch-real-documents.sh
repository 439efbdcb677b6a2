#!/usr/bin/env bash
# Fetches the real German PDF the reader tests check against, from Debian's package archive:
# debian-faq-de 11.1, /usr/share/doc/debian/FAQ/debian-faq.de.pdf.gz ("Die Debian GNU/Linux-FAQ").
# Licence: verbatim and modified copies permitted under the notice in the package's copyright file
# (Copyright (C) 1996-2003 Software in the Public Interest); nothing is committed to this repository.
# Needs apt's package lists (run 'apt-get update' first on a fresh machine); no root needed.
set -euo pipefail
target="${1:-$(dirname "$0")/../../.cache/testdata}"
mkdir -p "$target"
pdf="$target/debian-faq.de.pdf"
[ -s "$pdf" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && { apt-get download -q debian-faq-de=11.1 >/dev/null 2>&1 || apt-get download -q debian-faq-de >/dev/null; })
dpkg-deb -x "$work"/debian-faq-de_*.deb "$work/x"
gunzip -c "$work/x/usr/share/doc/debian/FAQ/debian-faq.de.pdf.gz" > "$pdf.tmp"
cp "$work/x/usr/share/doc/debian-faq-de/copyright" "$target/debian-faq.de.copyright"
mv "$pdf.tmp" "$pdf"
echo "fetched $pdf"
