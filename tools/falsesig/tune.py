#!/usr/bin/python3
"""Choose the boosted-tree hyper-parameters of one stage of the false-signal detector on an
inner validation split, never on the test fold.

For each outer fold k (the test fold of the CV, folds.tsv of the stage-1 CV), the inner
validation fold is v = (k + 1) mod K: every candidate is trained on the rows of the other K - 2
folds (augmented copies in their original's fold) and scored on the real (not augmented)
annotated rows of fold v at every --checkpoints number of trees (staged predictions of one fit).
Scores: accuracy at p >= 0.5 (the FHRMA operating point), AUC, log-loss. Fold k's labels are
never read. Writes one TSV line per (outer fold, candidate, checkpoint) to --out and, per outer
fold, the choice (highest validation accuracy) to --out.choice.json; with --final-choice the
candidate chosen by the mean validation accuracy over all K inner splits (the choice for a model
trained on every recording).

Then train.py --params JSON --folds k trains fold k's model with its choice (run_tune.sh).

  /usr/bin/python3 tools/falsesig/tune.py --stage 3 --mode mhr --data DATA \\
      --feat-dir /tmp/falsesig/feat3 --aug /tmp/falsesig/aug --folds-tsv /tmp/falsesig/cv/folds.tsv \\
      --out /tmp/falsesig/tune/s3_mhr.tsv

Debian python3-numpy, python3-sklearn; 1 thread (OMP_NUM_THREADS=1) to be reproducible.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import load  # noqa: E402

# name -> (train.py parameters, checkpoints in trees). base = the shipped settings.
CANDIDATES = {
    "base": dict(lr=0.1, max_leaf_nodes=31, min_samples_leaf=200, l2=1.0),
    "slow": dict(lr=0.05, max_leaf_nodes=31, min_samples_leaf=200, l2=1.0),
    "wide": dict(lr=0.1, max_leaf_nodes=63, min_samples_leaf=200, l2=1.0),
    "reg": dict(lr=0.1, max_leaf_nodes=15, min_samples_leaf=1000, l2=10.0),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--feat-dir", required=True)
    ap.add_argument("--aug")
    ap.add_argument("--mode", choices=["mhr", "nomhr"], required=True)
    ap.add_argument("--stage", type=int, choices=[1, 2, 3], default=3)
    ap.add_argument("--folds-tsv", required=True, help="folds of the stage-1 CV")
    ap.add_argument("--outer", default="0,1,2,3,4", help="outer (test) folds to choose for")
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--checkpoints", default="150,250,400")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    anns = [json.loads(l) for l in open(os.path.join(args.data, "annotations.jsonl"))]
    anns.sort(key=lambda a: a["filename"])
    folds = {}
    for line in open(args.folds_tsv):
        nm, k = line.split("\t")
        folds[nm] = int(k)
    K = max(folds.values()) + 1
    X, Y, G, nf, A = load(args, anns, args.mode, with_aug_flag=True)
    gf = np.array([folds[a["filename"]] for a in anns])[G]
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    cands = args.candidates.split(",")
    done = set()
    if os.path.exists(args.out):  # resume
        for line in open(args.out):
            f = line.rstrip("\n").split("\t")
            done.add((int(f[0]), f[1]))
    out = open(args.out, "a")
    for k in [int(x) for x in args.outer.split(",")]:
        v = (k + 1) % K
        tr = (gf != k) & (gf != v)
        va = (gf == v) & (A == 0)
        Xtr, Ytr = X[tr].astype(np.float64), Y[tr]
        Xva, Yva = X[va].astype(np.float64), Y[va]
        for c in cands:
            if (k, c) in done:
                continue
            p = CANDIDATES[c]
            clf = HistGradientBoostingClassifier(
                learning_rate=p["lr"], max_iter=max(checkpoints),
                max_leaf_nodes=p["max_leaf_nodes"], min_samples_leaf=p["min_samples_leaf"],
                l2_regularization=p["l2"], early_stopping=False, random_state=args.seed)
            t0 = time.time()
            clf.fit(Xtr, Ytr)
            fit_s = time.time() - t0
            for it, pr in enumerate(clf.staged_predict_proba(Xva), 1):
                if it not in checkpoints:
                    continue
                q = pr[:, 1]
                acc = float(np.mean((q >= 0.5) == (Yva == 1)))
                auc = float(roc_auc_score(Yva, q))
                qc = np.clip(q, 1e-7, 1 - 1e-7)
                ll = float(-np.mean(Yva * np.log(qc) + (1 - Yva) * np.log(1 - qc)))
                tp = float(np.sum((q >= 0.5) & (Yva == 1)))
                se = tp / max(1.0, float(np.sum(Yva == 1)))
                ppv = tp / max(1.0, float(np.sum(q >= 0.5)))
                out.write("%d\t%s\t%d\t%.5f\t%.5f\t%.5f\t%.4f\t%.4f\t%.0f\n"
                          % (k, c, it, acc, auc, ll, se, ppv, fit_s))
                out.flush()
            print("outer %d (val %d) %s: fit %.0f s" % (k, v, c, fit_s), file=sys.stderr)
    out.close()
    choose(args.out, K)


def choose(path, K):
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    best, mean = {}, {}
    for f in rows:
        k, c, it, acc = int(f[0]), f[1], int(f[2]), float(f[3])
        if k not in best or acc > best[k][2]:
            best[k] = (c, it, acc)
        mean.setdefault((c, it), []).append(acc)
    choice = {str(k): dict(CANDIDATES[c], max_iter=it, name=c, val_acc=a)
              for k, (c, it, a) in sorted(best.items())}
    full = {ci: np.mean(a) for ci, a in mean.items() if len(a) == K}
    if full:
        (c, it), a = max(full.items(), key=lambda x: x[1])
        choice["final"] = dict(CANDIDATES[c], max_iter=it, name=c, val_acc=float(a))
    json.dump(choice, open(path + ".choice.json", "w"), indent=1)
    print(json.dumps(choice, indent=1))


if __name__ == "__main__":
    main()
