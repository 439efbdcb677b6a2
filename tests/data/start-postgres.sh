#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server from Debian's packages ('apt-get install postgresql') for the
# PostgreSQL tests of the conversations/feedback store, and prints its URL (also kept in $dir/url):
#
#   export ASSISTANT_TEST_POSTGRES_URL=$(bash tests/data/start-postgres.sh)
#   bash tests/data/start-postgres.sh stop
#
# Idempotent: a server already running from $dir is reused. It listens on 127.0.0.1 only, with a
# random password for the role and database 'qm_test'; the port is fixed when it is set up. As root the server runs as the 'postgres' user
# the package creates (PostgreSQL refuses to run as root). Settings: QM_POSTGRES_DIR, QM_POSTGRES_PORT.
set -euo pipefail
dir="${QM_POSTGRES_DIR:-${TMPDIR:-/tmp}/qm-assistent-postgres-$(id -u)}"
port="${QM_POSTGRES_PORT:-55432}"
bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
running() { [ -f "$dir/data/PG_VERSION" ] && as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

if [ "${1:-}" = stop ]; then
  if running; then as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; fi
  exit 0
fi

if [ ! -s "$dir/url" ]; then  # nothing set up yet, or a set-up that did not finish: start over
  if running; then as_server "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null; fi
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/run"
  chmod 700 "$dir"
  if [ "$(id -u)" = 0 ]; then
    chmod 711 "$dir"  # the server user reaches its folders, and nothing else in here
    chown postgres: "$dir/data" "$dir/run"
  fi
  # Only the superuser's local socket is trusted; over TCP every role needs its password.
  as_server "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1
  echo "$port" >"$dir/port"
  fresh=1
fi
port=$(cat "$dir/port")  # the port it was set up with, which the URL names

if ! running; then
  as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run" start >/dev/null
fi

if [ -n "${fresh:-}" ]; then
  password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  as_server "$bin/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE qm_test LOGIN PASSWORD '$password'" \
    -c "CREATE DATABASE qm_test OWNER qm_test" >/dev/null
  (umask 077 && echo "postgresql://qm_test:$password@127.0.0.1:$port/qm_test" >"$dir/url.tmp")
  mv "$dir/url.tmp" "$dir/url"
fi
cat "$dir/url"
