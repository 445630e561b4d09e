#!/bin/bash
# pg_down.sh DIR [--keep] - stop the private cluster in DIR; removes DIR unless --keep.
set -euo pipefail
DIR=$1
KEEP=${2:-}
PGBIN=$(pg_config --bindir)
RUN=(); [ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
if [ -f "$DIR/data/postmaster.pid" ]; then
  "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
fi
if [ "$KEEP" != "--keep" ]; then rm -rf "$DIR"; fi
