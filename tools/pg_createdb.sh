#!/bin/bash
# pg_createdb.sh DIR NAME - create database NAME in the private cluster at DIR if it is missing.
set -euo pipefail
DIR=$1
NAME=$2
PGBIN=$(pg_config --bindir)
if ! "$PGBIN/psql" -h "$DIR" -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='$NAME'" | grep -q 1; then
  "$PGBIN/createdb" -h "$DIR" -U postgres "$NAME"
fi
