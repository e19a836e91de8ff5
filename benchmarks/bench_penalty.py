"""What L2 and L1 add to a training step: the three MLPs interleaved in one process.

Usage::

    FLOWERS_DIR=../shared/data/flowers python benchmarks/bench_penalty.py [--rounds 15] [--steps 20]
        [--profile exact] [--parts 1]

flowers_model_1 (no penalty), flowers_model_2 (L2 0.1) and flowers_model_3 (L1 0.01) train in
turn, ``--steps`` steps each per round, for ``--rounds`` rounds (after one warm-up round), on
the same batches of real photos (random photos without ``FLOWERS_DIR``). Interleaving makes
any slow phase of a shared machine hit all three alike, and the order rotates from round to
round, because a model's place in the round can move its time by a few per cent. Prints the median ms/step of each
model over the rounds and the penalty's share ``model_k / model_1 − 1`` (median of the
per-round ratios) with their spread (25th–75th percentile) and a 95 % bootstrap confidence
interval of that median (resampled rounds; use more ``--rounds`` to narrow it).
``--parts K`` also prints the share over K consecutive stretches of the rounds: the cost
depends on how far training has gone (in the exact profile, L2 decays dead units' weights
towards the denormals late in training).

``--torch`` then trains the same three MLPs in PyTorch CPU (``pip install torch==2.13.0``), in
a rotation of their own, with the penalties written as ``bench_vs_torch.py`` writes them (terms
of the loss, differentiated by autograd), plus flowers_model_2 with L2 as PyTorch's
``Adam(weight_decay=0.1)`` on the weights (no cost term), and prints PyTorch's shares the same
way: what the same penalty costs in the reference framework.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
from reglab import Model
from reglab.pipeline.experiments import CHAPTER8_RUNS
from reglab.nn import single_thread_blas


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--profile", default="exact", choices=["exact", "book"])
    ap.add_argument("--parts", type=int, default=1, help="also the share per stretch of rounds")
    ap.add_argument("--torch", action="store_true",
                    help="also PyTorch's share for the same models (needs torch)")
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
    order = np.random.default_rng(0).permutation(ds.train_count)
    times = _rotate([_reglab_trainer(Model(dataset=ds, profile=a.profile, seed=1,
                                           **r.model_kwargs()), ds) for r in runs],
                    order, ds.train_count, a.rounds, a.steps)
    print(f"profile {a.profile}, reglab 1 thread, {a.rounds} rounds x "
          f"{a.steps} steps per model")
    _report(runs, times, "")
    if a.torch:                    # afterwards, in a rotation of its own (see _rotate)
        import torch
        t_times = _rotate([_torch_trainer(r, ds) for r in runs]
                          + [_torch_trainer(runs[1], ds, weight_decay=True)],
                          order, ds.train_count, a.rounds, a.steps)
        print(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads), penalties in "
              "the loss:")
        _report(runs, t_times[:, :len(runs)], "torch ")
        print(f"torch {runs[1].name:<16} {np.median(t_times[:, -1]):6.2f} ms/step   "
              f"{'L2 as Adam(weight_decay)':<22} " + _share(t_times[:, -1] / t_times[:, 0]))
    base = times[:, 0]
    if a.parts > 1:
        for part in np.array_split(np.arange(a.rounds), a.parts):
            r0, r1 = part[0], part[-1] + 1
            shares = [100 * (np.median(times[r0:r1, j] / base[r0:r1]) - 1)
                      for j in range(1, len(runs))]
            print(f"steps {r0 * a.steps:5d}-{r1 * a.steps:5d}  model_1 "
                  f"{np.median(base[r0:r1]):5.2f} ms  " +
                  "  ".join(f"{runs[j].technique.split()[0]} {sh:+5.1f} %"
                            for j, sh in zip(range(1, len(runs)), shares)))


def _rotate(trainers, order, n_train, rounds, steps):
    """ms/step of each trainer per round, ``(rounds, len(trainers))``, after a warm-up round;
    the trainers take turns, the order rotating from round to round. (Each library gets its own
    rotation: with PyTorch's models in the same rounds, whatever runs after a PyTorch model is
    slowed alike, which hides reglab's shares.)"""
    times = np.zeros((rounds, len(trainers)))
    for rnd in range(rounds + 1):
        for k in range(len(trainers)):         # each model first, second, third in turn
            j = (k + rnd) % len(trainers)
            batches = [order[((rnd * steps + i) * 10) % (n_train - 10):][:10]
                       for i in range(steps)]
            ms = trainers[j](batches)
            if rnd:
                times[rnd - 1, j] = ms
    return times


def _reglab_trainer(model, ds):
    """``train(batches) -> ms/step`` for a reglab model."""
    def train(batches):
        with single_thread_blas():            # as reglab's runner trains
            t = time.perf_counter()
            for idx in batches:
                model.train_step(ds.tr_xs[idx], ds.tr_ys[idx], 0.001)
            return (time.perf_counter() - t) / len(batches) * 1e3
    return train


def _torch_trainer(run, ds, weight_decay=False):
    """The same, for the run's model in PyTorch (as ``bench_vs_torch.py`` trains it); the
    batches are converted to tensors before the clock starts. ``weight_decay``: L2 by
    PyTorch's Adam on the weights instead (``g + λ2 w`` before the moments, as in reglab's
    exact profile; the reported loss then lacks the term)."""
    import torch
    from bench_vs_torch import torch_model, torch_train_step

    net = torch_model(run, torch)
    net.train()
    weights = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() > 1]
    if weight_decay:
        others = [p for p in net.parameters() if all(p is not w for w in weights)]
        opt = torch.optim.Adam([{"params": weights, "weight_decay": run.l2_decay},
                                {"params": others}], lr=1e-3)
        run = dataclasses.replace(run, l2_decay=0.0)        # not in the loss as well
    else:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train(batches):
        xs = [torch.from_numpy(ds.tr_xs[b].transpose(0, 3, 1, 2).astype(np.float32) / 255)
              for b in batches]
        ys = [torch.from_numpy(ds.tr_ys[b]) for b in batches]
        t = time.perf_counter()
        for x, y in zip(xs, ys):
            torch_train_step(net, opt, loss_fn, weights, run, x, y)
        return (time.perf_counter() - t) / len(batches) * 1e3
    return train


def _report(runs, times, prefix):
    """One line per model: median ms/step and, for the penalties, their share (see above)."""
    base = times[:, 0]
    for j, r in enumerate(runs):
        line = f"{prefix}{r.name:<16} {np.median(times[:, j]):6.2f} ms/step"
        if j:
            line += f"   {r.technique:<22} " + _share(times[:, j] / base)
        print(line)


def _share(ratio):
    """``adds +x %`` (median of the per-round ratios), its quartiles and 95 % interval."""
    q1, med, q3 = np.percentile(ratio, [25, 50, 75])
    lo, hi = _median_ci(ratio)
    return (f"adds {100 * (med - 1):+5.1f} % [{100 * (q1 - 1):+.1f}, {100 * (q3 - 1):+.1f}]  "
            f"95 % CI {100 * (lo - 1):+.1f} .. {100 * (hi - 1):+.1f}")


def _median_ci(x, n_boot=2000, seed=0):
    """95 % bootstrap interval of the median of ``x`` (a seeded Generator: the same output)."""
    rng = np.random.default_rng(seed)
    meds = np.median(rng.choice(x, size=(n_boot, len(x))), axis=1)
    return tuple(np.percentile(meds, [2.5, 97.5]))


if __name__ == "__main__":
    main()
