#!/usr/bin/env bash
# Reproduces the false-signal detector: dumps the engine's features for the 591 recordings of
# the FHRMA false-signal dataset and their augmented copies (augment.py), trains 5 fold
# models per mode (folds by recording), scores
# every recording with the model of its fold through the C inference (bench_falsesig), scores
# the coincidence floor, and trains the shipped models on all recordings into dsp/models/.
# Then run_cv2.sh does the same for stage 2, the whole-recording mode (fm_falsesig_batch).
# Usage: tools/falsesig/run_cv.sh [--no-final]      (about 30-60 min on 2 cores)
# Env: FM_SHARED_DATA (default ../shared/data), BUILD (default build), WORK (default
# /tmp/falsesig). Needs Debian python3-numpy and python3-sklearn (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FM_SHARED_DATA:-../shared/data}/fsdataset
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/falsesig}
PY=/usr/bin/python3
STRIDE=4 # train on every 4th sample (the dump keeps every 2nd)
cmake -S . -B "$BUILD" -DFM_WERROR=ON >/dev/null
cmake --build "$BUILD" -j2 --target falsesig_dump bench_falsesig >/dev/null
mkdir -p "$WORK/feat/mhr" "$WORK/feat/nomhr" "$WORK/cv" "$WORK/probs/mhr" "$WORK/probs/nomhr"
$PY tools/falsesig/augment.py --data "$DATA" --out "$WORK/aug" --seed 1
for mode in mhr nomhr; do
  m=$([ $mode = mhr ] && echo 1 || echo 0)
  "$BUILD/tools/falsesig/falsesig_dump" --mhr $m --stride 2 --out "$WORK/feat/$mode" \
    "$DATA"/DopMHR/Train/*.fhrm "$WORK"/aug/*.aug.fhrm
  $PY tools/falsesig/train.py --data "$DATA" --feat-dir "$WORK/feat" --aug "$WORK/aug" \
    --mode $mode --out "$WORK/cv" --cv 5 --stride $STRIDE
  "$BUILD/bench/bench_falsesig" --data "$DATA" --cv "$WORK/cv" --mode $mode \
    --probs "$WORK/probs/$mode" | tee "$WORK/cv_$mode.md"
done
"$BUILD/bench/bench_falsesig" --data "$DATA" --coincidence | tee "$WORK/coincidence.md"
if [ "${1:-}" != "--no-final" ]; then
  for mode in mhr nomhr; do
    $PY tools/falsesig/train.py --data "$DATA" --feat-dir "$WORK/feat" --aug "$WORK/aug" \
      --mode $mode --out dsp/models --final --stride $STRIDE
  done
fi
# stage 2 (whole-recording mode) on top of these stage-1 fold models
BUILD="$BUILD" WORK="$WORK" tools/falsesig/run_cv2.sh "$@"
