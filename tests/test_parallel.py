"""Threads and half-batch lanes: same numbers on one core or two, and the right gradient."""

import numpy as np
import pytest

from reglab import Model
from reglab.data import random_image_dataset
from reglab.lane_worker import workers_supported
from reglab.optim import CHUNK, Adam
from reglab.parallel import available_threads, run_parts
from reglab.regularizers import Penalty
from reglab.shards import split_bounds

CNN = [["conv", {"ksize": 3, "chn": 4}], ["max", {"stride": 2}],
       ["dropout", {"keep_prob": 0.7}],
       ["noise", {"type": "normal", "mean": 0, "std": 0.05}],
       ["conv", {"ksize": 3, "chn": 5}], ["avg", {"stride": 4}]]
PLAIN_CNN = [["conv", {"ksize": 3, "chn": 4}], ["max", {"stride": 2}],
             ["conv", {"ksize": 3, "chn": 5}], ["max", {"stride": 2}],
             ["conv", {"ksize": 3, "chn": 6, "actfunc": "tanh"}], ["avg", {"stride": 2}]]


@pytest.fixture(scope="module")
def data():
    return random_image_dataset(n=60, shape=(16, 16, 3), classes=5, seed=4)


def test_run_parts_runs_every_part_once_and_reraises():
    seen = []
    run_parts(seen.append, range(7), threads=2)
    assert sorted(seen) == list(range(7))

    def boom(i):
        if i == 3:
            raise KeyError("part 3")
    with pytest.raises(KeyError, match="part 3"):
        run_parts(boom, range(6), threads=2)
    run_parts(seen.append, [99], threads=2)          # the team survives a failed part
    assert seen[-1] == 99


def test_thread_count_from_environment(monkeypatch):
    monkeypatch.setenv("REGLAB_THREADS", "1")
    assert available_threads() == 1
    monkeypatch.setenv("REGLAB_THREADS", "zero")
    with pytest.raises(ValueError, match="REGLAB_THREADS='zero'.*whole number"):
        available_threads()


def test_split_bounds():
    assert split_bounds(10, 2) == [(0, 5), (5, 10)]
    assert split_bounds(7, 2) == [(0, 4), (4, 7)] or split_bounds(7, 2) == [(0, 3), (3, 7)]
    assert split_bounds(1, 2) == [(0, 1)]
    b = split_bounds(101, 3)
    assert b[0][0] == 0 and b[-1][1] == 101 and all(x[1] == y[0] for x, y in zip(b, b[1:]))


