#!/usr/bin/env bash
# Runs the libFuzzer targets long (clang, ASan+UBSan): each for SECONDS (default 600) on a
# growing corpus seeded from fixtures/fuzz/<name>/, up to JOBS targets at once (default 1),
# under nice. Prints per target: runs, execs/s, coverage, corpus size and any crash; a crashing
# input is left in $out/<name>/ (copy it into fixtures/fuzz/<name>/ as a regression seed once
# fixed: the sanitizer build replays every seed in ctest).
#
#   bench/fuzz_long.sh [-t SECONDS] [-j JOBS] [TARGET...]     (TARGET: api, ingest, config ...)
#
# CI runs the same targets for 15 s each (tools/test.sh, FM_FUZZ_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=600
jobs=1
while getopts "t:j:" o; do
  case $o in
    t) secs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=($(cd tests/fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//'))
  if [ ! -f server/service/multipart.h ]; then # the upload parser is not in this tree
    kept=()
    for t in "${targets[@]}"; do [ "$t" = multipart ] || kept+=("$t"); done
    targets=("${kept[@]}")
  fi
fi
build=${FM_FUZZ_BUILD:-build-fuzz}
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_SANITIZE=ON -DFM_FUZZ=ON \
  >/dev/null
nice -n 10 cmake --build "$build" -j2 --target fuzz_all >/dev/null
out=${FM_FUZZ_OUT:-$root/$build/fuzz-long}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local t=$1 dir=$out/$1
  mkdir -p "$dir/corpus"
  cp -n fixtures/fuzz/"$t"/* "$dir/corpus/" 2>/dev/null || true
  (cd "$dir" && nice -n 15 "$root/$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 corpus >"$dir/log.txt" 2>&1) || true
  local runs cov corp crash
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/log.txt" | awk '{print $2}')
  cov=$(grep -E '(DONE|pulse|NEW|REDUCE) +cov:' "$dir/log.txt" | tail -1 | grep -o 'cov: [0-9]* ft: [0-9]*')
  corp=$(ls "$dir/corpus" | wc -l)
  crash=$(ls "$dir" | grep -cE '^(crash|leak|timeout|oom)-' || true)
  printf '%-12s %6ss  runs %-10s  execs/s %-7s  %-18s  corpus %-5s  findings %s\n' "$t" "$secs" \
    "${runs:-?}" "$(( ${runs:-0} / secs ))" "${cov:-cov: ?}" "$corp" "$crash"
}

for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  run_one "$t" &
done
wait
