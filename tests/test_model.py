"""The Model: parameter counts, seeds, the book's update rules, printing, saving, errors, runs."""

import re

import numpy as np
import pytest

from reglab import Model, TrainingDiverged
from reglab.data import random_image_dataset
from reglab.pipeline.experiments import CHAPTER8_RUNS, CNN_BASE, get_run
from reglab.profile import BOOK, EXACT


@pytest.fixture(scope="module")
def fake():
    return random_image_dataset(n=60)


@pytest.fixture(scope="module")
def small():
    return random_image_dataset(n=40, shape=(12, 12, 3))


def test_parameter_counts_of_the_seed_models(fake):
    mlp = Model("m", fake, [30, 10]).parameter_counts()
    assert (mlp["weights"], mlp["biases"], mlp["bn_affine"]) == (829_790, 45, 0)
    cnn = Model("c", fake, CNN_BASE).parameter_counts()
    assert (cnn["weights"], cnn["biases"], cnn["bn_affine"]) == (11_082, 47, 0)
    bn = Model("b", fake, get_run("flowers_cnn_4").hconfigs).parameter_counts()
    assert (bn["weights"], bn["biases"], bn["bn_affine"]) == (11_082, 47, 42)   # C = 3, 6, 12
    for name in ("flowers_cnn_2", "flowers_cnn_3"):
        assert Model("x", fake, get_run(name).hconfigs).parameter_counts()["total"] == 11_129


def test_initialisation_follows_the_book(fake):
    m = Model("m", fake, [30, 10], profile="book", seed=3)
    w = m.weights()
    assert w.dtype == np.float32 and w.size == 829_790
    assert abs(w.std() - 0.03) < 0.0005 and abs(w.mean()) < 0.0005
    for layer in m.layers:
        assert np.all(layer.params["b"] == 0)
    bn = Model("b", fake, get_run("flowers_cnn_4").hconfigs)
    first = bn.layers[0]
    assert np.all(first.params["scale"] == 1) and np.all(first.params["shift"] == 0)
    assert np.all(first.buffers["mavg"] == 0) and np.all(first.buffers["mvar"] == 1)


@pytest.mark.parametrize("hconfigs", [[8], get_run("flowers_cnn_2").hconfigs[:3]])
def test_same_seed_same_history_other_seed_different(small, hconfigs, capsys):
    def run(seed):
        m = Model("s", small, hconfigs, profile="exact", seed=seed)
        m.train(2, 5, 0.001)
        return [(h["train_loss"], h["train_acc"], h["val_loss"], h["val_acc"]) for h in m.history], m.weights()

    h1, w1 = run(11)
    h2, w2 = run(11)
    h3, w3 = run(12)
    assert h1 == h2 and np.array_equal(w1, w2)
    assert h1 != h3 and not np.array_equal(w1, w3)


def test_validation_sampling_does_not_change_training(small, capsys):
    a = Model("a", small, [8], profile="book", seed=4)
    b = Model("b", small, [8], profile="book", seed=4)
    a.train(2, 5, 0.001, report=1)
    b.validation_sample()            # extra draws on the evaluation stream
    b.train(2, 5, 0.001, report=0)
    assert np.array_equal(a.weights(), b.weights())


def _one_batch(m, ds, n=10):
    return ds.tr_xs[:n], ds.tr_ys[:n]


@pytest.mark.parametrize("l2,l1", [(0.1, 0.0), (0.0, 0.01)])
def test_book_decay_is_added_after_adam(small, l2, l1):
    """E3: w ← w − lr·(Adam(g) + λ2 w + λ1 sign w); at step 1 Adam(g) = g/(|g| + ε)."""
    m = Model("d", small, [8], l2_decay=l2, l1_decay=l1, profile=BOOK, dtype=np.float64)
    xs, ys = _one_batch(m, small)
    w0 = m.store.data.copy()
    m.loss_and_gradients(m._to_input(xs), ys)
    g = m.store.grad.copy()
    m.store.data[...] = w0
    m.train_step(xs, ys, 0.001)
    adam1 = g / (np.sqrt(g * g) + 1e-8)
    expected = w0 - 0.001 * adam1
    nd = m.store.n_decay
    expected[:nd] -= 0.001 * (l2 * w0[:nd] + l1 * np.sign(w0[:nd]))
    np.testing.assert_allclose(m.store.data, expected, rtol=1e-10, atol=1e-14)
    # the gradient itself carries no penalty in the book profile
    m.store.data[...] = w0
    m.loss_and_gradients(m._to_input(xs), ys)
    np.testing.assert_array_equal(m.store.grad, g)


