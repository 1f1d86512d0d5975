#!/usr/bin/env bash
# The README's run command: installs missing Debian packages (as root), builds fetalmon in
# release mode and runs the main job on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFM_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p fetalmon-data/demo
for f in fixtures/traces/*; do
  [ -f "$f" ] || continue
  case "$f" in *.dat) continue ;; esac
  out="fetalmon-data/demo/$(basename "$f").json"
  ./build/fetalmon analyze "$f" --json "$out"
  ./build/fetalmon analyze "$f"
done
