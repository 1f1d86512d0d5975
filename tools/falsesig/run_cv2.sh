#!/usr/bin/env bash
# Stage 2 of the false-signal detector (the whole-recording mode, fm_falsesig_batch): after
# run_cv.sh has made the stage-1 fold models, dumps the stage-2 features of every recording and
# of its augmented copies with the stage-1 model of ITS fold (so the stage-2 rows hold
# out-of-fold stage-1 probabilities, as the final model will see on a new recording), trains
# 5 stage-2 fold models on the same folds, scores every recording out-of-fold through the C
# batch inference (stage-1 fold model + stage-2 fold model: bench_falsesig --cv --stage2), and
# trains the shipped stage-2 models on all recordings into dsp/models/; then run_blend.sh (the
# no-MHR blend weight).
# Usage: tools/falsesig/run_cv2.sh [--no-final]      (about 10 min on 2 cores)
# Env: as run_cv.sh (FM_SHARED_DATA, BUILD, WORK), MODES (default "mhr nomhr").
# OMP_NUM_THREADS=1 to re-make the shipped models bit for bit.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FM_SHARED_DATA:-../shared/data}/fsdataset
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/falsesig}
PY=/usr/bin/python3
STRIDE=4
cmake --build "$BUILD" -j2 --target falsesig_dump bench_falsesig >/dev/null
for mode in ${MODES:-mhr nomhr}; do
  mkdir -p "$WORK/feat2/$mode"
  for k in 0 1 2 3 4; do
    # the recordings of fold k and their augmented copies
    $PY - "$WORK/cv/folds.tsv" "$WORK/aug/augment.jsonl" "$k" "$DATA" "$WORK/aug" <<'PYEOF' \
      > "$WORK/feat2/fold$k.lst"
import json, sys
folds, aug, k, data, augdir = sys.argv[1:]
mine = {l.split("\t")[0] for l in open(folds) if int(l.split("\t")[1]) == int(k)}
for nm in sorted(mine):
    print("%s/DopMHR/Train/%s" % (data, nm))
for l in open(aug):
    e = json.loads(l)
    if e["orig"] in mine:
        print("%s/%s" % (augdir, e["filename"]))
PYEOF
    xargs -d '\n' "$BUILD/tools/falsesig/falsesig_dump" --stage1 \
      "$WORK/cv/falsesig_${mode}_fold$k.txt" --stride 2 --out "$WORK/feat2/$mode" \
      < "$WORK/feat2/fold$k.lst"
  done
  $PY tools/falsesig/train.py --stage 2 --data "$DATA" --feat-dir "$WORK/feat2" \
    --aug "$WORK/aug" --mode $mode --out "$WORK/cv" --cv 5 --stride $STRIDE
  "$BUILD/bench/bench_falsesig" --data "$DATA" --cv "$WORK/cv" --mode $mode --stage2 \
    | tee "$WORK/cv2_$mode.md"
  if [ "${1:-}" != "--no-final" ]; then
    $PY tools/falsesig/train.py --stage 2 --data "$DATA" --feat-dir "$WORK/feat2" \
      --aug "$WORK/aug" --mode $mode --out dsp/models --final --stride $STRIDE
  fi
done
# the no-MHR blend of stage 1 and stage 2 (session 4, docs/falsesig.md): weights out-of-fold,
# and with the final models the all-folds weight into dsp/models/falsesig2_nomhr.txt
case " ${MODES:-mhr nomhr} " in
  *" nomhr "*)
    if [ "${1:-}" != "--no-final" ]; then blend_final=--final; else blend_final=; fi
    BUILD="$BUILD" WORK="$WORK" MODES=nomhr tools/falsesig/run_blend.sh $blend_final ;;
esac
