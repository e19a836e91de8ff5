"""Gradient checks in float64: every layer type and activation, the loss, L1/L2 and a whole net.

Each analytic gradient is compared with central finite differences and must agree to a
relative error of 1e-6 (``‖a − n‖ / max(‖a‖, ‖n‖)``). Forward passes are also compared with
independent, slow oracles written directly from the definitions. The plain layer functions are
checked here; test_fast_layers.py holds the fast forms equal to them.
"""

import numpy as np
import pytest

from gradcheck import assert_grad_close, numeric_grad
from reglab import Model
from reglab.nn.activations import ACTIVATIONS
from reglab.nn.config import parse_hconfigs
from reglab.nn.layers import build_layer
from reglab.nn.layers.batchnorm import batchnorm_backward, batchnorm_forward
from reglab.nn.layers.conv import conv2d_backward, conv2d_forward
from reglab.nn.layers.dense import dense_backward, dense_forward
from reglab.nn.layers.fast_pool import max_pool_backward_fast, max_pool_forward_fast, window_taps
from reglab.nn.layers.pool import (avg_pool_backward, avg_pool_forward, max_pool_backward,
                                   max_pool_forward)
from reglab.nn.losses import softmax_cross_entropy, softmax_cross_entropy_backward
from reglab.profile import EXACT

RNG = np.random.default_rng(20261126)


def conv_oracle(x_nhwc, k, b):
    """Direct SAME cross-correlation in the book's NHWC layout, one loop over kernel taps."""
    N, H, W, C = x_nhwc.shape
    kh, kw, _, cout = k.shape
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    xp = np.pad(x_nhwc, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)))
    out = np.zeros((N, H, W, cout)) + b
    for dy in range(kh):
        for dx in range(kw):
            out += np.einsum("nhwc,co->nhwo", xp[:, dy:dy + H, dx:dx + W, :], k[dy, dx])
    return out


def test_dense_forward_and_gradients():
    x = RNG.normal(size=(5, 7))
    w = RNG.normal(size=(7, 3))
    b = RNG.normal(size=3)
    z, cache = dense_forward(x, w, b)
    oracle = [[b[f] + sum(x[n, d] * w[d, f] for d in range(7)) for f in range(3)] for n in range(5)]
    np.testing.assert_allclose(z, oracle, rtol=1e-12, atol=1e-12)
    R = RNG.normal(size=(5, 3))

    def f():
        return float(np.sum(dense_forward(x, w, b)[0] * R))

    dx, dw, db = dense_backward(R, cache)
    assert_grad_close(dx, numeric_grad(f, x), what="dense dx")
    assert_grad_close(dw, numeric_grad(f, w), what="dense dw")
    assert_grad_close(db, numeric_grad(f, b), what="dense db")


