#!/bin/bash
# check-banned.sh - functions the house style bans outside tests/ (style.md 6.6), getenv
# outside the code that owns configuration (service/, cli/, workers/), and the tests' fault
# switches outside the test-build hooks.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
files=$(git ls-files '*.c' '*.h' | grep -v '^tests/')
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|gets|strtok|atoi|atol|atof|asctime|ctime|localtime|gmtime|strerror|rand|system|alloca|setjmp|longjmp)[[:space:]]*\('
# comment lines do not count; libjpeg reports errors only through longjmp, so its one wrapper
# (lib/preview/preview_jpeg.c) may use setjmp/longjmp.
comment='^[^:]+:[0-9]+:[[:space:]]*(/\*|\*)'
hits=$(echo "$files" | xargs -r grep -HnE "$banned" 2>/dev/null | grep -Ev "$comment" |
  grep -Ev '^lib/preview/preview_jpeg\.c:[0-9]+:.*\b(setjmp|longjmp)\(')
if [ -n "$hits" ]; then echo "banned functions:"; echo "$hits" | sed 's/^/  /'; fail=1; fi
env_hits=$(echo "$files" | grep -E '^(lib|handlers)/' | xargs -r grep -HnE '\bgetenv[[:space:]]*\(' 2>/dev/null | grep -Ev "$comment")
if [ -n "$env_hits" ]; then echo "getenv outside service/, cli/, workers/:"; echo "$env_hits" | sed 's/^/  /'; fail=1; fi
# the tests' fault switches (OBSFLOW_SIMULATE_*) are read only inside #ifdef OBSFLOW_TEST_HOOKS,
# which builds without tests (the deployed image) leave out
sim_hits=$(echo "$files" | xargs -r awk '
  FNR == 1 { depth = 0; hooks = 0 }
  /^[[:space:]]*#[[:space:]]*if/ { depth++; if ($0 ~ /OBSFLOW_TEST_HOOKS/) hooks = depth }
  /^[[:space:]]*#[[:space:]]*endif/ { if (hooks == depth) hooks = 0; depth-- }
  /(getenv|env_[a-z_]+)[[:space:]]*\([[:space:]]*"OBSFLOW_SIMULATE_/ && !hooks {
    print FILENAME ":" FNR ": " $0 }' 2>/dev/null)
if [ -n "$sim_hits" ]; then echo "OBSFLOW_SIMULATE_* read outside #ifdef OBSFLOW_TEST_HOOKS:"; echo "$sim_hits" | sed 's/^/  /'; fail=1; fi
exit $fail
