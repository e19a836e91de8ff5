"""One-class prediction ("collapse"): a finished run that answers the same class for every photo.

A record does not store its predictions, so collapse is read from the numbers it does store:

* the per-class photo counts of the train / validation / test splits, recomputed from the photo
  folder listing (:func:`split_class_counts`, no pixels decoded);
* :func:`one_class`: the run predicts class c when its test accuracy is exactly the test share
  of c (the same count of photos) and its last train accuracy is within
  :data:`TRAIN_SHARE_TOL` of the train share of c. Without the photos (``inferred``): the train
  accuracy of the last three epochs is the same number.

Both report families use it: a chapter run (:class:`~reglab.report.records.RunEntry`) and a study
run (:class:`~reglab.report.records.StudyRun`). :func:`class_ko` and :func:`predicts_all` write
the class and the phrase "모든 평가 사진을 dandelion(민들레)으로 예측" for the sentences.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TRAIN_SHARE_TOL", "CLASS_KO", "CLASS_RO", "split_class_counts", "one_class", "class_ko",
           "with_ro", "predicts_all", "share_text"]

#: How far the last epoch's train accuracy may be from the predicted class's train share.
TRAIN_SHARE_TOL = 0.02

#: Korean names of the flower classes (a class not listed is written as it is).
CLASS_KO = {"daisy": "데이지", "dandelion": "민들레", "rose": "장미", "roses": "장미",
            "sunflower": "해바라기", "sunflowers": "해바라기", "tulip": "튤립", "tulips": "튤립"}

#: The particle 로/으로 after the English class name as read aloud (댄덜라이언 → 으로).
CLASS_RO = {"daisy": "로", "dandelion": "으로", "rose": "로", "roses": "로", "sunflower": "로",
            "sunflowers": "로", "tulip": "으로", "tulips": "로"}

_SPLIT_CACHE: dict = {}


def split_class_counts(record: dict) -> dict | None:
    """Per-class photo counts of the train / validation / test splits of a run's data.

    Recomputed from the photo folder listing (no pixels): the class labels in load order, the
    same class-stratified subset for ``max_samples`` and the split permutation with seed 1234
    (:class:`reglab.data.FlowersDataset`). None if the folder is not there or its counts do not
    match the record's split sizes (e.g. photos skipped while decoding).
    """
    ds = record.get("dataset") or {}
    cfg = record.get("config") or {}
    key = (ds.get("path"), int(cfg.get("max_samples") or 0), ds.get("train"),
           ds.get("validation"), ds.get("test"))
    if key in _SPLIT_CACHE:
        return _SPLIT_CACHE[key]
    out = None
    try:
        from ..data.dataset import split_counts, stratified_subset
        from ..data.images import scan_photos
        from ..paths import from_root

        folder = scan_photos(from_root(ds["path"]))
        labels = np.asarray(folder.labels)
        if key[1]:
            labels = labels[stratified_subset(labels, key[1], 1234)]
        n = len(labels)
        tr, va, te = split_counts(n)
        if (tr, va, te) == (ds.get("train"), ds.get("validation"), ds.get("test")) and \
                list(folder.class_names) == list(ds.get("classes") or folder.class_names):
            perm = np.random.default_rng(1234).permutation(n)
            c = len(folder.class_names)
            out = {"classes": list(folder.class_names),
                   "train": np.bincount(labels[perm[:tr]], minlength=c),
                   "validation": np.bincount(labels[perm[tr:tr + va]], minlength=c),
                   "test": np.bincount(labels[perm[tr + va:]], minlength=c)}
    except Exception:  # noqa: BLE001 - no photos here: the caller falls back
        out = None
    _SPLIT_CACHE[key] = out
    return out


def _history(run) -> list:
    """The history of a finished run (a RunEntry or a StudyRun), else []."""
    if not run.ok:
        return []
    return (run.record or {}).get("history") or []


def one_class(run, counts: dict | None | bool = True) -> dict | None:
    """If the run predicts a single class: ``{"class", "test_count", "test_n", "test_share",
    "train_share", "largest_train", "largest_test", "inferred"}``, else None.

    Parameters
    ----------
    run : RunEntry or StudyRun
        A run of either report (it needs ``ok``, ``record`` and ``test_acc``).
    counts : dict, None or True
        Split counts as :func:`split_class_counts` returns them; True computes them from the
        record, None means there are none (the ``inferred`` test).

    Notes
    -----
    With split counts the run predicts class c when its test accuracy is exactly the test share
    of c and its last train accuracy is within :data:`TRAIN_SHARE_TOL` of the train share of c
    (the train accuracy is averaged over the epoch's minibatches while the weights still move,
    so a model that ends on one class may read a little above the share). Without them
    (``inferred``): the train accuracy of the last three epochs is the same number.
    """
    hist = _history(run)
    if not hist:
        return None
    if counts is True:
        counts = split_class_counts(run.record)
    last_train = float(hist[-1]["train_acc"])
    if counts:
        te, tr = np.asarray(counts["test"]), np.asarray(counts["train"])
        n_te, n_tr = int(te.sum()), int(tr.sum())
        for c, name in enumerate(counts["classes"]):
            if abs(run.test_acc - te[c] / n_te) < 0.5 / n_te and \
                    abs(last_train - tr[c] / n_tr) <= TRAIN_SHARE_TOL:
                return {"class": name, "test_count": int(te[c]), "test_n": n_te,
                        "test_share": te[c] / n_te, "train_share": tr[c] / n_tr,
                        "largest_train": c == int(np.argmax(tr)),
                        "largest_test": c == int(np.argmax(te)), "inferred": False}
        return None
    tail = [float(h["train_acc"]) for h in hist[-3:]]
    if len(tail) == 3 and max(tail) - min(tail) < 1e-12:
        n_te = int(((run.record or {}).get("dataset") or {}).get("test") or 0)
        return {"class": None, "test_count": round(run.test_acc * n_te) if n_te else None,
                "test_n": n_te or None, "test_share": run.test_acc, "train_share": last_train,
                "largest_train": None, "largest_test": None, "inferred": True}
    return None


# ----------------------------------------------------------------------------- words
def class_ko(name) -> str:
    """``dandelion(민들레)``; the name alone if it has no Korean name; "한 클래스" if unknown."""
    if not name:
        return "한 클래스"
    ko = CLASS_KO.get(str(name).lower())
    return f"{name}({ko})" if ko else str(name)


def with_ro(name) -> str:
    """:func:`class_ko` with the particle 로/으로, read after the name before the parentheses
    (``dandelion(민들레)으로``, ``daisy(데이지)로``; ``(으)로`` for a class not listed)."""
    if not name:
        return "한 클래스로"
    return class_ko(name) + CLASS_RO.get(str(name).lower(), "(으)로")


def predicts_all(oc: dict) -> str:
    """"모든 평가 사진을 dandelion(민들레)으로 예측" for a :func:`one_class` result."""
    return f"모든 평가 사진을 {with_ro(oc.get('class'))} 예측"


def share_text(oc: dict) -> str:
    """"147/652 = 0.225" (the photos of the predicted class in the test split), or the share."""
    if oc.get("test_count") is not None and oc.get("test_n"):
        return f"{oc['test_count']}/{oc['test_n']} = {oc['test_share']:.3f}"
    return f"{oc['test_share']:.3f}"
