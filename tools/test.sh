#!/usr/bin/env bash
# Builds fetalmon with AddressSanitizer + UndefinedBehaviorSanitizer and warnings as errors, then
# runs every test (ctest). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools/deps.sh --test
build=${FM_TEST_BUILD:-build-test}
# FM_FAULT_INJECTION: the FM_FAULT hook (server/service/fault.h) for tests/server/test_server_faults.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_SANITIZE=ON -DFM_WERROR=ON \
  -DFM_FAULT_INJECTION=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "$@")

# The engine tests once more under valgrind memcheck (no sanitizers): leaks and reads of
# uninitialised memory, which ASan does not see.
cd "$root"
vg_build=${FM_VALGRIND_BUILD:-build-valgrind}
cmake -S . -B "$vg_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_VALGRIND=ON >/dev/null
cmake --build "$vg_build" -j"$(nproc)" --target $(cd tests && ls test_*.c | sed 's/\.c$//')
(cd "$vg_build" && ctest --output-on-failure -j"$(nproc)" -R '_valgrind$')

# libFuzzer targets (clang): each runs for FM_FUZZ_SECONDS (15: 7-8 targets, about a minute on
# two cores) on a scratch copy of its seed corpus; bench/fuzz_long.sh runs them long. The ASan
# build above already replayed every seed and past crash of each target (fuzz_*_corpus).
cd "$root"
fuzz_build=${FM_FUZZ_BUILD:-build-fuzz}
CC=clang cmake -S . -B "$fuzz_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_SANITIZE=ON \
  -DFM_FUZZ=ON -DFM_FUZZ_SECONDS="${FM_FUZZ_SECONDS:-15}" >/dev/null
cmake --build "$fuzz_build" -j"$(nproc)" --target fuzz_all
cd "$fuzz_build"
ctest --output-on-failure -j"$(nproc)" -R '^fuzz_'
