#!/usr/bin/env bash
# npm run bench:shadow [-- --rounds 5 ...] : the shadow replication data path on real QEMU (TCG)
# and qemu-storage-daemon: initial sync throughput, guest write throughput with no mirror, sync,
# async and periodic replication (ratios to no mirror), lag under load, verification pause.
# Installs npm dependencies when node_modules is missing, builds Umbra (always: a stale dist/ would
# measure old code; a build that fails stops the benchmark), then runs
# bench/shadow/harness.mjs, which writes bench/results/shadow.md and shadow.json.
# (The guest image build installs QEMU when missing.)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

log() { echo "[bench:shadow] $*" >&2; }

if [ ! -d node_modules ]; then
  log "installing npm dependencies"
  npm ci
fi
log "building Umbra"
npm run --silent build

exec node bench/shadow/harness.mjs "$@"
