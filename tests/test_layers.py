"""Behaviour of the layers beyond their gradients: dropout, noise, batch norm, pooling, configs."""

import numpy as np
import pytest

from reglab.nn.config import parse_hconfigs
from reglab.nn.layers import build_layer
from reglab.profile import BOOK, EXACT


def make(hconfig, in_shape, layout, profile=EXACT, seed=0, dtype=np.float64):
    cfg = parse_hconfigs([hconfig])[0]
    layer = build_layer(cfg, in_shape, layout, profile, np.random.default_rng(seed), dtype)
    p = {s.key: (np.ones(s.shape, dtype) if s.init == "ones" else np.zeros(s.shape, dtype))
         for s in layer.param_specs()}
    layer.bind(p, {k: np.zeros_like(v) for k, v in p.items()})
    return layer


@pytest.mark.parametrize("keep_prob", [0.3, 0.6, 0.9])
def test_dropout_keeps_the_mean_and_drops_the_right_fraction(keep_prob):
    layer = make(["dropout", {"keep_prob": keep_prob}], (100,), "flat")
    x = np.full((400, 100), 2.0)
    y = layer.forward(x, True)
    n = x.size
    # mean of 40,000 scaled Bernoulli draws: std of the mean is 2*sqrt((1-p)/(p n))
    tol = 5 * 2.0 * np.sqrt((1 - keep_prob) / (keep_prob * n))
    assert abs(y.mean() - 2.0) < tol
    assert abs(np.mean(y == 0) - (1 - keep_prob)) < 5 * np.sqrt(keep_prob * (1 - keep_prob) / n)
    assert set(np.unique(y)) <= {0.0, 2.0 / keep_prob}
    # the mask is per element and per sample (not shared across the batch)
    assert not np.all((y[0] == 0) == (y[1] == 0))
    # backward uses the same mask and scale
    g = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(g, y / 2.0)


@pytest.mark.parametrize("hconfig", [["dropout", {"keep_prob": 0.5}],
                                     ["noise", {"type": "normal", "mean": 0.3, "std": 2.0}]])
def test_dropout_and_noise_are_identity_in_eval(hconfig):
    layer = make(hconfig, (4, 4, 3), "cnhw")
    x = np.random.default_rng(1).normal(size=(3, 5, 4, 4))
    before = x.copy()
    y = layer.forward(x, False)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(x, before)       # input untouched
    assert not np.array_equal(layer.forward(x, True), x)


@pytest.mark.parametrize("profile", [BOOK, EXACT])
def test_noise_statistics_and_identity_backward(profile):
    layer = make(["noise", {"type": "normal", "mean": 0.5, "std": 0.2}], (50,), "flat", profile)
    x = np.zeros((200, 50))
    eps = layer.forward(x, True) - x
    assert abs(eps.mean() - 0.5) < 5 * 0.2 / np.sqrt(eps.size)
    assert abs(eps.std() - 0.2) < 0.01
    d = np.random.default_rng(0).normal(size=x.shape)
    np.testing.assert_array_equal(layer.backward(d), d)


def test_noise_decision_per_batch_in_book_and_per_sample_in_exact():
    cfg = ["noise", {"type": "normal", "mean": 0, "std": 1.0, "ratio": 0.5}]
    x = np.zeros((40, 8))
    book = make(cfg, (8,), "flat", BOOK, seed=3)
    outs = [np.any(book.forward(x, True) != 0, axis=1) for _ in range(30)]
    assert all(o.all() or not o.any() for o in outs)          # all-or-nothing per minibatch
    assert any(o.all() for o in outs) and any(not o.any() for o in outs)
    exact = make(cfg, (8,), "flat", EXACT, seed=3)
    hit = np.any(exact.forward(x, True) != 0, axis=1)
    assert 0 < hit.sum() < len(hit)                           # decided per sample


@pytest.mark.parametrize("layout,shape,in_shape", [("cnhw", (4, 6, 5, 5), (5, 5, 4)),
                                                   ("flat", (64, 7), (7,))])
@pytest.mark.parametrize("profile", [BOOK, EXACT])
def test_batchnorm_training_output_is_standardised_per_channel(layout, shape, in_shape, profile):
    layer = make(["batch_normal"], in_shape, layout, profile)
    x = np.random.default_rng(2).normal(100.0, 30.0, size=shape)
    y = layer.forward(x, True)
    axis = (1, 2, 3) if layout == "cnhw" else 0
    np.testing.assert_allclose(y.mean(axis=axis), 0, atol=1e-10)
    np.testing.assert_allclose(y.std(axis=axis), 1, rtol=1e-6)