@pytest.mark.parametrize("ksize", [(3, 3), (2, 2), (1, 3), (5, 4), (1, 1), (5, 5)])
def test_conv_forward_matches_oracle(ksize):
    kh, kw = ksize
    x = RNG.normal(size=(2, 7, 6, 3))
    k = RNG.normal(size=(kh, kw, 3, 4))
    b = RNG.normal(size=4)
    z, _ = conv2d_forward(np.ascontiguousarray(x.transpose(3, 0, 1, 2)), k, b)
    np.testing.assert_allclose(z.transpose(1, 2, 3, 0), conv_oracle(x, k, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ksize", [(3, 3), (2, 2), (1, 3), (5, 4)])
def test_conv_gradients(ksize):
    kh, kw = ksize
    x = RNG.normal(size=(3, 2, 5, 6))
    k = RNG.normal(size=(kh, kw, 3, 4))
    b = RNG.normal(size=4)
    R = RNG.normal(size=(4, 2, 5, 6))

    def f():
        return float(np.sum(conv2d_forward(x, k, b)[0] * R))

    _, cache = conv2d_forward(x, k, b)
    dx, dk, db = conv2d_backward(R, cache)
    assert_grad_close(dx, numeric_grad(f, x), what="conv dx")
    assert_grad_close(dk, numeric_grad(f, k), what="conv dk")
    assert_grad_close(db, numeric_grad(f, b), what="conv db")


def test_max_pool_forward_and_gradient():
    x = RNG.normal(size=(3, 2, 6, 4))
    y, cache = max_pool_forward(x, 2, 2)
    oracle = x.reshape(3, 2, 3, 2, 2, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(y, oracle)
    R = RNG.normal(size=y.shape)
    dx = max_pool_backward(R, cache)
    assert_grad_close(dx, numeric_grad(lambda: float(np.sum(max_pool_forward(x, 2, 2)[0] * R)), x),
                      what="max-pool dx")


def _plain_max_pool(x, dy):
    y, cache = max_pool_forward(x, 2, 2)
    return max_pool_backward(dy, cache)


def _fast_max_pool(x, dy):
    return max_pool_backward_fast(dy, x, max_pool_forward_fast(x, 2, 2), 2, 2)


@pytest.mark.parametrize("pool", [_plain_max_pool, _fast_max_pool])
def test_max_pool_routes_gradient_to_argmax_first_on_ties(pool):
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 0] = 5.0             # window 0: argmax at (1, 0)
    x[0, 0, :, 2:] = 3.0            # window 1: four-way tie -> the first, (0, 2)
    dx = pool(x, np.array([[[[10.0, 20.0]]]]))
    expected = np.zeros_like(x)
    expected[0, 0, 1, 0] = 10.0
    expected[0, 0, 0, 2] = 20.0
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("sh, sw", [(2, 2), (2, 3), (1, 2)])
def test_max_pool_on_taps_of_a_strided_frame_matches_a_window_loop(sh, sw):
    """The fast pool reads a strided view (a conv frame's valid part) through contiguous taps;
    an explicit loop over windows (first argmax, row-major) is the oracle, ties included. The
    plain pool must give the same on that view."""
    frame = np.round(RNG.normal(size=(2, 3, 7, 8)))        # rounded: many ties
    x = frame[..., :6, :6]                                 # rows of 6 in rows of 8
    taps = window_taps(x, sh, sw)
    assert taps.flags.c_contiguous and taps.shape == (sh * sw, 2, 3, 6 // sh, 6 // sw)
    y = max_pool_forward_fast(None, sh, sw, taps=taps)
    dy = RNG.normal(size=y.shape)
    out = np.full(frame.shape, np.nan)
    dx = max_pool_backward_fast(dy, None, y, sh, sw, out=out[..., :6, :6], taps=taps)
    want_y, want_dx = np.empty_like(y), np.zeros_like(x)
    for idx in np.ndindex(y.shape):
        i, j = idx[-2] * sh, idx[-1] * sw
        win = x[idx[:-2] + (slice(i, i + sh), slice(j, j + sw))]
        want_y[idx] = win.max()
        a, b = np.unravel_index(np.argmax(win), win.shape)
        want_dx[idx[:-2] + (i + a, j + b)] = dy[idx]
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(dx, want_dx)
    assert not np.isnan(out[..., :6, :6]).any() and np.isnan(out[..., 6:, :]).all()
    np.testing.assert_array_equal(max_pool_backward_fast(dy, x, y, sh, sw), want_dx)   # from x
    y_plain, cache = max_pool_forward(x, sh, sw)
    np.testing.assert_array_equal(y_plain, want_y)
    np.testing.assert_array_equal(max_pool_backward(dy, cache), want_dx)


def test_avg_pool_forward_and_gradient():
    x = RNG.normal(size=(2, 3, 6, 9))
    y, cache = avg_pool_forward(x, 3, 3)
    oracle = [[[[x[c, n, 3 * i:3 * i + 3, 3 * j:3 * j + 3].sum() / 9 for j in range(3)]
                for i in range(2)] for n in range(3)] for c in range(2)]
    np.testing.assert_allclose(y, oracle, rtol=1e-13)
    R = RNG.normal(size=y.shape)
    dx = avg_pool_backward(R, cache)
    assert_grad_close(dx, numeric_grad(lambda: float(np.sum(avg_pool_forward(x, 3, 3)[0] * R)), x),
                      what="avg-pool dx")
    # spread evenly: each input of a window gets dy / 9
    np.testing.assert_allclose(dx[..., :3, :3], np.full((2, 3, 3, 3), 1 / 9) * R[..., :1, :1])


@pytest.mark.parametrize("gamma_on", [True, False])
def test_batchnorm_full_backward(gamma_on):
    rows = RNG.normal(2.0, 3.0, size=(4, 10))
    gamma = RNG.normal(size=4) if gamma_on else None
    beta = RNG.normal(size=4) if gamma_on else None
    R = RNG.normal(size=(4, 10))
    y, xhat, std, _, _ = batchnorm_forward(rows, gamma, beta, 1e-5)
    dx, dg, dbt = batchnorm_backward(R, xhat, std, gamma, full=True)

    def f():
        return float(np.sum(batchnorm_forward(rows, gamma, beta, 1e-5)[0] * R))

    assert_grad_close(dx, numeric_grad(f, rows), what="batch-norm dx (full)")
    if gamma_on:
        assert_grad_close(dg, numeric_grad(f, gamma), what="batch-norm dγ")
        assert_grad_close(dbt, numeric_grad(f, beta), what="batch-norm dβ")


def test_batchnorm_simplified_backward_is_the_books_formula():
    """E4: the book returns γ·dy/σ, which is not the gradient."""
    rows = RNG.normal(2.0, 3.0, size=(3, 10))
    gamma, beta = RNG.normal(size=3), RNG.normal(size=3)
    R = RNG.normal(size=(3, 10))
    y, xhat, std, mean, var = batchnorm_forward(rows, gamma, beta, 1e-10)
    dx_book, dg, dbt = batchnorm_backward(R, xhat, std, gamma, full=False)
    np.testing.assert_allclose(dx_book, gamma[:, None] * R / np.sqrt(rows.var(axis=1) + 1e-10)[:, None],
                               rtol=1e-12)
    np.testing.assert_allclose(dg, np.sum(R * xhat, axis=1), rtol=1e-12)
    np.testing.assert_allclose(dbt, R.sum(axis=1), rtol=1e-12)
    dx_full = batchnorm_backward(R, xhat, std, gamma, full=True)[0]
    from gradcheck import rel_error
    assert rel_error(dx_book, dx_full) > 0.1  # the simplification is far from the gradient


def test_softmax_cross_entropy_gradient():
    z = RNG.normal(size=(6, 5))
    t = RNG.integers(0, 5, 6)
    loss, p = softmax_cross_entropy(z, t, 0.0)
    ref = -np.mean(np.log(np.exp(z)[np.arange(6), t] / np.exp(z).sum(1)))
    assert abs(loss - ref) < 1e-12
    g = softmax_cross_entropy_backward(p, t)
    assert_grad_close(g, numeric_grad(lambda: softmax_cross_entropy(z, t, 0.0)[0], z),
                      what="cross entropy dz")


def _layer(hconfig, in_shape, layout, profile=EXACT, seed=0):
    cfg = parse_hconfigs([hconfig])[0]
    layer = build_layer(cfg, in_shape, layout, profile, np.random.default_rng(seed), np.float64)
    p, g = {}, {}
    for spec in layer.param_specs():
        p[spec.key] = RNG.normal(size=spec.shape) + (1.0 if spec.key == "scale" else 0.0)
        g[spec.key] = np.zeros(spec.shape)
    layer.bind(p, g)
    return layer


def _check_layer(layer, x, seed=0):
    """Finite-difference check of a layer object's input and parameter gradients."""
    R = RNG.normal(size=layer.forward(x, True).shape)

    def f():
        layer.rng = np.random.default_rng(seed)   # same dropout mask / noise every call
        return float(np.sum(layer.forward(x, True) * R))

    f()
    dx = layer.backward(R)
    what = f"{layer.kind}"
    assert_grad_close(dx, numeric_grad(f, x), what=f"{what} dx")
    for key, value in layer.params.items():
        f()
        layer.backward(R)
        assert_grad_close(layer.grads[key].copy(), numeric_grad(f, value), what=f"{what} d{key}")


@pytest.mark.parametrize("actfunc", ACTIVATIONS)
def test_dense_layer_every_activation(actfunc):
    layer = _layer(["full", {"width": 4, "actfunc": actfunc}], (6,), "flat")
    _check_layer(layer, RNG.normal(size=(5, 6)))


@pytest.mark.parametrize("actfunc", ACTIVATIONS)
def test_conv_layer_every_activation(actfunc):
    layer = _layer(["conv", {"ksize": 3, "chn": 2, "actfunc": actfunc}], (4, 5, 3), "cnhw")
    _check_layer(layer, RNG.normal(size=(3, 2, 4, 5)))


@pytest.mark.parametrize("extra", [0, 5])
def test_long_dense_layer_in_row_blocks(extra):
    """A layer with more than K_CHUNK inputs takes its products over row blocks (and a tail)."""
    from reglab.nn.layers.fast_dense import K_CHUNK, _blocks
    width = 16
    fan_in = 3 * K_CHUNK + extra
    k, c = _blocks(fan_in)
    assert k > 1 and c <= K_CHUNK and (k * c == fan_in) == (extra == 0)
    layer = _layer(["full", {"width": width, "actfunc": "tanh"}], (fan_in,), "flat")
    layer.need_input_grad = True
    x = RNG.normal(size=(3, fan_in)) * 0.02
    y = layer.forward(x, True)
    np.testing.assert_allclose(y, np.tanh(x @ layer.params["w"] + layer.params["b"]), rtol=1e-12, atol=1e-13)
    R = RNG.normal(size=y.shape)
    dx = layer.backward(R)
    dz = R * (1 - y ** 2)
    np.testing.assert_allclose(layer.grads["w"], x.T @ dz, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.grads["b"], dz.sum(axis=0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, dz @ layer.params["w"].T, rtol=1e-12, atol=1e-14)
    # and by finite differences on a few entries of each
    def f():
        return float(np.sum(layer.forward(x, True) * R))
    idx = RNG.choice(fan_in * width, 30, replace=False)
    assert_grad_close(layer.grads["w"].ravel()[idx],
                      numeric_grad(f, layer.params["w"], index=idx).ravel()[idx], what="dw")
    xi = RNG.choice(x.size, 30, replace=False)
    assert_grad_close(dx.ravel()[xi], numeric_grad(f, x, index=xi).ravel()[xi], what="dx")


def test_dense_layer_on_image_input_uses_book_flatten_order():
    layer = _layer(["full", {"width": 3, "actfunc": "tanh"}], (2, 3, 4), "cnhw")
    x = RNG.normal(size=(4, 5, 2, 3))                    # (C, N, H, W)
    _check_layer(layer, x)
    y = layer.forward(x, False)
    nhwc = x.transpose(1, 2, 3, 0).reshape(5, -1)        # the book's (H, W, C) row order
    np.testing.assert_allclose(y, np.tanh(nhwc @ layer.params["w"] + layer.params["b"]), rtol=1e-12)


@pytest.mark.parametrize("hconfig,in_shape,layout,x_shape", [
    (["max", {"stride": 2}], (4, 6, 3), "cnhw", (3, 2, 4, 6)),
    (["avg", {"stride": [2, 3]}], (4, 6, 3), "cnhw", (3, 2, 4, 6)),
    (["dropout", {"keep_prob": 0.6}], (4, 6, 3), "cnhw", (3, 2, 4, 6)),
    (["noise", {"type": "normal", "mean": 0.1, "std": 0.5}], (7,), "flat", (5, 7)),
    (["batch_normal"], (4, 6, 3), "cnhw", (3, 2, 4, 6)),
    (["batch_normal"], (7,), "flat", (5, 7)),
])
def test_layer_gradients(hconfig, in_shape, layout, x_shape):
    _check_layer(_layer(hconfig, in_shape, layout), RNG.normal(size=x_shape))


class TinyData:
    """A minimal dataset object (8×8×3 images, 4 classes) for whole-network checks."""

    def __init__(self, n=6, shape=(8, 8, 3), k=4, seed=0):
        r = np.random.default_rng(seed)
        self.tr_xs = r.integers(0, 256, (n,) + shape, dtype=np.uint8)
        self.tr_ys = r.integers(0, k, n)
        self.va_xs, self.va_ys = self.tr_xs[:3], self.tr_ys[:3]
        self.te_xs, self.te_ys = self.tr_xs[:3], self.tr_ys[:3]
        self.train_count = n
        self.input_shape = list(shape)
        self.output_shape = [k]


EVERY_KIND = [["noise", {"type": "normal", "mean": 0, "std": 0.05}],
              ["batch_normal"],
              ["conv", {"ksize": 3, "chn": 4, "actfunc": "tanh"}],
              ["max", {"stride": 2}],
              ["dropout", {"keep_prob": 0.7}],
              ["conv", {"ksize": 2, "chn": 3, "actfunc": "sigmoid"}],
              ["avg", {"stride": 2}],
              ["batch_normal"],
              ["full", {"width": 6, "actfunc": "relu"}],
              ["dropout", {"keep_prob": 0.8}],
              ["full", {"width": 5, "actfunc": "tanh"}]]


def _kink_margin(model, xs):
    """Smallest distance of this forward pass to a non-differentiable point: the gap between
    the two largest values of any max-pool window and |z| of any ReLU pre-activation."""
    margin = np.inf
    x = xs
    for layer in model.layers:
        if layer.kind == "max":
            s = np.sort(np.stack([x[..., a::layer.sh, b::layer.sw]
                                  for a in range(layer.sh) for b in range(layer.sw)]), axis=0)
            margin = min(margin, float((s[-1] - s[-2]).min()))
        y = layer.forward(x, True)
        if getattr(layer, "actfunc", None) == "relu":
            # the layer stores its output only; recompute z from its input
            if layer.kind == "full":
                xin = x.transpose(1, 2, 3, 0).reshape(x.shape[1], -1) if x.ndim == 4 else x
                z = xin @ layer.params["w"] + layer.params["b"]
            else:
                z = conv2d_forward(x, layer.params["k"], layer.params["b"])[0]
            margin = min(margin, float(np.abs(z).min()))
        x = y
    return margin


def _network_check(model, ds, n_check=40):
    xs = model._to_input(ds.tr_xs)

    def reset_rngs():
        for layer in model.layers:
            layer.rng = np.random.default_rng(7)

    # Move the weights away from the tiny init so every path carries signal, at a point whose
    # distance to every max-pool tie and ReLU kink is far larger than the finite-difference step
    # (finite differences are meaningless across a kink).
    for seed in range(1, 50):
        model.store.data[:] = np.random.default_rng(seed).normal(0, 0.5, model.store.size)
        reset_rngs()
        if _kink_margin(model, xs) > 1e-4:
            break
    else:
        pytest.fail("no kink-free point found for the finite-difference check")

    def f():
        reset_rngs()
        out = model.forward(xs, True)
        loss, _ = softmax_cross_entropy(out, ds.tr_ys, model.profile.ce_log_epsilon)
        return loss + model.penalty.cost(model.store.weights)

    reset_rngs()
    model.loss_and_gradients(xs, ds.tr_ys, train=True)
    analytic = model.store.grad.copy()
    idx = np.random.default_rng(2).choice(model.store.size, size=min(n_check, model.store.size),
                                          replace=False)
    numeric = numeric_grad(f, model.store.data, index=idx)
    assert_grad_close(analytic[idx], numeric[idx], what=f"whole network ({model.name})")


def test_whole_network_with_every_layer_kind():
    ds = TinyData()
    model = Model("every_kind", ds, EVERY_KIND, profile="exact", dtype=np.float64)
    kinds = {l.kind for l in model.layers}
    assert kinds == {"noise", "batch_normal", "conv", "max", "dropout", "avg", "full"}
    _network_check(model, ds, n_check=model.store.size)


# The chapter's own pattern: ReLU convolutions followed by max pooling (fused: the pool applies
# the ReLU and its derivative), a convolution feeding a convolution, and one feeding avg pooling.
FUSED_KINDS = [["conv", {"ksize": 3, "chn": 4}],
               ["max", {"stride": 2}],
               ["conv", {"ksize": 3, "chn": 3}],
               ["conv", {"ksize": 2, "chn": 3}],
               ["avg", {"stride": 2}]]


def test_max_pool_positive_only_blocks_windows_whose_maximum_is_zero():
    # z of a black photo patch with zero bias is exactly 0: relu(max) = 0, and ReLU'(0) = 0
    z = np.array([[[[0.0, 0.0, 3.0, -1.0], [-1.0, 0.0, 3.0, 2.0]]]])
    y = np.maximum(max_pool_forward_fast(z, 2, 2), 0)
    dy = np.array([[[[5.0, 7.0]]]])
    np.testing.assert_array_equal(max_pool_backward_fast(dy, z, y, 2, 2, positive_only=True),
                                  [[[[0, 0, 7, 0], [0, 0, 0, 0]]]])
    np.testing.assert_array_equal(max_pool_backward_fast(dy, z, y, 2, 2),
                                  [[[[5, 0, 7, 0], [0, 0, 0, 0]]]])


def test_whole_network_with_fused_relu_max_pool():
    ds = TinyData()
    model = Model("fused", ds, FUSED_KINDS, profile="exact", dtype=np.float64)
    assert model.layers[0].act_grad_fused and model.layers[1].fused_relu
    assert not model.layers[2].act_grad_fused
    _network_check(model, ds, n_check=model.store.size)


def test_fused_max_pool_writes_into_the_conv_gradient_frame():
    """The pool's input gradient is the conv's dz frame itself, for each batch size's frames."""
    ds = TinyData(n=5)
    model = Model("fused", ds, FUSED_KINDS, profile="exact", dtype=np.float64)
    conv, pool = model.layers[0], model.layers[1]
    xs = model._to_input(ds.tr_xs)
    grads = {}
    for n in (5, 2, 5):
        model.store.grad[:] = np.nan
        model._forward_backward(xs[:, :n], ds.tr_ys[:n])
        assert pool.backward(np.ones((4, n, 4, 4))) is conv.grad_frame()
        model._forward_backward(xs[:, :n], ds.tr_ys[:n])
        grads.setdefault(n, model.store.grad.copy())
        np.testing.assert_array_equal(model.store.grad, grads[n])
        # the frame's padding positions stay 0 (the kernel gradient reads them)
        dz = conv._ws.dzflat.reshape(4, n, conv._ws.frame.Hp, conv._ws.frame.Wp)
        assert not dz[:, :, 8:, :].any() and not dz[:, :, :, 8:].any()


def test_fused_forward_equals_the_layer_by_layer_definition():
    """Model output against pure functions: conv, ReLU, max pool, conv, ReLU, conv, ReLU, avg."""
    ds = TinyData(n=5)
    model = Model("fused", ds, FUSED_KINDS, profile="exact", dtype=np.float64)
    model.store.data[:] = np.random.default_rng(3).normal(0, 0.3, model.store.size)
    xs = model._to_input(ds.tr_xs)
    p = [l.params for l in model.layers]
    h = np.maximum(conv2d_forward(xs, p[0]["k"], p[0]["b"])[0], 0)
    h = max_pool_forward(h, 2, 2)[0]
    h = np.maximum(conv2d_forward(h, p[2]["k"], p[2]["b"])[0], 0)
    h = np.maximum(conv2d_forward(h, p[3]["k"], p[3]["b"])[0], 0)
    h = avg_pool_forward(h, 2, 2)[0]
    h = h.transpose(1, 2, 3, 0).reshape(h.shape[1], -1) @ p[5]["w"] + p[5]["b"]
    for train in (True, False, True):       # workspaces of both modes, reused
        np.testing.assert_allclose(model.forward(xs, train), h, rtol=1e-12, atol=1e-12)
    # another batch size gets its own frames and the first ones stay correct
    model.forward(xs[:, :2], True)
    np.testing.assert_allclose(model.forward(xs, True), h, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("l2,l1", [(0.1, 0.0), (0.0, 0.01), (0.05, 0.02)])
def test_l1_l2_penalty_gradients_exact_profile(l2, l1):
    ds = TinyData()
    model = Model("reg", ds, [7, 5], l2_decay=l2, l1_decay=l1, profile="exact", dtype=np.float64)
    _network_check(model, ds, n_check=60)
    # the penalty term is really in the cost: λ-scaled (E1/E2 fixed)
    w = model.store.weights
    xs = model._to_input(ds.tr_xs)
    loss_with, _ = model.loss_and_gradients(xs, ds.tr_ys)
    ce, _ = softmax_cross_entropy(model.forward(xs, True), ds.tr_ys, 0.0)
    assert loss_with - ce == pytest.approx(l2 / 2 * np.sum(w ** 2) + l1 * np.sum(np.abs(w)),
                                           rel=1e-10)
