"""Where a training step's milliseconds go, layer by layer (forward, backward, update).

Usage: python benchmarks/profile_layers.py [--runs flowers_cnn_1,...] [--steps 60] [--profile exact]
    [--batch 10]

One thread, as a run trains. Random uint8 images of the flowers shape stand in for the photos
(timing does not depend on pixel values). Prints the median per layer in ms; ``update`` is
:meth:`reglab.nn.Model.update` (L1/L2 and Adam).
"""

import argparse
import time
from collections import defaultdict

import numpy as np
from reglab import Model
from reglab.data import random_image_dataset
from reglab.pipeline.experiments import CHAPTER8_RUNS
from reglab.nn.losses import softmax_cross_entropy, softmax_cross_entropy_backward
from reglab.nn import single_thread_blas


def profile(run, prof, steps, bs=10):
    ds = random_image_dataset(n=200)
    m = Model(run.name, ds, **{k: v for k, v in run.model_kwargs().items() if k != "name"},
              profile=prof)
    times = defaultdict(list)
    for step in range(steps):
        idx = np.arange(step * bs, (step + 1) * bs) % ds.train_count
        t = time.perf_counter()
        x = m._to_input(ds.tr_xs[idx])
        times["input"].append(time.perf_counter() - t)
        for i, layer in enumerate(m.layers):
            t = time.perf_counter()
            x = layer.forward(x, True)
            times[f"{i:2d} {layer.kind:<12} fwd"].append(time.perf_counter() - t)
        t = time.perf_counter()
        loss, probs = softmax_cross_entropy(x, ds.tr_ys[idx], m.profile.ce_log_epsilon)
        g = softmax_cross_entropy_backward(probs, ds.tr_ys[idx])
        times["loss"].append(time.perf_counter() - t)
        for i in range(len(m.layers) - 1, m._first_param - 1, -1):
            layer = m.layers[i]
            t = time.perf_counter()
            g = layer.backward(g)
            times[f"{i:2d} {layer.kind:<12} bwd"].append(time.perf_counter() - t)
        t = time.perf_counter()
        m.update(0.001)
        times["update"].append(time.perf_counter() - t)
    total = 0.0
    print(f"\n{run.name} ({prof}, batch {bs})")
    for key, v in times.items():
        ms = 1000 * float(np.median(v[5:]))
        total += ms
        print(f"  {key:<22} {ms:7.3f} ms")
    print(f"  {'TOTAL (sum of medians)':<22} {total:7.3f} ms/step  -> {total * 0.345:5.2f} s/epoch")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="flowers_cnn_1")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--profile", default="exact")
    ap.add_argument("--batch", type=int, default=10)
    a = ap.parse_args()
    names = [r.name for r in CHAPTER8_RUNS] if a.runs == "all" else a.runs.split(",")
    with single_thread_blas():
        for run in CHAPTER8_RUNS:
            if run.name in names:
                profile(run, a.profile, a.steps, a.batch)


if __name__ == "__main__":
    main()
