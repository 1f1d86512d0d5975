#!/usr/bin/env bash
# Builds fetalmon with AddressSanitizer + UndefinedBehaviorSanitizer and warnings as errors, then
# runs every test (ctest). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh --test
build=${FM_TEST_BUILD:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_SANITIZE=ON -DFM_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
