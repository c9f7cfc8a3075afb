#!/usr/bin/env bash
# npm run bench:failover [-- --runs 5 --faults kill,panic,hang,5xx,planned ...] : failover on the
# lab (3 hosts, real QEMU under TCG, HAProxy in front, a warm shadow in sync mode): per fault,
# the client-visible gap, fault → first good response, and acknowledged records lost.
# Installs npm dependencies when node_modules is missing, builds Umbra (always: a stale dist/
# would measure old code; a build that fails stops the benchmark), then runs
# bench/failover/harness.mjs, which brings one lab up, writes bench/results/failover.md and
# failover.json, and takes the lab down. Needs root; only one lab may run on the machine.
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
