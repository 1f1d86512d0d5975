#!/usr/bin/env bash
# The recurrent stage of the whole-recording mode (dsp/falsesig_gru.c), after run_cv.sh and
# run_cv2.sh have made the stage-1 and boosted stage-2 fold models and the stage-2 feature
# dumps: dumps the boosted stage-2 out-of-fold probability of every recording and augmented
# copy (falsesig_dump --stage1 FOLD_MODEL --stage2 FOLD_MODEL2: the fold's models, so the input
# is out-of-fold), trains 5 biGRU fold models (train_gru.py, same folds), scores every recording
# out-of-fold through the C inference (bench_falsesig --cv --gru: stage-1, boosted stage-2 and
# GRU fold models), checks C = torch on the held-out recordings, and with --final trains the
# models on every recording into dsp/models/falsesig_gru_<mode>.txt (the build embeds them and
# the whole-recording mode then uses them: do that only if they beat the boosted stage 2 out of
# fold; they did not, see docs/falsesig.md "Recurrent stage 2", so none is shipped).
# Usage: tools/falsesig/run_cv3.sh [--final]   (about 30 min of one core per mode, idle machine)
# Env: as run_cv.sh (FM_SHARED_DATA, BUILD, WORK), MODES (default "mhr nomhr").
# Training only: Debian python3-torch (apt-get install python3-torch), 1 thread.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FM_SHARED_DATA:-../shared/data}/fsdataset
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/falsesig}
PY=/usr/bin/python3
export OMP_NUM_THREADS=1
# configuration A of docs/falsesig.md: one step per 16 samples (0.25 Hz), 16 units each way;
# B: GRU_ARGS="--decim 16 --hidden 8 --epochs 2 --lr 1e-3 --crop 600 --batch 32 --seed 0"
read -r -a GRU_ARGS <<< "${GRU_ARGS:---decim 16 --hidden 16 --epochs 4 --crop 600 --batch 32 --seed 0}"
cmake --build "$BUILD" -j2 --target falsesig_dump bench_falsesig >/dev/null
for mode in ${MODES:-mhr nomhr}; do
  mkdir -p "$WORK/p2/$mode" "$WORK/cv3" "$WORK/probs3/$mode"
  for k in 0 1 2 3 4; do
    # the fold lists of run_cv2.sh: the recordings of fold k and their augmented copies
    xargs -d '\n' "$BUILD/tools/falsesig/falsesig_dump" \
      --stage1 "$WORK/cv/falsesig_${mode}_fold$k.txt" \
      --stage2 "$WORK/cv/falsesig2_${mode}_fold$k.txt" \
      --stride 1000000000 --out "$WORK/p2/$mode" < "$WORK/feat2/fold$k.lst"
  done
  common=(--data "$DATA" --feat-dir "$WORK/feat2" --p2-dir "$WORK/p2" --folds "$WORK/cv/folds.tsv"
          --aug "$WORK/aug" --mode "$mode")
  nice -n 10 $PY tools/falsesig/train_gru.py "${common[@]}" --out "$WORK/cv3" --cv 5 \
    "${GRU_ARGS[@]}"
  "$BUILD/bench/bench_falsesig" --data "$DATA" --cv "$WORK/cv" --mode "$mode" \
    --gru "$WORK/cv3" --probs "$WORK/probs3/$mode" | tee "$WORK/cv3_$mode.md"
  $PY tools/falsesig/train_gru.py "${common[@]}" --out "$WORK/cv3" \
    --decim 16 --check-parity "$WORK/probs3/$mode"
  if [ "${1:-}" = "--final" ]; then
    nice -n 10 $PY tools/falsesig/train_gru.py "${common[@]}" --out dsp/models --final \
      "${GRU_ARGS[@]}"
  fi
done