@pytest.mark.parametrize("l2,l1", [(0.1, 0.0), (0.0, 0.01), (0.1, 0.01)])
def test_book_decay_is_subtracted_from_the_weights_before_the_adam_step(l2, l1):
    """E3 in float32, bitwise: p ← (p − lr·t) − lr·Δ (NUMERICS_VERSION 5), t = λ2 w + λ1 sign w.

    lr·Δ comes from a second optimizer on p = 0 with the same gradients (in this placement the
    moments do not see the penalty), where the update is exactly −lr·Δ."""
    from reglab.nn.optim import CHUNK, Adam
    from reglab.nn.regularizers import Penalty
    size, nd, lr = CHUNK + 300, CHUNK + 100, 1e-3
    rng = np.random.default_rng(8)
    p0 = rng.normal(0, 0.05, size).astype(np.float32)
    p0[::50] = 0                                   # sign(0) = 0
    pen = Penalty(l2, l1, "after_optimizer", False)
    with_pen, plain = Adam(size, np.float32, threads=1), Adam(size, np.float32, threads=1)
    p, zero = p0.copy(), np.zeros(size, np.float32)
    for step in range(3):
        g = rng.normal(size=size).astype(np.float32)
        w = p.copy()
        with_pen.step(p, g, lr, pen, n_decay=nd)
        zero[...] = 0
        plain.step(zero, g, lr)
        step_ = -zero                              # lr·Δ, exactly
        t = np.empty(nd, np.float32)
        pen.terms(w[:nd], lr, t)
        expected = w - step_
        expected[:nd] = (w[:nd] - t) - step_[:nd]
        np.testing.assert_array_equal(p, expected)
        other_order = w[:nd] - (step_[:nd] + t)     # the order before version 5
        assert np.any(other_order != p[:nd])


def test_book_cost_omits_lambda_exact_cost_has_it(small):
    """E1/E2: the printed cost adds ½Σw² and Σ|w| without λ in the book profile."""
    xs, ys = _one_batch(None, small)
    for profile, scale in [(BOOK, 1.0), (EXACT, None)]:
        m = Model("c", small, [8], l2_decay=0.1, l1_decay=0.01, profile=profile, dtype=np.float64)
        plain = Model("c", small, [8], profile=profile, dtype=np.float64)
        x = m._to_input(xs)
        w = m.store.weights
        reg = (0.5 * np.sum(w ** 2) + np.sum(np.abs(w))) if scale else (
            0.1 * 0.5 * np.sum(w ** 2) + 0.01 * np.sum(np.abs(w)))
        assert m.loss_and_gradients(x, ys)[0] - plain.loss_and_gradients(x, ys)[0] == pytest.approx(reg, rel=1e-9)


def test_book_batchnorm_scale_shift_use_plain_sgd_exact_uses_adam(small):
    """E4: γ, β ← γ, β − lr·g in the book; Adam moves them by ≈ lr at step 1 in exact."""
    cfg = [["batch_normal"], ["conv", {"ksize": 3, "chn": 2}], ["max", {"stride": 2}]]
    xs, ys = _one_batch(None, small)
    for profile in (BOOK, EXACT):
        m = Model("bn", small, cfg, profile=profile, dtype=np.float64)
        bn = m.layers[0]
        s0 = bn.params["scale"].copy()
        m.loss_and_gradients(m._to_input(xs), ys)
        g = bn.grads["scale"].copy()
        m.store.data[m.store.n_optimizer:] = m.store.data[m.store.n_optimizer:]  # no-op, clarity
        m.layers[0].params["scale"][...] = s0
        m.train_step(xs, ys, 0.01)
        if profile is BOOK:
            np.testing.assert_allclose(bn.params["scale"], s0 - 0.01 * g, rtol=1e-12)
        else:
            np.testing.assert_allclose(bn.params["scale"], s0 - 0.01 * g / (np.abs(g) + 1e-8),
                                       rtol=1e-9)


