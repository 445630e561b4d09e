#!/bin/bash
# check-layering.sh - each foreign library is included only by the module that wraps it, and
# lib/ never reaches up into service/, handlers/ or workers/ (style.md 3.2).
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
rule() { # rule <include regex> <allowed path regex> <what>
  local hits
  hits=$(git ls-files '*.c' '*.h' | grep -Ev "$2" | xargs -r grep -lE "^#include *[<\"]($1)" 2>/dev/null)
  if [ -n "$hits" ]; then echo "layering: $3 included outside its module:"; echo "$hits" | sed 's/^/  /'; fail=1; fi
}
rule 'microhttpd\.h' '^service/' 'microhttpd.h'
rule 'libpq-fe\.h' '^lib/db/' 'libpq-fe.h'
rule 'fitsio\.h|longnam\.h' '^lib/fits/' 'fitsio.h'
rule 'curl/' '^lib/httpc/' 'curl/curl.h'
rule 'wcslib|wcs\.h"|wcshdr\.h' '^lib/wcs/' 'wcslib'
rule 'libxml/' '^lib/caom/' 'libxml2'
rule 'yaml\.h>' '^lib/yaml/yaml\.c$' 'yaml.h (libyaml)'
rule 'pcre2\.h' '^lib/collection/' 'pcre2.h'
rule 'erfa\.h|erfam\.h' '^lib/astro/' 'erfa.h (ERFA)'
rule 'libs3\.h' '^$' 'libs3 (not used)'
up=$(git ls-files 'lib/*.c' 'lib/*.h' | xargs -r grep -lE '^#include *"(service|handlers|workers)/' 2>/dev/null)
if [ -n "$up" ]; then echo "layering: lib/ includes service/handlers/workers:"; echo "$up" | sed 's/^/  /'; fail=1; fi
exit $fail
