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
