#!/usr/bin/python3
"""Blend weight of the whole-recording mode: p = w * p_stage1 + (1 - w) * p_stage2, w written
into the stage-2 model file as `blend_previous w` (dsp/falsesig_model.c), chosen without the
test fold.

For each fold k of the CV, w (0, 0.1, ..., 1) maximises the accuracy at p >= 0.5 (FHRMA metric,
annotated samples as train.py labels them) over the OTHER folds' recordings, from their
out-of-fold probabilities (stage 1: bench_falsesig --cv --probs; stage 2: bench_falsesig --cv
--stage2 --probs, or falsesig_dump's .p2). Fold k's labels are never read for fold k's weight.
Writes OUT/falsesig2_<mode>_fold<k>.txt = the stage-2 fold model with its weight, copies the
stage-1 fold models and folds.tsv beside them (bench_falsesig --cv OUT --stage2 then gives the
out-of-fold figures through the C engine), and with --final MODEL2 writes FINAL_OUT (default:
MODEL2 in place) = MODEL2 with the weight chosen on all folds.

  /usr/bin/python3 tools/falsesig/blend.py --data DATA --mode nomhr --cv /tmp/falsesig/cv \\
      --p1 '/tmp/falsesig/probs/nomhr/{}.p' --p2 '/tmp/falsesig/p2/nomhr/{}.p2' \\
      --out /tmp/falsesig/cvb --final dsp/models/falsesig2_nomhr.txt

Debian python3-numpy only.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import read_fhr1, truth  # noqa: E402

WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)


def with_blend(text, w):
    """Model text with the blend_previous line before its feature list (replacing one)."""
    lines = [l for l in text.split("\n") if not l.startswith("blend_previous ")]
    i = next(i for i, l in enumerate(lines) if l.startswith("features "))
    if w > 0:
        lines.insert(i, "blend_previous %g" % w)
    return "\n".join(lines)


def best_weight(P1, P2, Y):
    acc = [np.mean(((np.float32(w) * P1 + np.float32(1 - w) * P2) >= 0.5) == Y) for w in WEIGHTS]
    return float(WEIGHTS[int(np.argmax(acc))]), acc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--mode", choices=["mhr", "nomhr"], required=True)
    ap.add_argument("--cv", required=True, help="folds.tsv, stage-1 fold models")
    ap.add_argument("--cv2", help="stage-2 fold models (default: --cv)")
    ap.add_argument("--p1", required=True, help="stage-1 probabilities, {} = file name")
    ap.add_argument("--p2", required=True, help="stage-2 probabilities, {} = file name")
    ap.add_argument("--out", required=True)
    ap.add_argument("--final", help="stage-2 model to give the all-folds weight")
    ap.add_argument("--final-out", help="where to write it (default: --final in place)")
    args = ap.parse_args()
    cv2 = args.cv2 or args.cv
    anns = sorted((json.loads(l) for l in open(os.path.join(args.data, "annotations.jsonl"))),
                  key=lambda a: a["filename"])
    folds = {l.split("\t")[0]: int(l.split("\t")[1]) for l in open(os.path.join(args.cv, "folds.tsv"))}
    K = max(folds.values()) + 1
    P1, P2, Y, F = [], [], [], []
    for a in anns:
        fn = a["filename"]
        fhr1 = read_fhr1(os.path.join(args.data, "DopMHR", "Train", fn))
        y = truth(a, len(fhr1), fhr1)
        keep = y >= 0
        if not keep.any():
            continue
        p1 = np.fromfile(args.p1.replace("{}", fn), dtype=np.float32)
        p2 = np.fromfile(args.p2.replace("{}", fn), dtype=np.float32)
        # no signal for the engine: counted as flagged, as bench_falsesig does
        P1.append(np.where(np.isnan(p1), np.float32(1), p1)[keep])
        P2.append(np.where(np.isnan(p2), np.float32(1), p2)[keep])
        Y.append(y[keep] == 0)
        F.append(np.full(keep.sum(), folds[fn]))
    P1, P2, Y, F = map(np.concatenate, (P1, P2, Y, F))
    os.makedirs(args.out, exist_ok=True)
    shutil.copy(os.path.join(args.cv, "folds.tsv"), args.out)
    for k in range(K):
        tr = F != k
        w, acc = best_weight(P1[tr], P2[tr], Y[tr])
        print("fold %d: w %.1f (accuracy on the other folds %s)"
              % (k, w, " ".join("%.4f" % a for a in acc)), file=sys.stderr)
        shutil.copy(os.path.join(args.cv, "falsesig_%s_fold%d.txt" % (args.mode, k)), args.out)
        name = "falsesig2_%s_fold%d.txt" % (args.mode, k)
        text = open(os.path.join(cv2, name)).read()
        open(os.path.join(args.out, name), "w").write(with_blend(text, w))
    if args.final:
        w, acc = best_weight(P1, P2, Y)
        print("final: w %.1f (accuracy on all folds %s)" % (w, " ".join("%.4f" % a for a in acc)),
              file=sys.stderr)
        text = open(args.final).read()
        open(args.final_out or args.final, "w").write(with_blend(text, w))


if __name__ == "__main__":
    main()
