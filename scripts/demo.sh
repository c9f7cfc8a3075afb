#!/usr/bin/env bash
# `npm run demo`: sets itself up, then forecasts every shared Bitbrains VM (all metrics) and writes
# a report with plots to out/demo/ (index.html, summary.md, forecasts.json, plots/*.svg).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
[ -f dist/cli/main.js ] || npm run --silent build
node dist/cli/main.js demo "$@"
