#!/bin/bash
# process_confine.sh - `obsflow process` refuses an output outside OBSFLOW_DATA_ROOTS before it
# creates anything (issue 9 item 3: the output tree's mkdir -p ran before the confinement check,
# so a refused run still left the directories behind): an absolute path elsewhere, a ".." path
# out of the root, a symlink in the root that points out of it. Each exits 1 naming the output,
# and nothing exists outside the root afterwards.
set -uo pipefail
OBS=$OBSFLOW_BIN_DIR/obsflow
T=$OBSFLOW_TEST_TMP
rm -rf "${T:?}"/*
mkdir -p "$T/r/in" "$T/elsewhere" "$T/work"
cp "$OBSFLOW_SHARED/testdata/fits/j8bt05njq_raw.fits" "$T/r/in/"
ln -s "$T/elsewhere" "$T/r/link"
export OBSFLOW_DATA_ROOTS=$T/r OBSFLOW_WORK_DIR=$T/work OBSFLOW_NO_PROGRESS=1
fails=0
die() { echo "FAIL: $*"; fails=$((fails + 1)); }

# refused NAME OUTPUT PATTERN CREATED: exit 1, PATTERN on stderr, CREATED does not exist
refused() {
  local name=$1 out=$2 pat=$3 created=$4
  "$OBS" process --quiet j8bt05njq "file:$T/r/in" "$out" >"$T/$name.out" 2>"$T/$name.err"
  local rc=$?
  [ "$rc" -eq 1 ] || die "$name: exit $rc, want 1: $(cat "$T/$name.err")"
  grep -q -- "$pat" "$T/$name.err" || die "$name: stderr lacks '$pat': $(cat "$T/$name.err")"
  [ ! -e "$created" ] || die "$name: $created was created"
}

refused absolute "file:$T/x/a/b" "outside the data roots" "$T/x"
refused dotdot "file:$T/r/../outside" 'file:.*/r/\.\./outside' "$T/outside"
refused dotdot_deep "file:$T/r/in/../../x2/a" 'file:.*/x2/a' "$T/x2"
refused symlink "file:$T/r/link/a/b" "outside the data roots" "$T/elsewhere/a"
# the input tree is untouched, and nothing but the input and the link is in the root
n=$(find "$T/r" -mindepth 1 | wc -l)
[ "$n" -eq 3 ] || die "the data root holds $n entries, want 3: $(find "$T/r")"
# and an output inside the root is accepted (the check is not a blanket refusal)
"$OBS" process --quiet j8bt05njq "file:$T/r/in" "file:$T/r/out" >"$T/inside.out" 2>"$T/inside.err"
rc=$?
[ "$rc" -ne 1 ] || ! grep -q "outside the data roots" "$T/inside.err" ||
  die "inside: refused: $(cat "$T/inside.err")"
[ -d "$T/r/out" ] || die "inside: no output tree under the root"

if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "ok"
