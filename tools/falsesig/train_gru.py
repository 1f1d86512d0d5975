#!/usr/bin/python3
"""Train the recurrent stage 2 of the false-signal detector (whole-recording mode).

A small bidirectional GRU runs at 4 Hz / DECIM (--decim; 1 Hz by default, 0.25 Hz in
run_cv3.sh) over the stage-2 context features of the engine (falsesig_context.c, dumped by
`falsesig_dump --stage1 FOLD_MODEL`, i.e. computed from out-of-fold stage-1 probabilities,
exactly what the C engine feeds it) and gives a false-signal logit per step; the engine
(dsp/falsesig_gru.c) interpolates it to 4 Hz. With --p2-dir (falsesig_dump --stage2 .p2
files) the model is residual: it also reads the boosted stage-2 probability (clipped logit)
and its output is added to that logit (read-out initialised at zero).

Input of step k = the features of 4 Hz sample DECIM*k (NAN = missing): standardised, NAN -> 0,
plus a 0/1 mask per feature that is sometimes missing (the no-signal mask is the mask of p1).
Labels as train.py (FHRMA EvalFSForDataset.m); augmented copies (augment.py) count only within
3 min of their splices. Folds = OUT/folds.tsv of the stage-1 CV (by recording).

  --cv 5     fold models OUT/falsesig_gru_<mode>_fold<k>.txt, trained without fold k
  --final    OUT/falsesig_gru_<mode>.txt on every recording
  --check-parity DIR   print max |torch - C| of the fold models on held-out recordings, DIR
             = bench_falsesig --probs output of `--cv CV --gru OUT` (same --decim, --p2-dir)

Training only: Debian python3-torch (1.13), run with /usr/bin/python3, 1 thread. The engine
does not need torch. Exact commands: tools/falsesig/run_cv3.sh.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

torch.set_num_threads(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import AUG_CONTEXT, read_fhr1, truth  # noqa: E402

DECIM = 4  # 4 Hz samples per GRU step (1 Hz); --decim
P_CLIP = 1e-4  # as FS_GRU_P_CLIP (dsp/falsesig_gru.h)
P2_NAME = "p2_logit"


def p2_logit(p):
    p = np.clip(p.astype(np.float32), np.float32(P_CLIP), np.float32(1 - P_CLIP))
    return np.log(p / (np.float32(1) - p)).astype(np.float32)


def load_rec(feat_path, fhr_path, nf, p2_path=None):
    dt = np.dtype([("i", "<u4"), ("f", "<f4", (nf,))])
    d = np.fromfile(feat_path, dtype=dt)
    fhr1 = read_fhr1(fhr_path)
    n = len(fhr1)
    T = (n + DECIM - 1) // DECIM
    X = np.full((T, nf), np.nan, dtype=np.float32)
    d = d[d["i"] % DECIM == 0]
    X[d["i"] // DECIM] = d["f"]
    if p2_path:
        p2 = np.fromfile(p2_path, dtype="<f4")[::DECIM]
        X = np.concatenate([X, p2_logit(p2)[:, None]], 1)
    return X, fhr1, n


def load_all(args, anns, mode, folds):
    nf = len(open(os.path.join(args.feat_dir, mode, "features_%s.txt" % mode)).read().split())
    recs = []
    index = {a["filename"]: gi for gi, a in enumerate(anns)}
    for a in anns:
        fn = a["filename"]
        X, fhr1, n = load_rec(os.path.join(args.feat_dir, mode, fn + ".feat"),
                              os.path.join(args.data, "DopMHR", "Train", fn), nf,
                              p2path(args, mode, fn))
        y = truth(a, n, fhr1)[::DECIM]
        recs.append(dict(name=fn, fold=folds[fn], X=X, y=y, w=(y >= 0), aug=False))
    if args.aug:
        for line in open(os.path.join(args.aug, "augment.jsonl")):
            e = json.loads(line)
            a = anns[index[e["orig"]]]
            X, fhr1, n = load_rec(os.path.join(args.feat_dir, mode, e["filename"] + ".feat"),
                                  os.path.join(args.aug, e["filename"]), nf,
                                  p2path(args, mode, e["filename"]))
            y = truth(a, n, fhr1)
            near = np.zeros(n, dtype=bool)
            for a0, b0 in e["fs_extra"]:
                y[a0 - 1:b0] = 0
                near[max(0, a0 - 1 - AUG_CONTEXT):b0 + AUG_CONTEXT] = True
            y[fhr1 == 0] = -1
            y = y[::DECIM]
            recs.append(dict(name=e["filename"], fold=folds[e["orig"]], X=X, y=y,
                             w=(y >= 0) & near[::DECIM], aug=True))
    return recs, nf + (1 if args.p2_dir else 0)


def p2path(args, mode, fn):
    return os.path.join(args.p2_dir, mode, fn + ".p2") if args.p2_dir else None


class Net(torch.nn.Module):
    """biGRU + linear read-out; residual: the read-out (zero at the start) is added to the
    boosted stage-2 logit, the last raw input."""

    def __init__(self, n_in, hidden, residual=False):
        super().__init__()
        self.gru = torch.nn.GRU(n_in, hidden, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(2 * hidden, 1)
        self.residual = residual
        if residual:
            torch.nn.init.zeros_(self.out.weight)
            torch.nn.init.zeros_(self.out.bias)

    def forward(self, x, base=None):
        h, _ = self.gru(x)
        z = self.out(h).squeeze(-1)
        return z + base if self.residual else z


def norm_stats(recs, nf):
    """Mean / SD per feature over the training steps; which features get a missing mask."""
    X = np.concatenate([r["X"][::7] for r in recs if not r["aug"]])
    miss = np.isnan(X).mean(0)
    mean = np.nanmean(X, 0)
    sd = np.nanstd(X, 0)
    mean = np.where(np.isfinite(mean), mean, 0).astype(np.float32)
    sd = np.where(np.isfinite(sd) & (sd > 1e-6), sd, 1).astype(np.float32)
    masked = [j for j in range(nf) if miss[j] > 0.001]
    return mean, sd, masked


def make_input(X, mean, sd, masked):
    Z = (X - mean) / sd
    M = (~np.isnan(X[:, masked])).astype(np.float32)
    Z = np.where(np.isnan(Z), 0, Z).astype(np.float32)
    return np.concatenate([Z, M], 1)


def train_model(args, recs, nf, seed):
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    mean, sd, masked = norm_stats(recs, nf)
    n_in = nf + len(masked)
    net = Net(n_in, args.hidden, residual=bool(args.p2_dir))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    inputs = [make_input(r["X"], mean, sd, masked) for r in recs]
    bases = [np.nan_to_num(r["X"][:, -1]).astype(np.float32) for r in recs]
    L = args.crop
    t0 = time.time()
    n_steps = sum(len(r["y"]) for r in recs)
    for ep in range(args.epochs):
        lr = args.lr * (0.5 * (1 + np.cos(np.pi * ep / args.epochs)))
        for g in opt.param_groups:
            g["lr"] = lr
        # crops: every recording cut into pieces of <= L steps at a random offset
        pieces = []
        for ri, r in enumerate(recs):
            T = len(r["y"])
            off = rng.randint(0, L) if T > L else 0
            starts = [0] if off == 0 else [0, off]
            s = off if off else L
            while s < T:
                starts.append(s)
                s += L
            starts = sorted(set(starts))
            if r["aug"]:
                # an augmented copy: one piece around its weighted (spliced) part
                wi = np.flatnonzero(r["w"])
                if len(wi):
                    c0 = max(0, wi[0] - L // 4)
                    pieces.append((ri, c0, min(T, max(wi[-1] + 1 + L // 4, c0 + L // 2))))
                continue
            for j, s0 in enumerate(starts):
                e0 = starts[j + 1] if j + 1 < len(starts) else T
                if r["w"][s0:e0].any():
                    pieces.append((ri, s0, e0))
        rng.shuffle(pieces)
        pieces.sort(key=lambda p: p[2] - p[1])  # similar lengths together (less padding)
        batches = [pieces[i:i + args.batch] for i in range(0, len(pieces), args.batch)]
        rng.shuffle(batches)
        tot, cnt = 0.0, 0
        for b in batches:
            Tm = max(e0 - s0 for _, s0, e0 in b)
            xb = np.zeros((len(b), Tm, n_in), np.float32)
            yb = np.zeros((len(b), Tm), np.float32)
            wb = np.zeros((len(b), Tm), np.float32)
            bb = np.zeros((len(b), Tm), np.float32)
            for j, (ri, s0, e0) in enumerate(b):
                xb[j, :e0 - s0] = inputs[ri][s0:e0]
                bb[j, :e0 - s0] = bases[ri][s0:e0]
                y = recs[ri]["y"][s0:e0]
                yb[j, :e0 - s0] = (y == 0)
                wb[j, :e0 - s0] = recs[ri]["w"][s0:e0]
            z = net(torch.from_numpy(xb), torch.from_numpy(bb))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                z, torch.from_numpy(yb), weight=torch.from_numpy(wb), reduction="sum")
            wsum = float(wb.sum())
            opt.zero_grad()
            (loss / max(wsum, 1.0)).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            tot += float(loss)
            cnt += wsum
        print("  epoch %d: loss %.4f, %.0f s (%d steps)" % (ep, tot / max(cnt, 1), time.time() - t0,
                                                          n_steps), file=sys.stderr)
    return net, mean, sd, masked


def predict(net, X, mean, sd, masked):
    base = np.nan_to_num(X[:, -1]).astype(np.float32)
    with torch.no_grad():
        z = net(torch.from_numpy(make_input(X, mean, sd, masked))[None],
                torch.from_numpy(base)[None])[0].numpy()
    return z


def export(path, net, mean, sd, masked, names, use_mhr, hidden):
    sdict = {k: v.detach().numpy().astype(np.float64) for k, v in net.state_dict().items()}
    n_in = len(names) + len(masked)

    def mat(f, tag, a):
        a = np.atleast_2d(a)
        f.write("%s %d %d\n" % (tag, a.shape[0], a.shape[1]))
        for row in a:
            f.write(" ".join("%.9g" % v for v in row) + "\n")

    with open(path, "w") as f:
        f.write("fm_falsesig_gru 1\nuse_mhr %d\ndecim %d\nresidual %d\n"
                % (use_mhr, DECIM, 1 if net.residual else 0))
        f.write("features %d %s\n" % (len(names), " ".join(names)))
        f.write("masked %d %s\n" % (len(masked), " ".join(str(j) for j in masked)))
        f.write("hidden %d\ninputs %d\n" % (hidden, n_in))
        mat(f, "mean", mean)
        mat(f, "sd", sd)
        # PyTorch gate order r, z, n
        for d, suf in ((0, ""), (1, "_reverse")):
            mat(f, "w_ih%d" % d, sdict["gru.weight_ih_l0" + suf])
            mat(f, "w_hh%d" % d, sdict["gru.weight_hh_l0" + suf])
            mat(f, "b_ih%d" % d, sdict["gru.bias_ih_l0" + suf])
            mat(f, "b_hh%d" % d, sdict["gru.bias_hh_l0" + suf])
        mat(f, "w_out", sdict["out.weight"])
        mat(f, "b_out", sdict["out.bias"])
        f.write("end\n")


def read_folds(path):
    return {l.split("\t")[0]: int(l.split("\t")[1]) for l in open(path)}


def metric(p, y):
    keep = y >= 0
    yy = y[keep] == 0
    f = p[keep] >= 0.5
    tp, fp = (f & yy).sum(), (f & ~yy).sum()
    fn, tn = (~f & yy).sum(), (~f & ~yy).sum()
    return tp / max(tp + fn, 1), tp / max(tp + fp, 1), (tp + tn) / max(len(yy), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--feat-dir", required=True, help="falsesig_dump --stage1 output (mhr/, nomhr/)")
    ap.add_argument("--folds", required=True, help="folds.tsv of the stage-1 CV")
    ap.add_argument("--mode", choices=["mhr", "nomhr"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--aug")
    ap.add_argument("--cv", type=int, default=0)
    ap.add_argument("--only-folds", default="", help="comma list: train these folds only")
    ap.add_argument("--final", action="store_true")
    ap.add_argument("--hidden", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--crop", type=int, default=2400, help="training crop, steps (s)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base-probs", help="bench_falsesig --probs dir of the boosted stage 2 (comparison)")
    ap.add_argument("--p2-dir", help="falsesig_dump --stage2 .p2 files (MODE/): residual GRU "
                    "over the boosted stage 2")
    ap.add_argument("--decim", type=int, default=4, help="4 Hz samples per step")
    ap.add_argument("--oof", help="write the python out-of-fold 1 Hz probabilities here (.npz)")
    ap.add_argument("--check-parity", help="bench_falsesig --probs dir of the C run")
    args = ap.parse_args()
    global DECIM
    DECIM = args.decim
    anns = [json.loads(l) for l in open(os.path.join(args.data, "annotations.jsonl"))]
    anns.sort(key=lambda a: a["filename"])
    folds = read_folds(args.folds)
    names = open(os.path.join(args.feat_dir, args.mode, "features_%s.txt" % args.mode)).read().split()
    if args.p2_dir:
        names.append(P2_NAME)
    use_mhr = 1 if args.mode == "mhr" else 0
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    recs, nf = load_all(args, anns, args.mode, folds)
    print("%s: %d sequences, %d steps, loaded in %.0f s" % (
        args.mode, len(recs), sum(len(r["y"]) for r in recs), time.time() - t0), file=sys.stderr)
    if args.check_parity:
        worst, n_rec = 0.0, 0
        for k in range(5):
            path = os.path.join(args.out, "falsesig_gru_%s_fold%d.txt" % (args.mode, k))
            net, mean, sd, masked = load_text(path, nf)
            for r in recs:
                if r["aug"] or r["fold"] != k:
                    continue
                z = predict(net, r["X"], mean, sd, masked)
                p = 1 / (1 + np.exp(-z.astype(np.float64)))
                cp = os.path.join(args.check_parity, r["name"] + ".p")
                if not os.path.exists(cp):
                    continue
                pc = np.fromfile(cp, dtype="<f4")
                n_rec += 1
                pc = pc[::DECIM][:len(p)]
                ok = ~np.isnan(pc) & ~np.isnan(r["X"][:, 0])
                if ok.any():
                    worst = max(worst, float(np.abs(p[ok] - pc[ok]).max()))
        print("C vs torch on %d recordings (each with its fold's model): max |p_C - p_torch| = %.3g"
              % (n_rec, worst))
        return
    oof = {}
    if args.cv:
        for k in range(args.cv):
            if args.only_folds and str(k) not in args.only_folds.split(","):
                continue
            print("fold %d" % k, file=sys.stderr)
            tr = [r for r in recs if r["fold"] != k]
            net, mean, sd, masked = train_model(args, tr, nf, args.seed + k)
            export(os.path.join(args.out, "falsesig_gru_%s_fold%d.txt" % (args.mode, k)), net,
                   mean, sd, masked, names, use_mhr, args.hidden)
            for r in recs:
                if r["fold"] == k and not r["aug"]:
                    oof[r["name"]] = (predict(net, r["X"], mean, sd, masked), r["y"], r["X"][:, 0])
        ps = [1 / (1 + np.exp(-v[0])) for v in oof.values()]
        ys = [v[1] for v in oof.values()]
        p1 = [v[2] for v in oof.values()]
        p, y, q = np.concatenate(ps), np.concatenate(ys), np.concatenate(p1)
        ok = ~np.isnan(q)
        print("python OOF at 1 Hz (GRU):   Se %.4f PPV %.4f acc %.4f" % metric(p[ok], y[ok]))
        print("python OOF at 1 Hz (stage1): Se %.4f PPV %.4f acc %.4f" % metric(q[ok], y[ok]))
        if args.base_probs:
            b = np.concatenate([np.fromfile(os.path.join(args.base_probs, nm + ".p"),
                                            dtype="<f4")[::DECIM] for nm in oof])
            print("python OOF at 1 Hz (boosted stage 2): Se %.4f PPV %.4f acc %.4f"
                  % metric(np.nan_to_num(b[ok]), y[ok]))
        if args.oof:
            np.savez(args.oof, **{k: v[0] for k, v in oof.items()})
    if args.final:
        net, mean, sd, masked = train_model(args, recs, nf, args.seed + 100)
        export(os.path.join(args.out, "falsesig_gru_%s.txt" % args.mode), net, mean, sd, masked,
               names, use_mhr, args.hidden)


def load_text(path, nf):
    """Read a model written by export (for the parity check)."""
    lines = open(path).read().split("\n")
    it = iter(lines)
    hdr = {}
    mats = {}
    for line in it:
        if not line or line == "end":
            continue
        w = line.split()
        if w[0] in ("fm_falsesig_gru", "use_mhr", "decim", "residual", "hidden", "inputs"):
            hdr[w[0]] = int(w[1])
        elif w[0] == "features":
            hdr["features"] = w[2:]
        elif w[0] == "masked":
            hdr["masked"] = [int(v) for v in w[2:]]
        else:
            r = int(w[1])
            mats[w[0]] = np.array([[float(v) for v in next(it).split()] for _ in range(r)],
                                  dtype=np.float32)
    h = hdr["hidden"]
    net = Net(hdr["inputs"], h, residual=bool(hdr["residual"]))
    sd = net.state_dict()
    for d, suf in ((0, ""), (1, "_reverse")):
        sd["gru.weight_ih_l0" + suf] = torch.from_numpy(mats["w_ih%d" % d])
        sd["gru.weight_hh_l0" + suf] = torch.from_numpy(mats["w_hh%d" % d])
        sd["gru.bias_ih_l0" + suf] = torch.from_numpy(mats["b_ih%d" % d][0])
        sd["gru.bias_hh_l0" + suf] = torch.from_numpy(mats["b_hh%d" % d][0])
    sd["out.weight"] = torch.from_numpy(mats["w_out"])
    sd["out.bias"] = torch.from_numpy(mats["b_out"][0])
    net.load_state_dict(sd)
    return net, mats["mean"][0], mats["sd"][0], hdr["masked"]


if __name__ == "__main__":
    main()
