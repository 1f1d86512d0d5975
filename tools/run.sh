#!/usr/bin/env bash
# The README's run command: installs missing Debian packages (as root), builds fetalmon in
# release mode and runs the main job on embedded defaults: the monitoring service on
# http://127.0.0.1:8080 with its SQLite store in ./fetalmon-data, a demo clinician, a demo
# patient and a simulated home Doppler streaming live. Extra arguments go to `fetalmon serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFM_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
exec ./build/fetalmon serve --demo "$@"
