"""The book's CnnRegModel: build a network from ``hconfigs``, train it with Adam, report like the book.

Usage (the seed report's runs)::

    from reglab import Model, FlowersDataset
    fd = FlowersDataset([96, 96], [96, 96, 3])
    m = Model("flowers_model_2", fd, [30, 10], l2_decay=0.1, profile="book")
    m.exec_all(epoch_count=10, report=2, show_params=True)

Notes
-----
One training step: forward in training mode, cost = mean cross entropy +
penalty, accuracy from the same output, backward from the output layer down (each input gradient
uses the parameters before this step's update), then one update of every parameter:

    exact profile:  g_w += λ2 w + λ1 sign(w);   p ← p − lr · Adam(g)
    book profile:   p ← p − lr · (Adam(g) + λ2 w + λ1 sign(w))   (w, k only; E3)
                    γ, β ← γ, β − lr · g                         (batch norm; E4)

Randomness: one seed makes a :class:`numpy.random.SeedSequence` whose four children drive the
weight initialisation, the per-epoch shuffles, dropout/noise, and the validation/visualisation
draws. Evaluating or printing more often therefore never changes the training itself.

Report sections: 2 학습 결과 (the runs) and 3.3 실험 결과 (near-zero counts, times).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import time

import numpy as np

from ..fileio import atomic_path
from ..profile import get_profile
from . import display
from .config import parse_hconfigs
from .layers import SPATIAL_KINDS, Dense, build_layer, link_layers
from .losses import softmax, softmax_cross_entropy, softmax_cross_entropy_backward
from .optim import Adam
from .params import ParamStore
from .regularizers import Penalty

__all__ = ["Model", "TrainingDiverged", "NUMERICS_VERSION", "single_thread_blas"]

EVAL_CHUNK = 50

# Part of every run's result key: bumped whenever a change alters the numbers a given seed
# produces, so that the runner recomputes the stored runs.
NUMERICS_VERSION = 7


def single_thread_blas():
    """A context in which BLAS uses one thread (training and evaluation run inside one).

    A run is one process on one core: at batch 10 the products are too small for a second
    BLAS thread to pay, and the runner uses the other cores by running several runs at once.
    """
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1, user_api="blas")


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the history up to the last finished epoch is kept."""


def _check_decay(name, value):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value)
            or value < 0):
        raise ValueError(f"{name}={value!r} is not allowed; use a finite number >= 0 "
                         f"(0 switches it off; the seed report used l2_decay=0.1, l1_decay=0.01)")
    return float(value)


def _check_positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive int")
    return int(value)


