#!/bin/bash
# test_banned_gate.sh - tools/check-banned.sh enforces the banned list it documents (style.md
# 6.6; issue 9: the gate had dropped strerror while the code called it 65 times): a copy of the
# gate runs on a scratch repository where each banned call is planted in turn under lib/, and
# must fail naming it; the same call in a comment, in tests/, or as part of a longer name
# (strerror_r, curl_easy_strerror) must pass; getenv in lib/ and a fault switch outside the
# test hooks must fail.
set -uo pipefail
T=${OBSFLOW_TEST_TMP:?}/gate
rm -rf "$T"
mkdir -p "$T/tools" "$T/lib/x" "$T/tests"
cp "$OBSFLOW_SOURCE_DIR/tools/check-banned.sh" "$T/tools/"
cd "$T" && git init -q . || exit 1
fails=0
die() { echo "FAIL: $*"; fails=$((fails + 1)); }

# plant FILE TEXT: the tree holds FILE with TEXT only; prints the gate's exit code
plant() {
  rm -f lib/x/*.c tests/*.c cli/*.c 2>/dev/null
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$2" >"$1"
  git add -A >/dev/null 2>&1
  tools/check-banned.sh >"$T/out" 2>&1
  echo $?
}

for f in sprintf vsprintf strcpy strcat strncpy strncat gets strtok atoi atol atof asctime ctime \
         localtime gmtime strerror rand system alloca setjmp longjmp; do
  rc=$(plant lib/x/a.c "int f(void) { return (int)$f (0); }")
  [ "$rc" -eq 1 ] || die "$f: gate exit $rc, want 1"
  grep -q "lib/x/a.c:1:.*$f" "$T/out" || die "$f: not named: $(cat "$T/out")"
done
rc=$(plant lib/x/a.c 'const char *g(void) { return getenv("HOME"); }')
[ "$rc" -eq 1 ] || die "getenv in lib/: gate exit $rc, want 1"
rc=$(plant cli/a.c 'long s = env_int("OBSFLOW_SIMULATE_ERROR", 1, 255);')
[ "$rc" -eq 1 ] || die "fault switch outside OBSFLOW_TEST_HOOKS: gate exit $rc, want 1"
rc=$(plant cli/a.c "$(printf '#ifdef OBSFLOW_TEST_HOOKS\nlong s = env_int("OBSFLOW_SIMULATE_ERROR", 1, 255);\n#endif')")
[ "$rc" -eq 0 ] || die "fault switch inside OBSFLOW_TEST_HOOKS: gate exit $rc: $(cat "$T/out")"
for ok in '/* strerror(errno) is banned */' ' * atoi(s) would not check' \
          'int r = strerror_r(e, b, n);' 'const char *w = curl_easy_strerror(rc);' \
          'int n = my_sprintf(b);'; do
  rc=$(plant lib/x/a.c "$ok")
  [ "$rc" -eq 0 ] || die "'$ok': gate exit $rc, want 0: $(cat "$T/out")"
done
rc=$(plant tests/a.c 'int n = atoi(s);')
[ "$rc" -eq 0 ] || die "tests/: gate exit $rc, want 0"

if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo ok
