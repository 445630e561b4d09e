#!/bin/bash
# cli_error_reports.sh - the CLI's error reports (issue 9 item 9): a dataset name's control bytes are
# escaped, not sent to the terminal; `obsflow process` names the user's input file, not its
# temporary work copy; a FITS input cut inside its first extension header is reported as
# truncated, not as three missing HDUs; an invalid OBSFLOW_URL exits 2 (usage/configuration),
# not 1 (a job failed).
set -uo pipefail
OBS=$OBSFLOW_BIN_DIR/obsflow
RAW=$OBSFLOW_SHARED/testdata/fits/j8bt05njq_raw.fits
T=$OBSFLOW_TEST_TMP
rm -rf "${T:?}"/*
mkdir -p "$T/in" "$T/work"
export OBSFLOW_WORK_DIR=$T/work OBSFLOW_NO_PROGRESS=1
unset OBSFLOW_DATA_ROOTS
fails=0
die() { echo "FAIL: $*"; fails=$((fails + 1)); }

# 1. control bytes in a dataset name
"$OBS" process --quiet "$(printf 'ab\033[31mc\001')" "file:$T/in" "file:$T/out1" 2>"$T/ctl.err"
rc=$?
[ "$rc" -ne 0 ] || die "control bytes: exit 0"
grep -qF 'ab\x1b[31mc\x01' "$T/ctl.err" || die "control bytes: not escaped: $(od -c "$T/ctl.err" | head -3)"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/ctl.err"; then
  die "control bytes: raw control byte on stderr"
fi

# 2. an unreadable input is named where the user put it
head -c 5000 "$RAW" >"$T/in/j8bt05njq_raw.fits"
"$OBS" process --quiet j8bt05njq "file:$T/in" "file:$T/out2" 2>"$T/work.err"
rc=$?
[ "$rc" -eq 23 ] || die "corrupt input: exit $rc, want 23: $(cat "$T/work.err")"
grep -qF "file:$T/in/j8bt05njq_raw.fits" "$T/work.err" || die "corrupt input: user's file not named: $(cat "$T/work.err")"
! grep -qF "$T/work" "$T/work.err" || die "corrupt input: names the work copy: $(cat "$T/work.err")"

# 3. cut inside the first extension header: truncated, not missing HDUs
/usr/bin/python3 - "$RAW" "$T/in/j8bt05njq_raw.fits" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
i = d.find(b'XTENSION')
assert i > 0
open(sys.argv[2], 'wb').write(d[:i + 1000])
PY
"$OBS" process --quiet j8bt05njq "file:$T/in" "file:$T/out3" 2>"$T/cut.err"
rc=$?
[ "$rc" -eq 23 ] || die "cut header: exit $rc, want 23: $(cat "$T/cut.err")"
grep -q "hdu 1: truncated" "$T/cut.err" || die "cut header: not reported as truncated: $(cat "$T/cut.err")"
! grep -q "required_hdu" "$T/cut.err" || die "cut header: reported as missing HDUs: $(cat "$T/cut.err")"

# 4. an invalid OBSFLOW_URL is a configuration error for every client command
id=01900000-0000-7000-8000-000000000000
for cmd in "status $id" "wait $id" "cancel $id" "retry $id" "jobs"; do
  # shellcheck disable=SC2086
  OBSFLOW_URL=ftp://example.invalid "$OBS" $cmd >/dev/null 2>"$T/url.err"
  rc=$?
  [ "$rc" -eq 2 ] || die "OBSFLOW_URL ($cmd): exit $rc, want 2"
  grep -q "invalid OBSFLOW_URL" "$T/url.err" || die "OBSFLOW_URL ($cmd): $(cat "$T/url.err")"
done
echo '{"kind": "noop"}' | OBSFLOW_URL=ftp://example.invalid "$OBS" submit - >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || die "OBSFLOW_URL (submit): exit $rc, want 2"

if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "ok"
