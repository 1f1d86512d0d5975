#!/usr/bin/env bash
# The blend of the whole-recording mode (blend.py): p = w * stage 1 + (1 - w) * stage 2, w in
# the stage-2 model file (blend_previous), chosen for each fold on the other folds' out-of-fold
# probabilities. After run_cv.sh (which writes the stage-1 out-of-fold probabilities to
# $WORK/probs/<mode>) and run_cv2.sh: scores the stage-2 fold models of CV2 out-of-fold with
# --probs, chooses the weights, writes the blended fold models to OUTB, scores them through the
# C engine (bench_falsesig --cv OUTB --stage2), and with --final writes the weight chosen on all
# folds into dsp/models/falsesig2_<mode>.txt (train it first: run_cv2.sh's --final step).
# Usage: tools/falsesig/run_blend.sh [--final]      (a few minutes)
# Env: FM_SHARED_DATA, BUILD, WORK as run_cv.sh; MODES (default "nomhr": the mode it helps,
# docs/falsesig.md); CV2 (stage-2 fold models, default $WORK/cv); OUTB (default $WORK/cvb).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FM_SHARED_DATA:-../shared/data}/fsdataset
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/falsesig}
CV2=${CV2:-$WORK/cv}
OUTB=${OUTB:-$WORK/cvb}
PY=/usr/bin/python3
cmake --build "$BUILD" -j2 --target bench_falsesig >/dev/null
for mode in ${MODES:-nomhr}; do
  mkdir -p "$WORK/probs2/$mode"
  "$BUILD/bench/bench_falsesig" --data "$DATA" --cv "$CV2" --mode $mode --stage2 \
    --probs "$WORK/probs2/$mode" > /dev/null
  final=()
  [ "${1:-}" = "--final" ] && final=(--final "dsp/models/falsesig2_$mode.txt")
  $PY tools/falsesig/blend.py --data "$DATA" --mode $mode --cv "$WORK/cv" --cv2 "$CV2" \
    --p1 "$WORK/probs/$mode/{}.p" --p2 "$WORK/probs2/$mode/{}.p" --out "$OUTB" "${final[@]}"
  "$BUILD/bench/bench_falsesig" --data "$DATA" --cv "$OUTB" --mode $mode --stage2 \
    | tee "$WORK/cvb_$mode.md"
done
