#!/usr/bin/python3
"""Training augmentation for the false-signal detector: copies of the dataset's recordings with
artefacts spliced into stretches the experts marked as true signal.

The experts' marks hold few clean examples of a halved or doubled rate, and a maternal
stretch without the maternal channel is learnt only from the level; spliced examples teach
the model these patterns (CLINICAL 2). Kinds: maternal (FHR1 := MHR where the maternal rate
is at least 20 bpm apart), halved (FHR1 / 2), doubled (FHR1 x 2 when it stays <= 240, else
2 x MHR). 30 s to 5 min each, up to 3 per recording, only in true-signal stretches.

The first 40 recordings (annotation order) are never augmented: tests/test_falsesig.c splices
its artefacts there, so the tests measure what the model learnt, not what it saw.

Writes OUT/<name>.aug.fhrm (FHR1 replaced, all else copied) and OUT/augment.jsonl
({"filename", "orig", "fs_extra": [[a, b], ...]} 1-based inclusive sample intervals).
Usage: augment.py --data FSDATASET --out DIR [--seed 1]
"""
import argparse
import json
import os

import numpy as np

from train import read_fhr1, truth

RESERVED_FOR_TESTS = 40
MIN_LEN, MAX_LEN = 30 * 4, 5 * 60 * 4
APART_BPM = 20.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.RandomState(args.seed)
    os.makedirs(args.out, exist_ok=True)
    anns = [json.loads(l) for l in open(os.path.join(args.data, "annotations.jsonl"))]
    out = open(os.path.join(args.out, "augment.jsonl"), "w")
    kinds = {"maternal": 0, "halved": 0, "doubled": 0}
    for a in anns[RESERVED_FOR_TESTS:]:
        path = os.path.join(args.data, "DopMHR", "Train", a["filename"])
        raw = np.fromfile(path, dtype=np.uint8)
        rec = raw[4:].reshape(-1, 8).copy()
        f1 = read_fhr1(path)
        m = (rec[:, 4].astype(np.uint16) | (rec[:, 5].astype(np.uint16) << 8)) / 4.0
        n = len(f1)
        y = truth(a, n, f1)
        new = f1.copy()
        extra = []
        for _ in range(12):  # a few tries to place up to 3 splices
            if len(extra) >= 3:
                break
            L = rng.randint(MIN_LEN, MAX_LEN + 1)
            if n < L + 2 * 240:
                break
            s = rng.randint(240, n - L - 240)
            seg = slice(s, s + L)
            if (y[seg] == 1).mean() < 0.9 or any(abs(s - e0) < MAX_LEN + 240 for e0, _ in extra):
                continue
            x = f1[seg]
            mm = m[seg]
            kind = ["maternal", "halved", "doubled"][rng.randint(3)]
            v = None
            if kind == "maternal":
                ok = (mm > 0) & (x > 0)
                if ok.mean() > 0.8 and np.abs(x[ok] - mm[ok]).mean() >= APART_BPM:
                    v = mm.copy()
            elif kind == "halved":
                v = x / 2.0
            else:
                xv = x[x > 0]
                if len(xv) and xv.max() * 2 <= 240:
                    v = x * 2.0
                else:
                    ok = (mm > 0) & (x > 0)
                    if ok.mean() > 0.8 and (mm[ok] * 2).max() <= 240 and \
                            np.abs(x[ok] - 2 * mm[ok]).mean() >= APART_BPM:
                        v = mm * 2.0
            if v is None:
                continue
            v = np.where(x > 0, v, 0)  # keep the recording's own gaps
            new[seg] = v
            extra.append((s, s + L - 1))
            kinds[kind] += 1
        if not extra:
            continue
        q = np.round(new * 4).astype(np.uint16)
        rec[:, 0] = (q & 0xFF).astype(np.uint8)
        rec[:, 1] = (q >> 8).astype(np.uint8)
        name = a["filename"].replace(".fhrm", ".aug.fhrm")
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(raw[:4].tobytes())
            f.write(rec.tobytes())
        out.write(json.dumps({"filename": name, "orig": a["filename"],
                              "fs_extra": [[s + 1, e + 1] for s, e in extra]}) + "\n")
    out.close()
    print("augmented splices:", kinds)


if __name__ == "__main__":
    main()
