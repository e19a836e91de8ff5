"""The fast forms the layer classes train with against the plain forms next to the equations.

The plain functions (dense.py, conv.py, pool.py) are checked against oracles and finite
differences in test_gradients.py; here every fast function, and the layer classes built on them,
must give the same forward values and every gradient in float64 (rtol 1e-10; max-pool routing
exactly), on odd sizes, kernel sizes 1 to 5, strides 2×2 and 3×3, and for the fused ReLU
convolution + max pool pair. Integer-valued inputs make every product exact and put many ties
and exact zeros into the pools.
"""

import numpy as np
import pytest

from reglab.nn.config import parse_hconfigs
from reglab.nn.layers import build_layer, link_layers
from reglab.nn.layers.conv import conv2d_backward, conv2d_forward
from reglab.nn.layers.dense import dense_backward, dense_forward
from reglab.nn.layers.fast_conv import (DK_BLOCK, conv2d_backward_fast, conv2d_forward_fast,
                                        get_frame)
from reglab.nn.layers.fast_dense import K_CHUNK, _blocks, dense_backward_fast, dense_forward_fast
from reglab.nn.layers.fast_pool import (avg_pool_backward_fast, avg_pool_forward_fast,
                                        max_pool_backward_fast, max_pool_forward_fast, window_taps)
from reglab.nn.layers.pool import (avg_pool_backward, avg_pool_forward, max_pool_backward,
                                   max_pool_forward)
from reglab.profile import EXACT

RNG = np.random.default_rng(20261127)


def assert_same(fast, plain, what):
    assert fast.shape == plain.shape, f"{what}: shape {fast.shape} != {plain.shape}"
    np.testing.assert_allclose(fast, plain, rtol=1e-10, atol=1e-12, err_msg=what)


def sample(shape, integer):
    """Normal values, or small integers (exact products; many ties and zeros in a pool)."""
    return RNG.integers(-2, 3, size=shape).astype(np.float64) if integer else RNG.normal(size=shape)


# ---------------------------------------------------------------- dense

@pytest.mark.parametrize("n, d, f", [(5, 7, 3), (1, 1, 1), (3, K_CHUNK, 4),
                                     (3, 3 * K_CHUNK, 4), (2, 3 * K_CHUNK + 5, 3)])
def test_dense_fast_equals_plain(n, d, f):
    x, w, b = RNG.normal(size=(n, d)), RNG.normal(size=(d, f)), RNG.normal(size=f)
    if d > K_CHUNK:
        assert _blocks(d)[0] > 1                    # the row-block path is the one under test
    z, cache = dense_forward(x, w, b)
    assert_same(dense_forward_fast(x, w, b), z, "z")
    dz = RNG.normal(size=(n, f))
    dx, dw, db = dense_backward(dz, cache)
    dw_out = np.full((d, f), np.nan)
    dx_f, dw_f, db_f = dense_backward_fast(dz, x, w, dw_out=dw_out)
    assert dw_f is dw_out
    assert_same(dx_f, dx, "dx")
    assert_same(dw_f, dw, "dw")
    assert_same(db_f, db, "db")
    none, dw_f, db_f = dense_backward_fast(dz, x, w, need_dx=False)
    assert none is None
    assert_same(dw_f, dw, "dw without dx")
    assert_same(db_f, db, "db without dx")


# ---------------------------------------------------------------- convolution

CONV_CASES = [  # C_in, N, H, W, kh, kw, C_out
    (3, 2, 7, 5, 3, 3, 4),
    (2, 3, 9, 11, 5, 5, 3),
    (1, 1, 1, 1, 5, 5, 2),          # kernel larger than the image
    (4, 2, 6, 6, 1, 1, 3),
    (3, 1, 5, 8, 2, 4, 2),          # even sizes: more padding at the bottom/right
    (2, 2, 13, 7, 1, 3, 2),
    (4, 3, 30, 29, 3, 3, 5),        # several im2col chunks and kernel-gradient blocks
]


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_fast_equals_plain(case, integer):
    cin, n, h, w, kh, kw, cout = case
    x, k, b = sample((cin, n, h, w), integer), sample((kh, kw, cin, cout), integer), sample(cout, integer)
    z, cache = conv2d_forward(x, k, b)
    z_f, cache_f = conv2d_forward_fast(x, k, b)
    assert_same(z_f, z, "z")
    dz = sample(z.shape, integer)
    dx, dk, db = conv2d_backward(dz, cache)
    dx_f, dk_f, db_f = conv2d_backward_fast(dz, cache_f)
    assert_same(dx_f, dx, "dx")
    assert_same(dk_f, dk, "dk")
    assert_same(db_f, db, "db")
    none, dk_f, db_f = conv2d_backward_fast(dz, cache_f, need_dx=False)
    assert none is None
    assert_same(dk_f, dk, "dk without dx")
    assert_same(db_f, db, "db without dx")


