#!/usr/bin/python3
"""Render the CTG analyses written by bench_ctg (bench/out/ctg/*.json) to PNG for review.

Each trace is drawn in rows of 20 min on the clinical scale (50-210 bpm, shaded 110-160 band,
CLINICAL 6): FHR in black (gaps stay gaps), visual baseline in blue, fitted (Oxford) baseline in
dashed orange, planted truth in green for synthetic traces; accelerations shaded green (darker
for the FIGO 15/15 class), decelerations shaded red (with lost beats), sinusoidal stretches
purple, high/low variation episodes as bars under the trace.
Usage: /usr/bin/python3 bench/plot_ctg.py [DIR] [--only NAME ...]   (Debian python3-matplotlib)"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROW_MIN = 20.0


def series(v):
    return [math.nan if x is None else x for x in v]


def plot(path, out):
    with open(path) as f:
        d = json.load(f)
    fhr = series(d["fhr"])
    n = len(fhr)
    t = [i / 4.0 / 60.0 for i in range(n)]
    dur = n / 4.0 / 60.0
    rows = max(1, int(math.ceil(dur / ROW_MIN)))
    rows = min(rows, 24)  # very long records: first 8 hours
    fig, axes = plt.subplots(rows, 1, figsize=(16, 2.6 * rows), squeeze=False)
    for r in range(rows):
        ax = axes[r][0]
        a, b = r * ROW_MIN, (r + 1) * ROW_MIN
        i0, i1 = int(a * 240), min(n, int(b * 240))
        ax.axhspan(110, 160, color="0.93", zorder=0)
        for ev in d["accelerations"]:
            if ev["end_s"] / 60 > a and ev["start_s"] / 60 < b:
                ax.axvspan(ev["start_s"] / 60, ev["end_s"] / 60,
                           color="tab:green", alpha=0.35 if ev["figo"] else 0.12, lw=0)
        for ev in d["decelerations"]:
            if ev["end_s"] / 60 > a and ev["start_s"] / 60 < b:
                ax.axvspan(ev["start_s"] / 60, ev["end_s"] / 60, color="tab:red", alpha=0.25,
                           lw=0)
                ax.text(ev["peak_s"] / 60, 55, "%.0f" % ev["lost_beats"], fontsize=7,
                        color="tab:red", ha="center")
        for s, e in d["sinusoidal"]:
            if e / 60 > a and s / 60 < b:
                ax.axvspan(s / 60, e / 60, ymin=0.92, ymax=1.0, color="tab:purple", alpha=0.6)
        for key, col in (("high", "tab:blue"), ("low", "tab:gray")):
            for s, e in d[key]:
                if e / 60 > a and s / 60 < b:
                    ax.plot([s / 60, e / 60], [52, 52], color=col, lw=4, solid_capstyle="butt")
        ax.plot(t[i0:i1], fhr[i0:i1], color="black", lw=0.6)
        if "truth_baseline" in d:
            ax.plot(t[i0:i1], series(d["truth_baseline"])[i0:i1], color="tab:green", lw=1.2)
        ax.plot(t[i0:i1], series(d["baseline_fitted"])[i0:i1], color="tab:orange", lw=1.0,
                ls="--")
        ax.plot(t[i0:i1], series(d["baseline"])[i0:i1], color="tab:blue", lw=1.4)
        ax.set_xlim(a, b)
        ax.set_ylim(50, 210)
        ax.set_yticks(range(50, 211, 20))
        ax.grid(True, lw=0.3)
        ax.set_ylabel("bpm")
    axes[0][0].set_title("%s  (%.0f min)  %s" % (d["name"], dur, d["summary"]), fontsize=10)
    axes[-1][0].set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main():
    args = sys.argv[1:]
    only = []
    if "--only" in args:
        k = args.index("--only")
        only = args[k + 1:]
        args = args[:k]
    d = args[0] if args else "bench/out/ctg"
    names = sorted(f for f in os.listdir(d) if f.endswith(".json"))
    for f in names:
        stem = f[:-5]
        if only and stem not in only:
            continue
        plot(os.path.join(d, f), os.path.join(d, stem + ".png"))
        print(os.path.join(d, stem + ".png"))


if __name__ == "__main__":
    main()
