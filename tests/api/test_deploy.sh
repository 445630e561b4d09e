#!/bin/bash
# test_deploy.sh - offline checks of the deployment files: docker-compose.yml through Debian's
# docker-compose (config -q), deploy/k8s through kubectl kustomize, and the Dockerfile's runtime
# packages exist in Debian. Skips (77) when none of the tools is installed.
set -uo pipefail
cd "${OBSFLOW_SOURCE_DIR:?}"
ran=0
fail=0
if command -v docker-compose >/dev/null; then
  ran=1
  docker-compose -f docker-compose.yml config -q || { echo "docker-compose.yml is invalid"; fail=1; }
  svcs=$(docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
  [ "$svcs" = "db obsflowd " ] || { echo "compose services: $svcs"; fail=1; }
fi
if command -v kubectl >/dev/null; then
  ran=1
  out=$(kubectl kustomize deploy/k8s) || { echo "kubectl kustomize deploy/k8s failed"; fail=1; }
  for kind in ConfigMap Deployment Service PodDisruptionBudget; do
    grep -q "^kind: $kind$" <<<"$out" || { echo "kustomize output lacks a $kind"; fail=1; }
  done
  grep -q "path: /readyz" <<<"$out" && grep -q "path: /livez" <<<"$out" || { echo "probes missing"; fail=1; }
fi
if command -v apt-cache >/dev/null; then
  ran=1
  pkgs=$(sed -n '/^FROM debian:12-slim$/,$p' deploy/Dockerfile | sed -n '/apt-get install/,/rm -rf/p' |
         tr ' \\' '\n\n' | grep -E '^lib|^ca-certificates$')
  # shellcheck disable=SC2086
  known=$(apt-cache policy $pkgs 2>/dev/null | sed -n 's/^\([a-z0-9.+-]*\):$/\1/p')
  for p in $pkgs; do
    grep -qx "$p" <<<"$known" || { echo "Dockerfile runtime package $p is not in Debian"; fail=1; }
  done
fi
[ $ran = 1 ] || { echo "SKIP: no docker-compose, kubectl or apt-cache"; exit 77; }
[ $fail = 0 ] && echo PASS
exit $fail