def test_the_large_conv_case_spans_several_chunks_and_blocks():
    cin, n, h, w, kh, kw, _ = CONV_CASES[-1]
    f = get_frame(n, h, w, kh, kw)
    assert len(f.chunks(kh * kw * cin, 8)) > 1 and f.L > DK_BLOCK


# ---------------------------------------------------------------- pooling

POOL_CASES = [  # x shape (C, N, H, W), (sh, sw)
    ((3, 2, 6, 10), (2, 2)),
    ((2, 3, 9, 15), (3, 3)),
    ((1, 1, 3, 3), (3, 3)),
    ((2, 1, 4, 9), (2, 3)),
    ((1, 2, 5, 4), (1, 2)),
    ((2, 2, 2, 2), (1, 1)),
]


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("shape, stride", POOL_CASES)
def test_max_pool_fast_equals_plain(shape, stride, integer):
    sh, sw = stride
    x = sample(shape, integer)
    y, cache = max_pool_forward(x, sh, sw)
    y_f = max_pool_forward_fast(x, sh, sw)
    np.testing.assert_array_equal(y_f, y)
    dy = RNG.normal(size=y.shape)
    dx = max_pool_backward(dy, cache)
    np.testing.assert_array_equal(max_pool_backward_fast(dy, x, y_f, sh, sw), dx)
    # through taps of a strided view, written into a strided output
    frame = np.full(shape[:2] + (shape[2] + 2, shape[3] + 3), np.nan)
    frame[..., 1:-1, 2:-1] = x
    taps = window_taps(frame[..., 1:-1, 2:-1], sh, sw)
    out = np.full(frame.shape, np.nan)
    y_t = max_pool_forward_fast(None, sh, sw, taps=taps)
    np.testing.assert_array_equal(y_t, y)
    max_pool_backward_fast(dy, None, y_t, sh, sw, out=out[..., 1:-1, 2:-1], taps=taps)
    np.testing.assert_array_equal(out[..., 1:-1, 2:-1], dx)


@pytest.mark.parametrize("shape, stride", POOL_CASES)
def test_avg_pool_fast_equals_plain(shape, stride):
    sh, sw = stride
    x = RNG.normal(size=shape)
    y, cache = avg_pool_forward(x, sh, sw)
    assert_same(avg_pool_forward_fast(x, sh, sw), y, "y")
    dy = RNG.normal(size=y.shape)
    assert_same(avg_pool_backward_fast(dy, x.shape, sh, sw), avg_pool_backward(dy, cache), "dx")


# ---------------------------------------------------------------- fused ReLU conv + max pool

def plain_relu_conv_max_pool(x, k, b, sh, sw, dy):
    """conv → ReLU → max pool and back, one plain step at a time; returns y, dx, dk, db."""
    z, conv_cache = conv2d_forward(x, k, b)
    a = np.maximum(z, 0)
    y, pool_cache = max_pool_forward(a, sh, sw)
    da = max_pool_backward(dy, pool_cache)
    dz = da * (z > 0)
    dx, dk, db = conv2d_backward(dz, conv_cache)
    return y, dx, dk, db