class Model:
    """A network in the book's configuration language, trained with Adam.

    Parameters
    ----------
    name : str
        Printed in every log line (e.g. ``'flowers_cnn_1'``).
    dataset : reglab.data.FlowersDataset
        Or any object with the same attributes (``input_shape``, ``output_shape``, ``tr_xs`` ...).
    hconfigs : list
        Hidden layers, e.g. ``[30, 10]`` or ``[['conv', {'ksize': 3, 'chn': 6}], ...]``.
    l2_decay, l1_decay : float, >= 0
    profile : {'exact', 'book'} or reglab.profile.Profile
    seed : int
    dtype : numpy dtype, default float32 (float64 for gradient checks)

    Attributes
    ----------
    layers : list of Layer (hidden layers, then the output layer)
    history : list of dict
        One entry per finished epoch: ``epoch, train_loss, train_acc, val_loss, val_acc,
        seconds`` (wall time of the epoch's training and validation).
    """

    def __init__(self, name, dataset, hconfigs, l2_decay=0, l1_decay=0, profile="exact",
                 seed=1234, dtype=np.float32):
        self.name = str(name)
        self.dataset = dataset
        self.hconfigs = hconfigs
        self.l2_decay = _check_decay("l2_decay", l2_decay)
        self.l1_decay = _check_decay("l1_decay", l1_decay)
        self.profile = get_profile(profile)
        if not isinstance(seed, numbers.Integral):
            raise ValueError(f"seed={seed!r} must be an int")
        self.seed = int(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype={dtype!r} is not allowed; use numpy.float32 or numpy.float64")
        # One seed, four independent streams: initial weights, per-epoch shuffles, dropout and
        # noise, validation/visualisation draws. Evaluating or printing more often therefore
        # never changes the training itself.
        init_rng, self._shuffle_rng, self._layer_rng, self._eval_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(self.seed).spawn(4))
        self._build(parse_hconfigs(hconfigs))
        self.store = ParamStore(self.layers, self.profile, init_rng, self.dtype)
        self.optimizer = Adam(self.store.n_optimizer, self.dtype)
        self.penalty = Penalty.from_profile(self.profile, self.l2_decay, self.l1_decay)
        self.history: list[dict] = []
        self.train_seconds = 0.0
        self.test_accuracy: float | None = None
        self.steps_done = 0

    # ------------------------------------------------------------------ building
    def _build(self, cfgs):
        in_shape = tuple(self.dataset.input_shape)
        first_full = next((i for i, c in enumerate(cfgs) if c.kind == "full"), len(cfgs))
        spatial_first = any(c.kind in SPATIAL_KINDS for c in cfgs[:first_full])
        layout = "cnhw" if (len(in_shape) == 3 and spatial_first) else "flat"
        if layout == "flat" and len(in_shape) != 1:
            in_shape_flat = (math.prod(in_shape),)
        else:
            in_shape_flat = in_shape
        self.input_layout = layout
        shape = in_shape if layout == "cnhw" else in_shape_flat
        self.layers = []
        for cfg in cfgs:
            layer = build_layer(cfg, shape, layout, self.profile, self._layer_rng, self.dtype)
            self.layers.append(layer)
            shape, layout = layer.out_shape, layer.out_layout
        n_out = int(math.prod(self.dataset.output_shape))
        self.layers.append(Dense(None, shape, layout, self.profile, self._layer_rng, self.dtype,
                                 width=n_out, actfunc="none"))
        # Backward stops at the first layer with parameters; it needs no input gradient.
        self._first_param = next(i for i, l in enumerate(self.layers) if l.param_specs())
        for i, layer in enumerate(self.layers):
            layer.need_input_grad = i > self._first_param
        link_layers(self.layers)

    # ------------------------------------------------------------------ core passes
    def _to_input(self, xs_u8: np.ndarray) -> np.ndarray:
        """uint8 images (N, H, W, C) or vectors → the first layer's float layout, scaled."""
        scale = self.dtype.type(self.profile.input_scale)
        n = xs_u8.shape[0]
        if self.input_layout == "cnhw":
            x = np.empty((xs_u8.shape[-1], n) + xs_u8.shape[1:-1], dtype=self.dtype)
            np.multiply(np.moveaxis(xs_u8, -1, 0), scale, out=x, casting="unsafe")
            return x
        x = np.empty((n, int(np.prod(xs_u8.shape[1:]))), dtype=self.dtype)
        np.multiply(xs_u8.reshape(n, -1), scale, out=x, casting="unsafe")
        return x

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        """Run every layer on a prepared input (see ``_to_input``); returns the logits (N, K)."""
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dlogits: np.ndarray) -> None:
        """Back-propagate ``dlogits``, filling ``store.grad`` (no update)."""
        g = dlogits
        for layer in reversed(self.layers[self._first_param:]):
            g = layer.backward(g)

    def _forward_backward(self, xs, labels, train=True):
        """Cross entropy and accuracy of one batch; fills ``store.grad`` with the data gradient."""
        out = self.forward(xs, train)
        loss, probs = softmax_cross_entropy(out, labels, self.profile.ce_log_epsilon)
        acc = float(np.mean(np.argmax(out, axis=1) == labels))
        self.backward(softmax_cross_entropy_backward(probs, labels))
        return loss, acc

    def loss_and_gradients(self, xs, labels, train=True):
        """Cost (cross entropy + penalty, as printed) and accuracy of one batch; fills ``store.grad``.

        In the exact profile the penalty's gradient is added to ``store.grad``, so a
        finite-difference check of the returned cost against ``store.grad`` must pass.
        """
        loss, acc = self._forward_backward(xs, labels, train)
        if self.penalty.active:
            w = self.store.weights
            loss += self.penalty.cost(w)
            if self.profile.decay_placement == "gradient":
                self.store.grad[:self.store.n_decay] += self.penalty.gradient(w)
        return loss, acc

    def update(self, learning_rate) -> float:
        """Step every parameter from ``store.grad`` (the data gradient of this batch).

        Returns the penalty's cost of the weights before the step (0 without a penalty).

        Notes
        -----
        With ``d = λ2 w + λ1 sign(w)`` of the weights before the step::

            exact profile:  g_w ← g_w + d;   p ← p − lr · Adam(g)
            book profile:   p ← p − lr · Adam(g);   w ← w − lr · d      (E3)
                            γ, β ← γ, β − lr · g                      (batch norm, E4)
        """
        st, pen = self.store, self.penalty
        n_opt, n_decay = st.n_optimizer, st.n_decay
        lr = self.dtype.type(learning_rate)
        cost = 0.0
        if pen.active:
            w = st.weights
            cost = pen.cost(w)
            decay = pen.gradient(w)
            if self.profile.decay_placement == "gradient":
                st.grad[:n_decay] += decay
        self.optimizer.step(st.data[:n_opt], st.grad[:n_opt], learning_rate)
        if pen.active and self.profile.decay_placement == "after_optimizer":   # E3
            decay *= lr
            st.data[:n_decay] -= decay
        if n_opt < st.size:                 # E4: the book's batch-norm scale/shift by plain SGD
            st.data[n_opt:] -= lr * st.grad[n_opt:]
        return cost

    def train_step(self, xs_u8, labels, learning_rate):
        """One minibatch: forward, loss, backward, update. Returns ``(cost, train-mode accuracy)``."""
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite cost is caught below
            loss, acc = self._forward_backward(self._to_input(xs_u8), labels, train=True)
            if not math.isfinite(loss):
                raise FloatingPointError(loss)
            loss += self.update(learning_rate)
        if not math.isfinite(loss):
            raise FloatingPointError(loss)
        self.steps_done += 1
        return loss, acc

    # ------------------------------------------------------------------ evaluation
    def predict_logits(self, xs_u8: np.ndarray) -> np.ndarray:
        """Evaluation-mode logits for uint8 inputs, in chunks of ``EVAL_CHUNK`` images."""
        with single_thread_blas():
            outs = [self.forward(self._to_input(xs_u8[i:i + EVAL_CHUNK]), train=False)
                    for i in range(0, len(xs_u8), EVAL_CHUNK)]
        return np.concatenate(outs) if outs else np.empty((0, self.layers[-1].width), self.dtype)

    def predict_proba(self, xs_u8: np.ndarray) -> np.ndarray:
        """Softmax estimates (N, K) in evaluation mode."""
        return softmax(self.predict_logits(xs_u8))

    def evaluate(self, xs_u8, labels) -> tuple[float, float]:
        """Evaluation-mode ``(cross entropy, accuracy)`` on the given images."""
        if len(xs_u8) == 0:
            return float("nan"), float("nan")
        out = self.predict_logits(xs_u8)
        loss, _ = softmax_cross_entropy(out, labels, self.profile.ce_log_epsilon)
        return loss, float(np.mean(np.argmax(out, axis=1) == labels))

    def validation_sample(self):
        """The images a validation scores: a fresh random ``profile.validation_samples`` (the
        book's 100, E9) or the whole split when that is 0."""
        ds, k = self.dataset, self.profile.validation_samples
        if k == 0 or k >= len(ds.va_xs):
            return ds.va_xs, ds.va_ys
        idx = self._eval_rng.permutation(len(ds.va_xs))[:k]
        return ds.va_xs[idx], ds.va_ys[idx]

    # ------------------------------------------------------------------ the book's API
    def train(self, epoch_count=10, batch_size=10, learning_rate=0.001, report=0):
        """Train like the book's ``Model.train``; returns the new history entries.

        Prints ``Model {name} train started:`` (only if ``report``), an epoch line every
        ``report`` epochs, and always ``Model {name} train ended in N secs:``. Validation is
        computed every epoch for the history (from its own random stream) and printed at report
        epochs.

        Raises
        ------
        TrainingDiverged
            If the cost becomes NaN/inf. Parameters and optimizer state are restored to the end
            of the last finished epoch; ``history`` keeps the finished epochs.
        """
        epoch_count = _check_positive_int("epoch_count", epoch_count)
        batch_size = _check_positive_int("batch_size", batch_size)
        if not (isinstance(learning_rate, numbers.Real) and 0 < learning_rate < math.inf):
            raise ValueError(f"learning_rate={learning_rate!r} must be a positive number")
        if not isinstance(report, numbers.Integral) or report < 0:
            raise ValueError(f"report={report!r} must be an int >= 0 (0 prints no epoch lines)")
        ds = self.dataset
        batch_count = int(ds.train_count / batch_size)
        if batch_count < 1:
            raise ValueError(f"batch_size={batch_size} is larger than the training split "
                             f"({ds.train_count} images); use a smaller batch_size")
        with single_thread_blas():
            return self._train(epoch_count, batch_size, batch_count, learning_rate, report)

    def _train(self, epoch_count, batch_size, batch_count, learning_rate, report):
        ds = self.dataset
        time1 = time2 = int(time.time())
        t_start = time.perf_counter()
        if report != 0:
            print(display.train_started_line(self.name))
        new = []
        for _ in range(epoch_count):
            epoch = len(self.history) + 1
            t0 = time.perf_counter()
            snapshot = (self.store.data.copy(), self.optimizer.state_dict(),
                        {id(l): {k: v.copy() for k, v in l.buffers.items()} for l in self.layers})
            order = self._shuffle_rng.permutation(batch_size * batch_count)
            costs = np.empty(batch_count)
            accs = np.empty(batch_count)
            for n in range(batch_count):
                idx = order[n * batch_size:(n + 1) * batch_size]
                try:
                    costs[n], accs[n] = self.train_step(ds.tr_xs[idx], ds.tr_ys[idx], learning_rate)
                except FloatingPointError:
                    self._restore(snapshot)
                    raise TrainingDiverged(
                        f"Model {self.name} diverged at epoch {epoch}, step {n + 1}: the cost is "
                        f"not finite. Parameters are restored to the end of epoch {epoch - 1} and "
                        f"the history keeps {epoch - 1} finished epoch(s). Lower learning_rate "
                        f"(now {learning_rate}) or the decay rates (l2_decay={self.l2_decay}, "
                        f"l1_decay={self.l1_decay}).") from None
            va_x, va_y = self.validation_sample()
            val_loss, val_acc = self.evaluate(va_x, va_y)
            entry = {"epoch": epoch, "train_loss": float(costs.mean()),
                     "train_acc": float(accs.mean()), "val_loss": val_loss, "val_acc": val_acc,
                     "seconds": time.perf_counter() - t0}
            self.history.append(entry)
            new.append(entry)
            if report > 0 and (epoch % report == 0):
                time3 = int(time.time())
                print(display.epoch_line(epoch, entry["train_loss"], entry["train_acc"], val_acc,
                                         time3 - time2, time3 - time1))
                time2 = time3
        self.train_seconds += time.perf_counter() - t_start
        print(display.train_ended_line(self.name, int(time.time()) - time1))
        return new

    def _restore(self, snapshot):
        data, opt_state, buffers = snapshot
        self.store.data[...] = data
        self.optimizer.load_state_dict(opt_state)
        for layer in self.layers:
            for k, v in buffers[id(layer)].items():
                layer.buffers[k][...] = v

    def test(self) -> float:
        """Evaluation-mode accuracy on the whole test split; prints the book's test line."""
        t1 = int(time.time())
        _, acc = self.evaluate(self.dataset.te_xs, self.dataset.te_ys)
        self.test_accuracy = acc
        print(display.test_line(self.name, acc, int(time.time()) - t1))
        return acc

    def visualize(self, num: int = 3):
        """The book's visualisation: ``num`` random validation photos with their estimates."""
        print(f"Model {self.name} Visualization")
        ds = self.dataset
        idx = self._eval_rng.permutation(len(ds.va_xs))[:num]
        est = self.predict_proba(ds.va_xs[idx])
        ds.visualize(ds.va_xs[idx], est, ds.va_ys[idx])

    def near_zero_count(self, threshold: float = display.NEAR_ZERO) -> int:
        """Number of weights and kernels with ``|w| <= threshold`` (the book's ``1e-5``)."""
        return int(np.count_nonzero(np.abs(self.store.weights) <= threshold))

    def weights(self) -> np.ndarray:
        """A copy of all weights and kernels (no biases, no batch-norm parameters), layer order."""
        return self.store.weights.copy()

    def show_param_dist(self, ax=None):
        """The book's weight histogram and ``Near 0 parameters = ...`` line; returns the count."""
        import matplotlib.pyplot as plt

        w = self.store.weights
        display.plot_param_hist(w, ax=ax)
        if ax is None:
            plt.show()
        count = self.near_zero_count()
        print(display.near_zero_line(count, w.size))
        return count

    def exec_all(self, epoch_count=10, batch_size=10, learning_rate=0.001, report=0, show_cnt=3,
                 show_params=False):
        """The book's ``exec_all``: train, test, visualize, then (optionally) the weight histogram.

        Returns
        -------
        dict
            ``history``, ``test_acc``, ``train_seconds`` and ``near_zero`` (count, total).
        """
        self.train(epoch_count, batch_size, learning_rate, report)
        acc = self.test()
        if show_cnt > 0:
            self.visualize(show_cnt)
        if show_params:
            self.show_param_dist()
        return {"history": list(self.history), "test_acc": acc,
                "train_seconds": self.train_seconds,
                "near_zero": (self.near_zero_count(), int(self.store.n_decay))}

    # ------------------------------------------------------------------ bookkeeping
    def parameter_counts(self) -> dict:
        """``{'weights', 'biases', 'bn_affine', 'total'}`` trainable scalar counts."""
        st = self.store
        return {"weights": st.count("weight"), "biases": st.count("bias"),
                "bn_affine": st.count("bn_affine"), "total": st.count()}

    def summary(self) -> str:
        """A table of the layers with their output shapes and parameter counts."""
        lines = [f"Model {self.name} ({self.profile.name} profile, {self.dtype.name})",
                 f"  input {list(self.dataset.input_shape)}"]
        for layer in self.layers:
            n = sum(int(np.prod(s.shape)) for s in layer.param_specs())
            lines.append(f"  {layer.label:<28} -> {str(list(layer.out_shape)):<14} {n:>9,d} params")
        c = self.parameter_counts()
        lines.append(f"  weights {c['weights']:,d} + biases {c['biases']:,d}"
                     + (f" + batch-norm scale/shift {c['bn_affine']:,d}" if c["bn_affine"] else ""))
        return "\n".join(lines)

    def __repr__(self):
        return self.summary()

    def _state_arrays(self) -> dict:
        arrays = {}
        for i, layer in enumerate(self.layers):
            for k, v in layer.params.items():
                arrays[f"L{i}.{layer.kind}.{k}"] = v
            for k, v in layer.buffers.items():
                arrays[f"L{i}.{layer.kind}.buf.{k}"] = v
        return arrays

    def save(self, path) -> None:
        """Write parameters and batch-norm statistics to ``path`` (.npz), atomically."""
        path = os.fspath(path)
        meta = {"name": self.name, "hconfigs": self.hconfigs, "profile": self.profile.name,
                "dtype": self.dtype.name, "l2_decay": self.l2_decay, "l1_decay": self.l1_decay,
                "input_shape": list(self.dataset.input_shape), "epochs": len(self.history)}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, __meta__=np.array(json.dumps(meta)), **self._state_arrays())

    def load(self, path) -> None:
        """Read parameters saved by :meth:`save`; the architecture must match."""
        with np.load(os.fspath(path), allow_pickle=False) as f:
            saved = {k: f[k] for k in f.files if k != "__meta__"}
        mine = self._state_arrays()
        if set(saved) != set(mine):
            raise ValueError(f"{path}: the saved parameters do not match model {self.name}'s "
                             f"layers (saved {sorted(saved)[:6]}..., expected {sorted(mine)[:6]}...); "
                             "build the Model with the same hconfigs and input shape")
        for k, v in mine.items():
            if saved[k].shape != v.shape:
                raise ValueError(f"{path}: {k} has shape {saved[k].shape}, the model expects {v.shape}")
        for k, v in mine.items():
            v[...] = saved[k]
