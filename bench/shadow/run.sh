#!/usr/bin/env bash
# npm run bench:shadow [-- --rounds 5 ...] : the shadow replication data path on real QEMU (TCG)
# and qemu-storage-daemon: initial sync throughput, guest write throughput with no mirror, sync,
# async and periodic replication (ratios to no mirror), lag under load, verification pause.
# Installs npm dependencies when node_modules is missing, builds Umbra (always: the replication
# code changes often and a stale dist/ would measure old code), then runs
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
if ! npm run --silent build; then
  # tsc still emits on type errors (work in progress elsewhere); go on only if what runs is there.
  if [ -f dist/agent/replication/manager.js ] && [ -f dist/storage/digest.js ] && [ -f dist/agent/index.js ]; then
    log "the build reported errors; running with the JavaScript it emitted"
  else
    exit 1
  fi
fi

exec node bench/shadow/harness.mjs "$@"
