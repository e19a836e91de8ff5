"""The step partner process (an MLP's penalty terms and half of Adam): same numbers as one
process, failures reported with the fix, no process left behind."""

import gc
import os
import signal

import numpy as np
import pytest
from reglab import Model, TrainingDiverged
from reglab.data import random_image_dataset
from reglab.lane_worker import workers_supported
from reglab.optim import CHUNK, Adam
from reglab.regularizers import Penalty

pytestmark = pytest.mark.skipif(not workers_supported(),
                                reason="the step partner needs os.memfd_create (Linux)")

HIDDEN = [12, 6]          # 32·32·3·12 + ... = 36 974 parameters: too few for two chunks ...


@pytest.fixture(scope="module")
def data():
    # ... so 64×64 photos: 12 288·12 + 12·6 + 6·5 + biases = 147 593 > CHUNK (two chunks)
    return random_image_dataset(n=120, shape=(64, 64, 3), classes=5, seed=8)


def _train(data, threads, monkeypatch, steps=18, hidden=HIDDEN, **kw):
    monkeypatch.setenv("REGLAB_THREADS", threads)
    m = Model("p", data, hidden, seed=6, **kw)
    assert m.store.n_optimizer > CHUNK
    costs = [m.train_step(data.tr_xs[i:i + 5], data.tr_ys[i:i + 5], 0.002)[0]
             for i in range(0, 5 * steps, 5)]
    return m, costs


@pytest.mark.parametrize("profile", ["exact", "book"])
@pytest.mark.parametrize("l2, l1", [(0, 0), (0.1, 0), (0, 0.01), (0.05, 0.02)])
def test_partner_gives_bitwise_the_numbers_of_one_process(data, monkeypatch, profile, l2, l1):
    """18 steps (a denormal flush at step 16), penalty terms and costs from the partner."""
    one, costs1 = _train(data, "1", monkeypatch, profile=profile, l2_decay=l2, l1_decay=l1)
    two, costs2 = _train(data, "2", monkeypatch, profile=profile, l2_decay=l2, l1_decay=l1)
    assert one._partner is None
    assert two._partner is not None                   # the second process really ran
    assert costs1 == costs2
    np.testing.assert_array_equal(one.store.data, two.store.data)
    for key in ("m", "v"):
        np.testing.assert_array_equal(one.optimizer.state_dict()[key],
                                      two.optimizer.state_dict()[key])


@pytest.mark.parametrize("profile", ["exact", "book"])
def test_partner_with_batch_norm_keeps_the_numbers_and_the_book_sgd_tail(data, monkeypatch,
                                                                        profile):
    """An MLP with batch normalisation: Adam on [:n_optimizer] in two processes; in the book
    profile γ, β after it get plain SGD here (E4)."""
    hidden = [["batch_normal"], 12, ["batch_normal"], 6]
    one, costs1 = _train(data, "1", monkeypatch, hidden=hidden, profile=profile, l2_decay=0.01)
    two, costs2 = _train(data, "2", monkeypatch, hidden=hidden, profile=profile, l2_decay=0.01)
    assert two._partner is not None
    assert (two.store.n_optimizer < two.store.size) == (profile == "book")
    assert costs1 == costs2
    np.testing.assert_array_equal(one.store.data, two.store.data)


def test_an_idle_partner_sleeps_and_the_next_step_wakes_it(data, monkeypatch):
    import time

    from reglab import step_partner
    one, costs1 = _train(data, "1", monkeypatch, steps=4, l1_decay=0.01)
    monkeypatch.setenv("REGLAB_THREADS", "2")
    two = Model("p", data, HIDDEN, seed=6, l1_decay=0.01)
    costs2 = []
    for i in range(0, 20, 5):
        costs2.append(two.train_step(data.tr_xs[i:i + 5], data.tr_ys[i:i + 5], 0.002)[0])
        deadline = time.monotonic() + 5
        while not two._partner._ctl[2] and time.monotonic() < deadline:
            time.sleep(step_partner.SPIN_SECONDS)
        assert two._partner._ctl[2] == 1              # asleep between these steps
    assert costs1 == costs2
    np.testing.assert_array_equal(one.store.data, two.store.data)


