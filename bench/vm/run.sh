#!/usr/bin/env bash
# npm run bench:vm [-- --runs 5 ...] : the lab guest on real QEMU (TCG): create → /health,
# RSS per VM, the agent's sampling CPU per VM. Installs npm dependencies when node_modules is
# missing, builds Umbra when dist/ is missing, then runs bench/vm/harness.mjs, which writes
# bench/results/vm.md and vm.json. (The guest image build installs QEMU when missing.)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

log() { echo "[bench:vm] $*" >&2; }

if [ ! -d node_modules ]; then
  log "installing npm dependencies"
  npm ci
fi
if [ ! -f dist/hypervisor/qemu/qemu-driver.js ] || [ ! -f dist/agent/sampler.js ]; then
  log "building Umbra"
  npm run build
fi

exec node bench/vm/harness.mjs "$@"