@pytest.mark.parametrize("placement", ["gradient", "after_optimizer"])
def test_adam_is_bitwise_the_same_on_one_or_two_threads(placement):
    size = 3 * CHUNK + 17
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=size).astype(np.float32)
    pen = Penalty(0.01, 0.001, placement, True)
    results = []
    for threads in (1, 2):
        p = p0.copy()
        opt = Adam(size, np.float32, threads=threads)
        cost = []
        for step in range(4):
            g = np.random.default_rng(step).normal(size=size).astype(np.float32)
            cost.append(opt.step(p, g, 1e-3, pen, n_decay=2 * CHUNK + 5))
        results.append((p, cost, opt.state_dict()["v"]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    np.testing.assert_array_equal(results[0][2], results[1][2])


def test_lanes_give_the_whole_batch_gradient(data):
    m = Model("lanes", data, PLAIN_CNN, profile="exact", seed=3, dtype=np.float64)
    m.store.data[:] = np.random.default_rng(1).normal(0, 0.3, m.store.size)
    xs, ys = data.tr_xs[:9], data.tr_ys[:9]
    loss_full, acc_full = m._forward_backward(m._to_input(xs), ys)
    g_full = m.store.grad.copy()
    assert m.lanes is not None and m.lanes.train_lanes
    loss_lanes, acc_lanes = m.lanes.forward_backward(xs, ys)
    assert loss_lanes == pytest.approx(loss_full, rel=1e-12)
    assert acc_lanes == acc_full
    np.testing.assert_allclose(m.store.grad, g_full, rtol=1e-10, atol=1e-13)


def test_lanes_evaluation_equals_the_whole_model(data):
    m = Model("lanes", data, PLAIN_CNN, profile="exact", seed=3, dtype=np.float64)
    m.store.data[:] = np.random.default_rng(2).normal(0, 0.3, m.store.size)
    xs = data.tr_xs[:23]
    expected = m.forward(m._to_input(xs), False)
    from reglab import model as model_mod
    old = model_mod.EVAL_CHUNK
    try:
        model_mod.EVAL_CHUNK = 5                   # several chunks on both lanes
        got = m.predict_logits(xs)
    finally:
        model_mod.EVAL_CHUNK = old
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("profile", ["exact", "book"])
def test_lanes_give_the_whole_batch_gradient_with_batch_norm(data, profile):
    """Statistics over all lanes: the same gradient and running averages as one whole batch."""
    cfg = [["batch_normal"]] + PLAIN_CNN[:2] + [["batch_normal"]] + PLAIN_CNN[2:]
    models = []
    for _ in range(2):
        m = Model("bn", data, cfg, profile=profile, seed=3, dtype=np.float64)
        m.store.data[:] = np.random.default_rng(1).normal(0, 0.3, m.store.size)
        for l in m.layers:
            if "scale" in l.params:
                l.params["scale"][...] += 1          # γ near 1
        models.append(m)
    whole, lanes = models
    assert lanes.lanes.train_lanes
    xs, ys = data.tr_xs[:9], data.tr_ys[:9]
    loss_whole, acc_whole = whole._forward_backward(whole._to_input(xs), ys)
    loss_lanes, acc_lanes = lanes.lanes.forward_backward(xs, ys)
    assert loss_lanes == pytest.approx(loss_whole, rel=1e-12)
    assert acc_lanes == acc_whole
    np.testing.assert_allclose(lanes.store.grad, whole.store.grad, rtol=1e-9, atol=1e-12)
    for a, b in zip(whole.layers, lanes.layers):
        for key in a.buffers:
            np.testing.assert_allclose(b.buffers[key], a.buffers[key], rtol=1e-12)


@pytest.mark.parametrize("hconfigs", [CNN, [["batch_normal"]] + CNN, [40, 10]],
                         ids=["cnn-dropout-noise", "cnn-batchnorm", "mlp"])
def test_training_is_bitwise_the_same_on_one_or_two_threads(data, monkeypatch, hconfigs):
    finals = []
    for threads in ("1", "2"):
        monkeypatch.setenv("REGLAB_THREADS", threads)
        m = Model("det", data, hconfigs, l2_decay=0.01, profile="exact", seed=5)
        costs = [m.train_step(data.tr_xs[i:i + 10], data.tr_ys[i:i + 10], 0.001)
                 for i in range(0, 40, 10)]
        finals.append((m.store.data.copy(), costs, m.predict_logits(data.te_xs)))
        if threads == "2" and m.lanes is not None and workers_supported():
            assert m.lanes._workers is not None          # lane 1 ran in its worker process
    np.testing.assert_array_equal(finals[0][0], finals[1][0])
    assert finals[0][1] == finals[1][1]
    np.testing.assert_array_equal(finals[0][2], finals[1][2])


@pytest.mark.skipif(not workers_supported(), reason="lane workers need os.memfd_create (Linux)")
def test_lane_worker_death_is_reported_and_workers_end_with_the_model(data, monkeypatch):
    import gc
    import os
    import signal

    from reglab.lane_worker import LaneWorkerError
    monkeypatch.setenv("REGLAB_THREADS", "2")
    m = Model("w", data, PLAIN_CNN, profile="exact", seed=5)
    m.train_step(data.tr_xs[:10], data.tr_ys[:10], 0.001)
    proc = m.lanes._workers[0]._proc
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)
    with pytest.raises(LaneWorkerError, match=r"worker process of lane 1 died.*REGLAB_THREADS=1"):
        m.train_step(data.tr_xs[:10], data.tr_ys[:10], 0.001)
    m2 = Model("w2", data, PLAIN_CNN, profile="exact", seed=5)
    m2.train_step(data.tr_xs[:10], data.tr_ys[:10], 0.001)
    proc2 = m2.lanes._workers[0]._proc
    del m2
    gc.collect()
    assert proc2.wait(timeout=5) == 0                # the worker left when its model went


@pytest.mark.skipif(not workers_supported(), reason="lane workers need os.memfd_create (Linux)")
def test_workers_stop_after_training_and_the_random_streams_continue(data, monkeypatch):
    """train(1) twice on two cores (a worker per call) equals train(2) on one core."""
    finals = []
    for threads, calls in (("1", [2]), ("2", [1, 1])):
        monkeypatch.setenv("REGLAB_THREADS", threads)
        m = Model("w", data, CNN, profile="exact", seed=9)
        for epochs in calls:
            m.train(epochs, batch_size=10, report=0)
            assert m.lanes._workers is None              # no idle process left behind
        finals.append(m.store.data.copy())
    np.testing.assert_array_equal(finals[0], finals[1])


def test_training_falls_back_to_one_process_when_no_worker_can_start(data, monkeypatch):
    from reglab import lane_worker
    from reglab.shards import Lanes

    def refuse(self, *a, **k):
        raise OSError("memfd_create: not permitted here")
    monkeypatch.setattr(lane_worker.LaneWorker, "__init__", refuse)
    monkeypatch.setattr(lane_worker, "workers_supported", lambda: True)
    monkeypatch.setattr(Lanes, "_workers_failed", False)
    finals = []
    for threads in ("2", "1"):
        monkeypatch.setenv("REGLAB_THREADS", threads)
        m = Model("f", data, CNN, profile="exact", seed=4)
        if threads == "2":
            with pytest.warns(RuntimeWarning, match="could not start a lane worker.*not permitted"):
                m.train_step(data.tr_xs[:10], data.tr_ys[:10], 0.001)
        else:
            m.train_step(data.tr_xs[:10], data.tr_ys[:10], 0.001)
        m.train_step(data.tr_xs[10:20], data.tr_ys[10:20], 0.001)
        finals.append(m.store.data.copy())
    np.testing.assert_array_equal(finals[0], finals[1])
