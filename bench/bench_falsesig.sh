#!/usr/bin/env bash
# Prints the false-signal figures of docs/falsesig.md: the coincidence floor, the out-of-fold
# results of the fold models in $WORK/cv (made by tools/falsesig/run_cv.sh) scored by the C
# inference, and the speed of the built-in models. Usage: bench/bench_falsesig.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${FM_SHARED_DATA:-../shared/data}/fsdataset
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/falsesig}
cmake --build "$BUILD" -j2 --target bench_falsesig >/dev/null
B="$BUILD/bench/bench_falsesig"
"$B" --data "$DATA" --coincidence
for mode in mhr nomhr; do
  if [ -f "$WORK/cv/falsesig_${mode}_fold0.txt" ]; then
    "$B" --data "$DATA" --cv "$WORK/cv" --mode $mode
  fi
done
# speed of the shipped models (in-sample figures: not a measure of accuracy)
for mode in mhr nomhr; do
  "$B" --data "$DATA" --builtin $mode | tail -1
done
