#!/usr/bin/env bash
# Installs the Debian 12 packages fetalmon builds and tests with, when run as root and any is
# missing. As another user it only says what is missing. Usage: tools/deps.sh [--test]
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsndfile1-dev libfftw3-dev libwebsockets-dev
      libsqlite3-dev libcjson-dev libsodium-dev)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(clang libclang-rt-14-dev valgrind python3 python3-numpy chromium fonts-wqy-microhei)
  # node and npm may come from another Node.js build (which bundles npm): check the commands
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "fetalmon: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "fetalmon: missing Debian packages: ${missing[*]}" >&2
  echo "  run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