FUSED_CASES = [  # C_in, N, H, W, ksize, C_out, (sh, sw)
    (3, 2, 8, 6, 3, 4, (2, 2)),
    (2, 3, 9, 15, 5, 3, (3, 3)),
    (1, 1, 6, 4, 1, 2, (3, 2)),
    (4, 2, 12, 9, 3, 2, (3, 3)),
]


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("case", FUSED_CASES)
def test_fused_relu_max_pool_functions_equal_the_plain_chain(case, integer):
    cin, n, h, w, ks, cout, (sh, sw) = case
    x, k, b = sample((cin, n, h, w), integer), sample((ks, ks, cin, cout), integer), sample(cout, integer)
    dy = sample((cout, n, h // sh, w // sw), integer)
    y, dx, dk, db = plain_relu_conv_max_pool(x, k, b, sh, sw, dy)
    z, cache = conv2d_forward_fast(x, k, b)
    y_f = np.maximum(max_pool_forward_fast(z, sh, sw), 0)
    dz = max_pool_backward_fast(dy, z, y_f, sh, sw, positive_only=True)
    dx_f, dk_f, db_f = conv2d_backward_fast(dz, cache)
    assert_same(y_f, y, "y")
    assert_same(dx_f, dx, "dx")
    assert_same(dk_f, dk, "dk")
    assert_same(db_f, db, "db")


def _layers(hconfigs, in_shape):
    layers, shape = [], in_shape
    for cfg in parse_hconfigs(hconfigs):
        layer = build_layer(cfg, shape, "cnhw", EXACT, np.random.default_rng(0), np.float64)
        p = {s.key: np.zeros(s.shape) for s in layer.param_specs()}
        layer.bind(p, {key: np.full(v.shape, np.nan) for key, v in p.items()})
        layers.append(layer)
        shape = layer.out_shape
    return layers


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("case", FUSED_CASES)
def test_linked_conv_and_max_pool_layers_equal_the_plain_chain(case, integer):
    """The layer objects as the model links them: the conv's workspace frames, the pool's taps
    buffer and its gradient written into the conv's frame; batch sizes alternate so that each
    frame is reused."""
    cin, n, h, w, ks, cout, (sh, sw) = case
    conv, pool = _layers([["conv", {"ksize": ks, "chn": cout, "actfunc": "relu"}],
                          ["max", {"stride": [sh, sw]}]], (h, w, cin))
    link_layers([conv, pool])
    assert conv.act_grad_fused and pool.fused_relu
    conv.params["k"][...] = sample(conv.params["k"].shape, integer)
    conv.params["b"][...] = sample(cout, integer)
    for batch in (n, n + 1, n):
        x = sample((cin, batch, h, w), integer)
        dy = sample((cout, batch, h // sh, w // sw), integer)
        y, dx, dk, db = plain_relu_conv_max_pool(x, conv.params["k"], conv.params["b"], sh, sw, dy)
        assert_same(pool.forward(conv.forward(x, True), True), y, "y")
        dx_f = conv.backward(pool.backward(dy))
        assert_same(dx_f, dx, "dx")
        assert_same(conv.grads["k"], dk, "dk")
        assert_same(conv.grads["b"], db, "db")


@pytest.mark.parametrize("actfunc", ["relu", "tanh"])
@pytest.mark.parametrize("pool_kind", ["max", "avg"])
def test_unlinked_conv_and_pool_layers_equal_the_plain_functions(actfunc, pool_kind):
    conv, pool = _layers([["conv", {"ksize": 3, "chn": 3, "actfunc": actfunc}],
                          [pool_kind, {"stride": 3}]], (9, 6, 2))
    conv.params["k"][...] = RNG.normal(size=conv.params["k"].shape)
    conv.params["b"][...] = RNG.normal(size=3)
    x = RNG.normal(size=(2, 4, 9, 6))
    dy = RNG.normal(size=(3, 4, 3, 2))
    z, conv_cache = conv2d_forward(x, conv.params["k"], conv.params["b"])
    a = np.maximum(z, 0) if actfunc == "relu" else np.tanh(z)
    forward, backward = ((max_pool_forward, max_pool_backward) if pool_kind == "max"
                         else (avg_pool_forward, avg_pool_backward))
    y, pool_cache = forward(a, 3, 3)
    da = backward(dy, pool_cache)
    dz = da * (z > 0) if actfunc == "relu" else da * (1 - a ** 2)
    dx, dk, db = conv2d_backward(dz, conv_cache)
    assert_same(pool.forward(conv.forward(x, True), True), y, "y")
    assert_same(conv.backward(pool.backward(dy)), dx, "dx")
    assert_same(conv.grads["k"], dk, "dk")
    assert_same(conv.grads["b"], db, "db")
