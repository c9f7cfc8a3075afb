#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, type-checks and runs every test (unit and
# integration) with vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run --silent build
npx tsc -p tsconfig.json --noEmit
npx vitest run "$@"
# The benchmark harness's own tests (plain node:test, .mjs).
node --test bench/forecast/
