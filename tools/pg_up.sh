#!/bin/bash
# pg_up.sh DIR [--keep] - start a private PostgreSQL cluster in DIR, reachable only through the
# unix socket DIR/.s.PGSQL.5432 (no TCP port, so parallel runs cannot collide).
# Without --keep the directory is wiped first (test fixture); with --keep an existing cluster
# is reused and only started if it is not running (make run).
# As root, the server runs as the 'postgres' system user (initdb/postgres refuse root).
set -euo pipefail
DIR=$1
KEEP=${2:-}
PGBIN=$(pg_config --bindir)
RUN=()
if [ "$KEEP" != "--keep" ]; then
  if [ -f "$DIR/data/postmaster.pid" ]; then "$(dirname "$0")/pg_down.sh" "$DIR" || true; fi
  rm -rf "$DIR"
fi
mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then
  RUN=(runuser -u postgres --)
  chown postgres:postgres "$DIR"
  runuser -u postgres -- test -x "$DIR" || { echo "postgres cannot reach $DIR (a parent directory is not o+x)" >&2; exit 1; }
fi
chmod 700 "$DIR"
if [ ! -f "$DIR/data/PG_VERSION" ]; then
  "${RUN[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log"
fi
if "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  exit 0
fi
OPTS="-c listen_addresses='' -k $DIR -c max_connections=200 -c idle_in_transaction_session_timeout=60000"
if [ "$KEEP" != "--keep" ]; then
  OPTS="$OPTS -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
fi
"${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 -o "$OPTS" start >/dev/null
