"""What L2 and L1 add to a training step: the three MLPs interleaved in one process.

Usage::

    FLOWERS_DIR=../shared/data/flowers python benchmarks/bench_penalty.py [--rounds 15] [--steps 20]
        [--profile exact] [--parts 1]

flowers_model_1 (no penalty), flowers_model_2 (L2 0.1) and flowers_model_3 (L1 0.01) train in
turn, ``--steps`` steps each per round, for ``--rounds`` rounds (after one warm-up round), on
the same batches of real photos (random photos without ``FLOWERS_DIR``). Interleaving makes
any slow phase of a shared machine hit all three alike, and the order rotates from round to
round, because a model's place in the round can move its time by a few per cent (session 7:
model_1 ran 2 % faster third than first, relative to its round; in a six-model round the
same models ran 3–7 % faster in the second half than in the first). Prints the median ms/step of each
model over the rounds and the penalty's share ``model_k / model_1 − 1`` (median of the
per-round ratios) with their spread (25th–75th percentile) and a 95 % bootstrap confidence
interval of that median (resampled rounds; use more ``--rounds`` to narrow it: on the
reference VM the per-round spread is about ±10 %, so 60 rounds leave about ±3 %).
``--parts K`` also prints the share over K consecutive stretches of the rounds: the cost
depends on how far training has gone (in the exact profile, L2's dying weights make denormal
results late in training, see reglab.step_partner's notes).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from reglab import Model
from reglab.experiments import CHAPTER8_RUNS
from reglab.model import _blas_limit
from reglab.parallel import available_threads


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--profile", default="exact", choices=["exact", "book"])
    ap.add_argument("--parts", type=int, default=1, help="also the share per stretch of rounds")
    a = ap.parse_args(argv)
    if not 1 <= a.parts <= a.rounds:
        ap.error(f"--parts {a.parts}: use 1 to --rounds ({a.rounds})")
    if os.environ.get("FLOWERS_DIR"):
        from reglab import FlowersDataset
        ds = FlowersDataset([96, 96], [96, 96, 3])
    else:
        from reglab.data import random_image_dataset
        ds = random_image_dataset(n=600)
    runs = [r for r in CHAPTER8_RUNS if r.family == "mlp"]
    models = [Model(dataset=ds, profile=a.profile, seed=1, **r.model_kwargs()) for r in runs]
    order = np.random.default_rng(0).permutation(ds.train_count)
    times = np.zeros((a.rounds, len(models)))
    with _blas_limit():
        for rnd in range(a.rounds + 1):
            for k in range(len(models)):       # each model first, second, third in turn
                j = (k + rnd) % len(models)
                m = models[j]
                t = time.perf_counter()
                for i in range(a.steps):
                    idx = order[((rnd * a.steps + i) * 10) % (ds.train_count - 10):][:10]
                    m.train_step(ds.tr_xs[idx], ds.tr_ys[idx], 0.001)
                if rnd:
                    times[rnd - 1, j] = (time.perf_counter() - t) / a.steps * 1e3
    print(f"profile {a.profile}, reglab {available_threads()} threads, {a.rounds} rounds x "
          f"{a.steps} steps per model")
    base = times[:, 0]
    for j, r in enumerate(runs):
        line = f"{r.name:<16} {np.median(times[:, j]):6.2f} ms/step"
        if j:
            ratio = times[:, j] / base
            q1, med, q3 = np.percentile(ratio, [25, 50, 75])
            lo, hi = _median_ci(ratio)
            line += (f"   {r.technique:<22} adds {100 * (med - 1):+5.1f} % "
                     f"[{100 * (q1 - 1):+.1f}, {100 * (q3 - 1):+.1f}]  "
                     f"95 % CI {100 * (lo - 1):+.1f} .. {100 * (hi - 1):+.1f}")
        print(line)
    if a.parts > 1:
        for part in np.array_split(np.arange(a.rounds), a.parts):
            r0, r1 = part[0], part[-1] + 1
            shares = [100 * (np.median(times[r0:r1, j] / base[r0:r1]) - 1)
                      for j in range(1, len(runs))]
            print(f"steps {r0 * a.steps:5d}-{r1 * a.steps:5d}  model_1 "
                  f"{np.median(base[r0:r1]):5.2f} ms  " +
                  "  ".join(f"{runs[j].technique.split()[0]} {sh:+5.1f} %"
                            for j, sh in zip(range(1, len(runs)), shares)))


def _median_ci(x, n_boot=2000, seed=0):
    """95 % bootstrap interval of the median of ``x`` (a seeded Generator: the same output)."""
    rng = np.random.default_rng(seed)
    meds = np.median(rng.choice(x, size=(n_boot, len(x))), axis=1)
    return tuple(np.percentile(meds, [2.5, 97.5]))


if __name__ == "__main__":
    main()
