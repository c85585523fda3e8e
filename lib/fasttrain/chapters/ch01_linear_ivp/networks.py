"""Chapter 01: a network at initialisation and its linearisation (:class:`Setup`), test accuracies, GD checkpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from ...methods import linearized as L
from ...methods.gradient_descent import full_batch_gd


@dataclass(frozen=True)
class Setup:
    """A network at initialisation and its linearisation on one training set."""

    ds: object
    width: int
    activation: str
    params0: object
    J: np.ndarray
    f0: np.ndarray
    jacobian_time: float  # J0 incl. compilation
    ntk_time: float  # Theta0 = J0 J0^T (0 when parameter space is used)
    theta: np.ndarray | None
    J_test: np.ndarray
    f0_test: np.ndarray

    @property
    def apply(self):
        return partial(L.two_layer, activation=self.activation)

    def problem(self, lr: float, loss: str = "ce") -> L.FlowProblem:
        return L.FlowProblem(self.J, self.f0, self.ds.y_train, lr, loss, self.theta)

    @property
    def space(self) -> str:
        return "function" if self.theta is not None else "parameter"


def make_setup(ds, width: int, activation: str, seed: int, space: str = "auto") -> Setup:
    params0 = L.init_two_layer(jax.random.PRNGKey(seed), ds.x_train.shape[1], width, ds.n_classes)
    apply = partial(L.two_layer, activation=activation)
    t0 = time.perf_counter()
    J = L.jacobian(apply, params0, ds.x_train)
    t_jac = time.perf_counter() - t0
    f0 = np.asarray(apply(params0, ds.x_train), dtype=np.float64)
    n, k = f0.shape
    if space == "auto":
        space = "function" if n * k <= J.shape[1] else "parameter"
    theta, t_ntk = None, 0.0
    if space == "function":
        t0 = time.perf_counter()
        theta = L.empirical_ntk(J)
        t_ntk = time.perf_counter() - t0
    J_test = L.jacobian(apply, params0, ds.x_test)  # for the linear model's test accuracy (untimed)
    f0_test = np.asarray(apply(params0, ds.x_test), dtype=np.float64)
    return Setup(ds, width, activation, params0, J, f0, t_jac, t_ntk, theta, J_test, f0_test)


def _net_test_acc(setup: Setup, dtheta: np.ndarray) -> float:
    flat0, unravel = ravel_pytree(setup.params0)
    params = unravel(flat0 + np.asarray(dtheta, dtype=flat0.dtype))
    logits = np.asarray(setup.apply(params, setup.ds.x_test))
    return L.accuracy_np(logits, setup.ds.y_test)


def _lin_test_acc(setup: Setup, dtheta: np.ndarray) -> float:
    f0t = setup.f0_test
    f = f0t + (setup.J_test.astype(np.float64) @ dtheta).reshape(f0t.shape)
    return L.accuracy_np(f, setup.ds.y_test)


def _gd_test_acc(setup: Setup, params) -> float:
    return L.accuracy_np(np.asarray(setup.apply(params, setup.ds.x_test)), setup.ds.y_test)


def _gd_checkpoints(setup: Setup, lr: float, checkpoints):
    """Full-batch GD parameters after each number of steps in ``checkpoints`` (sorted).

    :func:`fasttrain.methods.gradient_descent.full_batch_gd` itself, run for exactly the steps
    between two checkpoints in one chunk (no thresholds, so it never stops early) and restarted
    from the parameters it returned: optax's SGD without momentum keeps no state, so a restart
    continues the same trajectory.  It was written here by hand (one jitted optax step per call)
    until the 2026-12-07 edition; the parameters are bit for bit the same (the same loss, gradient
    and update ops; checked on both data sets, widths 16-512, 1-1 234 steps, and in
    ``tests/test_ch01_claims.py``).  Zero steps: the initial parameters.
    """
    x, y = setup.ds.x_train, setup.ds.y_train
    p, done, out = setup.params0, 0, []
    for c in checkpoints:
        if c < done:
            raise ValueError(f"checkpoints must be sorted, got {list(checkpoints)}")
        if c > done:
            p = full_batch_gd(setup.apply, p, x, y, lr, c - done, (), chunk=c - done).params
            done = c
        out.append(p)
    return out
