r"""Training by solving the linearised model's gradient-flow ODE (Liu et al. 2020).

The network is linearised at its initialisation :math:`\theta_0`
(Lee et al. 2019):

.. math::  f^{lin}(x;\theta) = f(x;\theta_0) + J_0(x)\,(\theta-\theta_0).

Gradient descent with learning rate :math:`\eta` on the linear model is,
in the small-step limit, the gradient flow (time ``t`` counted in GD steps)

* parameter space (eq. 1): :math:`\dot\theta = -\eta\,J_0^\top \nabla_f L`,
* function space (eq. 2):  :math:`\dot f = -\eta\,\Theta_0 \nabla_f L`,
  :math:`\Theta_0 = J_0 J_0^\top` (the empirical NTK on the training set).

With the mean loss :math:`L = \frac1N\sum_i \ell(f_i, y_i)` the gradient is
:math:`\nabla_f L = g/N` with :math:`g_i = \mathrm{softmax}(f_i) - e_{y_i}`
(cross-entropy) or :math:`g_i = f_i - y_i` (squared loss), and the analytic
Jacobians of the right-hand sides are

* eq. 1: :math:`-\frac\eta N J_0^\top H J_0`,
* eq. 2: :math:`-\frac\eta N \Theta_0 H`,

with :math:`H` block diagonal, :math:`H_i=\mathrm{diag}(p_i)-p_ip_i^\top`
(cross-entropy) or the identity (squared loss).  eq. 2 is an
:math:`nk`-dimensional ODE, eq. 1 a :math:`P`-dimensional one;
:func:`solve_flow` picks the smaller unless told otherwise.  The ODE is
integrated with SciPy's BDF (``scipy.integrate.solve_ivp``); an event stops
it when the training accuracy reaches a threshold.  The event function is the
:math:`\lceil a n\rceil`-th largest classification margin, which is continuous
in ``f`` and changes sign exactly when the accuracy crosses ``a``.

The network's Jacobian is computed with JAX (float32, like the network);
the ODE is integrated in float64 NumPy, where SciPy works.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
import scipy.linalg
from jax.flatten_util import ravel_pytree

Loss = Literal["ce", "mse"]


class SolverError(RuntimeError):
    """The ODE solver failed (step size underflow, non-finite state, ...)."""


# ---------------------------------------------------------------------------
# the two-layer network


ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "erf": jax.scipy.special.erf}


def init_two_layer(key, d_in: int, width: int, n_out: int):
    """Two-layer fully-connected network, standard parameterisation, LeCun-normal weights."""
    if min(d_in, width, n_out) < 1:
        raise ValueError(f"sizes must be positive, got d_in={d_in}, width={width}, n_out={n_out}")
    k1, k2 = jax.random.split(key)
    return {
        "W1": jax.random.normal(k1, (d_in, width)) / math.sqrt(d_in),
        "b1": jnp.zeros(width),
        "W2": jax.random.normal(k2, (width, n_out)) / math.sqrt(width),
        "b2": jnp.zeros(n_out),
    }


def two_layer(params, x, activation: str = "tanh"):
    """Logits of the two-layer network: ``act(x W1 + b1) W2 + b2``."""
    act = ACTIVATIONS[activation]
    return act(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def n_params(params) -> int:
    return int(ravel_pytree(params)[0].size)


# ---------------------------------------------------------------------------
# linearisation, Jacobian, NTK


def linearize(apply_fn, params0):
    """``f_lin(params, x) = f(params0, x) + J0(x) (params - params0)`` via one ``jax.jvp``."""

    def f_lin(params, x):
        dparams = jax.tree_util.tree_map(lambda a, b: a - b, params, params0)
        f0, df = jax.jvp(lambda p: apply_fn(p, x), (params0,), (dparams,))
        return f0 + df

    return f_lin


def jacobian(apply_fn, params, x, batch: int = 4096) -> np.ndarray:
    """Jacobian ``J`` of the flattened outputs (n*k) w.r.t. the flat parameters (P).

    Row ``i*k + j`` is the gradient of output ``j`` on example ``i``.  Computed
    per example with ``vmap(jacrev)`` in batches to bound memory.
    """
    flat, unravel = ravel_pytree(params)

    def f_one(theta, xi):
        return apply_fn(unravel(theta), xi[None])[0]

    jac_batch = jax.jit(jax.vmap(jax.jacrev(f_one), in_axes=(None, 0)))
    blocks = [np.asarray(jac_batch(flat, x[i : i + batch])) for i in range(0, len(x), batch)]
    J = np.concatenate(blocks)  # (n, k, P)
    return J.reshape(-1, J.shape[-1])


def empirical_ntk(J: np.ndarray) -> np.ndarray:
    """The empirical NTK ``Theta = J J^T`` (n*k x n*k), in float64."""
    J = np.asarray(J, dtype=np.float64)
    return J @ J.T


# ---------------------------------------------------------------------------
# the gradient flow


def _one_hot(y, k):
    out = np.zeros((len(y), k))
    out[np.arange(len(y)), y] = 1.0
    return out


def _softmax(f):
    z = f - f.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def margins(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Classification margin per example: true logit minus the best other logit."""
    n = len(y)
    true = f[np.arange(n), y]
    other = f.copy()
    other[np.arange(n), y] = -np.inf
    return true - other.max(axis=1)


