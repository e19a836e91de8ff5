"""Reading the book's layer configuration language (``hconfigs``) with clear errors.

The book (§3.1) writes a network as a list: an ``int`` is a fully connected ('full') layer of
that width; a list ``[kind]`` or ``[kind, {options}]`` is any layer. A list whose first element
is neither a list nor an int is a single layer and is wrapped. Examples::

    [30, 10]                                           # MLP with two ReLU hidden layers
    [['conv', {'ksize': 3, 'chn': 6}], ['max', {'stride': 2}], ...]
    ['batch_normal']                                   # all defaults

:func:`parse_hconfigs` turns that into :class:`LayerConfig` objects and rejects anything the
book would crash on or silently ignore: unknown layer names or options, missing ``ksize`` /
``stride`` / ``chn``, out-of-range values. Shape checks (e.g. a pooling stride that does not
divide the size) happen when the layers are built.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

from .activations import ACTIVATIONS

__all__ = ["LayerConfig", "parse_hconfigs", "LAYER_OPTIONS"]

# kind -> {option: default}; a default of _REQUIRED means the option must be given.
_REQUIRED = object()
LAYER_OPTIONS: dict[str, dict[str, object]] = {
    "full": {"width": _REQUIRED, "actfunc": "relu"},
    "conv": {"ksize": _REQUIRED, "chn": _REQUIRED, "actfunc": "relu"},
    "max": {"stride": _REQUIRED},
    "avg": {"stride": _REQUIRED},
    "dropout": {"keep_prob": 1.0},
    "noise": {"type": "normal", "mean": 0.0, "std": 1.0, "ratio": 1.0},
    # None means "take the value from the profile" (epsilon, exp_ratio)
    "batch_normal": {"rescale": True, "epsilon": None, "exp_ratio": None},
}
_EXAMPLES = {
    "full": "30 or ['full', {'width': 30}]",
    "conv": "['conv', {'ksize': 3, 'chn': 6}]",
    "max": "['max', {'stride': 2}]",
    "avg": "['avg', {'stride': 3}]",
    "dropout": "['dropout', {'keep_prob': 0.6}]",
    "noise": "['noise', {'type': 'normal', 'mean': 0, 'std': 0.01}]",
    "batch_normal": "['batch_normal']",
}


@dataclass(frozen=True)
class LayerConfig:
    """One hidden layer: its ``kind``, options with defaults filled in, and 1-based ``index``."""

    kind: str
    options: dict = field(default_factory=dict)
    index: int = 0

    @property
    def label(self) -> str:
        return f"layer {self.index} ({self.kind!r})"

    def __getitem__(self, key):
        return self.options[key]


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _pair(label: str, key: str, value) -> tuple[int, int]:
    """The book's get_conf_param_2d: a scalar v becomes (v, v); a 2-list stays."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{label}: {key}={value!r} is not allowed; give a positive int "
                         f"or a pair [h, w] of positive ints")
    if min(pair) < 1:
        raise ValueError(f"{label}: {key}={value!r} must be positive")
    return pair


def _check_number(label, key, value, lo=None, hi=None, lo_open=False, allow_eq_hi=True):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"{label}: {key}={value!r} must be a number")
    value = float(value)
    bad = ((lo is not None and (value < lo or (lo_open and value == lo)))
           or (hi is not None and (value > hi or (not allow_eq_hi and value == hi))))
    if bad:
        lo_s = "(" if lo_open else "["
        hi_s = "]" if allow_eq_hi else ")"
        raise ValueError(f"{label}: {key}={value!r} is out of range; allowed {lo_s}{lo}, {hi}{hi_s}")
    return value


