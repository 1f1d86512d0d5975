#!/usr/bin/env bash
# Stage 3 of the false-signal detector (auto-context, the whole-recording mode): after
# run_cv.sh / run_cv2.sh have made the stage-1 and stage-2 fold models, dumps the stage-3
# features (the stage-2 context features computed from the stage-2 probabilities) of every
# recording and of its augmented copies with the stage-1 AND stage-2 models of ITS fold (so the
# stage-3 rows hold out-of-fold stage-2 probabilities), trains 5 stage-3 fold models on the same
# folds, scores every recording out-of-fold through the C batch inference (stage-1 + stage-2 +
# stage-3 fold models: bench_falsesig --cv --stage3), and with --final trains the shipped
# stage-3 models dsp/models/falsesig3_{mhr,nomhr}.txt on all recordings.
# Usage: tools/falsesig/run_stage3.sh [--final]      (about 15-25 min on 2 cores)
# Env: as run_cv.sh (FM_SHARED_DATA, BUILD, WORK), MODES (default "mhr nomhr"), OUT3 (fold
# models, default $WORK/cvs3), TRAIN_ARGS (extra train.py arguments, default none).
# OMP_NUM_THREADS=1 to re-make the shipped models bit for bit.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FM_SHARED_DATA:-../shared/data}/fsdataset
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/falsesig}
OUT3=${OUT3:-$WORK/cvs3}
PY=/usr/bin/python3
STRIDE=4
cmake --build "$BUILD" -j2 --target falsesig_dump bench_falsesig >/dev/null
mkdir -p "$OUT3"
for mode in ${MODES:-mhr nomhr}; do
  if [ ! -e "$WORK/feat3/$mode/done" ]; then
    mkdir -p "$WORK/feat3/$mode"
    for k in 0 1 2 3 4; do
      # run_cv2.sh wrote the list of fold k's recordings and augmented copies
      xargs -d '\n' "$BUILD/tools/falsesig/falsesig_dump" \
        --stage1 "$WORK/cv/falsesig_${mode}_fold$k.txt" \
        --stage2 "$WORK/cv/falsesig2_${mode}_fold$k.txt" --stage3-features \
        --stride 2 --out "$WORK/feat3/$mode" < "$WORK/feat2/fold$k.lst"
    done
    rm -f "$WORK/feat3/$mode"/*.p2   # the stage-2 probabilities (also in $WORK/p2)
    touch "$WORK/feat3/$mode/done"
  fi
  # shellcheck disable=SC2086
  $PY tools/falsesig/train.py --stage 3 --data "$DATA" --feat-dir "$WORK/feat3" \
    --aug "$WORK/aug" --mode $mode --out "$OUT3" --cv 5 --stride $STRIDE ${TRAIN_ARGS:-}
  cmp "$OUT3/folds.tsv" "$WORK/cv/folds.tsv"   # the stage-1 folds
  "$BUILD/bench/bench_falsesig" --data "$DATA" --cv "$WORK/cv" --mode $mode \
    --stage3 "$OUT3" | tee "$WORK/cvs3_$mode.md"
  if [ "${1:-}" = "--final" ]; then
    # shellcheck disable=SC2086
    $PY tools/falsesig/train.py --stage 3 --data "$DATA" --feat-dir "$WORK/feat3" \
      --aug "$WORK/aug" --mode $mode --out dsp/models --final --stride $STRIDE ${TRAIN_ARGS:-}
  fi
done
