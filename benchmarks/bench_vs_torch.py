"""reglab against PyTorch CPU on the chapter's own workload, in one process.

Usage::

    pip install torch==2.13.0          # optional, for this benchmark only
    FLOWERS_DIR=../shared/data/flowers python benchmarks/bench_vs_torch.py [--steps 60] [--rounds 3]

For each of the seven models, the same shapes (96×96×3 photos, batch 10, Adam lr 1e-3, float32,
inputs scaled to [0, 1], L2/L1 as penalties in the loss like reglab's exact profile) train the
same number of steps on the same batches of real photos, alternating reglab / torch / reglab /
torch in chunks of ``--steps`` steps. A model's figure is the median ms/step over its chunks
(after one warm-up chunk each). Prints one line per model, then ``total ratio reglab/torch``
(sum of reglab ms/step over the sum of torch ms/step, i.e. the ratio of the seven runs' time).

Both libraries train on one thread here (``--threads``, default 1): reglab trains a run in one
process on one core, with BLAS pinned to one thread, and uses a machine's other cores by
running several runs at once; the fair per-run comparison gives torch one thread too.
``--threads 0`` leaves torch at its own default.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from reglab import FlowersDataset, Model
from reglab.pipeline.experiments import CHAPTER8_RUNS
from reglab.nn import single_thread_blas


def torch_model(run, torch):
    nn = torch.nn

    class Noise(nn.Module):
        def __init__(self, std):
            super().__init__()
            self.std = std

        def forward(self, x):
            return x + torch.randn_like(x) * self.std if self.training else x

    if run.family == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(27648, 30), nn.ReLU(), nn.Linear(30, 10),
                             nn.ReLU(), nn.Linear(10, 5))
    layers, ch = [], 3
    for kind, opts in (h if len(h) == 2 else (h[0], {}) for h in run.hconfigs):
        if kind == "conv":
            layers += [nn.Conv2d(ch, opts["chn"], opts["ksize"], padding="same"), nn.ReLU()]
            ch = opts["chn"]
        elif kind == "max":
            layers.append(nn.MaxPool2d(opts["stride"]))
        elif kind == "avg":
            layers.append(nn.AvgPool2d(opts["stride"]))
        elif kind == "dropout":
            layers.append(nn.Dropout(1 - opts["keep_prob"]))
        elif kind == "noise":
            layers.append(Noise(opts["std"]))
        elif kind == "batch_normal":
            layers.append(nn.BatchNorm2d(ch))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(24 * 8 * 8, 5))


def torch_train_step(net, opt, loss_fn, weights, run, x, y) -> None:
    """One PyTorch training step, with the run's L2/L1 as terms of the loss (as reglab's exact
    profile reports them), differentiated by autograd."""
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(net(x), y)
    if run.l2_decay:
        loss = loss + run.l2_decay / 2 * sum((w * w).sum() for w in weights)
    if run.l1_decay:
        loss = loss + run.l1_decay * sum(w.abs().sum() for w in weights)
    loss.backward()
    opt.step()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=60, help="steps per timed chunk")
    ap.add_argument("--rounds", type=int, default=3, help="timed chunks per library and model")
    ap.add_argument("--runs", default="all")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch's threads (default 1, as reglab; 0: torch's own default)")
    a = ap.parse_args(argv)
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)

    ds = FlowersDataset([96, 96], [96, 96, 3])
    rng = np.random.default_rng(0)
    n_batches = (a.rounds + 1) * a.steps
    order = rng.permutation(ds.train_count)
    batches = [order[(i * 10) % (ds.train_count - 10):][:10] for i in range(n_batches)]
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          "reglab 1 thread; "
          f"{a.rounds} x {a.steps} timed steps per library and model")
    tot_r = tot_t = 0.0
    for run in CHAPTER8_RUNS:
        if a.runs != "all" and run.name not in a.runs.split(","):
            continue
        m = Model(dataset=ds, profile="exact", seed=1, **run.model_kwargs())
        tm = torch_model(run, torch)
        tm.train()
        opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        weights = [p for n, p in tm.named_parameters() if n.endswith("weight") and p.dim() > 1]
        xs_t = [torch.from_numpy(ds.tr_xs[b].transpose(0, 3, 1, 2).astype(np.float32) / 255)
                for b in batches]
        ys_t = [torch.from_numpy(ds.tr_ys[b]) for b in batches]
        loss_fn = torch.nn.CrossEntropyLoss()

        def reglab_chunk(k):
            t = time.perf_counter()
            with single_thread_blas():
                for i in range(k * a.steps, (k + 1) * a.steps):
                    m.train_step(ds.tr_xs[batches[i]], ds.tr_ys[batches[i]], 0.001)
            return (time.perf_counter() - t) / a.steps

        def torch_chunk(k):
            t = time.perf_counter()
            for i in range(k * a.steps, (k + 1) * a.steps):
                torch_train_step(tm, opt, loss_fn, weights, run, xs_t[i], ys_t[i])
            return (time.perf_counter() - t) / a.steps

        r_times, t_times = [], []
        for k in range(a.rounds + 1):         # chunk 0 is the warm-up
            r = reglab_chunk(k)
            t = torch_chunk(k)
            if k:
                r_times.append(r)
                t_times.append(t)
        r_ms, t_ms = 1000 * np.median(r_times), 1000 * np.median(t_times)
        tot_r += r_ms
        tot_t += t_ms
        print(f"{run.name:<16} reglab {r_ms:6.2f} ms/step   torch {t_ms:6.2f} ms/step   "
              f"ratio {r_ms / t_ms:4.2f}", flush=True)
    print(f"total ratio reglab/torch = {tot_r / tot_t:.2f}")


if __name__ == "__main__":
    main()
