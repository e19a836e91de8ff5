"""Profiles: the book code's behaviour and the textbook behaviour, one field per difference.

A :class:`Profile` gathers every place where the book's code (『파이썬 날코딩으로 알고 짜는
딥러닝』, chapters 5–8) departs from textbook math. Each field names the erratum it stands for
(E1–E9, the ids the report's section "교재 코드와의 차이" explains; ``Profile.describe()`` lists
them). Layers and the model read fields of the profile; nothing compares profile
names, so a single switch can be flipped for an ablation::

    from reglab.profile import BOOK
    ablation = BOOK.replace(input_scale=1 / 255)      # E8 only

Notes
-----
Batch-norm running statistics follow ``m <- m + r (batch_stat - m)``. With the book's
``r = 0.001`` (momentum 0.999) and no bias correction the statistics move only about half way to
their true values in 690 steps (E5). The exact profile uses ``r = 0.1`` (momentum 0.9, PyTorch's
default), which is within 1e-4 of a stationary target after 90 steps, and the unbiased batch
variance ``var * m / (m - 1)`` for the running variance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

__all__ = ["Profile", "BOOK", "EXACT", "get_profile", "PROFILES"]

_CHOICES = {
    "decay_placement": ("after_optimizer", "gradient"),
    "bn_backward": ("simplified", "full"),
    "bn_affine_update": ("sgd", "optimizer"),
    "bn_running_var": ("biased", "unbiased"),
    "noise_decision": ("batch", "sample"),
}


def _f(erratum: str, doc: str, **kw):
    return field(metadata={"erratum": erratum, "doc": doc}, **kw)


@dataclass(frozen=True)
class Profile:
    """One consistent set of numerical rules for a run.

    Every field below except ``name`` is one documented difference between the book's code and
    textbook math; ``Profile.describe()`` lists them with their erratum ids.
    """

    name: str
    input_scale: float = _f(
        "E8", "Pixel scale: 1.0 keeps the book's raw 0-255 values, 1/255 maps them to [0, 1].")
    reg_cost_scaled: bool = _f(
        "E1/E2", "Multiply the L2 cost (1/2)Σw² by λ2 and the L1 cost Σ|w| by λ1 "
        "(the book adds both without λ, so only the printed cost changes).")
    decay_placement: str = _f(
        "E3", "'after_optimizer': λ2·w + λ1·sign(w) is added to the Adam step (decoupled, "
        "AdamW-like, the book); 'gradient': it is added to the gradient before Adam, so the "
        "update follows the gradient of the reported loss.")
    bn_backward: str = _f(
        "E4", "'simplified': dx = γ·dy/σ (μ and σ treated as constants, the book); "
        "'full': dx = (γ/σ)(dy − mean(dy) − x̂·mean(dy·x̂)).")
    bn_affine_update: str = _f(
        "E4", "'sgd': batch-norm scale/shift updated by plain SGD (the book); "
        "'optimizer': by the model's optimizer (Adam) like every other parameter.")
    bn_exp_ratio: float = _f(
        "E5", "Running-statistics rate r in m ← m + r(stat − m); book 0.001, exact 0.1.")
    bn_running_var: str = _f(
        "E5", "'biased': running variance from np.var (the book); 'unbiased': × m/(m−1).")
    bn_epsilon: float = _f(
        "E5", "ε in σ = sqrt(var + ε); book 1e-10, exact 1e-5.")
    validation_samples: int = _f(
        "E9", "Images scored per validation: 100 drawn afresh each time (the book) or 0 for "
        "the whole validation split.")
    noise_decision: str = _f(
        "E7", "'batch': one Bernoulli(ratio) draw decides noise for the whole minibatch "
        "(the book); 'sample': one draw per sample.")
    ce_log_epsilon: float = _f(
        "§1.6", "Cross entropy as -Σ y log(softmax + ε) with the book's ε = 1e-10, or 0 for the "
        "exact log-softmax.")
    init_std: float = _f(
        "§2.1", "Standard deviation of the N(0, σ) weights and kernels (0.03 in both profiles).",
        default=0.03)

    def __post_init__(self):
        for key, allowed in _CHOICES.items():
            value = getattr(self, key)
            if value not in allowed:
                raise ValueError(
                    f"Profile {self.name!r}: {key}={value!r} is not allowed; use one of {allowed}")
        if not self.input_scale > 0:
            raise ValueError(f"Profile {self.name!r}: input_scale must be > 0, got {self.input_scale}")
        if not 0 < self.bn_exp_ratio <= 1:
            raise ValueError(
                f"Profile {self.name!r}: bn_exp_ratio must be in (0, 1], got {self.bn_exp_ratio}")
        if self.validation_samples < 0:
            raise ValueError(f"Profile {self.name!r}: validation_samples must be >= 0 "
                             f"(0 = whole split), got {self.validation_samples}")

    def replace(self, name: str | None = None, **changes) -> "Profile":
        """A copy with some fields changed; the default name records the changes."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown profile field(s) {sorted(unknown)}; "
                             f"known: {[f.name for f in fields(self) if f.name != 'name']}")
        if name is None:
            name = self.name + "".join(f"+{k}={v}" for k, v in sorted(changes.items()))
        return dataclasses.replace(self, name=name, **changes)

    def differences(self, other: "Profile") -> dict[str, tuple]:
        """``{field: (self value, other value)}`` for every field that differs (name excluded)."""
        return {f.name: (getattr(self, f.name), getattr(other, f.name))
                for f in fields(self) if f.name != "name"
                and getattr(self, f.name) != getattr(other, f.name)}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def describe() -> list[dict]:
        """The fields as ``[{'field', 'erratum', 'doc', 'book', 'exact'}]``, for docs and reports."""
        return [{"field": f.name, "erratum": f.metadata["erratum"], "doc": f.metadata["doc"],
                 "book": getattr(BOOK, f.name), "exact": getattr(EXACT, f.name)}
                for f in fields(Profile) if f.name != "name"]


BOOK = Profile(
    name="book",
    input_scale=1.0,
    reg_cost_scaled=False,
    decay_placement="after_optimizer",
    bn_backward="simplified",
    bn_affine_update="sgd",
    bn_exp_ratio=0.001,
    bn_running_var="biased",
    bn_epsilon=1e-10,
    validation_samples=100,
    noise_decision="batch",
    ce_log_epsilon=1e-10,
)

EXACT = Profile(
    name="exact",
    input_scale=1.0 / 255.0,
    reg_cost_scaled=True,
    decay_placement="gradient",
    bn_backward="full",
    bn_affine_update="optimizer",
    bn_exp_ratio=0.1,
    bn_running_var="unbiased",
    bn_epsilon=1e-5,
    validation_samples=0,
    noise_decision="sample",
    ce_log_epsilon=0.0,
)

PROFILES = {"book": BOOK, "exact": EXACT}


def get_profile(profile: "str | Profile") -> Profile:
    """Return a :class:`Profile` from a name ('book' or 'exact') or a Profile itself."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except (KeyError, TypeError):
        raise ValueError(f"unknown profile {profile!r}; use one of {sorted(PROFILES)} "
                         "or a reglab.profile.Profile") from None
