"""Seconds per epoch of the seven chapter-8 models on the real photos.

Usage::

    FLOWERS_DIR=../shared/data/flowers python benchmarks/bench_models.py [--profile exact|book|both]
        [--epochs 1] [--runs flowers_cnn_1,...]

Each model trains ``--epochs`` full epochs (345 steps of batch 10 on the 3450 training photos)
through ``Model.train``, so the figure includes batch preparation, the per-epoch validation and
everything else a real run pays. Prints a markdown table with s/epoch (the last epoch, and the
slowest one, which shows a slowdown such as denormals in a collapsed run) and ms/step, plus the
overhead of L2 and L1 over the plain MLP.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import time

import numpy as np
from reglab import FlowersDataset, Model
from reglab.pipeline.experiments import CHAPTER8_RUNS


def bench(ds, run, profile, epochs):
    m = Model(dataset=ds, profile=profile, seed=1234, **run.model_kwargs())
    with contextlib.redirect_stdout(io.StringIO()):
        m.train(epochs, 10, 0.001, report=0)
    secs = [h["seconds"] for h in m.history]
    steps = int(ds.train_count / 10)
    return {"last": secs[-1], "max": max(secs), "ms_step": 1000 * secs[-1] / steps,
            "val_acc": m.history[-1]["val_acc"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="both", choices=["book", "exact", "both"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--runs", default="all", help="comma-separated run names, or 'all'")
    a = ap.parse_args(argv)
    profiles = ["exact", "book"] if a.profile == "both" else [a.profile]
    runs = [r for r in CHAPTER8_RUNS if a.runs == "all" or r.name in a.runs.split(",")]
    t = time.perf_counter()
    ds = FlowersDataset([96, 96], [96, 96, 3])
    print(f"data: {ds} from {ds.path} in {time.perf_counter() - t:.2f} s "
          f"({'cache' if ds.from_cache else 'decoded'})")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}, one thread (BLAS pinned to 1)")
    print(f"\n| model | profile | s/epoch | slowest epoch | ms/step | val acc after {a.epochs} ep |")
    print("|---|---|---|---|---|---|")
    results = {}
    for profile in profiles:
        for run in runs:
            r = bench(ds, run, profile, a.epochs)
            results[(run.name, profile)] = r
            print(f"| {run.name} | {profile} | {r['last']:.2f} | {r['max']:.2f} | "
                  f"{r['ms_step']:.2f} | {r['val_acc']:.3f} |", flush=True)
    for profile in profiles:
        base = results.get(("flowers_model_1", profile))
        for name, label in [("flowers_model_2", "L2"), ("flowers_model_3", "L1")]:
            r = results.get((name, profile))
            if base and r:
                print(f"{profile}: {label} adds {100 * (r['last'] / base['last'] - 1):+.1f} % "
                      f"to the MLP epoch")


if __name__ == "__main__":
    main()
