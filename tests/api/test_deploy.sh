#!/bin/bash
# test_deploy.sh - offline checks of the deployment files (docs/deployment.md, Validation):
#  - deploy/k8s: every manifest against the Kubernetes schemas (npm kubernetes-models, pinned by
#    deploy/validate/package-lock.json, strict about unknown fields) and obsflow's own rules
#    (deploy/validate/validate.mjs); then copies of the manifests with one bad field each, which
#    must be refused with the expected message; the real build/obsflowd started with the
#    ConfigMap's settings (no database): /livez 200, /readyz 503, drain with its grace on SIGTERM;
#  - docker-compose.yml: Debian's docker-compose (config -q), the services, obsflow's rules
#    (deploy/validate/compose.mjs), and a broken copy that must be refused;
#  - deploy/Dockerfile: the build stage installs every -dev package tools/deps.sh builds with
#    and copies every directory CMake reads (CMake configures from a copy of just those); the
#    shared XSD comes from a stage checked against ../shared's checksum; the runtime stage
#    installs the Debian package of every shared library build/obsflowd and build/obsflow link,
#    runs as a non-root uid and copies in only the binaries, config/ and openapi.yaml.
# A missing tool is a failure naming its install step (tools/deps.sh), never a skip.
set -uo pipefail
SRC="${OBSFLOW_SOURCE_DIR:?}"
BIN="${OBSFLOW_BIN_DIR:?}"
TMP="${OBSFLOW_TEST_TMP:?}"
cd "$SRC" || exit 1
fail=0
bad() { echo "FAIL $*"; fail=1; }

for tool in node docker-compose apt-cache readelf dpkg-query ldconfig; do
  command -v "$tool" >/dev/null || { echo "FAIL $tool is not installed: run tools/deps.sh (make deps)"; exit 1; }
done
[ -f deploy/validate/node_modules/kubernetes-models/package.json ] &&
  [ -f deploy/validate/node_modules/js-yaml/package.json ] ||
  { echo "FAIL deploy/validate/node_modules is missing: run tools/deps.sh (make deps)"; exit 1; }
VALIDATE=(node deploy/validate/validate.mjs)

# ---- Kubernetes manifests ------------------------------------------------------------------------
"${VALIDATE[@]}" deploy/k8s "$SRC" || bad "deploy/k8s was refused"

# negative: a copy with one change each, which must change the file and be refused by name
neg=0
refused() { # name, expected text, mutation (a command run in the copy's directory)
  local name=$1 want=$2 d="$TMP/neg-$1" out
  shift 2
  rm -rf "$d" && cp -r deploy/k8s "$d" || return
  (cd "$d" && "$@") || { bad "negative $name: the mutation failed"; return; }
  if diff -rq deploy/k8s "$d" >/dev/null; then bad "negative $name: the mutation changed nothing"; return; fi
  out=$("${VALIDATE[@]}" "$d" "$SRC" 2>&1)
  local rc=$?
  if [ $rc -ne 1 ] || ! grep -qF -- "$want" <<<"$out"; then
    bad "negative $name: expected exit 1 with \"$want\", got exit $rc:"; echo "$out" | grep -v '^ok ' | head -5
  else
    neg=$((neg + 1)); echo "ok   refused ($name): $(grep -F -- "$want" <<<"$out" | head -1)"
  fi
}
refused replicas-type 'spec/replicas must be integer' sed -i 's/^  replicas: 2$/  replicas: two/' deployment.yaml
refused unknown-field 'unknown field(s) /spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem' \
  sed -i 's/readOnlyRootFilesystem: true/readOnlyRootFileSystem: true/' deployment.yaml
refused writable-root 'readOnlyRootFilesystem must be true' \
  sed -i 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' deployment.yaml
refused liveness-readyz 'livenessProbe must probe /livez' \
  sed -i '/livenessProbe:/,/httpGet/ s#path: /livez#path: /readyz#' deployment.yaml
refused short-grace 'terminationGracePeriodSeconds 30 must exceed' \
  sed -i 's/terminationGracePeriodSeconds: 40/terminationGracePeriodSeconds: 30/' deployment.yaml
