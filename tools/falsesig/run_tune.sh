#!/usr/bin/env bash
# Hyper-parameters of the last boosted stage chosen on an inner validation split (tune.py: for
# test fold k, candidates trained on the other 3 folds, scored on fold k+1 mod 5; fold k's labels
# never read), then the 5 fold models each with ITS choice (train.py --params --folds), the
# out-of-fold figures through the C inference (bench_falsesig), and with --final the shipped
# model with the choice of the mean validation score over the 5 inner splits.
# After run_cv.sh (stage 1, 2) and, for STAGE=3, run_stage3.sh (its features in $WORK/feat3).
# Usage: tools/falsesig/run_tune.sh [--final]      (about 1 h per mode on 2 loaded cores)
# Env: as run_cv.sh (FM_SHARED_DATA, BUILD, WORK), STAGE (2 or 3, default 3), MODES (default
# "mhr nomhr"), OUTT (fold models, default $WORK/cvt$STAGE). OMP_NUM_THREADS=1: bit for bit.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FM_SHARED_DATA:-../shared/data}/fsdataset
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/falsesig}
STAGE=${STAGE:-3}
OUTT=${OUTT:-$WORK/cvt$STAGE}
PY=/usr/bin/python3
STRIDE=4
cmake --build "$BUILD" -j2 --target bench_falsesig >/dev/null
mkdir -p "$OUTT" "$WORK/tune"
for mode in ${MODES:-mhr nomhr}; do
  T="$WORK/tune/s${STAGE}_$mode.tsv"
  $PY tools/falsesig/tune.py --stage $STAGE --mode $mode --data "$DATA" \
    --feat-dir "$WORK/feat$STAGE" --aug "$WORK/aug" --folds-tsv "$WORK/cv/folds.tsv" \
    --stride $STRIDE --out "$T"
  $PY tools/falsesig/train.py --stage $STAGE --data "$DATA" --feat-dir "$WORK/feat$STAGE" \
    --aug "$WORK/aug" --mode $mode --out "$OUTT" --cv 5 --stride $STRIDE --params "$T.choice.json"
  cmp "$OUTT/folds.tsv" "$WORK/cv/folds.tsv"
  if [ "$STAGE" = 3 ]; then
    "$BUILD/bench/bench_falsesig" --data "$DATA" --cv "$WORK/cv" --mode $mode --stage3 "$OUTT" \
      | tee "$WORK/cvt3_$mode.md"
  else
    # bench --stage2 reads the stage-1 fold models beside the stage-2 ones
    cp "$WORK/cv/falsesig_${mode}_fold"?.txt "$OUTT/"
    "$BUILD/bench/bench_falsesig" --data "$DATA" --cv "$OUTT" --mode $mode --stage2 \
      | tee "$WORK/cvt2_$mode.md"
  fi
  if [ "${1:-}" = "--final" ]; then
    $PY tools/falsesig/train.py --stage $STAGE --data "$DATA" --feat-dir "$WORK/feat$STAGE" \
      --aug "$WORK/aug" --mode $mode --out dsp/models --final --stride $STRIDE \
      --params "$T.choice.json"
  fi
done
