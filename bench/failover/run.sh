#!/usr/bin/env bash
# npm run bench:failover [-- --runs 5 --flavors warm,migrate --faults-warm kill,panic,... ...] :
# failover on the lab (3 hosts, real QEMU under TCG, HAProxy in front, a shadow in sync mode), per
# shadow flavor (a warm lab, then a migrate lab) and fault: the client-visible gap, fault → first
# good response, and acknowledged records lost, against issue 5's targets.
# Installs npm dependencies when node_modules is missing, builds Umbra (always: a stale dist/
# would measure old code; a build that fails stops the benchmark), then runs
# bench/failover/harness.mjs, which brings one lab up per flavor (one at a time), writes ONE
# report (bench/results/failover.md and failover.json), and takes each lab down. Needs root (the
# lab; `ip link` for the lost-host fault); only one lab may run on the machine.
# (The lab installs QEMU and HAProxy when missing.)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

log() { echo "[bench:failover] $*" >&2; }

if [ ! -d node_modules ]; then
  log "installing npm dependencies"
  npm ci
fi
log "building Umbra"
npm run --silent build

exec node bench/failover/harness.mjs "$@"