def test_batchnorm_running_statistics_follow_the_profile_rate():
    x = np.random.default_rng(3).normal(100.0, 30.0, size=(3, 10, 4, 4))
    m = x.reshape(3, -1).shape[1]
    book = make(["batch_normal"], (4, 4, 3), "cnhw", BOOK)
    book.forward(x, True)
    mean, var = x.reshape(3, -1).mean(1), x.reshape(3, -1).var(1)
    np.testing.assert_allclose(book.buffers["mavg"], 0.001 * mean)             # E5, r = 0.001
    np.testing.assert_allclose(book.buffers["mvar"], 1 + 0.001 * (var - 1))    # biased variance
    exact = make(["batch_normal"], (4, 4, 3), "cnhw", EXACT)
    for _ in range(60):
        exact.forward(x, True)
    np.testing.assert_allclose(exact.buffers["mavg"], mean, rtol=1e-2)        # converges (r = 0.1)
    np.testing.assert_allclose(exact.buffers["mvar"], var * m / (m - 1), rtol=1e-2)
    # evaluation uses the running statistics
    y = exact.forward(x, False)
    expected = (x - mean[:, None, None, None]) / np.sqrt(exact.buffers["mvar"] + 1e-5)[:, None, None, None]
    np.testing.assert_allclose(y, expected, rtol=2e-2, atol=2e-2)


def test_explicit_options_override_the_profile():
    layer = make(["batch_normal", {"epsilon": 0.5, "exp_ratio": 0.25, "rescale": False}],
                 (3,), "flat", BOOK)
    assert layer.eps == 0.5 and layer.exp_ratio == 0.25 and layer.param_specs() == []


@pytest.mark.parametrize("hconfigs,match", [
    ([["convv", {"ksize": 3}]], r"layer 1: unknown layer type 'convv'; allowed: full, conv"),
    ([["conv", {"ksize": 3, "chn": 6, "strides": 2}]], r"layer 1 \('conv'\): unknown option\(s\) \['strides'\]"),
    ([["conv", {"chn": 6}]], r"layer 1 \('conv'\): missing 'ksize'"),
    ([["conv", {"ksize": 3}]], r"missing 'chn'"),
    ([30, ["max"]], r"layer 2 \('max'\): missing 'stride'"),
    ([["avg", {}]], r"missing 'stride'"),
    ([["dropout", {"keep_prob": 0}]], r"keep_prob=0.*allowed \(0, 1\]"),
    ([["dropout", {"keep_prob": 1.5}]], r"keep_prob=1.5.*allowed \(0, 1\]"),
    ([["noise", {"type": "uniform"}]], r"type='uniform' is not supported"),
    ([["full", {"width": 30, "actfunc": "gelu"}]], r"actfunc='gelu' is unknown; allowed: none, relu"),
    ([["conv", {"ksize": 0, "chn": 3}]], r"ksize=0"),
    ([30, 3.5], r"layer 2: 3.5 is not a layer"),
])
def test_bad_configs_name_the_layer_value_and_what_is_allowed(hconfigs, match):
    with pytest.raises(ValueError, match=match):
        parse_hconfigs(hconfigs)


def test_single_layer_shorthand_and_defaults():
    (cfg,) = parse_hconfigs(["batch_normal"])
    assert cfg.kind == "batch_normal" and cfg["rescale"] is True
    full = parse_hconfigs([30, 10])
    assert [c.kind for c in full] == ["full", "full"] and full[0]["actfunc"] == "relu"
    (conv,) = parse_hconfigs([["conv", {"ksize": [3, 5], "chn": 2}]])
    assert conv["ksize"] == (3, 5)


def test_pooling_stride_that_does_not_divide_the_size():
    cfg = parse_hconfigs([["max", {"stride": 2}]])[0]
    with pytest.raises(ValueError, match=r"layer 1 \('max'\): stride \[2, 2\] does not divide "
                                         r"the input size 95x95"):
        build_layer(cfg, (95, 95, 3), "cnhw", EXACT, np.random.default_rng(0), np.float32)


def test_conv_after_full_is_rejected():
    cfg = parse_hconfigs([["conv", {"ksize": 3, "chn": 2}]])[0]
    with pytest.raises(ValueError, match=r"needs an image-shaped input"):
        build_layer(cfg, (30,), "flat", EXACT, np.random.default_rng(0), np.float32)


def test_layers_never_modify_their_inputs():
    rng = np.random.default_rng(5)
    for hconfig, in_shape, layout, shape in [
            (["conv", {"ksize": 3, "chn": 2}], (4, 4, 3), "cnhw", (3, 2, 4, 4)),
            (["max", {"stride": 2}], (4, 4, 3), "cnhw", (3, 2, 4, 4)),
            (["avg", {"stride": 2}], (4, 4, 3), "cnhw", (3, 2, 4, 4)),
            (["batch_normal"], (4, 4, 3), "cnhw", (3, 2, 4, 4)),
            (["dropout", {"keep_prob": 0.5}], (6,), "flat", (2, 6)),
            (["noise", {"type": "normal", "std": 1.0}], (6,), "flat", (2, 6)),
            (["full", {"width": 3}], (6,), "flat", (2, 6))]:
        layer = make(hconfig, in_shape, layout)
        for key in layer.params:
            layer.params[key][...] = rng.normal(size=layer.params[key].shape)
        x = rng.normal(size=shape)
        x0 = x.copy()
        y = layer.forward(x, True)
        d = rng.normal(size=y.shape)
        d0 = d.copy()
        layer.backward(d)
        np.testing.assert_array_equal(x, x0, err_msg=f"{hconfig[0]} modified its input")
        np.testing.assert_array_equal(d, d0, err_msg=f"{hconfig[0]} modified its upstream gradient")
