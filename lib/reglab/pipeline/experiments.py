"""The seven runs of the seed report (chapter 8), as data.

The configurations are the seed report's, verbatim in the book's configuration language. The
``seed_report`` numbers are what the student report printed (test accuracy, train seconds), kept
for comparison only; nothing computes with them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

__all__ = ["RunSpec", "CHAPTER8_RUNS", "get_run", "CNN_BASE"]

CNN_BASE = [['conv', {'ksize': 3, 'chn': 6}],
            ['max', {'stride': 2}],
            ['conv', {'ksize': 3, 'chn': 12}],
            ['max', {'stride': 2}],
            ['conv', {'ksize': 3, 'chn': 24}],
            ['avg', {'stride': 3}]]


def _with_dropout(base):
    out = []
    for h in base:
        out.append(h)
        if h[0] in ("max", "avg"):
            out.append(['dropout', {'keep_prob': 0.6}])
    return out


def _before_conv(base, layer):
    out = []
    for h in base:
        if h[0] == "conv":
            out.append(copy.deepcopy(layer))
        out.append(h)
    return out


@dataclass(frozen=True)
class RunSpec:
    """One run: model name, hidden layers, decays, the technique's Korean label, seed results."""

    name: str
    hconfigs: list
    l2_decay: float = 0.0
    l1_decay: float = 0.0
    technique: str = "없음"
    family: str = "mlp"
    seed_report: dict = field(default_factory=dict)

    def model_kwargs(self) -> dict:
        return {"name": self.name, "hconfigs": copy.deepcopy(self.hconfigs),
                "l2_decay": self.l2_decay, "l1_decay": self.l1_decay}


CHAPTER8_RUNS = [
    RunSpec("flowers_model_1", [30, 10], technique="없음", family="mlp",
            seed_report={"test_acc": 0.311, "train_secs": 154, "near_zero": 192}),
    RunSpec("flowers_model_2", [30, 10], l2_decay=0.1, technique="L2 정규화 (λ=0.1)", family="mlp",
            seed_report={"test_acc": 0.232, "train_secs": 527, "near_zero": 343}),
    RunSpec("flowers_model_3", [30, 10], l1_decay=0.01, technique="L1 정규화 (λ=0.01)",
            family="mlp", seed_report={"test_acc": 0.232, "train_secs": 543, "near_zero": 600000}),
    RunSpec("flowers_cnn_1", CNN_BASE, technique="없음", family="cnn",
            seed_report={"test_acc": 0.649, "train_secs": 692}),
    RunSpec("flowers_cnn_2", _with_dropout(CNN_BASE), technique="드롭아웃 (keep_prob=0.6)",
            family="cnn", seed_report={"test_acc": 0.557, "train_secs": 823}),
    RunSpec("flowers_cnn_3",
            _before_conv(CNN_BASE, ['noise', {'type': 'normal', 'mean': 0, 'std': 0.01}]),
            technique="잡음 주입 (std=0.01)", family="cnn",
            seed_report={"test_acc": 0.613, "train_secs": 890}),
    RunSpec("flowers_cnn_4", _before_conv(CNN_BASE, ['batch_normal']), technique="배치 정규화",
            family="cnn", seed_report={"test_acc": 0.530, "train_secs": 688}),
]


def get_run(name: str) -> RunSpec:
    """The :class:`RunSpec` called ``name``; ValueError listing the known names otherwise."""
    for run in CHAPTER8_RUNS:
        if run.name == name:
            return run
    raise ValueError(f"unknown run {name!r}; known runs: {', '.join(r.name for r in CHAPTER8_RUNS)}")