def test_exec_all_prints_the_books_lines(small, capsys):
    ds = random_image_dataset(n=40, shape=(12, 12, 3))
    ds.visualize = lambda xs, est, ans: print(f"visualize {len(xs)} {est.shape}")
    m = Model("flowers_tiny", ds, [8], l1_decay=0.01, profile="book")
    out = m.exec_all(epoch_count=2, batch_size=10, report=1, show_cnt=2, show_params=False)
    text = capsys.readouterr().out
    lines = text.split("\n")
    assert lines[0] == "Model flowers_tiny train started:"
    assert re.fullmatch(r"    Epoch 1: cost=\d+\.\d{3}, accuracy=\d\.\d{3}/\d\.\d{3} \(\d+/\d+ secs\)", lines[1])
    assert re.fullmatch(r"    Epoch 2: cost=\d+\.\d{3}, accuracy=\d\.\d{3}/\d\.\d{3} \(\d+/\d+ secs\)", lines[2])
    assert re.fullmatch(r"Model flowers_tiny train ended in \d+ secs:", lines[3])
    assert re.fullmatch(r"Model flowers_tiny test report: accuracy = \d\.\d{3}, \(\d+ secs\)", lines[4])
    assert lines[5] == ""                       # the book's format string ends in a newline
    assert lines[6] == "Model flowers_tiny Visualization"
    assert lines[7] == "visualize 2 (2, 5)"
    assert [h["epoch"] for h in out["history"]] == [1, 2]
    assert out["test_acc"] == m.test_accuracy
    assert out["near_zero"] == (m.near_zero_count(), 8 * 432 + 8 * 5)
    for h in out["history"]:
        assert set(h) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
        assert h["train_loss"] > 1.0                # includes Σ|w| without λ (book)


def test_report_zero_prints_only_the_end_line(small, capsys):
    m = Model("quiet", small, [8])
    m.train(1, 10, 0.001, report=0)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and re.fullmatch(r"Model quiet train ended in \d+ secs:", out[0])


def test_show_param_dist_prints_near_zero_line(small, capsys):
    import matplotlib
    matplotlib.use("Agg")
    m = Model("h", small, [8])
    m.store.weights[:] = 0.05
    m.store.weights[:10] = 0.0
    m.store.weights[10] = 1e-5                  # inclusive bound
    m.store.weights[11] = -1.0001e-5
    count = m.show_param_dist()
    assert count == 11
    total = m.store.n_decay
    assert capsys.readouterr().out.strip() == f"Near 0 parameters = {100 * 11 / total:4.1f}%(11/{total})"


def test_save_and_load_roundtrip(tmp_path, small):
    cfg = get_run("flowers_cnn_4").hconfigs[:4]
    a = Model("a", small, cfg, seed=1)
    a.train(1, 10, 0.001)
    path = tmp_path / "sub" / "a.npz"
    a.save(path)
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    b = Model("b", small, cfg, seed=2)
    assert not np.array_equal(a.weights(), b.weights())
    b.load(path)
    np.testing.assert_array_equal(a.weights(), b.weights())
    np.testing.assert_array_equal(a.layers[0].buffers["mvar"], b.layers[0].buffers["mvar"])
    np.testing.assert_array_equal(a.predict_logits(small.te_xs), b.predict_logits(small.te_xs))
    with pytest.raises(ValueError, match="do not match"):
        Model("c", small, [8]).load(path)


