#!/usr/bin/env bash
# Installs pgvector into Debian 12's PostgreSQL for the search-engine tests, built from Debian's own
# source package of pgvector (from the next release, trixie: Debian 12 has no binary package):
#
#   bash tests/data/install-pgvector.sh        # as root; does nothing when pgvector is installed
#
# Adds a deb-src line for trixie on the configured mirror, fetches the source with 'apt-get source',
# and builds it against postgresql-server-dev-NN (without LLVM bitcode) in about 15 s.
set -euo pipefail
pg_config=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/pg_config' 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_config" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
major=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
if [ -f "/usr/share/postgresql/$major/extension/vector.control" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "pgvector is missing; run this script as root to build and install it" >&2
  exit 1
fi
# The configured Debian mirror (deb822 'URIs:' lines or one-line 'deb' entries), not a commented one.
mirror=$( (grep -rhsE '^URIs:' /etc/apt/sources.list.d/ | awk '{print $2}'
  grep -rhsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/ | awk '{print $2}') |
  grep -E '/debian/?$' | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
cat >/etc/apt/sources.list.d/qm-pgvector-src.sources <<SOURCES
Types: deb-src
URIs: ${mirror%/}
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "postgresql-server-dev-$major" dpkg-dev build-essential >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source -qq pgvector >/dev/null 2>&1
cd pgvector-*/
make -s with_llvm=no PG_CONFIG="$pg_config" >/dev/null
make -s with_llvm=no PG_CONFIG="$pg_config" install >/dev/null
echo "pgvector $(sed -nE "s/^default_version = '([^']+)'/\1/p" vector.control) installed for PostgreSQL $major" >&2