def margin_quantile(f: np.ndarray, y: np.ndarray, threshold: float) -> float:
    """The ceil(threshold*n)-th largest margin: > 0 iff training accuracy >= threshold.

    Continuous in ``f``, so a root finder can locate the crossing.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"accuracy threshold must be in (0, 1], got {threshold}")
    m = margins(f, y)
    k = math.ceil(threshold * len(m) - 1e-9)
    return float(np.partition(m, len(m) - k)[len(m) - k])


def accuracy_np(f: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(f, axis=1) == y))


@dataclass(frozen=True)
class FlowProblem:
    """The linearised training problem on a training set.

    ``J`` (n*k x P) and ``f0`` (n x k) at ``params0``; labels ``y`` (int).
    ``theta`` (the NTK) is computed lazily where function space needs it.
    """

    J: np.ndarray
    f0: np.ndarray
    y: np.ndarray
    lr: float
    loss: Loss = "ce"
    theta: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        n, k = self.f0.shape
        if self.J.shape[0] != n * k:
            raise ValueError(
                f"J has {self.J.shape[0]} rows; f0 of shape {self.f0.shape} needs {n * k}"
            )
        if len(self.y) != n:
            raise ValueError(f"y has {len(self.y)} labels but f0 has {n} rows")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        if not (np.all(np.isfinite(self.J)) and np.all(np.isfinite(self.f0))):
            raise ValueError(
                "J and f0 must be finite (the network at initialisation produced NaN/inf)"
            )
        if self.loss not in ("ce", "mse"):
            raise ValueError(f"unknown loss {self.loss!r}: use 'ce' or 'mse'")
        if self.loss == "ce" and (self.y.min() < 0 or self.y.max() >= k):
            raise ValueError(f"labels must lie in 0..{k - 1}")

    @property
    def n(self) -> int:
        return self.f0.shape[0]

    @property
    def k(self) -> int:
        return self.f0.shape[1]

    @property
    def P(self) -> int:
        return self.J.shape[1]

    def target(self) -> np.ndarray:
        return _one_hot(self.y, self.k)

    def grad_f(self, f: np.ndarray) -> np.ndarray:
        """N * dL/df, shape (n, k)."""
        if self.loss == "ce":
            return _softmax(f) - self.target()
        return f - self.target()

    @functools.cached_property
    def _ntk_pinv(self):
        """Eigen-decomposition of the NTK for repeated pseudo-inverse solves."""
        theta = self.theta if self.theta is not None else empirical_ntk(self.J)
        w, V = scipy.linalg.eigh(theta)
        cut = w.max() * theta.shape[0] * np.finfo(np.float64).eps
        inv = np.where(w > cut, 1.0 / np.where(w > cut, w, 1.0), 0.0)
        return V, inv

    def dtheta_from_f(self, f: np.ndarray) -> np.ndarray:
        """``pinv(J) (f - f0)``: the parameter displacement behind training logits ``f``.

        Along the flow ``delta theta`` stays in the row space of ``J`` (eq. 1
        only adds ``J^T v``), so it is the minimum-norm solution of
        ``J delta theta = f - f0``, computed as ``J^T pinv(Theta) (f - f0)``
        with one cached eigen-decomposition of the NTK (often numerically
        rank-deficient, so no plain inverse).
        """
        V, inv = self._ntk_pinv
        df = np.ravel(f - self.f0)
        return np.asarray(self.J, dtype=np.float64).T @ (V @ (inv * (V.T @ df)))

    def hessian_blocks(self, f: np.ndarray) -> np.ndarray | None:
        """Per-example blocks of N * d2L/df2, shape (n, k, k); ``None`` for the identity."""
        if self.loss == "mse":
            return None
        p = _softmax(f)
        return np.einsum("ij,jk->ijk", p, np.eye(self.k)) - p[:, :, None] * p[:, None, :]


def with_ntk(problem: FlowProblem) -> FlowProblem:
    if problem.theta is not None:
        return problem
    return FlowProblem(
        problem.J, problem.f0, problem.y, problem.lr, problem.loss, empirical_ntk(problem.J)
    )


def rhs_function_space(problem: FlowProblem):
    """eq. 2 and its analytic Jacobian, state ``f`` flattened (n*k)."""
    pr = with_ntk(problem)
    c = -pr.lr / pr.n
    n, k = pr.n, pr.k

    def fun(t, f):
        return c * (pr.theta @ pr.grad_f(f.reshape(n, k)).ravel())

    def jac(t, f):
        H = pr.hessian_blocks(f.reshape(n, k))
        if H is None:
            return c * pr.theta
        # Theta @ blockdiag(H): column block i of Theta times H_i
        T = pr.theta.reshape(n * k, n, k)
        return c * np.einsum("aik,ikl->ail", T, H).reshape(n * k, n * k)

    return pr, fun, jac


def rhs_parameter_space(problem: FlowProblem):
    """eq. 1 and its analytic Jacobian, state ``delta theta`` (P)."""
    pr = problem
    J = np.asarray(pr.J, dtype=np.float64)
    c = -pr.lr / pr.n
    n, k = pr.n, pr.k
    f0 = pr.f0.ravel()

    def f_of(dtheta):
        return (f0 + J @ dtheta).reshape(n, k)

    def fun(t, dtheta):
        return c * (J.T @ pr.grad_f(f_of(dtheta)).ravel())

    def jac(t, dtheta):
        H = pr.hessian_blocks(f_of(dtheta))
        if H is None:
            return c * (J.T @ J)
        HJ = np.einsum("ikl,ilp->ikp", H, J.reshape(n, k, -1)).reshape(n * k, -1)
        return c * (J.T @ HJ)

    return pr, fun, jac, f_of


@dataclass(frozen=True)
class FlowResult:
    """Outcome of :func:`solve_flow`.

    ``t_event`` is the gradient-flow time (in GD steps) at which the
    training accuracy reached ``threshold`` (``None``: not reached by
    ``t_max``); ``f`` the training logits there; ``dtheta`` the parameter
    displacement there.  ``solve_time`` excludes ``setup_time`` (NTK product).
    """

    space: str
    threshold: float | None
    t_event: float | None
    f: np.ndarray
    state: np.ndarray = field(repr=False)
    problem: FlowProblem = field(repr=False)
    nfev: int
    njev: int
    nlu: int
    solve_time: float
    setup_time: float
    status: int
    message: str

    @property
    def reached(self) -> bool:
        return self.t_event is not None

    @functools.cached_property
    def dtheta(self) -> np.ndarray:
        """The parameter displacement theta - theta0 at the end of the solve."""
        if self.space == "parameter":
            return np.array(self.state)
        return self.problem.dtheta_from_f(self.f)


def choose_space(problem: FlowProblem) -> str:
    """The cheaper formulation: function space if n*k <= P, else parameter space."""
    return "function" if problem.n * problem.k <= problem.P else "parameter"


def _formulation(problem: FlowProblem, space: str):
    """The chosen ODE (eq. 1 or eq. 2): space, problem, rhs, Jacobian, initial state, state->f, set-up time."""
    if space == "auto":
        space = choose_space(problem)
    t0 = time.perf_counter()
    if space == "function":
        problem, fun, jac_fn = rhs_function_space(problem)
        y0 = problem.f0.ravel().astype(np.float64)

        def f_of(s):
            return s.reshape(problem.n, problem.k)
    elif space == "parameter":
        problem, fun, jac_fn, f_of = rhs_parameter_space(problem)
        y0 = np.zeros(problem.P)
    else:
        raise ValueError(f"space must be 'auto', 'function' or 'parameter', got {space!r}")
    return space, problem, fun, jac_fn, y0, f_of, time.perf_counter() - t0


def solve_flow(
    problem: FlowProblem,
    t_max: float,
    threshold: float | None = None,
    space: str = "auto",
    jac: str = "analytic",
    rtol: float = 1e-3,
    atol: float = 1e-6,
    t_eval=None,
    max_wall: float | None = None,
) -> FlowResult:
    """Integrate the linearised gradient flow with BDF up to ``t_max`` or the accuracy event.

    ``jac="analytic"`` passes the closed-form Jacobian above; ``jac="fd"``
    lets SciPy estimate it by finite differences (what a naive
    reproduction runs).  ``max_wall`` (seconds) aborts a run that takes too
    long with :class:`SolverError`.
    """
    if not t_max > 0:
        raise ValueError(f"t_max must be positive, got {t_max}")
    if jac not in ("analytic", "fd"):
        raise ValueError(f"jac must be 'analytic' or 'fd', got {jac!r}")
    space, problem, fun, jac_fn, y0, f_of, setup_time = _formulation(problem, space)

    start = time.perf_counter()
    if max_wall is not None:
        fun = _wall_guarded(fun, start, max_wall)
    events = None
    if threshold is not None:
        if margin_quantile(f_of(y0), problem.y, threshold) > 0:
            # already above the threshold at t = 0
            return _result_at_start(
                problem, space, threshold, y0, f_of, setup_time, "threshold reached at t=0"
            )
        events = [_threshold_event(f_of, problem.y, threshold, terminal=True)]

    sol = _bdf(fun, t_max, y0, jac_fn if jac == "analytic" else None, events, rtol, atol, t_eval)
    solve_time = time.perf_counter() - start
    if sol.status == -1:
        raise SolverError(f"BDF solver failed: {sol.message}")
    if not np.all(np.isfinite(sol.y[:, -1])):
        raise SolverError("BDF solver returned a non-finite state")
    if threshold is not None and len(sol.t_events[0]):
        t_event, state = float(sol.t_events[0][0]), sol.y_events[0][0]
    else:
        t_event, state = None, sol.y[:, -1]
    res = _result_of(sol, problem, space, f_of, setup_time, threshold, t_event, state, solve_time)
    if t_eval is not None:
        object.__setattr__(res, "trajectory", (sol.t, sol.y))
    return res


def _wall_guarded(fun, start, max_wall):
    """``fun`` that raises :class:`SolverError` once ``max_wall`` seconds have passed since ``start``."""

    def guarded(t, s):
        if time.perf_counter() - start > max_wall:
            raise SolverError(
                f"ODE solve exceeded its wall-time budget of {max_wall:g} s at t={t:.4g}"
            )
        return fun(t, s)

    return guarded


def _threshold_event(f_of, y, threshold, terminal, on_cross=None):
    """A ``solve_ivp`` event: the accuracy margin of ``threshold`` crosses zero upwards.

    ``on_cross()`` is called whenever the event sees the threshold reached.
    """

    def event(t, s):
        v = margin_quantile(f_of(s), y, threshold)
        if v > 0 and on_cross is not None:
            on_cross()
        return v

    event.terminal = terminal
    event.direction = 1
    return event


def _bdf(fun, t_max, y0, jac_fn, events, rtol, atol, t_eval=None):
    """``solve_ivp`` with BDF from 0 to ``t_max``; a non-finite right-hand side raises SolverError.

    Floating-point errors are trapped inside the right-hand side only: SciPy's BDF itself does
    arithmetic on not-yet-initialised rows of its difference array (``np.empty``), which must not
    be trapped (it made a solve fail at random, depending on the memory's contents).
    """

    def checked(t, s):
        with np.errstate(over="raise", invalid="raise"):
            return fun(t, s)

    try:
        return scipy.integrate.solve_ivp(
            checked,
            (0.0, float(t_max)),
            y0,
            method="BDF",
            jac=jac_fn,
            events=events,
            rtol=rtol,
            atol=atol,
            t_eval=t_eval,
        )
    except FloatingPointError as exc:
        raise SolverError(f"ODE right-hand side became non-finite: {exc}") from exc


def solve_to_thresholds(
    problem: FlowProblem,
    t_max: float,
    thresholds: Sequence[float],
    space: str = "auto",
    rtol: float = 1e-3,
    atol: float = 1e-6,
) -> list[FlowResult]:
    """One BDF solve that records when each accuracy threshold is first reached.

    Equivalent to one :func:`solve_flow` per threshold (each stopping at its
    event) but integrates once: every threshold has a non-terminal event and
    the highest a terminal one.  ``solve_time`` of each result is the wall
    time from the start of the solve until the step that crossed its
    threshold completed, i.e. what a solve stopped there would have cost.
    """
    thresholds = sorted(float(t) for t in thresholds)
    if not thresholds:
        raise ValueError("give at least one threshold")
    space, problem, fun, jac_fn, y0, f_of, setup_time = _formulation(problem, space)
    crossed: dict[float, float] = {}
    start = time.perf_counter()

    def on_cross(thr):
        if thr not in crossed:
            crossed[thr] = time.perf_counter() - start

    events = [
        _threshold_event(
            f_of, problem.y, thr, i == len(thresholds) - 1, functools.partial(on_cross, thr)
        )
        for i, thr in enumerate(thresholds)
    ]
    already = [thr for thr in thresholds if margin_quantile(f_of(y0), problem.y, thr) > 0]
    sol = _bdf(fun, t_max, y0, jac_fn, events, rtol, atol)
    total = time.perf_counter() - start
    if sol.status == -1:
        raise SolverError(f"BDF solver failed: {sol.message}")
    solved = functools.partial(_result_of, sol, problem, space, f_of, setup_time)
    out = []
    for i, thr in enumerate(thresholds):
        if thr in already:
            res = _result_at_start(problem, space, thr, y0, f_of, setup_time, "reached at t=0")
        elif len(sol.t_events[i]):
            res = solved(
                thr, float(sol.t_events[i][0]), sol.y_events[i][0], crossed.get(thr, total)
            )
        else:
            res = solved(thr, None, sol.y[:, -1], total)
        out.append(res)
    return out


def _result_at_start(problem, space, threshold, y0, f_of, setup_time, message) -> FlowResult:
    """The result of a threshold already reached at t = 0 (no solver work)."""
    return _result(problem, space, threshold, 0.0, y0, f_of, 0, 0, 0, 0.0, setup_time, 1, message)


def _result_of(
    sol, problem, space, f_of, setup_time, threshold, t_event, state, solve_time
) -> FlowResult:
    """The result of the solve ``sol`` at ``state`` (its counters, status and message)."""
    return _result(
        problem,
        space,
        threshold,
        t_event,
        state,
        f_of,
        sol.nfev,
        sol.njev,
        sol.nlu,
        solve_time,
        setup_time,
        sol.status,
        sol.message,
    )


def _result(
    problem,
    space,
    threshold,
    t_event,
    state,
    f_of,
    nfev,
    njev,
    nlu,
    solve_time,
    setup_time,
    status,
    message,
) -> FlowResult:
    f = np.array(f_of(state))
    return FlowResult(
        space,
        threshold,
        t_event,
        f,
        np.array(state),
        problem,
        int(nfev),
        int(njev),
        int(nlu),
        solve_time,
        setup_time,
        int(status),
        str(message),
    )


def closed_form_mse(
    theta: np.ndarray, f0: np.ndarray, target: np.ndarray, lr: float, t: float
) -> np.ndarray:
    """Squared-loss flow in closed form: ``f_t = y + exp(-lr Theta t / N)(f0 - y)``."""
    n = f0.shape[0]
    E = scipy.linalg.expm(-lr * t / n * theta)
    return (target.ravel() + E @ (f0 - target).ravel()).reshape(f0.shape)


def critical_lr(theta: np.ndarray, n: int, loss: Loss = "ce") -> float:
    """A learning rate below which GD on the linear model is guaranteed stable.

    GD on a quadratic is stable for ``lr < 2/lambda_max`` of the Hessian
    ``(1/N) J^T H J``.  For squared loss ``H = I``; for softmax cross-entropy
    ``||H_i|| <= 1/2``, so ``4N / lambda_max(Theta)`` is always safe.
    """
    lam = float(scipy.linalg.eigvalsh(theta, subset_by_index=[theta.shape[0] - 1] * 2)[0])
    return (4.0 if loss == "ce" else 2.0) * n / lam
