#!/usr/bin/python3
"""Train the false-signal detector's boosted trees on the FHRMA false-signal dataset.

Reads the features written by falsesig_dump (the engine's own feature code), labels every
sample from the experts' annotations exactly as FHRMA EvalFSForDataset.m does (true inside
ts_fhr, false inside fs_fhr, false wins, FHR1 = 0 unannotated, interval ends rounded,
1-based inclusive), fits sklearn's HistGradientBoostingClassifier on the annotated samples
and writes the trees in the text format dsp/falsesig_model.c parses.

  --cv K     K models, each trained without one group of recordings (folds by recording,
             antepartum records spread evenly); writes OUT/falsesig_<mode>_fold<k>.txt and
             OUT/folds.tsv. bench/bench_falsesig.c scores each recording with the model of
             its fold (C inference), which gives the out-of-fold figures.
  --final    one model on every recording: OUT/falsesig_<mode>.txt (the shipped model).
  --stage 2  the whole-recording model (falsesig_dump --stage1 features: context over the
             stage-1 probabilities of the recording): OUT/falsesig2_<mode>[_fold<k>].txt.
             Its rows must hold out-of-fold stage-1 probabilities (run_cv.sh dumps each
             recording with the stage-1 model of its fold), the same folds as stage 1.
  --stage 3  auto-context: the same context features computed from the stage-2
             probabilities (falsesig_dump --stage2 MODEL2 --stage3-features, each recording
             with the stage-1 and stage-2 models of its fold): OUT/falsesig3_<mode>[_fold<k>].txt.

Debian python3 only (python3-numpy, python3-sklearn). Reproduce (see docs/falsesig.md):
  tools/falsesig/run_cv.sh          (dump, CV training, C evaluation, final models)
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


# rows of an augmented copy within 3 min of a splice are used (the rest repeats the original)
AUG_CONTEXT = 3 * 60 * 4


def read_fhr1(path):
    b = np.fromfile(path, dtype=np.uint8)[4:].reshape(-1, 8)
    return (b[:, 0].astype(np.uint16) | (b[:, 1].astype(np.uint16) << 8)).astype(np.float64) / 4


def mround(v):
    """MATLAB round (half away from zero) of a non-negative index."""
    return int(np.floor(v + 0.5))


def truth(ann, n, fhr1):
    """1 true signal, 0 false signal, -1 unannotated (EvalFSForDataset.m evalPeriod)."""
    y = np.full(n, -1, dtype=np.int8)
    for s, e in ann["ts_fhr"]:
        y[max(1, mround(s)) - 1:min(n, mround(e))] = 1
    for s, e in ann["fs_fhr"]:
        y[max(1, mround(s)) - 1:min(n, mround(e))] = 0
    y[fhr1 == 0] = -1
    return y


def assign_folds(anns, k, seed):
    rng = np.random.RandomState(seed)
    folds = {}
    for ante in (True, False):
        names = sorted(a["filename"] for a in anns if (a["stage2_start"] == "Antepartum") == ante)
        rng.shuffle(names)
        for i, nm in enumerate(names):
            folds[nm] = i % k
    return folds


def load(args, anns, mode, with_aug_flag=False):
    """Rows X, labels Y, recording index G (an augmented copy: its original's), feature count;
    with_aug_flag: also A, 1 for the rows of augmented copies."""
    nf = len(open(os.path.join(args.feat_dir, mode, "features_%s.txt" % mode)).read().split())
    dt = np.dtype([("i", "<u4"), ("f", "<f4", (nf,))])
    X, Y, G, A = [], [], [], []
    for gi, a in enumerate(anns):
        fn = a["filename"]
        d = np.fromfile(os.path.join(args.feat_dir, mode, fn + ".feat"), dtype=dt)
        d = d[d["i"] % args.stride == 0]
        fhr1 = read_fhr1(os.path.join(args.data, "DopMHR", "Train", fn))
        y = truth(a, len(fhr1), fhr1)[d["i"]]
        keep = y >= 0
        X.append(d["f"][keep])
        # the positive class is false signal
        Y.append((y[keep] == 0).astype(np.int8))
        G.append(np.full(keep.sum(), gi, dtype=np.int32))
        A.append(np.zeros(keep.sum(), dtype=np.int8))
    if args.aug:
        # spliced copies (augment.py): their rows near the splices, in their original's fold
        index = {a["filename"]: gi for gi, a in enumerate(anns)}
        n_aug = 0
        for line in open(os.path.join(args.aug, "augment.jsonl")):
            e = json.loads(line)
            gi = index[e["orig"]]
            d = np.fromfile(os.path.join(args.feat_dir, mode, e["filename"] + ".feat"), dtype=dt)
            d = d[d["i"] % args.stride == 0]
            fhr1 = read_fhr1(os.path.join(args.aug, e["filename"]))
            y = truth(anns[gi], len(fhr1), fhr1)
            near = np.zeros(len(fhr1), dtype=bool)
            for a0, b0 in e["fs_extra"]:
                y[a0 - 1:b0] = 0
                near[max(0, a0 - 1 - AUG_CONTEXT):b0 + AUG_CONTEXT] = True
            y[fhr1 == 0] = -1
            y = y[d["i"]]
            keep = (y >= 0) & near[d["i"]]
            X.append(d["f"][keep])
            Y.append((y[keep] == 0).astype(np.int8))
            G.append(np.full(keep.sum(), gi, dtype=np.int32))
            A.append(np.ones(keep.sum(), dtype=np.int8))
            n_aug += keep.sum()
        print("augmented rows: %d" % n_aug, file=sys.stderr)
    out = (np.concatenate(X), np.concatenate(Y), np.concatenate(G), nf)
    return out + (np.concatenate(A),) if with_aug_flag else out


def fit(args, X, Y, key=None):
    """key: the entry of --params (a fold number or "final") whose settings override the
    command line's (tune.py's choice for that model)."""
    p = dict(lr=args.lr, max_iter=args.max_iter, max_leaf_nodes=args.max_leaf_nodes,
             min_samples_leaf=args.min_samples_leaf, l2=args.l2)
    if args.params and key is not None:
        chosen = json.load(open(args.params))[str(key)]
        p.update({k: chosen[k] for k in p if k in chosen})
        print("  %s: %s" % (key, p), file=sys.stderr)
    clf = HistGradientBoostingClassifier(
        learning_rate=p["lr"], max_iter=int(p["max_iter"]), max_leaf_nodes=int(p["max_leaf_nodes"]),
        min_samples_leaf=int(p["min_samples_leaf"]), l2_regularization=p["l2"],
        early_stopping=False, random_state=args.seed)
    t0 = time.time()
    clf.fit(X.astype(np.float64), Y)
    print("  fit %d rows x %d features, %.0f s" % (X.shape[0], X.shape[1], time.time() - t0),
          file=sys.stderr)
    return clf


def export(clf, path, use_mhr, lookahead, names, stage=1):
    trees = [p[0] for p in clf._predictors]
    base = float(np.ravel(clf._baseline_prediction)[0])
    n_nodes = sum(len(t.nodes) for t in trees)
    with open(path, "w") as f:
        f.write("fm_falsesig_model%s 1\nuse_mhr %d\nlookahead %d\n"
                % (str(stage) if stage >= 2 else "", use_mhr, lookahead))
        f.write("features %d %s\n" % (len(names), " ".join(names)))
        f.write("baseline %.17g\ntrees %d %d\n" % (base, len(trees), n_nodes))
        for t in trees:
            f.write("tree %d\n" % len(t.nodes))
            for nd in t.nodes:
                if nd["is_leaf"]:
                    f.write("l %.9g\n" % nd["value"])
                else:
                    f.write("s %d %.17g %d %d %d\n" % (nd["feature_idx"], nd["num_threshold"],
                                                       nd["missing_go_to_left"], nd["left"],
                                                       nd["right"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True, help="fsdataset folder (annotations.jsonl)")
    ap.add_argument("--feat-dir", required=True, help="falsesig_dump output (mhr/, nomhr/)")
    ap.add_argument("--mode", choices=["mhr", "nomhr"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--aug", help="augment.py output folder (spliced training copies)")
    ap.add_argument("--cv", type=int, default=0)
    ap.add_argument("--final", action="store_true")
    ap.add_argument("--stage", type=int, choices=[1, 2, 3], default=1)
    ap.add_argument("--stride", type=int, default=4, help="train on every S-th sample")
    ap.add_argument("--lookahead", type=int, default=80, help="as given to falsesig_dump")
    ap.add_argument("--max-iter", type=int, default=250)
    ap.add_argument("--max-leaf-nodes", type=int, default=31)
    ap.add_argument("--min-samples-leaf", type=int, default=200)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", help="tune.py's .choice.json: per-model settings")
    ap.add_argument("--folds", help="with --cv: train only these folds (e.g. 0,3)")
    args = ap.parse_args()
    anns = [json.loads(l) for l in open(os.path.join(args.data, "annotations.jsonl"))]
    anns.sort(key=lambda a: a["filename"])
    os.makedirs(args.out, exist_ok=True)
    X, Y, G, nf = load(args, anns, args.mode)
    names = open(os.path.join(args.feat_dir, args.mode, "features_%s.txt" % args.mode)).read().split()
    use_mhr = 1 if args.mode == "mhr" else 0
    prefix = "falsesig%d" % args.stage if args.stage >= 2 else "falsesig"
    lookahead = 0 if args.stage >= 2 else args.lookahead
    print("%s: %d rows, %.1f %% false signal" % (args.mode, len(Y), 100 * Y.mean()), file=sys.stderr)
    if args.cv:
        folds = assign_folds(anns, args.cv, args.seed)
        with open(os.path.join(args.out, "folds.tsv"), "w") as f:
            for a in anns:
                f.write("%s\t%d\n" % (a["filename"], folds[a["filename"]]))
        gf = np.array([folds[a["filename"]] for a in anns])[G]
        only = [int(x) for x in args.folds.split(",")] if args.folds else range(args.cv)
        for k in only:
            print("fold %d" % k, file=sys.stderr)
            clf = fit(args, X[gf != k], Y[gf != k], k)
            export(clf, os.path.join(args.out, "%s_%s_fold%d.txt" % (prefix, args.mode, k)),
                   use_mhr, lookahead, names, args.stage)
    if args.final:
        clf = fit(args, X, Y, "final")
        export(clf, os.path.join(args.out, "%s_%s.txt" % (prefix, args.mode)), use_mhr,
               lookahead, names, args.stage)


if __name__ == "__main__":
    main()
