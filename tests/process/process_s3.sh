#!/bin/bash
# process_s3.sh - `obsflow process` against a real S3 protocol server (s3rver, the S3 CTest
# fixture): input s3://bucket/inputs/<ds>.tar.gz, output s3://bucket/outputs with CALDP's S3
# output (the dataset directory as one <ds>.tar.gz, the four log and metrics files beside it,
# the trigger naming the tarball); a failed re-run withdraws the earlier tarball; a missing
# input tarball gives S3_DOWNLOAD_ERROR (26) and an error marker in the bucket. Everything is
# read back with python3-botocore. The references come from a reference store in the same
# bucket (s3://bucket/crds in the CRDS layout, tests/support/make_refs.py).
set -uo pipefail
OBS=$OBSFLOW_BIN_DIR/obsflow
D=$OBSFLOW_SHARED/testdata/fits
T=$OBSFLOW_TEST_TMP
# a python3 with botocore: Debian's (python3-botocore) or the one on PATH
BOTO_PY=
for py in /usr/bin/python3 python3; do
  if "$py" -c 'import botocore' 2>/dev/null; then BOTO_PY=$py; break; fi
done
[ -n "$BOTO_PY" ] || { echo "no python3 with botocore"; exit 1; }
S3U="$BOTO_PY $(dirname "$0")/s3util.py"
[ -f "$OBSFLOW_S3_DIR/port" ] || { echo "no S3 fixture"; exit 1; }
EP=http://127.0.0.1:$(cat "$OBSFLOW_S3_DIR/port")
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=$EP OBSFLOW_WORK_DIR=$T/work OBSFLOW_NO_PROGRESS=1
unset OBSFLOW_DATA_ROOTS
rm -rf "$T"/*; mkdir -p "$T/work"
fails=0
die() { echo "FAIL: $*"; fails=$((fails + 1)); }
B=proc-$$-$RANDOM
$S3U "$EP" mb "$B" || { echo "cannot create bucket"; exit 1; }
python3 "$OBSFLOW_SOURCE_DIR/tests/support/make_refs.py" "$T/crds" || { echo "make_refs"; exit 1; }
for f in "$T"/crds/references/hst/*; do
  $S3U "$EP" put "$B" "crds/references/hst/${f##*/}" "$f" || die "put ${f##*/}"
done
export OBSFLOW_REFERENCE_URI=s3://$B/crds OBSFLOW_REFERENCE_CACHE=$T/refcache
tar -C "$D" -czf "$T/j8bt09jcq.tar.gz" j8bt09jcq_raw.fits
$S3U "$EP" put "$B" inputs/j8bt09jcq.tar.gz "$T/j8bt09jcq.tar.gz"

"$OBS" process --quiet j8bt09jcq "s3://$B/inputs" "s3://$B/outputs" \
  "file:$OBSFLOW_SOURCE_DIR/config" >"$T/ok.out" 2>"$T/ok.err"
rc=$?
[ $rc -eq 0 ] || die "s3 run: exit $rc: $(cat "$T/ok.err")"
for f in m8r09169j_bpx.fits m4r1753rj_bia.fits n3o1059ij_drk.fits n3o1633nj_pfl.fits; do
  [ -f "$T/refcache/references/hst/$f" ] || die "s3 run: $f not fetched from s3://$B/crds"
done
$S3U "$EP" ls "$B" outputs/ >"$T/keys"
for k in messages/datasets-processed/j8bt09jcq messages/dataset-synced/j8bt09jcq \
         messages/processed-j8bt09jcq.trigger data/acs/j8bt09jcq/j8bt09jcq.tar.gz \
         data/acs/j8bt09jcq/logs/process.txt data/acs/j8bt09jcq/logs/preview.txt \
         data/acs/j8bt09jcq/logs/process_metrics.txt data/acs/j8bt09jcq/logs/preview_metrics.txt; do
  grep -qx "outputs/$k" "$T/keys" || die "missing s3://$B/outputs/$k"
done
grep -q "processing-j8bt09jcq" "$T/keys" && die "processing marker left in the bucket"
grep -q "j8bt09jcq_flt.fits" "$T/keys" && die "products uploaded one by one, not in the tarball"
$S3U "$EP" get "$B" outputs/messages/processed-j8bt09jcq.trigger >"$T/trigger"
[ "$(cat "$T/trigger")" = "s3://$B/outputs/data/acs/j8bt09jcq/j8bt09jcq.tar.gz" ] || die "trigger body: $(cat "$T/trigger")"
# the tarball holds <ds>/{products, logs/, previews/}; the product survives the round trip
$S3U "$EP" get "$B" outputs/data/acs/j8bt09jcq/j8bt09jcq.tar.gz >"$T/out.tar.gz"
mkdir -p "$T/x" && tar -C "$T/x" -xzf "$T/out.tar.gz" || die "tarball does not extract"
for f in j8bt09jcq_raw.fits j8bt09jcq_flt.fits logs/process.txt logs/preview.txt \
         logs/process_metrics.txt previews/j8bt09jcq_flt.jpg previews/j8bt09jcq_flt_thumb.jpg; do
  [ -s "$T/x/j8bt09jcq/$f" ] || die "tarball lacks j8bt09jcq/$f"
done
/usr/bin/python3 - "$T/x/j8bt09jcq/j8bt09jcq_flt.fits" <<'PY' || die "product read back"
import sys
from astropy.io import fits
h = fits.open(sys.argv[1])
assert [(x.name, x.ver) for x in h[1:]] == [("SCI", 1), ("ERR", 1), ("DQ", 1)]
assert h["SCI"].data.shape == (1024, 1024)
PY

# a failed re-run of the same dataset leaves nothing that looks complete: no tarball, no trigger
OBSFLOW_SIMULATE_ERROR=23 "$OBS" process --quiet j8bt09jcq "s3://$B/inputs" "s3://$B/outputs" \
  "file:$OBSFLOW_SOURCE_DIR/config" >/dev/null 2>"$T/rerun.err"
rc=$?
[ $rc -eq 23 ] || die "failed re-run: exit $rc, want 23: $(cat "$T/rerun.err")"
$S3U "$EP" ls "$B" outputs/ >"$T/keys3"
grep -qx "outputs/messages/error-j8bt09jcq" "$T/keys3" || die "failed re-run: no error marker"
for k in data/acs/j8bt09jcq/j8bt09jcq.tar.gz messages/processed-j8bt09jcq.trigger \
         messages/datasets-processed/j8bt09jcq messages/dataset-synced/j8bt09jcq; do
  grep -qx "outputs/$k" "$T/keys3" && die "failed re-run left $k"
done

# a dataset whose tarball is not in the bucket: 26, error marker and logs in the bucket
"$OBS" process --quiet j8bt05njq "s3://$B/inputs" "s3://$B/outputs" \
  "file:$OBSFLOW_SOURCE_DIR/config" >"$T/miss.out" 2>"$T/miss.err"
rc=$?
[ $rc -eq 26 ] || die "missing tarball: exit $rc, want 26: $(cat "$T/miss.err")"
$S3U "$EP" ls "$B" outputs/ >"$T/keys2"
grep -qx "outputs/messages/error-j8bt05njq" "$T/keys2" || die "no error marker in the bucket"
for f in process.txt preview.txt process_metrics.txt preview_metrics.txt; do
  grep -qx "outputs/data/acs/j8bt05njq/logs/$f" "$T/keys2" || die "failed dataset: no logs/$f in the bucket"
done
grep -q "processed-j8bt05njq" "$T/keys2" && die "trigger for a failed dataset"
grep -q "data/acs/j8bt05njq/j8bt05njq" "$T/keys2" && die "product for a failed dataset"
$S3U "$EP" get "$B" outputs/data/acs/j8bt05njq/logs/process.txt >"$T/ptxt"
[ "$(grep -c '^EXIT - S3_DOWNLOAD_ERROR\[26\]: ' "$T/ptxt")" -eq 1 ] || die "process.txt in the bucket: $(tail -2 "$T/ptxt")"

# an output bucket that does not exist: 1 (caldp-process's read check)
"$OBS" process --quiet j8bt09jcq "s3://$B/inputs" "s3://no-such-bucket-$$/out" \
  "file:$OBSFLOW_SOURCE_DIR/config" >/dev/null 2>"$T/nob.err"
rc=$?
[ $rc -eq 1 ] || die "missing output bucket: exit $rc, want 1: $(cat "$T/nob.err")"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "process_s3 ok"
