#!/bin/bash
# deps.sh - install the Debian packages (and npm test tools) obsflow needs, only when missing.
# Safe to run repeatedly: with everything present it costs a few dpkg queries.
set -euo pipefail
cd "$(dirname "$0")/.."
# A -dev package added here goes into deploy/Dockerfile too (build stage, and its runtime
# library into the runtime stage): the deploy_config test fails until it does.
PKGS=(
  cmake pkg-config gcc make clang libclang-rt-14-dev valgrind
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libcfitsio-dev wcslib-dev liberfa-dev libpq-dev
  libxml2-dev libxml2-utils libyaml-dev libssl-dev uuid-dev libjpeg62-turbo-dev libcmocka-dev
  zlib1g-dev libpcre2-dev
  postgresql postgresql-client wrk hyperfine prometheus
  python3 python3-ccdproc python3-botocore python3-numpy fitscut nodejs time docker-compose
  chromium
)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=(); [ "$(id -u)" != 0 ] && SUDO=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
fi
# npm ships with nodesource's nodejs; on a plain Debian machine it is its own package.
if ! command -v npm >/dev/null 2>&1; then
  SUDO=(); [ "$(id -u)" != 0 ] && SUDO=(sudo)
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends npm
fi
# the pinned npm test tools (s3rver, web/'s playwright-core, the deployment validator, ...)
# install from their committed lockfiles, again when the lockfile is newer than what npm ci
# last installed
for d in tools/*/ web/ deploy/validate/; do
  if [ -f "$d/package-lock.json" ] &&
    { [ ! -d "$d/node_modules" ] || [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; }; then
    (cd "$d" && npm ci --no-audit --no-fund --silent)
  fi
done