refused token-literal 'OBSFLOW_API_TOKEN must come from a Secret' \
  sed -i '/name: OBSFLOW_API_TOKEN/{n;s#valueFrom: .*#value: "abc"#}' deployment.yaml
refused root-user 'runAsUser must be a non-zero uid' sed -i 's/runAsUser: 10001/runAsUser: 0/' deployment.yaml
refused env-typo 'OBSFLOW_SHUTDOWN_GRAC is not a setting' sed -i 's/OBSFLOW_SHUTDOWN_GRACE:/OBSFLOW_SHUTDOWN_GRAC:/' configmap.yaml
refused no-work-volume '/var/lib/obsflow/work is not on a writable volume' \
  sed -i '/{name: work, mountPath/d' deployment.yaml
refused job-command 'must run obsflow migrate' sed -i 's#obsflow", "migrate"#obsflow", "jobs"#' migrate-job.yaml
refused unlisted 'kustomization.yaml does not list hpa.yaml' sed -i '/- hpa.yaml/d' kustomization.yaml
[ $neg = 11 ] || bad "$neg of 11 broken copies were refused"

# the real obsflowd accepts the ConfigMap's settings (paths moved under the test's directory) and
# answers the probes' paths: /livez 200 at once, /readyz 503 while its database is unreachable
run="$TMP/run"
rm -rf "$run" && mkdir -p "$run/work" "$run/data" "$run/tmp"
cmenv=$(cd deploy/validate && node --input-type=module -e "
  import fs from 'node:fs'; import { load } from 'js-yaml';
  const d = load(fs.readFileSync(process.argv[1], 'utf8')).data;
  for (const [k, v] of Object.entries(d)) console.log(k + '=' + v);" "$SRC/deploy/k8s/configmap.yaml" 2>&1) ||
  bad "configmap.yaml: cannot read its data: $cmenv"
mapfile -t envs < <(sed -e "s#^OBSFLOW_CONFIG_DIR=.*#OBSFLOW_CONFIG_DIR=$SRC/config#" \
  -e "s#^OBSFLOW_WORK_DIR=.*#OBSFLOW_WORK_DIR=$run/work#" -e "s#^OBSFLOW_DATA_ROOTS=.*#OBSFLOW_DATA_ROOTS=$run/data#" <<<"$cmenv")
[ "${#envs[@]}" -gt 5 ] || bad "configmap.yaml: fewer settings than expected: ${envs[*]}"
(cd "$run" && exec env -i PATH="$PATH" TMPDIR="$run/tmp" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" "${envs[@]}" OBSFLOW_DATABASE_URL="host=$run/nopg dbname=obsflow connect_timeout=2" \
  OBSFLOW_API_TOKEN=t "$BIN/obsflowd" --listen 127.0.0.1:0 --port-file "$run/port" \
  >"$run/obsflowd.log" 2>&1 </dev/null) &
dpid=$!
for _ in $(seq 300); do [ -s "$run/port" ] || ! kill -0 $dpid 2>/dev/null && break; sleep 0.1; done
if [ -s "$run/port" ]; then
  addr=$(head -1 "$run/port")
  code() { python3 -c 'import sys, urllib.request, urllib.error
try: print(urllib.request.urlopen(sys.argv[1], timeout=10).status)
except urllib.error.HTTPError as e: print(e.code)' "http://$addr$1" 2>&1; }
  [ "$(code /livez)" = 200 ] || bad "obsflowd with the ConfigMap's settings: /livez is not 200"
  [ "$(code /readyz)" = 503 ] || bad "obsflowd without its database: /readyz is not 503"
  kill -TERM $dpid
  wait $dpid
  rc=$?
  [ $rc = 0 ] || bad "obsflowd exited $rc after SIGTERM"
  g=$(sed -n 's/^OBSFLOW_SHUTDOWN_GRACE=//p' <<<"$cmenv")
  grep -q "draining (grace $g s)" "$run/obsflowd.log" || bad "obsflowd did not drain with the ConfigMap's grace of $g s"
  [ $fail = 0 ] && echo "ok   obsflowd starts with the ConfigMap's settings; /livez 200, /readyz 503 without a database; SIGTERM exits 0"
else
  kill -TERM $dpid 2>/dev/null; wait $dpid
  bad "obsflowd did not start with the ConfigMap's settings:"; tail -5 "$run/obsflowd.log"
fi
errs=$(grep '"level":"\(error\|fatal\)"' "$run/obsflowd.log" | grep -v 'database')
[ -z "$errs" ] || { bad "obsflowd logged errors other than the missing database:"; head -3 <<<"$errs"; }

# the migration Job's command is a real subcommand of build/obsflow, and every image tag in the
# manifests and docker-compose.yml is the CMake project's version
jobcmd=$(cd deploy/validate && node --input-type=module -e "
  import fs from 'node:fs'; import { load } from 'js-yaml';
  const j = load(fs.readFileSync(process.argv[1], 'utf8'));
  const c = j.spec.template.spec.containers[0];
  console.log([...(c.command || []), ...(c.args || [])].join(' '));" "$SRC/deploy/k8s/migrate-job.yaml" 2>&1)
read -r -a jargv <<<"$jobcmd"
if [ "${jargv[0]:-}" = /usr/local/bin/obsflow ] && out=$("$BIN/obsflow" "${jargv[@]:1}" --help 2>&1) &&
  grep -q "^usage: obsflow ${jargv[1]:-} " <<<"$out"; then
  echo "ok   the Job's command is a subcommand of build/obsflow: ${jargv[*]:1}"
else
  bad "the migration Job's command \"$jobcmd\" is not a subcommand of build/obsflow"
fi
version=$(sed -n 's/^project(obsflow VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
tags=$(grep -hoE 'image: *obsflow:[^ ]+' deploy/k8s/*.yaml docker-compose.yml | sed 's/.*obsflow://' | sort -u)
[ -n "$version" ] && [ "$tags" = "$version" ] || bad "image tags ($(echo $tags)) are not the CMake project version $version"

# ---- docker-compose.yml --------------------------------------------------------------------------
docker-compose -f docker-compose.yml config -q || bad "docker-compose.yml is invalid"
svcs=$(docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
[ "$svcs" = "db migrate obsflowd s3 " ] || bad "compose services: $svcs"
docker-compose -f docker-compose.yml config | node deploy/validate/compose.mjs || bad "docker-compose.yml rules"
sed 's/^      - "127.0.0.1:8080:8080"$/      "127.0.0.1:8080:8080"/' docker-compose.yml >"$TMP/compose-bad.yml"
if cmp -s docker-compose.yml "$TMP/compose-bad.yml"; then
  bad "negative compose: the mutation changed nothing"
elif out=$(docker-compose -f "$TMP/compose-bad.yml" --project-directory "$SRC" config -q 2>&1); then
  bad "negative compose: ports as a string was accepted"
else
  echo "ok   refused (compose ports): $(head -1 <<<"$out")"
fi
sed 's/OBSFLOW_SHUTDOWN_GRACE: "25"/OBSFLOW_SHUTDOWN_GRACE: "40"/' docker-compose.yml >"$TMP/compose-grace.yml"
if cmp -s docker-compose.yml "$TMP/compose-grace.yml"; then
  bad "negative compose grace: the mutation changed nothing"
elif docker-compose -f "$TMP/compose-grace.yml" --project-directory "$SRC" config |
  node deploy/validate/compose.mjs >"$TMP/compose-grace.out"; then
  bad "negative compose grace: stop_grace_period 35s under a 40 s grace was accepted"
else
  echo "ok   refused (compose grace): $(grep FAIL "$TMP/compose-grace.out" | head -1)"
fi

# ---- deploy/Dockerfile -----------------------------------------------------------------------------
# "package binary library" for each shared library build/obsflowd and build/obsflow link
# (found once: the real Dockerfile and the broken copy below are checked against the same list)
needed=""
ldcache=$(ldconfig -p)
for b in "$BIN/obsflowd" "$BIN/obsflow"; do
  [ -x "$b" ] || { bad "$b is not built"; continue; }
  for lib in $(readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$lib" in lib[atu]san.so* | libubsan.so* | libc.so.* | libm.so.* | ld-linux*) continue ;; esac
    file=$(awk -v l="$lib" '$1 == l { print $NF; exit }' <<<"$ldcache")
    real=$(readlink -f "$file" 2>/dev/null)
    pkg=""
    for f in "$file" "$real" "/usr$file" "/usr$real"; do
      [ -n "$f" ] && pkg=$(dpkg-query -S "$f" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then
      bad "${b##*/} links $lib, which no Debian package provides here"
    else
      needed+="$pkg ${b##*/} $lib"$'\n'
    fi
  done
done
needed=$(sed '/^$/d' <<<"$needed")
[ -n "$needed" ] || bad "no shared library found in the binaries' NEEDED entries"

stage() { # FILE 1|2|3: the shared, build or runtime stage of deploy/Dockerfile
  awk -v want="$2" '/^FROM /{n++} n==want' "$1"
}
pkgs_of() { # the packages of a stage's apt-get install (stdin)
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
    grep -vxE 'apt-get|install|update|rm|-rf|-y|-q|&&' | sort -u
}
check_dockerfile() { # FILE: prints a FAIL line per broken rule (in a subshell: bad() is local)
  local DF=$1 build_pkgs run_pkgs copied cm_dirs d p line user kuid known pkg bin lib
  build_pkgs=$(stage "$DF" 2 | pkgs_of)
  run_pkgs=$(stage "$DF" 3 | pkgs_of)
  [ "$(stage "$DF" 2 | head -1)" = "FROM debian:bookworm-slim AS build" ] || bad "Dockerfile: build stage is not debian:bookworm-slim AS build"
  [ "$(stage "$DF" 3 | head -1)" = "FROM debian:bookworm-slim" ] || bad "Dockerfile: runtime stage is not debian:bookworm-slim"
  [ "$(grep -c '^FROM ' "$DF")" = 3 ] || bad "Dockerfile: three stages expected (shared, build, runtime)"
  # the files CMake reads from OBSFLOW_SHARED_DIR come from the stage (or build context) shared
  [ "$(stage "$DF" 1 | head -1)" = "FROM debian:bookworm-slim AS shared" ] || bad "Dockerfile: first stage is not debian:bookworm-slim AS shared"
  stage "$DF" 2 | grep -q -- '-DOBSFLOW_SHARED_DIR=/shared' || bad "Dockerfile: the build does not set OBSFLOW_SHARED_DIR=/shared"
  for f in $(grep -rhoE 'OBSFLOW_SHARED_DIR\}/[A-Za-z0-9_./-]+\.[a-z]+' lib --include=CMakeLists.txt | sed 's#.*}/##' | sort -u); do
    stage "$DF" 2 | grep -qx "COPY --from=shared /$f /shared/$f" || bad "Dockerfile: the build stage does not COPY --from=shared /$f (CMake reads it)"
    # without --build-context shared=../shared the stage downloads it: same file as ../shared's
    sum=$(sha256sum "${OBSFLOW_SHARED:?}/$f" | cut -d' ' -f1)
    stage "$DF" 1 | grep -q "${f##*/}_SHA256=$sum\$\|XSD_SHA256=$sum\$" || bad "Dockerfile: the shared stage does not check $f against its sha256 $sum in ../shared"
    commit=$(awk -F' [|] ' -v n="${f##*/}" '$1 == n { print $6 }' "$OBSFLOW_SHARED/${f%/*}/SOURCES.txt")
    [ -n "$commit" ] && stage "$DF" 1 | grep -q "/$commit/.*/${f##*/}\$" || bad "Dockerfile: the shared stage does not fetch $f at the commit SOURCES.txt names ($commit)"
  done
  # every -dev package tools/deps.sh installs for the build (not the sanitizer runtime)
  for p in $(sed -n '/^PKGS=(/,/^)/p' tools/deps.sh | tr ' ' '\n' | grep -E -- '-dev$' | grep -v '^libclang-rt'); do
    grep -qx "$p" <<<"$build_pkgs" || bad "Dockerfile: build stage lacks $p (tools/deps.sh builds with it)"
  done
  # every top-level directory CMake reads is copied into the build stage
  copied=$(stage "$DF" 2 | sed -n 's/^COPY \([^ ]*\) .*/\1/p' | sed 's#/$##')
  cm_dirs=$(grep -rhoE '(PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR)\}/[A-Za-z0-9_-]+' --include=CMakeLists.txt --include='*.cmake' . |
    sed 's#.*}/##'; sed -n 's/^foreach(dir \(.*\))$/\1/p' CMakeLists.txt | tr ' ' '\n'; echo cmake; echo CMakeLists.txt)
  for d in $(sort -u <<<"$cm_dirs"); do
    [ -e "$d" ] || continue
    grep -qx "$d" <<<"$copied" || bad "Dockerfile: build stage does not COPY $d (CMake reads it)"
  done
  grep -q 'cmake --build /build .*--target obsflowd obsflow' <(stage "$DF" 2) || bad "Dockerfile: the build stage does not build obsflowd and obsflow with CMake"
  # the runtime stage copies only the binaries, config/ and the OpenAPI document
  while read -r line; do
    case "$line" in
      "COPY --from=build /build/obsflowd /build/obsflow /usr/local/bin/" | "COPY config /usr/share/obsflow/config" | \
        "COPY openapi/openapi.yaml /usr/share/obsflow/openapi.yaml") ;;
      *) bad "Dockerfile: runtime stage copies more than the binaries, config/ and openapi.yaml: $line" ;;
    esac
  done < <(stage "$DF" 3 | grep -E '^(COPY|ADD) ')
  user=$(stage "$DF" 3 | sed -n 's/^USER \([0-9]*\).*/\1/p' | tail -1)
  [ -n "$user" ] && [ "$user" != 0 ] || bad "Dockerfile: the runtime stage must end as a numeric non-root USER (runAsNonRoot checks it)"
  kuid=$(sed -n 's/^ *runAsUser: \([0-9]*\)$/\1/p' deploy/k8s/deployment.yaml | head -1)
  [ "$kuid" = "$user" ] || bad "Dockerfile USER $user differs from the Deployment's runAsUser $kuid"
  # the runtime packages exist in Debian, and provide every library the binaries link
  # shellcheck disable=SC2086
  known=$(apt-cache policy $run_pkgs 2>/dev/null | sed -n 's/^\([a-z0-9.+-]*\):$/\1/p')
  for p in $run_pkgs; do
    grep -qx "$p" <<<"$known" || bad "Dockerfile: runtime package $p is not in Debian (apt-cache policy)"
  done
  while read -r pkg bin lib; do
    grep -qx "$pkg" <<<"$run_pkgs" || bad "Dockerfile: runtime stage lacks $pkg ($bin links $lib)"
  done <<<"$needed"
}
out=$(check_dockerfile deploy/Dockerfile)
[ -z "$out" ] || { echo "$out"; fail=1; }
# the build stage's COPY lines give CMake all it reads: configure a copy of just those paths
ctx="$TMP/context"
rm -rf "$ctx" "$TMP/context-build" && mkdir -p "$ctx"
for d in $(stage deploy/Dockerfile 2 | sed -n 's/^COPY \([^ -][^ ]*\) .*/\1/p'); do
  cp -r "$d" "$ctx/" || bad "Dockerfile: COPY $d: no such path"
done
find "$ctx" -name node_modules -prune -exec rm -rf {} +
if cmake -S "$ctx" -B "$TMP/context-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
  -DOBSFLOW_SHARED_DIR="$OBSFLOW_SHARED" >"$TMP/context.log" 2>&1; then
  echo "ok   CMake configures from the build stage's COPY of $(ls "$ctx" | tr '\n' ' ')"
else
  bad "Dockerfile: CMake does not configure from the build stage's files:"; tail -5 "$TMP/context.log"
fi
rm -rf "$ctx" "$TMP/context-build"
# negative: without libpq5 in the runtime stage the image could not start obsflowd
sed 's/ libpq5 / /' deploy/Dockerfile >"$TMP/Dockerfile.bad"
if cmp -s deploy/Dockerfile "$TMP/Dockerfile.bad"; then
  bad "negative Dockerfile: the mutation changed nothing"
elif ! out=$(check_dockerfile "$TMP/Dockerfile.bad") || ! grep -q 'runtime stage lacks libpq5 (obsflowd links libpq.so.5)' <<<"$out"; then
  bad "negative Dockerfile: a runtime stage without libpq5 was not refused"
else
  echo "ok   refused (Dockerfile): $(head -1 <<<"$out")"
fi

if [ $fail = 0 ]; then
  echo "PASS: manifests, $neg broken copies refused, compose, Dockerfile"
fi
exit $fail
