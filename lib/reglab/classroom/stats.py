"""What a trained model's layers do: weights near zero, silent units, batch-norm statistics.

* :func:`weight_share` — the share of weights with ``|w| <= threshold``.
* :func:`inactive_units` — ReLU units that are 0 for every image; :func:`live_weight_share` —
  the near-zero share among the weights into live units and among all of a layer's weights.
* :func:`activation_stats`, :func:`bn_stats_lines` — per-channel mean and std before and after
  every ``batch_normal`` layer, in evaluation and in training mode, without changing the model.
* :func:`accuracy_by_mode` — accuracy with dropout and noise on (training mode) and off
  (evaluation mode), without changing the model; :func:`outputs_by_mode` — one photo's class
  probabilities, once in evaluation mode and several times in training mode.
* :func:`layer_inputs` — the values one layer receives (evaluation mode), for a histogram.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np

from ..nn import single_thread_blas

__all__ = ["weight_share", "inactive_units", "live_weight_share", "activation_stats",
           "bn_stats_lines", "accuracy_by_mode", "outputs_by_mode", "layer_inputs"]


def weight_share(weights: np.ndarray, threshold: float) -> float:
    """Share (0-1) of weights with ``|w| <= threshold``."""
    w = np.asarray(weights)
    return float(np.count_nonzero(np.abs(w) <= threshold)) / max(w.size, 1)


def inactive_units(model, xs_u8, layer: int = 0) -> tuple[int, int]:
    """``(inactive, total)``: units of ``model.layers[layer]`` (a ReLU ``full`` layer) whose
    output is 0 for every image in ``xs_u8`` (evaluation mode). Their incoming weights get no
    gradient from the data, only from the L1/L2 penalty."""
    silent = _silent_units(model, xs_u8, layer)
    return int(np.count_nonzero(silent)), int(silent.size)


def _silent_units(model, xs_u8, layer: int) -> np.ndarray:
    """Boolean mask of the units of ``model.layers[layer]`` that are 0 for every image."""
    with single_thread_blas():
        x = model._to_input(np.asarray(xs_u8))
        for l in model.layers[:layer + 1]:
            x = l.forward(x, False)
    h = np.asarray(x).reshape(x.shape[0], -1)
    return h.max(axis=0) <= 0


def live_weight_share(model, xs_u8, threshold: float, layer: int = 0) -> dict:
    """Share of ``|w| <= threshold`` among the incoming weights of ``model.layers[layer]`` (a
    ``full`` layer), split by whether the unit they feed is live or silent on ``xs_u8``.

    Weights into silent units get no gradient from the data, only from the penalty, so they
    shrink towards 0 under L1 and L2 alike; the share among live units shows what the penalty
    does to weights that the model uses.

    Returns
    -------
    dict
        ``live`` and ``all`` (shares 0-1; ``live`` is nan when no unit is live), ``live_units``,
        ``units``.
    """
    silent = _silent_units(model, xs_u8, layer)
    w = np.asarray(model.layers[layer].params["w"])
    w = w.reshape(-1, silent.size)
    live = w[:, ~silent]
    return {"live": weight_share(live, threshold) if live.size else float("nan"),
            "all": weight_share(w, threshold), "live_units": int((~silent).sum()),
            "units": int(silent.size)}


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
    records = []
    with _unchanged(model) as buffers, np.errstate(over="ignore", invalid="ignore"):
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
    return records


@contextlib.contextmanager
def _unchanged(model):
    """Run forward passes in training mode and leave ``model`` exactly as it was: the layers'
    buffers (batch-norm running averages) and random streams (dropout, noise) are restored.
    Yields the copies of the buffers ``{id(layer): {name: array}}``."""
    buffers = {id(l): {k: v.copy() for k, v in l.buffers.items()} for l in model.layers}
    rngs = {id(l.rng): (l.rng, copy.deepcopy(l.rng.bit_generator.state))
            for l in model.layers if getattr(l, "rng", None) is not None}
    try:
        with single_thread_blas():
            yield buffers
    finally:
        _restore_buffers(model, buffers)
        for rng, state in rngs.values():
            rng.bit_generator.state = state


def accuracy_by_mode(model, xs_u8, labels, repeats: int = 5) -> dict:
    """Accuracy of ``model`` on ``xs_u8`` in evaluation mode and in training mode.

    Training mode is what the training curves measure: dropout masks and noise are drawn
    (``repeats`` times, averaged) and batch-norm layers use the batch's statistics. The model is
    left exactly as it was (running averages and random streams restored, as in
    :func:`activation_stats`).

    Returns
    -------
    dict
        ``{"eval": accuracy, "train": mean accuracy over the repeats}``.
    """
    xs_u8, labels = np.asarray(xs_u8), np.asarray(labels)
    with _unchanged(model):
        x = model._to_input(xs_u8)
        ev = float(np.mean(np.argmax(model.forward(x, False), axis=1) == labels))
        tr = [float(np.mean(np.argmax(model.forward(x, True), axis=1) == labels))
              for _ in range(max(int(repeats), 1))]
    return {"eval": ev, "train": float(np.mean(tr))}


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def outputs_by_mode(model, photo_u8, repeats: int = 5) -> dict:
    """Class probabilities of ONE photo, once in evaluation mode and ``repeats`` times in
    training mode (a new dropout mask or noise draw each time).

    Parameters
    ----------
    model : reglab.Model
    photo_u8 : ndarray, shape (H, W, 3) or (1, H, W, 3)
        The photo as the dataset stores it.
    repeats : int
        Forward passes in training mode.

    Returns
    -------
    dict
        ``{"eval": (K,), "train": (repeats, K)}`` softmax probabilities. The model is left
        exactly as it was.

    Notes
    -----
    Evaluation mode is deterministic: the same photo always gives the same output. In training
    mode dropout keeps each unit with probability ``keep_prob`` and scales by ``1/keep_prob``,
    so every pass gives a different output whose mean is close to the evaluation output.
    """
    x_u8 = np.asarray(photo_u8)
    if x_u8.ndim == 3:
        x_u8 = x_u8[None]
    with _unchanged(model):
        x = model._to_input(x_u8)
        ev = _softmax(model.forward(x, False))[0]
        tr = np.stack([_softmax(model.forward(x, True))[0] for _ in range(max(int(repeats), 1))])
    return {"eval": ev, "train": tr}


def layer_inputs(model, xs_u8, kind: str = "conv", index: int = -1) -> np.ndarray:
    """Every value that the ``index``-th layer of kind ``kind`` (e.g. the last ``"conv"``)
    receives for ``xs_u8`` in evaluation mode, as one flat float64 array.

    Evaluation mode leaves the model unchanged (no running averages move, no random draws).
    """
    positions = [i for i, l in enumerate(model.layers) if l.kind == kind]
    if not positions:
        raise ValueError(f"the model has no {kind!r} layer")
    stop = positions[index]
    with single_thread_blas():
        x = model._to_input(np.asarray(xs_u8))
        for layer in model.layers[:stop]:
            x = layer.forward(x, False)
    return np.asarray(x, dtype=np.float64).ravel()


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
