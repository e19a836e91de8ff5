"""Adam and the L1/L2 penalty against their formulas; the fused Adam pass against the plain one."""

import numpy as np
import pytest

from reglab.nn.optim import CHUNK, Adam, adam_update, flush_denormals
from reglab.nn.regularizers import Penalty


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_adam_pass_matches_the_textbook_lines(dtype):
    """Adam.step (chunked, bias corrections folded into α_t and ε̂) and adam_update (the four
    textbook lines on whole arrays): the same moments bit for bit, the same parameters to
    rounding (a few units in the last place of p or of the step)."""
    ulp = np.finfo(dtype).eps
    rng = np.random.default_rng(0)
    size = 2 * CHUNK + 777                          # two full chunks and a tail
    p = rng.normal(0, 0.05, size).astype(dtype)
    ref_p, m, v = p.copy(), np.zeros(size, dtype), np.zeros(size, dtype)
    opt = Adam(size, dtype, flush_every=10 ** 9)
    for t in range(1, 8):
        g = (rng.normal(size=size) * (t % 3)).astype(dtype)     # t = 3, 6: all-zero gradients
        g0 = g.copy()
        opt.step(p, g, 0.01)
        adam_update(ref_p, g, m, v, t, 0.01)
        np.testing.assert_array_equal(g, g0)                   # the gradient is not changed
        assert opt.m.tobytes() == m.tobytes() and opt.v.tobytes() == v.tobytes()
        np.testing.assert_allclose(p, ref_p, rtol=4 * ulp, atol=4 * ulp * 0.01)
        assert np.any(p != ref_p)                   # two forms indeed (not one code path)
        ref_p[...] = p                              # compare step by step


def test_adam_update_matches_the_per_element_recursion():
    """adam_update against Kingma & Ba written out with Python floats, element by element."""
    rng = np.random.default_rng(1)
    p = rng.normal(size=50)
    ref = p.tolist()
    m, v = np.zeros(50), np.zeros(50)
    rm, rv = [0.0] * 50, [0.0] * 50
    for t in range(1, 6):
        g = rng.normal(size=50)
        adam_update(p, g, m, v, t, 0.001)
        for i, gi in enumerate(g.tolist()):
            rm[i] = 0.9 * rm[i] + 0.1 * gi
            rv[i] = 0.999 * rv[i] + 0.001 * gi * gi
            ref[i] -= 0.001 * (rm[i] / (1 - 0.9 ** t)) / ((rv[i] / (1 - 0.999 ** t)) ** 0.5 + 1e-8)
    np.testing.assert_allclose(p, ref, rtol=1e-13, atol=1e-16)


def test_first_adam_step_moves_each_parameter_by_lr():
    """At t = 1, m̂ = g and v̂ = g², so each step is lr · g / (|g| + ε)."""
    g = np.array([3.0, -0.5, 1e-3, 0.0])
    p = np.zeros(4)
    Adam(4, np.float64).step(p, g, 0.01)
    np.testing.assert_allclose(p, -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_sets_denormals_to_zero_and_writes_nothing_else(dtype):
    """flush_denormals against its definition (0 < |x| < tiny → +0; zeros of either sign are
    left as they are) on every kind of float; an
    array whose only small values are exact zeros is not written at all (read-only here: a
    write would raise)."""
    fi = np.finfo(dtype)
    r = np.random.default_rng(3)
    special = [0.0, -0.0, fi.tiny, -fi.tiny, fi.tiny / 2, -fi.tiny / 3, fi.smallest_subnormal,
               -fi.smallest_subnormal, np.nan, np.inf, -np.inf, fi.max, 1.0]
    x = np.concatenate([np.array(special, dtype), r.normal(size=3000).astype(dtype),
                        (r.normal(size=3000) * fi.tiny).astype(dtype)])   # about half denormal
    x[r.random(x.size) < 0.4] = 0
    expected = np.where((np.abs(x) < fi.tiny) & (x != 0), dtype(0), x)   # NaN compares False
    got = x.copy()
    flush_denormals(got)
    assert got.tobytes() == expected.tobytes()                     # -0 stays -0
    zeros = np.where(np.abs(x) < fi.tiny, dtype(0), x)
    zeros.flags.writeable = False
    flush_denormals(zeros)


def test_adam_flushes_moments_and_parameters_on_flush_steps_only():
    opt = Adam(4, np.float32, flush_every=2)
    opt.m[:] = [1e-39, -1e-40, 1e-3, 0]            # the first two are float32 denormals
    opt.v[:] = [1e-2, 1e-2, 1e-2, 0]
    p = np.array([3e-39, -1e-42, 2e-38, 0.5], np.float32)
    g = np.zeros(4, np.float32)
    opt.step(p, g, 0.0)                            # step 1: no flush (lr 0: p moves only by the flush)
    assert opt.m[0] != 0 and p[0] != 0 and p[1] != 0
    opt.step(p, g, 0.0)                            # step 2: flush
    assert opt.m[0] == 0 and opt.m[1] == 0 and opt.m[2] != 0
    assert p[0] == 0 and p[1] == 0 and p[2] == np.float32(2e-38) and p[3] == np.float32(0.5)


def test_adam_state_round_trip():
    rng = np.random.default_rng(2)
    a, b = Adam(10, np.float64), Adam(10, np.float64)
    p = rng.normal(size=10)
    for _ in range(3):
        a.step(p, rng.normal(size=10), 0.01)
    b.load_state_dict(a.state_dict())
    pa, pb, g = p.copy(), p.copy(), rng.normal(size=10)
    a.step(pa, g, 0.01)
    b.step(pb, g, 0.01)
    np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("l2,l1", [(0.1, 0.0), (0.0, 0.01), (0.1, 0.01), (0.0, 0.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_penalty_cost_and_gradient_against_the_formulas(l2, l1, dtype):
    w = np.random.default_rng(4).normal(size=1000).astype(dtype)
    w[::97] = 0.0                                  # sign(0) = 0
    w[1::97] = -0.0
    pen = Penalty(l2, l1)
    w64 = w.astype(np.float64)
    assert pen.cost(w) == pytest.approx(l2 / 2 * np.sum(w64 ** 2) + l1 * np.sum(np.abs(w64)),
                                        rel=2e-6 if dtype == np.float32 else 1e-12, abs=0)
    g = pen.gradient(w)
    assert g.dtype == w.dtype and g.shape == w.shape
    np.testing.assert_allclose(g, l2 * w64 + l1 * np.sign(w64), rtol=1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_array_equal(g[::97], 0)
    assert pen.active == (l2 > 0 or l1 > 0)


def test_book_cost_omits_lambda():
    """E1/E2: the book adds ½Σw² and Σ|w| to the printed cost without λ."""
    w = np.array([0.5, -2.0, 0.0])
    assert Penalty(0.1, 0.01, cost_scaled=False).cost(w) == pytest.approx(0.5 * 4.25 + 2.5)
    assert Penalty(0.1, 0.01, cost_scaled=True).cost(w) == pytest.approx(0.1 * 0.5 * 4.25 + 0.01 * 2.5)
