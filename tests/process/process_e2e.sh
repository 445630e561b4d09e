#!/bin/bash
# process_e2e.sh - `obsflow process` end to end on the real HST ACS raw files of
# ../shared/testdata/fits: the CALDP output tree, markers, products (SCI/ERR/DQ) and previews;
# then failure cases, each with a stable exit code, exactly one "EXIT - NAME[code]: reason" line
# in process.txt, an error marker, and nothing that looks complete. Oracles: astropy/numpy/PIL
# from Debian's python3. References come from a small reference store made by
# tests/support/make_refs.py (OBSFLOW_REFERENCE_URI=file:...): without one, a needed reference
# fails the dataset with BESTREFS_ERROR (27) naming it, unless OBSFLOW_MISSING_REFERENCE=skip.
set -uo pipefail
OBS=$OBSFLOW_BIN_DIR/obsflow
D=$OBSFLOW_SHARED/testdata/fits
T=$OBSFLOW_TEST_TMP
CONF=file:$OBSFLOW_SOURCE_DIR/config
PY=/usr/bin/python3
export OBSFLOW_WORK_DIR=$T/work OBSFLOW_NO_PROGRESS=1
unset OBSFLOW_DATA_ROOTS jref OBSFLOW_MISSING_REFERENCE OBSFLOW_REFERENCE_CACHE_MAX
rm -rf "$T"/*
mkdir -p "$T/work"
# the reference store every run below uses unless it says otherwise (bias 5 e-, dark 0, flat 1)
$PY "$OBSFLOW_SOURCE_DIR/tests/support/make_refs.py" "$T/crds" --bias 5 || { echo "FAIL: make_refs"; exit 1; }
export OBSFLOW_REFERENCE_URI=file:$T/crds OBSFLOW_REFERENCE_CACHE=$T/refcache
fails=0
die() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run NAME WANT_EXIT DATASET INPUT OUTPUT [CONFIG]
run() {
  local name=$1 want=$2; shift 2
  "$OBS" process --quiet "$@" >"$T/$name.out" 2>"$T/$name.err"
  local rc=$?
  [ "$rc" -eq "$want" ] || die "$name: exit $rc, want $want: $(cat "$T/$name.err")"
  return 0
}

# check_failed NAME OUTDIR DATASET INSTR CODE CODENAME PATTERN
check_failed() {
  local name=$1 out=$2 ds=$3 instr=$4 code=$5 cname=$6 pat=$7
  local log=$out/data/$instr/$ds/logs/process.txt
  [ -f "$log" ] || { die "$name: no process.txt"; return; }
  local n; n=$(grep -c '^EXIT - ' "$log")
  [ "$n" -eq 1 ] || die "$name: $n EXIT lines in process.txt"
  grep -q "^EXIT - $cname\[$code\]: .*$pat" "$log" || die "$name: EXIT line does not match '$cname[$code]: ...$pat': $(grep '^EXIT' "$log")"
  [ -f "$out/messages/error-$ds" ] || die "$name: no error-$ds marker"
  grep -q "^$cname\[$code\]: " "$out/messages/error-$ds" || die "$name: error marker body: $(cat "$out/messages/error-$ds")"
  [ ! -e "$out/messages/processed-$ds.trigger" ] || die "$name: processed trigger exists"
  [ ! -e "$out/messages/processing-$ds" ] || die "$name: processing marker left"
  [ ! -e "$out/messages/datasets-processed/$ds" ] || die "$name: datasets-processed/$ds exists"
  [ ! -e "$out/messages/dataset-synced/$ds" ] || die "$name: dataset-synced/$ds exists"
  if ls "$out/data/$instr/$ds/"*.fits >/dev/null 2>&1; then die "$name: products published"; fi
  if ls "$out/data/$instr/$ds/previews/"* >/dev/null 2>&1; then die "$name: previews published"; fi
  tail -1 "$out/data/$instr/$ds/logs/process_metrics.txt" | grep -q "Exit status: $code" || die "$name: metrics exit status"
  tail -1 "$out/data/$instr/$ds/logs/preview_metrics.txt" | grep -q "Exit status: 0$" || die "$name: no preview_metrics.txt (CALDP writes both)"
  grep -q "$cname\[$code\]" "$T/$name.err" || die "$name: stderr has no reason"
}

# ---- 1. success: plain FITS files in file:DIR --------------------------------------------
mkdir -p "$T/in" "$T/out"
cp "$D/j8bt05njq_raw.fits" "$D/j8bt09jcq_raw.fits" "$T/in/"
run ok 0 j8bt05njq "file:$T/in" "file:$T/out" "$CONF"
O=$T/out
DS=$O/data/acs/j8bt05njq
for d in datasets-processed dataset-synced dataset-archived; do
  [ -d "$O/messages/$d" ] || die "ok: messages/$d missing"
done
for f in messages/datasets-processed/j8bt05njq messages/dataset-synced/j8bt05njq \
         messages/processed-j8bt05njq.trigger data/acs/j8bt05njq/j8bt05njq_raw.fits \
         data/acs/j8bt05njq/j8bt05njq_flt.fits data/acs/j8bt05njq/logs/process.txt \
         data/acs/j8bt05njq/logs/preview.txt data/acs/j8bt05njq/logs/process_metrics.txt \
         data/acs/j8bt05njq/logs/preview_metrics.txt \
         data/acs/j8bt05njq/previews/j8bt05njq_flt.jpg \
         data/acs/j8bt05njq/previews/j8bt05njq_flt_thumb.jpg \
         data/acs/j8bt05njq/previews/j8bt05njq_raw.jpg \
         data/acs/j8bt05njq/previews/j8bt05njq_raw_thumb.jpg; do
  [ -f "$O/$f" ] || die "ok: $f missing"
done
[ ! -e "$O/messages/processing-j8bt05njq" ] || die "ok: processing marker left"
[ ! -e "$O/messages/error-j8bt05njq" ] || die "ok: error marker"
tail -1 "$DS/logs/process_metrics.txt" | grep -qx $'\tExit status: 0' || die "ok: process metrics"
grep -q 'Maximum resident set size (kbytes): [1-9]' "$DS/logs/process_metrics.txt" || die "ok: rss"
grep -q "$DS/j8bt05njq_flt.fits" "$O/messages/processed-j8bt05njq.trigger" || die "ok: trigger body"
grep -q "previews/j8bt05njq_flt.jpg" "$O/messages/processed-j8bt05njq.trigger" || die "ok: trigger previews"
grep -q '^EXIT' "$DS/logs/process.txt" && die "ok: EXIT line on success"
# the association-less dataset takes only its own files
[ ! -e "$DS/j8bt09jcq_raw.fits" ] || die "ok: another dataset's file was taken"
$PY - "$D/j8bt05njq_raw.fits" "$DS" <<'PY' || die "ok: product/preview checks"
import sys, numpy as np
from astropy.io import fits
from PIL import Image
raw_path, ds = sys.argv[1], sys.argv[2]
h = fits.open(f"{ds}/j8bt05njq_flt.fits")
names = [(x.name, x.ver) for x in h[1:]]
assert names == [("SCI", 1), ("ERR", 1), ("DQ", 1)], names
sci, err, dq = h["SCI"].data, h["ERR"].data, h["DQ"].data
assert sci.shape == err.shape == dq.shape == (1024, 1024), sci.shape
assert h["SCI"].header["BUNIT"].upper().startswith("ELECTRON")
p = h[0].header
for k in ("DQICORR", "BLEVCORR", "BIASCORR", "DARKCORR", "FLATCORR"):
    assert p[k] == "COMPLETE", (k, p[k])
assert p["BIASFILE"] == "m4r1753rj_bia.fits", p["BIASFILE"]
# oracle: leading 19 overscan columns (per-row median, straight-line fit), trim [20:1043,1:1024],
# gain 2, the store's bias (5 e-; its dark is 0 and its flat 1)
raw = fits.open(raw_path)["SCI"].data.astype(np.float64)
lev = np.median(raw[:, :19], axis=1)
rows = np.arange(raw.shape[0])
fit = np.polyval(np.polyfit(rows, lev, 1), rows)
want = (raw - fit[:, None])[0:1024, 19:1043] * 2.0 - 5.0
good = dq == 0
rel = np.abs(sci[good] - want[good]) / np.maximum(np.abs(want[good]), 50.0)
assert np.percentile(rel, 99) < 1e-3, np.percentile(rel, 99)
# A-to-D saturated raw pixels carry DQ 2048
sat = raw[0:1024, 19:1043] >= 65535
assert sat.sum() > 0 and np.all(dq[sat] & 2048), (sat.sum(), (dq[sat] & 2048).sum())
# ERR: sqrt(max(S,0) + rn^2) with rn 4.7 e-, S the signal before the bias is subtracted
e_want = np.sqrt(np.maximum(sci + 5.0, 0) + 4.7 ** 2)
assert np.allclose(err[good], e_want[good], rtol=1e-4), "err"
for name, size in [("j8bt05njq_flt.jpg", (1024, 1024)), ("j8bt05njq_flt_thumb.jpg", (128, 128)),
                   ("j8bt05njq_raw.jpg", (1062, 1044)), ("j8bt05njq_raw_thumb.jpg", (128, 126))]:
    im = Image.open(f"{ds}/previews/{name}")
    assert im.format == "JPEG" and im.size == size, (name, im.size)
PY

# the four references came from the store through the cache
RC=$T/refcache/references/hst
for f in m8r09169j_bpx.fits m4r1753rj_bia.fits n3o1059ij_drk.fits n3o1633mj_pfl.fits; do
  [ -f "$RC/$f" ] || die "ok: $f not in the reference cache"
  grep -q "^INFO - reference [A-Z]* = $RC/$f (from file:$T/crds)$" "$DS/logs/process.txt" || die "ok: $f not used from the store"
done
[ "$(ls "$RC" | wc -l)" -eq 4 ] || die "ok: reference cache holds $(ls "$RC")"
inodes=$(stat -c %i "$RC"/* | tr '\n' ' ')

# re-running is idempotent and clears an earlier error marker; the cache answers (no download:
# the cached files are the same inodes)
echo "stale" >"$O/messages/error-j8bt05njq"
run rerun 0 j8bt05njq "file:$T/in" "file:$T/out" "$CONF"
[ ! -e "$O/messages/error-j8bt05njq" ] || die "rerun: stale error marker kept"
[ -f "$O/messages/processed-j8bt05njq.trigger" ] || die "rerun: no trigger"
[ "$(stat -c %i "$RC"/* | tr '\n' ' ')" = "$inodes" ] || die "rerun: references downloaded again"

# ---- 1b. references: none anywhere -> 27 naming each; skip only when configured -------------
mkdir -p "$T/nr" "$T/nr_skip"
OBSFLOW_REFERENCE_URI= run norefs 27 j8bt05njq "file:$T/in" "file:$T/nr" "$CONF"
check_failed norefs "$T/nr" j8bt05njq acs 27 BESTREFS_ERROR "missing references BPIXTAB m8r09169j_bpx.fits, BIASFILE m4r1753rj_bia.fits, DARKFILE n3o1059ij_drk.fits, PFLTFILE n3o1633mj_pfl.fits"
grep -q "^ERROR - reference BIASFILE \"m4r1753rj_bia.fits\" is needed (BIASCORR=PERFORM)" "$T/nr/data/acs/j8bt05njq/logs/process.txt" || die "norefs: no ERROR line"
OBSFLOW_REFERENCE_URI= OBSFLOW_MISSING_REFERENCE=skip run norefs_skip 0 j8bt05njq "file:$T/in" "file:$T/nr_skip" "$CONF"
for k in BIASFILE DARKFILE PFLTFILE; do
  grep -q "^WARNING - reference $k .*skipped (missing references are skipped by configuration)" "$T/nr_skip/data/acs/j8bt05njq/logs/process.txt" || die "norefs_skip: no WARNING for $k"
done
# without BPIXTAB the DQ step still runs (saturation): the WARNING says what is left out
grep -q "^WARNING - reference BPIXTAB .*its bad pixels are not flagged (DQICORR stays COMPLETE" "$T/nr_skip/data/acs/j8bt05njq/logs/process.txt" || die "norefs_skip: no WARNING for BPIXTAB"
# a store without the flat: 27 naming only PFLTFILE and why
mkdir -p "$T/nf"
$PY "$OBSFLOW_SOURCE_DIR/tests/support/make_refs.py" "$T/crds_noflat" --omit n3o1633mj_pfl.fits
OBSFLOW_REFERENCE_URI=file:$T/crds_noflat OBSFLOW_REFERENCE_CACHE=$T/refcache2 run noflat 27 j8bt05njq "file:$T/in" "file:$T/nf" "$CONF"
check_failed noflat "$T/nf" j8bt05njq acs 27 BESTREFS_ERROR "missing reference PFLTFILE n3o1633mj_pfl.fits (reference n3o1633mj_pfl.fits is not in the reference store file:$T/crds_noflat)"
# the catalog's checksums: a right sha1 (as CRDS catalogs carry) passes; a wrong one refuses the
# file (27 naming the digests) and leaves it out of the cache
mkdir -p "$T/ck_ok/references" "$T/ck_bad/references" "$T/ck_o1" "$T/ck_o2"
cp -r "$OBSFLOW_SOURCE_DIR/config/expectations" "$T/ck_ok/"
cp -r "$OBSFLOW_SOURCE_DIR/config/expectations" "$T/ck_bad/"
BIA_SHA1=$(sha1sum "$T/crds/references/hst/m4r1753rj_bia.fits" | cut -c1-40)
{ cat "$OBSFLOW_SOURCE_DIR/config/references/acs.yaml"; echo "checksums:"
  echo "  m4r1753rj_bia.fits: sha1:$BIA_SHA1"; } >"$T/ck_ok/references/acs.yaml"
{ cat "$OBSFLOW_SOURCE_DIR/config/references/acs.yaml"; echo "checksums:"
  echo "  m4r1753rj_bia.fits: sha1:0123456789abcdef0123456789abcdef01234567"; } >"$T/ck_bad/references/acs.yaml"
OBSFLOW_REFERENCE_CACHE=$T/refcache3 run cksum_bad 27 j8bt05njq "file:$T/in" "file:$T/ck_o2" "file:$T/ck_bad"
check_failed cksum_bad "$T/ck_o2" j8bt05njq acs 27 BESTREFS_ERROR "BIASFILE m4r1753rj_bia.fits (reference m4r1753rj_bia.fits from file:$T/crds: sha1 $BIA_SHA1, the catalog says 0123456789abcdef0123456789abcdef01234567)"
[ ! -e "$T/refcache3/references/hst/m4r1753rj_bia.fits" ] || die "cksum_bad: refused file cached"
OBSFLOW_REFERENCE_CACHE=$T/refcache3 run cksum_ok 0 j8bt05njq "file:$T/in" "file:$T/ck_o1" "file:$T/ck_ok"
[ -f "$T/refcache3/references/hst/m4r1753rj_bia.fits" ] || die "cksum_ok: not cached"
# a step whose switch is not PERFORM does not need its reference
mkdir -p "$T/omit_in" "$T/omit_out"
$PY - "$D/j8bt05njq_raw.fits" "$T/omit_in/j8bt05njq_raw.fits" <<'PY'
import sys
from astropy.io import fits
h = fits.open(sys.argv[1])
h[0].header["FLATCORR"] = "OMIT"
h.writeto(sys.argv[2])
PY
OBSFLOW_REFERENCE_URI=file:$T/crds_noflat OBSFLOW_REFERENCE_CACHE=$T/refcache2 run omit 0 j8bt05njq "file:$T/omit_in" "file:$T/omit_out" "$CONF"
grep -q "^WARNING - reference PFLTFILE .*: FLATCORR skipped$" "$T/omit_out/data/acs/j8bt05njq/logs/process.txt" || die "omit: no WARNING"
# bad settings: 2, nothing written
mkdir -p "$T/bs"
OBSFLOW_MISSING_REFERENCE=maybe run badpolicy 2 j8bt05njq "file:$T/in" "file:$T/bs" "$CONF"
grep -q "OBSFLOW_MISSING_REFERENCE: .*maybe" "$T/badpolicy.err" || die "badpolicy: $(cat "$T/badpolicy.err")"
OBSFLOW_REFERENCE_CACHE_MAX=lots run badmax 2 j8bt05njq "file:$T/in" "file:$T/bs" "$CONF"
grep -q "OBSFLOW_REFERENCE_CACHE_MAX: .*lots" "$T/badmax.err" || die "badmax: $(cat "$T/badmax.err")"
OBSFLOW_REFERENCE_URI=ftp://x/y run baduri 2 j8bt05njq "file:$T/in" "file:$T/bs" "$CONF"
grep -q "OBSFLOW_REFERENCE_URI=ftp://x/y" "$T/baduri.err" || die "baduri: $(cat "$T/baduri.err")"
[ -z "$(ls -A "$T/bs")" ] || die "bad settings: output written"

# ---- 2. success: one tarball in file:DIR ---------------------------------------------------
mkdir -p "$T/tin" "$T/tout"
tar -C "$D" -czf "$T/tin/j8bt09jcq.tar.gz" j8bt09jcq_raw.fits
run tar 0 j8bt09jcq "file:$T/tin" "file:$T/tout" "$CONF"
[ -f "$T/tout/data/acs/j8bt09jcq/j8bt09jcq_flt.fits" ] || die "tar: no product"
[ -f "$T/tout/messages/processed-j8bt09jcq.trigger" ] || die "tar: no trigger"

# ---- 3. failures --------------------------------------------------------------------------
# two tarballs for one dataset: 21
mkdir -p "$T/t2" "$T/o2"
cp "$T/tin/j8bt09jcq.tar.gz" "$T/t2/"; cp "$T/tin/j8bt09jcq.tar.gz" "$T/t2/j8bt09xxx.tar.gz"
run two_tars 21 j8bt09jcq "file:$T/t2" "file:$T/o2" "$CONF"
check_failed two_tars "$T/o2" j8bt09jcq acs 21 INPUT_TAR_FILE_ERROR "tarballs"

# a tarball member escaping the input directory (CVE-2007-4559): 21
mkdir -p "$T/t3" "$T/o3"
$PY - "$T/t3/j8bt09jcq.tar.gz" "$D/j8bt09jcq_raw.fits" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    t.add(sys.argv[2], arcname="../j8bt09jcq_raw.fits")
PY
run tar_escape 21 j8bt09jcq "file:$T/t3" "file:$T/o3" "$CONF"
check_failed tar_escape "$T/o3" j8bt09jcq acs 21 INPUT_TAR_FILE_ERROR "outside"
[ ! -e "$T/j8bt09jcq_raw.fits" ] && [ ! -e "$T/work/j8bt09jcq_raw.fits" ] || die "tar_escape: file escaped"

# a tarball that is not a tarball: 21
mkdir -p "$T/t4" "$T/o4"
echo "not a tarball" | gzip >"$T/t4/j8bt09jcq.tar.gz"
run tar_bad 21 j8bt09jcq "file:$T/t4" "file:$T/o4" "$CONF"
check_failed tar_bad "$T/o4" j8bt09jcq acs 21 INPUT_TAR_FILE_ERROR "tarball"

# truncated FITS: 23
mkdir -p "$T/f1" "$T/p1"
head -c 100000 "$D/j8bt05njq_raw.fits" >"$T/f1/j8bt05njq_raw.fits"
run truncated 23 j8bt05njq "file:$T/f1" "file:$T/p1" "$CONF"
check_failed truncated "$T/p1" j8bt05njq acs 23 STAGE1_ERROR "corrupt or unreadable FITS"

# corrupt FITS (not FITS at all): 23
mkdir -p "$T/f2" "$T/p2"
head -c 5760 /dev/urandom >"$T/f2/j8bt05njq_raw.fits"
run corrupt 23 j8bt05njq "file:$T/f2" "file:$T/p2" "$CONF"
check_failed corrupt "$T/p2" j8bt05njq acs 23 STAGE1_ERROR "j8bt05njq_raw.fits"

# a raw file that breaks its expectations (wrong type, wrong value): 23, every violation reported
mkdir -p "$T/f3" "$T/p3"
$PY - "$D/j8bt05njq_raw.fits" "$T/f3/j8bt05njq_raw.fits" <<'PY'
import sys
from astropy.io import fits
h = fits.open(sys.argv[1])
h[0].header["CCDGAIN"] = "abc"
h[0].header["DETECTOR"] = "XYZ"
h.writeto(sys.argv[2], output_verify="ignore")
PY
run expect 23 j8bt05njq "file:$T/f3" "file:$T/p3" "$CONF"
check_failed expect "$T/p3" j8bt05njq acs 23 STAGE1_ERROR "2 violations of acs/raw"
$PY - "$T/p3/data/acs/j8bt05njq/logs/validation.json" <<'PY' || die "expect: validation.json"
import json, sys
r = json.load(open(sys.argv[1]))
v = {(x["path"], x["rule"]) for x in r[0]["violations"]}
assert v == {("PRIMARY.CCDGAIN", "type"), ("PRIMARY.DETECTOR", "enum")}, v
PY

# a reference whose shape does not match the frame: 23
mkdir -p "$T/f4" "$T/p4" "$T/refs"
cp "$D/j8bt05njq_raw.fits" "$T/f4/"
$PY - "$T/refs/m4r1753rj_bia.fits" <<'PY'
import sys, numpy as np
from astropy.io import fits
fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((100, 200), np.float32), name="SCI")]).writeto(sys.argv[1])
PY
jref=$T/refs run shape 23 j8bt05njq "file:$T/f4" "file:$T/p4" "$CONF"
check_failed shape "$T/p4" j8bt05njq acs 23 STAGE1_ERROR "200"

# unreadable input: the input directory does not exist: 21
mkdir -p "$T/p5"
run unreadable 21 j8bt05njq "file:$T/nope" "file:$T/p5" "$CONF"
check_failed unreadable "$T/p5" j8bt05njq acs 21 INPUT_TAR_FILE_ERROR "does not exist"
# ... or has no files of the dataset: 21
mkdir -p "$T/empty" "$T/p6"
run empty 21 j8bt05njq "file:$T/empty" "file:$T/p6" "$CONF"
check_failed empty "$T/p6" j8bt05njq acs 21 INPUT_TAR_FILE_ERROR "no input files"
# an unreadable file (only meaningful when not root: root reads everything)
if [ "$(id -u)" != 0 ]; then
  mkdir -p "$T/f7" "$T/p7"; cp "$D/j8bt05njq_raw.fits" "$T/f7/"; chmod 000 "$T/f7/j8bt05njq_raw.fits"
  run perm 21 j8bt05njq "file:$T/f7" "file:$T/p7" "$CONF"
  check_failed perm "$T/p7" j8bt05njq acs 21 INPUT_TAR_FILE_ERROR "cannot read input"
fi

# an instrument without processing (WFPC2): 1
mkdir -p "$T/p8"
run wfpc2 1 u2xz0101t "file:$T/in" "file:$T/p8" "$CONF"
check_failed wfpc2 "$T/p8" u2xz0101t wfpc2 1 GENERIC_ERROR "no processing for instrument wfpc2"
# SVM and MVM names are recognised but not processed: their CALDP codes, no false success
mkdir -p "$T/svm" "$T/mvm"
run svm 40 acs_8ph_01 "file:$T/in" "file:$T/svm" "$CONF"
check_failed svm "$T/svm" acs_8ph_01 acs 40 SVM_ERROR "SVM processing (runsinglehap) is not implemented"
run mvm 41 skycell-p1234x05y06 "file:$T/in" "file:$T/mvm" "$CONF"
check_failed mvm "$T/mvm" skycell-p1234x05y06 mvm 41 MVM_ERROR "MVM processing (runmultihap) is not implemented"

# command line errors: 2, nothing written
mkdir -p "$T/p9"
run badname 2 "not/a-dataset" "file:$T/in" "file:$T/p9" "$CONF"
grep -q 'invalid dataset name' "$T/badname.err" || die "badname: message: $(cat "$T/badname.err")"
[ -z "$(ls -A "$T/p9")" ] || die "badname: output written"
run noargs 2

# best references from a catalog: a real bad-pixel table (jref = the shared test data) is
# selected and OR-ed into DQ; a catalog without a matching rule gives BESTREFS_ERROR (27)
mkdir -p "$T/conf/references" "$T/conf2/references" "$T/b1" "$T/b2"
cp -r "$OBSFLOW_SOURCE_DIR/config/expectations" "$T/conf/"
cp -r "$OBSFLOW_SOURCE_DIR/config/expectations" "$T/conf2/"
cat >"$T/conf/references/acs.yaml" <<'YAML'
instrument: ACS
types:
  bpixtab:
    parkeys: [DETECTOR]
    rules:
      - match: [HRC]
        file: j4d1435jj_bpx.fits
YAML
cat >"$T/conf2/references/acs.yaml" <<'YAML'
instrument: ACS
types:
  biasfile:
    parkeys: [DETECTOR]
    rules:
      - match: [WFC]
        file: wfc_only_bia.fits
YAML
# the shared table holds amplifier D rows only (calacs skips rows of other amplifiers)
mkdir -p "$T/inD"
$PY - "$D/j8bt05njq_raw.fits" "$T/inD/j8bt05njq_raw.fits" <<'PY'
import sys
from astropy.io import fits
h = fits.open(sys.argv[1])
h[0].header["CCDAMP"] = "D"
h.writeto(sys.argv[2])
PY
jref=$D run bpix 0 j8bt05njq "file:$T/inD" "file:$T/b1" "file:$T/conf"
grep -q "reference BPIXTAB = .*j4d1435jj_bpx.fits" "$T/b1/data/acs/j8bt05njq/logs/process.txt" || die "bpix: table not used"
$PY - "$T/b1/data/acs/j8bt05njq/j8bt05njq_flt.fits" <<'PY' || die "bpix: DQ"
import sys, numpy as np
from astropy.io import fits
dq = fits.open(sys.argv[1])["DQ"].data
assert np.count_nonzero(dq & ~2048) > 100, np.unique(dq)
PY
run bestrefs 27 j8bt05njq "file:$T/in" "file:$T/b2" "file:$T/conf2"
check_failed bestrefs "$T/b2" j8bt05njq acs 27 BESTREFS_ERROR "biasfile"

# astroquery: the archive is a local HTTP server (port 0) behind OBSFLOW_ARCHIVE_URL; the
# dataset's asn is absent (404, tolerated), its raw file is served; an unknown dataset gives 22
mkdir -p "$T/archive" "$T/q1" "$T/q2"
cp "$D/j8bt05njq_raw.fits" "$T/archive/"
$PY - "$T/archive" "$T/archive.port" >"$T/archive.log" 2>&1 <<'PY' &
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
PY
srv_pid=$!
for _ in $(seq 100); do [ -f "$T/archive.port" ] && break; sleep 0.05; done
export OBSFLOW_ARCHIVE_URL="http://127.0.0.1:$(cat "$T/archive.port")/{name}"
run astroquery 0 j8bt05njq astroquery: "file:$T/q1" "$CONF"
[ -f "$T/q1/data/acs/j8bt05njq/j8bt05njq_flt.fits" ] || die "astroquery: no product"
grep -q "archive has no j8bt05njq_asn.fits" "$T/q1/data/acs/j8bt05njq/logs/process.txt" || die "astroquery: asn 404 not logged"
run astroquery_missing 22 j8bt09jcq astroquery: "file:$T/q2" "$CONF"
check_failed astroquery_missing "$T/q2" j8bt09jcq acs 22 ASTROQUERY_ERROR "no raw files"
kill "$srv_pid"; wait "$srv_pid" 2>/dev/null
unset OBSFLOW_ARCHIVE_URL

# a configured collection (datasets.yaml rule with named groups): files kept, previews made
mkdir -p "$T/conf3" "$T/kin" "$T/kout"
cat >"$T/conf3/datasets.yaml" <<'YAML'
collections:
  - name: kast
    pattern: '(?<instrument>kast[br])_(?<frame>b[0-9]+)_science'
YAML
cp "$D/kastb_b27_science.fits" "$T/kin/"
run kast 0 kastb_b27_science "file:$T/kin" "file:$T/kout" "file:$T/conf3"
[ -f "$T/kout/data/kastb/kastb_b27_science/kastb_b27_science.fits" ] || die "kast: product"
[ -f "$T/kout/data/kastb/kastb_b27_science/previews/kastb_b27_science_thumb.jpg" ] || die "kast: preview"
[ -f "$T/kout/messages/processed-kastb_b27_science.trigger" ] || die "kast: trigger"
run kast_bad 2 kastr_x_science "file:$T/kin" "file:$T/kout" "file:$T/conf3"
grep -q 'neither an HST name nor matched' "$T/kast_bad.err" || die "kast_bad: $(cat "$T/kast_bad.err")"

# OBSFLOW_SIMULATE_ERROR (CALDP_SIMULATE_ERROR) fails with the chosen code, properly recorded
mkdir -p "$T/s1"
OBSFLOW_SIMULATE_ERROR=31 run simulate 31 j8bt05njq "file:$T/in" "file:$T/s1" "$CONF"
check_failed simulate "$T/s1" j8bt05njq acs 31 SUBPROCESS_MEMORY_ERROR "simulated"
# a publication that fails half way (after two files) withdraws what it had copied, also over
# an earlier complete run of the same dataset
mkdir -p "$T/s2"
run pub_ok 0 j8bt05njq "file:$T/in" "file:$T/s2" "$CONF"
[ -f "$T/s2/messages/processed-j8bt05njq.trigger" ] || die "pub_ok: no trigger"
OBSFLOW_SIMULATE_PUBLISH_FAILURE=2 run pub_fail 1 j8bt05njq "file:$T/in" "file:$T/s2" "$CONF"
check_failed pub_fail "$T/s2" j8bt05njq acs 1 GENERIC_ERROR "simulated publication failure"

# <ds>_cal_env.txt (CALDP): KEY=VALUE exported and kept in env/; loader, obsflow and AWS names
# refused; the tail of an overlong line is not taken for a line of its own
mkdir -p "$T/ce_in" "$T/ce"
cp "$D/j8bt05njq_raw.fits" "$T/ce_in/"
{ echo "CSYS_VER=hstdp-test"; echo "LD_PRELOAD=/nonexistent/lib.so"
  printf 'LONG=%*s' 1100 '' | tr ' ' x; echo "TAIL=1"; echo "AFTER=ok"; } >"$T/ce_in/j8bt05njq_cal_env.txt"
run cal_env 0 j8bt05njq "file:$T/ce_in" "file:$T/ce" "$CONF"
CL=$T/ce/data/acs/j8bt05njq/logs/process.txt
grep -q '^INFO - cal_env: CSYS_VER=hstdp-test$' "$CL" || die "cal_env: CSYS_VER not exported"
grep -q '^WARNING - stage 2 (drizzle) is not implemented' "$CL" || die "cal_env: no stage 2 warning"
grep -q '^INFO - cal_env: AFTER=ok$' "$CL" || die "cal_env: line after the long one lost"
grep -q '^WARNING - .*line 2: LD_PRELOAD may not be set' "$CL" || die "cal_env: LD_PRELOAD not refused"
grep -q '^WARNING - .*line 3: longer than 1023 bytes' "$CL" || die "cal_env: long line not reported"
grep -q 'cal_env: .*TAIL=1' "$CL" && die "cal_env: tail of a long line exported"
[ -f "$T/ce/data/acs/j8bt05njq/env/j8bt05njq_cal_env.txt" ] || die "cal_env: not kept in env/"

# on a terminal, a progress line goes to stderr (script(1) gives the command a pty)
mkdir -p "$T/tty"
script -qec "OBSFLOW_NO_PROGRESS= $OBS process --quiet j8bt05njq file:$T/in file:$T/tty $CONF" \
  "$T/tty.typescript" >/dev/null 2>&1 </dev/null || die "tty: run failed"
grep -q 'j8bt05njq \[1/5\] fetch' "$T/tty.typescript" || die "tty: no progress line"
grep -q 'j8bt05njq done' "$T/tty.typescript" || die "tty: no final line"

# out of memory (ulimit -v) is CALDP_MEMORY_ERROR (32), the code CALCLOUD retries with more
# memory: a synthetic full-size WFC raw frame under a 150 MB address-space limit. Skipped under
# AddressSanitizer, whose shadow memory needs terabytes of address space.
# grep reads all of ldd's output: with -q it may exit first, and under pipefail the SIGPIPE
# of ldd would make the check wrongly say "no ASan"
if ! ldd "$OBS" 2>/dev/null | grep libasan >/dev/null; then
  mkdir -p "$T/m_in" "$T/m_out" "$T/m_conf"
  cp -r "$OBSFLOW_SOURCE_DIR/config/expectations" "$T/m_conf/"
  $PY - "$D/j8bt05njq_raw.fits" "$T/m_in/j8bt05njq_raw.fits" <<'PY'
import sys, numpy as np
from astropy.io import fits
src = fits.open(sys.argv[1])
p = src[0].header.copy()
p["DETECTOR"] = "WFC"
sci = fits.ImageHDU(np.full((2068, 4144), 1200, np.uint16), header=src[1].header.copy(),
                    name="SCI", ver=1)
err, dq = src[2].copy(), src[3].copy()
for h in (err, dq):
    h.header["NPIX1"], h.header["NPIX2"] = 4144, 2068
fits.HDUList([fits.PrimaryHDU(header=p), sci, err, dq]).writeto(sys.argv[2])
b = open(sys.argv[2], "rb").read()  # constant arrays are BITPIX 16 in real raw files
open(sys.argv[2], "wb").write(b.replace(b"BITPIX  =                    8",
                                        b"BITPIX  =                   16"))
PY
  (ulimit -v 150000; export OBSFLOW_REFERENCE_URI= OBSFLOW_MISSING_REFERENCE=skip
   exec "$OBS" process --quiet j8bt05njq "file:$T/m_in" "file:$T/m_out" \
    "file:$T/m_conf") >"$T/nomem.out" 2>"$T/nomem.err"
  rc=$?
  [ $rc -eq 32 ] || die "nomem: exit $rc, want 32: $(cat "$T/nomem.err")"
  check_failed nomem "$T/m_out" j8bt05njq acs 32 CALDP_MEMORY_ERROR "out of memory"
fi

# the work directories are cleaned up
[ -z "$(ls -A "$T/work")" ] || die "work directories left: $(ls "$T/work")"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "process_e2e ok"
