"""What a trained model's layers do: weights near zero, silent units, batch-norm statistics.

* :func:`weight_share` — the share of weights with ``|w| <= threshold``.
* :func:`inactive_units` — ReLU units that are 0 for every image.
* :func:`activation_stats`, :func:`bn_stats_lines` — per-channel mean and std before and after
  every ``batch_normal`` layer, in evaluation and in training mode, without changing the model.
"""

from __future__ import annotations

import copy

import numpy as np

from ..nn import single_thread_blas

__all__ = ["weight_share", "inactive_units", "activation_stats", "bn_stats_lines"]


def weight_share(weights: np.ndarray, threshold: float) -> float:
    """Share (0-1) of weights with ``|w| <= threshold``."""
    w = np.asarray(weights)
    return float(np.count_nonzero(np.abs(w) <= threshold)) / max(w.size, 1)


def inactive_units(model, xs_u8, layer: int = 0) -> tuple[int, int]:
    """``(inactive, total)``: units of ``model.layers[layer]`` (a ReLU ``full`` layer) whose
    output is 0 for every image in ``xs_u8`` (evaluation mode). Their incoming weights get no
    gradient from the data, only from the L1/L2 penalty."""
    with single_thread_blas():
        x = model._to_input(np.asarray(xs_u8))
        for l in model.layers[:layer + 1]:
            x = l.forward(x, False)
    h = np.asarray(x).reshape(x.shape[0], -1)
    return int(np.count_nonzero(h.max(axis=0) <= 0)), int(h.shape[1])


def activation_stats(model, xs_u8, modes=("eval", "train")) -> list[dict]:
    """Per-channel mean and std of the input and output of every ``batch_normal`` layer.

    The images go through the model's layers in one batch, once per mode: ``"eval"`` uses the
    running averages (what a trained model does at test time), ``"train"`` the batch's own
    statistics (what it does while learning). The model is left exactly as it was: the
    running averages and the random streams of dropout and noise are restored afterwards.

    Parameters
    ----------
    model : reglab.Model
    xs_u8 : ndarray of uint8, shape (N, H, W, 3)
        A batch of photos, e.g. ``dataset.va_xs[:100]``.
    modes : sequence of {"eval", "train"}

    Returns
    -------
    list of dict
        One per (mode, batch-norm layer): ``mode, layer (index in model.layers), bn (1-based
        count), channels, in_mean, in_std, out_mean, out_std`` (arrays per channel), and
        ``running_mean``, ``running_var``, ``scale``, ``shift`` of the layer (copies).
    """
    for mode in modes:
        if mode not in ("eval", "train"):
            raise ValueError(f"mode {mode!r} is not allowed; use 'eval' or 'train'")
    xs_u8 = np.asarray(xs_u8)
    buffers = {id(l): {k: v.copy() for k, v in l.buffers.items()} for l in model.layers}
    rngs = {id(l.rng): (l.rng, copy.deepcopy(l.rng.bit_generator.state))
            for l in model.layers if getattr(l, "rng", None) is not None}
    records = []
    try:
        with single_thread_blas(), np.errstate(over="ignore", invalid="ignore"):
            for mode in modes:
                train = mode == "train"
                x = model._to_input(xs_u8)
                bn = 0
                for i, layer in enumerate(model.layers):
                    if layer.kind != "batch_normal":
                        x = layer.forward(x, train)
                        continue
                    bn += 1
                    rec = {"mode": mode, "layer": i, "bn": bn, "channels": layer.channels,
                           "running_mean": layer.buffers["mavg"].copy(),
                           "running_var": layer.buffers["mvar"].copy(),
                           "scale": (layer.params["scale"].copy() if "scale" in layer.params
                                     else np.ones(layer.channels)),
                           "shift": (layer.params["shift"].copy() if "shift" in layer.params
                                     else np.zeros(layer.channels))}
                    rows = np.asarray(layer._rows(x), dtype=np.float64)
                    rec["in_mean"], rec["in_std"] = rows.mean(axis=1), rows.std(axis=1)
                    x = layer.forward(x, train)
                    rows = np.asarray(layer._rows(x), dtype=np.float64)
                    rec["out_mean"], rec["out_std"] = rows.mean(axis=1), rows.std(axis=1)
                    records.append(rec)
                # a training-mode pass moves the running averages: the next mode starts from
                # the model's own
                _restore_buffers(model, buffers)
    finally:
        _restore_buffers(model, buffers)
        for rng, state in rngs.values():
            rng.bit_generator.state = state
    return records


def _restore_buffers(model, buffers: dict) -> None:
    """Write the copies ``{id(layer): {name: array}}`` back into the layers' buffers."""
    for layer in model.layers:
        for k, v in buffers[id(layer)].items():
            layer.buffers[k][...] = v


def bn_stats_lines(records: list[dict]) -> list[str]:
    """Korean summary lines of :func:`activation_stats` records: ranges over the channels."""
    def rng(a):
        return f"{np.min(a):.2f}~{np.max(a):.2f}"

    lines = []
    by_layer: dict = {}
    for r in records:
        by_layer.setdefault(r["bn"], {})[r["mode"]] = r
    for b in sorted(by_layer):
        modes = by_layer[b]
        src = modes.get("train") or modes.get("eval")
        parts = [(f"배치 정규화 {b} (채널 {src['channels']}개): 입력 평균 {rng(src['in_mean'])}, "
                  f"표준편차 {rng(src['in_std'])}")]
        for mode, name in (("train", "학습 모드"), ("eval", "평가 모드")):
            if mode in modes:
                r = modes[mode]
                parts.append(f"{name} 출력 평균 {rng(r['out_mean'])}, 표준편차 {rng(r['out_std'])}")
        lines.append(" | ".join(parts))
    return lines
