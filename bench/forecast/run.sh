#!/usr/bin/env bash
# npm run bench:forecast [-- --quick] : Umbra vs R forecast::snaive, forecast::stlf and prophet.
# Installs the R peers from Debian when missing, builds Umbra when dist/ is missing, then runs
# the harness (bench/forecast/harness.mjs), which writes bench/results/forecast.md and .json.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

log() { echo "[bench:forecast] $*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
APT_PKGS=(r-base-core r-cran-forecast r-cran-prophet)

r_peers_ok() {
  command -v Rscript >/dev/null 2>&1 &&
    Rscript -e 'suppressPackageStartupMessages({library(forecast); library(prophet)})' >/dev/null 2>&1
}

if ! r_peers_ok; then
  log "installing ${APT_PKGS[*]} from Debian"
  apt_install() {
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${APT_PKGS[@]}"
  }
  if ! apt_install; then
    log "install failed; updating the package lists and retrying"
    "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update
    apt_install
  fi
  r_peers_ok || { log "R forecast/prophet still not loadable"; exit 1; }
fi

if [ ! -d node_modules ]; then
  log "installing npm dependencies"
  npm ci
fi
if [ ! -f dist/cli/main.js ]; then
  log "building Umbra"
  npm run build
fi

exec node bench/forecast/harness.mjs "$@"
