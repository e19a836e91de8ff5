"""Finite-difference helpers for the gradient tests (float64, central differences)."""

from __future__ import annotations

import numpy as np

H = 1e-6
TOL = 1e-6


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """``‖a − b‖ / max(‖a‖, ‖b‖)`` (0 when both are 0)."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    denom = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numeric_grad(f, x: np.ndarray, h: float = H, index=None) -> np.ndarray:
    """Central-difference gradient of scalar ``f()`` with respect to ``x`` (perturbed in place,
    restored after each entry). ``index``: optional flat indices to check (others left 0)."""
    g = np.zeros(x.size)
    flat = x.reshape(-1)
    idx = range(x.size) if index is None else index
    for i in idx:
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g.reshape(x.shape)


def assert_grad_close(analytic, numeric, tol: float = TOL, what: str = "gradient"):
    err = rel_error(analytic, numeric)
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.0e}"