@pytest.mark.parametrize("kwargs,match", [
    ({"l2_decay": -0.1}, r"l2_decay=-0.1 is not allowed; use a finite number >= 0"),
    ({"l1_decay": float("nan")}, r"l1_decay=nan is not allowed"),
    ({"profile": "textbook"}, r"unknown profile 'textbook'; use one of \['book', 'exact'\]"),
    ({"dtype": np.float16}, r"dtype=.* is not allowed"),
])
def test_bad_model_arguments(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Model("bad", small, [8], **kwargs)


def test_bad_training_arguments(small):
    m = Model("bad", small, [8])
    with pytest.raises(ValueError, match="batch_size=100 is larger than the training split"):
        m.train(1, 100)
    with pytest.raises(ValueError, match="learning_rate"):
        m.train(1, 10, -1.0)
    with pytest.raises(ValueError, match="epoch_count"):
        m.train(0)


def test_diverging_run_stops_with_a_clear_error_and_keeps_finished_epochs(small, capsys):
    m = Model("boom", small, [8], profile="book")
    m.train(1, 10, 0.001)
    kept = m.store.data.copy()
    with pytest.raises(TrainingDiverged, match=r"Model boom diverged at epoch 2.*Lower learning_rate"):
        m.train(3, 10, 1e30)
    assert len(m.history) == 1
    np.testing.assert_array_equal(m.store.data, kept)


def test_profile_fields_are_the_only_differences():
    diffs = BOOK.differences(EXACT)
    assert set(diffs) == {"input_scale", "reg_cost_scaled", "decay_placement", "bn_backward",
                          "bn_affine_update", "bn_exp_ratio", "bn_running_var", "bn_epsilon",
                          "validation_samples", "noise_decision", "ce_log_epsilon"}
    one = BOOK.replace(input_scale=1 / 255)
    assert BOOK.differences(one) == {"input_scale": (1.0, 1 / 255)}
    assert "input_scale" in one.name
    with pytest.raises(ValueError, match="unknown profile field"):
        BOOK.replace(input_scal=1)
    with pytest.raises(ValueError, match="bn_backward='partial' is not allowed"):
        BOOK.replace(bn_backward="partial")
    assert all(row["erratum"] for row in BOOK.describe())


@pytest.mark.parametrize("profile", ["book", "exact"])
@pytest.mark.parametrize("run", CHAPTER8_RUNS, ids=lambda r: r.name)
def test_each_seed_config_trains_one_epoch_on_synthetic_photos(synthetic_flowers, run, profile,
                                                               capsys):
    from reglab import FlowersDataset
    ds = FlowersDataset([96, 96], [96, 96, 3], path=synthetic_flowers)
    m = Model(dataset=ds, profile=profile, seed=5, **run.model_kwargs())
    before = m.weights()
    out = m.exec_all(epoch_count=1, batch_size=10, report=1, show_cnt=0)
    assert len(out["history"]) == 1
    h = out["history"][0]
    assert np.isfinite(h["train_loss"]) and 0 <= h["val_acc"] <= 1 and 0 <= out["test_acc"] <= 1
    assert not np.array_equal(before, m.weights())
    text = capsys.readouterr().out
    assert f"Model {run.name} train started:" in text and f"Model {run.name} test report" in text


@pytest.mark.parametrize("profile", [BOOK, EXACT])
def test_training_step_cost_and_update_match_the_unfused_formulas(small, profile):
    """The optimizer applies the penalty inside its pass; the result must equal the plain
    formulas: exact w ← w − lr·Adam(g + λ2 w + λ1 sign w), book as in E3, and the same cost."""
    m = Model("f", small, [8], l2_decay=0.05, l1_decay=0.02, profile=profile, dtype=np.float64)
    xs, ys = _one_batch(m, small)
    w0 = m.store.data.copy()
    cost_ref, _ = m.loss_and_gradients(m._to_input(xs), ys)
    g = m.store.grad.copy()                      # exact: includes the penalty gradient
    m.store.data[...] = w0
    cost, _ = m.train_step(xs, ys, 0.001)
    assert cost == pytest.approx(cost_ref, rel=1e-12)
    expected = w0 - 0.001 * g / (np.abs(g) + 1e-8)
    if profile is BOOK:
        nd = m.store.n_decay
        expected[:nd] -= 0.001 * (0.05 * w0[:nd] + 0.02 * np.sign(w0[:nd]))
    np.testing.assert_allclose(m.store.data, expected, rtol=1e-10, atol=1e-15)


def test_adam_over_many_steps_matches_a_per_tensor_reference(small):
    """The fused, chunked Adam equals the textbook per-element recursion over 5 steps."""
    from reglab.nn.optim import Adam
    r = np.random.default_rng(0)
    size = 70_000                                  # more than two chunks
    p = r.normal(size=size)
    ref_p, m, v = p.copy(), np.zeros(size), np.zeros(size)
    opt = Adam(size, np.float64)
    for t in range(1, 6):
        g = r.normal(size=size) * (t % 3)          # t = 3: an all-zero gradient
        opt.step(p, g.copy(), 0.01)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref_p -= 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(p, ref_p, rtol=1e-12, atol=1e-14)


def test_adam_flushes_denormal_moments():
    from reglab.nn.optim import Adam
    opt = Adam(4, np.float32, flush_every=1)
    opt.m[:] = [1e-39, -1e-40, 1e-3, 0]            # the first two are float32 denormals
    opt.v[:] = [1e-41, 1e-6, 1e-6, 0]
    opt.step(np.zeros(4, np.float32), np.zeros(4, np.float32), 0.001)
    assert opt.m[0] == 0 and opt.m[1] == 0 and opt.v[0] == 0 and opt.m[2] != 0


def test_adam_flushes_parameters_stuck_in_the_denormals():
    """A dead unit's weight under L2 before the moments decays geometrically and stalls below
    the smallest normal float; the flush sets such parameters (only those) to 0."""
    from reglab.nn.optim import Adam
    from reglab.nn.regularizers import Penalty
    pen = Penalty(0.1, 0.0, "gradient", True)
    opt = Adam(4, np.float32, flush_every=4)
    opt.v[:] = 1e-2                                         # gradients seen earlier: small steps
    p = np.array([3e-39, -1e-42, 2e-38, 0.5], np.float32)   # two denormals, two normal floats
    g = np.zeros(4, np.float32)
    for _ in range(3):
        opt.step(p, g, 0.001, pen, n_decay=4)
    assert p[0] != 0 and p[1] != 0                          # not a flush step yet
    opt.step(p, g, 0.001, pen, n_decay=4)
    assert p[0] == 0 and p[1] == 0
    assert abs(p[2]) >= np.finfo(np.float32).tiny and 0.49 < p[3] < 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_sets_denormals_to_zero_and_writes_nothing_else(dtype):
    """``_flush_tiny`` against its definition (|x| < tiny → +0), on every kind of float; an
    array whose only small values are exact zeros is not written at all (read-only here: a
    write would raise), which is what keeps a flush cheap where units died."""
    from reglab.nn.optim import _flush_tiny
    fi = np.finfo(dtype)
    r = np.random.default_rng(3)
    special = [0.0, -0.0, fi.tiny, -fi.tiny, fi.tiny / 2, -fi.tiny / 3, fi.smallest_subnormal,
               -fi.smallest_subnormal, np.nan, np.inf, -np.inf, fi.max, 1.0]
    x = np.concatenate([np.array(special, dtype), r.normal(size=3000).astype(dtype),
                        (r.normal(size=3000) * fi.tiny).astype(dtype)])   # about half denormal
    x[r.random(x.size) < 0.4] = 0
    expected = np.where(np.abs(x) < fi.tiny, dtype(0), x)          # NaN compares False: kept
    got = x.copy()
    _flush_tiny(got, fi.tiny, np.empty_like(x), np.empty(x.size, bool))
    assert got.tobytes() == expected.tobytes()                     # the sign of 0 too
    zeros = np.where(np.abs(x) < fi.tiny, dtype(0), x)             # no denormals left
    zeros.flags.writeable = False
    _flush_tiny(zeros, fi.tiny, np.empty_like(x), np.empty(x.size, bool))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l1_sign_matches_np_sign_including_zeros(dtype):
    from reglab.nn.regularizers import Penalty
    w = np.array([0.0, -0.0, 1e-30, -2.5, 3.0, 1e-5, -1e-5, 0.0], dtype)
    out = np.full_like(w, 7.0)                     # overwritten, not added to
    pen = Penalty(0.0, 0.01, "after_optimizer", False)
    cost = pen.terms(w, 0.001, out)
    np.testing.assert_array_equal(out, (0.001 * 0.01 * np.sign(w)).astype(dtype))
    assert cost == pytest.approx(float(np.abs(w.astype(np.float64)).sum()), rel=1e-6)


@pytest.mark.parametrize("l2,l1", [(0.1, 0.0), (0.0, 0.01), (0.1, 0.01), (0.0, 0.0)])
def test_penalty_terms_against_the_formula(l2, l1):
    from reglab.nn.regularizers import Penalty
    w = np.random.default_rng(4).normal(size=1000)
    w[::97] = 0.0
    out = np.full_like(w, 7.0)
    pen = Penalty(l2, l1, "gradient", True)
    cost = pen.terms(w, 0.5, out, np.empty_like(w), np.empty(w.size, bool))
    np.testing.assert_allclose(out, 0.5 * (l2 * w + l1 * np.sign(w)), rtol=1e-15, atol=1e-18)
    assert cost == pytest.approx(l2 / 2 * np.sum(w * w) + l1 * np.sum(np.abs(w)), rel=1e-12)


def test_adam_rejects_a_decay_range_longer_than_the_parameters():
    from reglab.nn.optim import Adam
    from reglab.nn.regularizers import Penalty
    opt = Adam(10, np.float32)
    p, g = np.ones(10, np.float32), np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="n_decay=11 is larger than the 10 parameters"):
        opt.step(p, g, 0.001, Penalty(0.1, 0.0, "gradient", True), n_decay=11)
    np.testing.assert_array_equal(p, 1)            # nothing was updated
    assert opt.t == 0