def test_wake_up_makes_a_sleeping_partner_poll_again(data, monkeypatch):
    """A step without a penalty wakes a sleeping partner at its start (``wake_up``), and the
    partner then polls for ``SPIN_SECONDS`` instead of going straight back to sleep."""
    import time

    from reglab import step_partner
    m, _ = _train(data, "2", monkeypatch, steps=1)
    ctl = m._partner._ctl
    deadline = time.monotonic() + 5
    while not ctl[2] and time.monotonic() < deadline:
        time.sleep(step_partner.SPIN_SECONDS)
    assert ctl[2] == 1                                # asleep
    m._partner.wake_up()
    deadline = time.monotonic() + 5
    while ctl[2] and time.monotonic() < deadline:
        os.sched_yield()
    samples = []                                      # then awake for most of the next 1 ms
    end = time.monotonic() + step_partner.SPIN_SECONDS / 2
    while time.monotonic() < end:
        samples.append(int(ctl[2]))
    assert samples and sum(samples) < len(samples) / 2


def test_train_ends_the_partner_and_a_later_train_continues_the_same_way(data, monkeypatch):
    finals = []
    for threads, calls in (("1", [2]), ("2", [1, 1])):
        monkeypatch.setenv("REGLAB_THREADS", threads)
        m = Model("p", data, HIDDEN, l1_decay=0.01, seed=3)
        for epochs in calls:
            m.train(epochs, batch_size=10, report=0)
            assert m._partner is None                 # no idle process left behind
        finals.append((m.store.data.copy(), [h["train_loss"] for h in m.history]))
    np.testing.assert_array_equal(finals[0][0], finals[1][0])
    assert finals[0][1] == finals[1][1]


def test_partner_death_is_reported_with_the_fix_and_partners_end_with_their_model(data,
                                                                                monkeypatch):
    from reglab.step_partner import StepPartnerError
    m, _ = _train(data, "2", monkeypatch, steps=1, l2_decay=0.1)
    proc = m._partner._proc
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)
    with pytest.raises(StepPartnerError, match=r"partner process died.*REGLAB_THREADS=1"):
        m.train_step(data.tr_xs[:5], data.tr_ys[:5], 0.002)
    m2, _ = _train(data, "2", monkeypatch, steps=1)
    proc2 = m2._partner._proc
    del m2
    gc.collect()
    assert proc2.wait(timeout=5) == 0                 # the partner left when its model went


def test_an_error_in_the_partner_is_raised_here_and_the_partner_goes_on(data, monkeypatch):
    from reglab.step_partner import StepPartnerError
    m, _ = _train(data, "2", monkeypatch, steps=1)
    m._partner._post(99, 0.0, 0.0)
    with pytest.raises(StepPartnerError, match="unknown command 99"):
        m._partner.wait()
    m.train_step(data.tr_xs[:5], data.tr_ys[:5], 0.002)     # still serves the next step


def test_a_partner_that_stops_answering_is_reported(data, monkeypatch):
    from reglab import step_partner
    from reglab.step_partner import StepPartnerError
    m, _ = _train(data, "2", monkeypatch, steps=1)
    proc = m._partner._proc
    monkeypatch.setattr(step_partner, "DEAD_CHECK", 0.05)
    monkeypatch.setattr(step_partner, "HUNG_SECONDS", 0.3)
    os.kill(proc.pid, signal.SIGSTOP)                # alive, but not answering
    try:
        with pytest.raises(StepPartnerError, match=r"not answered for 0.3 s.*REGLAB_THREADS=1"):
            m.train_step(data.tr_xs[:5], data.tr_ys[:5], 0.002)
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def test_divergence_with_a_partner_restores_the_last_finished_epoch(data, monkeypatch):
    monkeypatch.setenv("REGLAB_THREADS", "2")
    m = Model("boom", data, HIDDEN, profile="book", l2_decay=0.1, seed=2)
    m.train(1, 10, 0.001)
    kept = m.store.data.copy()
    moments = m.optimizer.state_dict()
    with pytest.raises(TrainingDiverged, match="diverged at epoch 2"):
        m.train(2, 10, 1e30)
    assert m._partner is None
    np.testing.assert_array_equal(m.store.data, kept)
    np.testing.assert_array_equal(m.optimizer.state_dict()["m"], moments["m"])
    m.train(1, 10, 0.001)                              # and training goes on from there
    assert len(m.history) == 2


def test_adam_with_a_partner_needs_the_precomputed_terms():
    opt = Adam(2 * CHUNK, np.float32)
    p, g = np.ones(2 * CHUNK, np.float32), np.ones(2 * CHUNK, np.float32)
    with pytest.raises(ValueError, match="penalty terms must be computed beforehand"):
        opt.step(p, g, 0.001, Penalty(0.1, 0, "gradient", True), CHUNK, partner=object())
    assert opt.t == 0
