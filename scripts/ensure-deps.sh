#!/usr/bin/env bash
# Installs what a fresh clone lacks: npm dependencies (npm ci, which also builds dist/ through
# the `prepare` script) and, when asked, Debian packages (as root, apt-get).
# Usage: scripts/ensure-deps.sh [debian-package ...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "umbra: installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi

missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "umbra: missing Debian packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  echo "umbra: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2; }
  apt_install || { apt-get -o DPkg::Lock::Timeout=600 update >&2 && apt_install; }
fi
