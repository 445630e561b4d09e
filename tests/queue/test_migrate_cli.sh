#!/bin/bash
# test_migrate_cli.sh - `obsflow migrate` against a fresh database of the private cluster: applies
# every migration once, is a no-op the second time, --status tells up to date / pending, and a
# bad database gives a non-zero exit with a one-line reason.
set -euo pipefail
BIN=$OBSFLOW_BIN_DIR/obsflow
DB=mig_cli_$$
psql -qAt -d postgres -c "CREATE DATABASE $DB"
trap 'psql -qAt -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null' EXIT
URL="host=$PGHOST user=postgres dbname=$DB"
st=0; "$BIN" migrate --database-url "$URL" --status >/dev/null || st=$?
[ "$st" = 1 ] || { echo "expected --status to report pending migrations (exit 1), got $st"; exit 1; }
out=$(OBSFLOW_DATABASE_URL="$URL" "$BIN" migrate)
echo "$out" | grep -Eq '^applied [1-9][0-9]* migrations' || { echo "first run: $out"; exit 1; }
n=$(psql -qAt -d "$DB" -c "SELECT count(*) FROM schema_migrations")
[ "$n" -ge 1 ] || { echo "schema_migrations has $n rows"; exit 1; }
out=$("$BIN" migrate --database-url "$URL")
echo "$out" | grep -q '^applied 0 migrations' || { echo "second run: $out"; exit 1; }
"$BIN" migrate --database-url "$URL" --status | grep -q 'up to date'
[ "$(psql -qAt -d "$DB" -c "SELECT count(*) FROM schema_migrations")" = "$n" ]
st=0; err=$("$BIN" migrate --database-url "host=$PGHOST user=postgres dbname=no_such_db_$$" 2>&1) || st=$?
[ "$st" = 1 ] && echo "$err" | grep -q 'could not connect' || { echo "bad database: exit $st: $err"; exit 1; }
st=0; "$BIN" migrate --bogus >/dev/null 2>&1 || st=$?
[ "$st" = 2 ] || { echo "usage error should exit 2, got $st"; exit 1; }
echo "ok"
