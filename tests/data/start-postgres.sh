#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server from Debian's packages ('apt-get install postgresql') for the
# PostgreSQL tests of the conversations/feedback store, and prints its URL (also kept in $dir/url):
#
#   export ASSISTANT_TEST_POSTGRES_URL=$(bash tests/data/start-postgres.sh)
#   export ASSISTANT_TEST_POSTGRES_REPLICA_URL=$(bash tests/data/start-postgres.sh replica)
#   bash tests/data/start-postgres.sh stop
#
# Where pgvector is installed (tests/data/install-pgvector.sh), the database 'qm_test' gets the
# extension; a second database 'qm_novector' never has it (for the test of that message). 'replica'
# makes a streaming replica of the server with pg_basebackup, on the next port, and prints its URL
# (the same role and password: a replica is a copy). 'replica-stop', 'replica-pause' and
# 'replica-resume' stop it, and pause and resume its replay of the primary's WAL (a lagging replica).
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

replica_running() { [ -f "$dir/replica/PG_VERSION" ] && as_server "$bin/pg_ctl" -D "$dir/replica" status >/dev/null 2>&1; }

case "${1:-}" in
  replica-stop)
    if replica_running; then as_server "$bin/pg_ctl" -D "$dir/replica" -m fast -w stop >/dev/null; fi
    exit 0 ;;
  replica-pause | replica-resume)
    action=$([ "$1" = replica-pause ] && echo pause || echo resume)
    as_server "$bin/psql" -h "$dir/replica-run" -p "$(($(cat "$dir/port") + 1))" -U postgres -d postgres \
      -v ON_ERROR_STOP=1 -q -c "SELECT pg_wal_replay_$action()" >/dev/null
    exit 0 ;;
esac

if [ "${1:-}" = stop ]; then
  if replica_running; then as_server "$bin/pg_ctl" -D "$dir/replica" -m fast -w stop >/dev/null; fi
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
  as_server "$bin/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE DATABASE qm_novector OWNER qm_test" >/dev/null
  mv "$dir/url.tmp" "$dir/url"
fi
share=$("$bin/pg_config" --sharedir)
if [ -f "$share/extension/vector.control" ]; then  # installed later than the server was set up: fine
  as_server "$bin/psql" -h "$dir/run" -p "$port" -U postgres -d qm_test -v ON_ERROR_STOP=1 -q \
    -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
fi

if [ "${1:-}" = replica ]; then
  replica_port=$((port + 1))
  if [ ! -f "$dir/replica/standby.signal" ]; then
    rm -rf "$dir/replica"
    mkdir -p "$dir/replica" "$dir/replica-run"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/replica" "$dir/replica-run"; fi
    chmod 700 "$dir/replica"
    # -R writes standby.signal and primary_conninfo: the copy follows the primary by streaming WAL. The
    # replication slot (-C -S) makes the primary keep the WAL the replica has not received yet, so a
    # replica that was stopped or fell behind under heavy writes catches up instead of breaking off.
    as_server "$bin/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q -c \
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'qm_replica'" \
      >/dev/null
    as_server "$bin/pg_basebackup" -h "$dir/run" -p "$port" -U postgres -D "$dir/replica" -R -X stream \
      -C -S qm_replica >"$dir/basebackup.log" 2>&1
  fi
  if ! replica_running; then
    as_server "$bin/pg_ctl" -D "$dir/replica" -l "$dir/replica/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $replica_port -k $dir/replica-run" start >/dev/null
  fi
  sed -E "s#:$port/#:$replica_port/#" "$dir/url"
  exit 0
fi
cat "$dir/url"
