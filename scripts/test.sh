#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, type-checks and runs every test:
# unit tests (src/, in parallel), integration tests on real parts (test/, one file at a time:
# QEMU guests share 2 cores), and the benchmark harness's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run --silent build
npx tsc -p tsconfig.test.json  # src and test/ (vitest does not type-check)
if [ $# -gt 0 ]; then exec npx vitest run "$@"; fi
npx vitest run src/
npx vitest run test/ --no-file-parallelism
# The benchmark harness's own tests (plain node:test, .mjs).
node --test bench/forecast/ bench/vm/ bench/shadow/ bench/failover/