def _validate(cfg_kind: str, opts: dict, index: int) -> dict:
    label = f"layer {index} ({cfg_kind!r})"
    allowed = LAYER_OPTIONS[cfg_kind]
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise ValueError(f"{label}: unknown option(s) {unknown}; allowed options for "
                         f"{cfg_kind!r}: {sorted(allowed)} (e.g. {_EXAMPLES[cfg_kind]})")
    out = {}
    for key, default in allowed.items():
        if key in opts:
            out[key] = opts[key]
        elif default is _REQUIRED:
            raise ValueError(f"{label}: missing {key!r}; write it like {_EXAMPLES[cfg_kind]}")
        else:
            out[key] = default
    if "actfunc" in out and out["actfunc"] not in ACTIVATIONS:
        raise ValueError(f"{label}: actfunc={out['actfunc']!r} is unknown; "
                         f"allowed: {', '.join(ACTIVATIONS)}")
    if cfg_kind == "full":
        if not _is_int(out["width"]) or out["width"] < 1:
            raise ValueError(f"{label}: width={out['width']!r} must be a positive int")
    elif cfg_kind == "conv":
        out["ksize"] = _pair(label, "ksize", out["ksize"])
        if not _is_int(out["chn"]) or out["chn"] < 1:
            raise ValueError(f"{label}: chn={out['chn']!r} must be a positive int")
    elif cfg_kind in ("max", "avg"):
        out["stride"] = _pair(label, "stride", out["stride"])
    elif cfg_kind == "dropout":
        out["keep_prob"] = _check_number(label, "keep_prob", out["keep_prob"], 0, 1, lo_open=True)
    elif cfg_kind == "noise":
        if out["type"] != "normal":
            raise ValueError(f"{label}: type={out['type']!r} is not supported; allowed: 'normal'")
        out["mean"] = _check_number(label, "mean", out["mean"])
        out["std"] = _check_number(label, "std", out["std"], 0)
        out["ratio"] = _check_number(label, "ratio", out["ratio"], 0, 1)
    elif cfg_kind == "batch_normal":
        if not isinstance(out["rescale"], bool):
            raise ValueError(f"{label}: rescale={out['rescale']!r} must be True or False")
        if out["epsilon"] is not None:
            out["epsilon"] = _check_number(label, "epsilon", out["epsilon"], 0, lo_open=True)
        if out["exp_ratio"] is not None:
            out["exp_ratio"] = _check_number(label, "exp_ratio", out["exp_ratio"], 0, 1,
                                             lo_open=True)
    return out


def parse_hconfigs(hconfigs) -> list[LayerConfig]:
    """Parse the book's hidden-layer list into validated :class:`LayerConfig` objects.

    Parameters
    ----------
    hconfigs : list
        The book's configuration, e.g. ``[30, 10]`` or ``[['conv', {'ksize': 3, 'chn': 6}]]``.

    Returns
    -------
    list of LayerConfig
        One per hidden layer, ``index`` counting from 1. The output layer is not included.

    Raises
    ------
    ValueError
        Naming the layer, the offending value and what is allowed.
    """
    if hconfigs is None:
        return []
    if not isinstance(hconfigs, (list, tuple)):
        raise ValueError(f"hconfigs must be a list such as [30, 10] or "
                         f"[['conv', {{'ksize': 3, 'chn': 6}}]], got {hconfigs!r}")
    if len(hconfigs) > 0 and not isinstance(hconfigs[0], (list, tuple)) and not _is_int(hconfigs[0]):
        hconfigs = [hconfigs]  # the book's single-layer shorthand
    layers = []
    for i, h in enumerate(hconfigs, start=1):
        if _is_int(h):
            kind, opts = "full", {"width": int(h)}
        elif isinstance(h, (list, tuple)) and len(h) >= 1 and isinstance(h[0], str):
            kind = h[0]
            if kind not in LAYER_OPTIONS:
                raise ValueError(f"layer {i}: unknown layer type {kind!r}; allowed: "
                                 f"{', '.join(LAYER_OPTIONS)}")
            if len(h) > 2:
                raise ValueError(f"layer {i} ({kind!r}): expected [kind] or [kind, {{options}}], "
                                 f"got {list(h)!r}")
            opts = dict(h[1]) if len(h) == 2 else {}
            if len(h) == 2 and not isinstance(h[1], dict):
                raise ValueError(f"layer {i} ({kind!r}): options must be a dict, got {h[1]!r}")
        else:
            raise ValueError(f"layer {i}: {h!r} is not a layer; use an int width or "
                             f"[kind, {{options}}] with kind one of {', '.join(LAYER_OPTIONS)}")
        layers.append(LayerConfig(kind, _validate(kind, opts, i), i))
    return layers
