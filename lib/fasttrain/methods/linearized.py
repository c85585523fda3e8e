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
import scipy.optimize
from jax.flatten_util import ravel_pytree

Loss = Literal["ce", "mse"]

#: SciPy's integrators :func:`solve_flow` accepts; the implicit ones take the analytic Jacobian
IMPLICIT_METHODS = ("BDF", "Radau", "LSODA")
SCIPY_METHODS = IMPLICIT_METHODS + ("RK45", "RK23", "DOP853")


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
    method: str = "BDF",
) -> FlowResult:
    """Integrate the linearised gradient flow with BDF up to ``t_max`` or the accuracy event.

    ``jac="analytic"`` passes the closed-form Jacobian above; ``jac="fd"``
    lets SciPy estimate it by finite differences (what a naive
    reproduction runs).  ``max_wall`` (seconds) aborts a run that takes too
    long with :class:`SolverError`.  ``method`` chooses another of SciPy's
    integrators (``"RK45"``, ``"DOP853"``: explicit, no Jacobian; ``"Radau"``,
    ``"LSODA"``: implicit, given the Jacobian like BDF).
    """
    if not t_max > 0:
        raise ValueError(f"t_max must be positive, got {t_max}")
    if jac not in ("analytic", "fd"):
        raise ValueError(f"jac must be 'analytic' or 'fd', got {jac!r}")
    if method not in SCIPY_METHODS:
        raise ValueError(f"method must be one of {SCIPY_METHODS}, got {method!r}")
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

    jac_used = jac_fn if jac == "analytic" else None
    sol = _bdf(fun, t_max, y0, jac_used, events, rtol, atol, t_eval, method)
    solve_time = time.perf_counter() - start
    if sol.status == -1:
        raise SolverError(f"{method} solver failed: {sol.message}")
    if not np.all(np.isfinite(sol.y[:, -1])):
        raise SolverError(f"{method} solver returned a non-finite state")
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


def _bdf(fun, t_max, y0, jac_fn, events, rtol, atol, t_eval=None, method="BDF"):
    """``solve_ivp`` with BDF from 0 to ``t_max``; a non-finite right-hand side raises SolverError.

    ``method`` names another SciPy integrator; the Jacobian goes only to the implicit ones.

    Floating-point errors are trapped inside the right-hand side only: SciPy's BDF itself does
    arithmetic on not-yet-initialised rows of its difference array (``np.empty``), which must not
    be trapped (it made a solve fail at random, depending on the memory's contents).
    """

    def checked(t, s):
        with np.errstate(over="raise", invalid="raise"):
            return fun(t, s)

    options = {"jac": jac_fn} if method in IMPLICIT_METHODS else {}
    try:
        return scipy.integrate.solve_ivp(
            checked,
            (0.0, float(t_max)),
            y0,
            method=method,
            events=events,
            rtol=rtol,
            atol=atol,
            t_eval=t_eval,
            **options,
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


# ---------------------------------------------------------------------------
# other routes to the same event time: a jit-compiled explicit solver, and the closed form


def _jax_rhs(problem: FlowProblem, space: str):
    """eq. 1 or eq. 2 in JAX (float64): ``rhs(state, consts)``, its constants and ``f_of``."""
    n, k = problem.n, problem.k
    c = -problem.lr / problem.n
    onehot = jnp.asarray(problem.target())

    def grad_f(f):
        if problem.loss == "ce":
            return jax.nn.softmax(f, axis=1) - onehot
        return f - onehot

    if space == "function":
        consts = (jnp.asarray(with_ntk(problem).theta, dtype=jnp.float64),)

        def f_of(s, consts):
            return s.reshape(n, k)

        def rhs(s, consts):
            return c * (consts[0] @ grad_f(f_of(s, consts)).ravel())

        y0 = jnp.asarray(problem.f0.ravel(), dtype=jnp.float64)
    else:
        consts = (
            jnp.asarray(problem.J, dtype=jnp.float64),
            jnp.asarray(problem.f0.ravel(), dtype=jnp.float64),
        )

        def f_of(s, consts):
            return (consts[1] + consts[0] @ s).reshape(n, k)

        def rhs(s, consts):
            return c * (consts[0].T @ grad_f(f_of(s, consts)).ravel())

        y0 = jnp.zeros(problem.P, dtype=jnp.float64)
    return rhs, consts, f_of, y0


class DiffraxFlow:
    """The gradient flow solved by a jit-compiled explicit Runge-Kutta method (diffrax Tsit5).

    diffrax integrates on the device, in float64 (``jax.enable_x64`` around compilation and every
    call), with a PID step-size controller at the same ``rtol``/``atol`` as SciPy, and stops at
    the accuracy event: a :class:`diffrax.Event` on the same continuous margin quantile as
    :func:`margin_quantile`, located by bisection on the solver's dense output.  One
    compilation serves every threshold and horizon (both are arguments).  ``compile_time`` is
    the ahead-of-time compilation; ``__call__`` returns a :class:`FlowResult` whose ``nfev`` is
    the right-hand-side evaluations of Tsit5 (6 per step, first-same-as-last, plus the first).
    """

    def __init__(
        self,
        problem: FlowProblem,
        space: str = "auto",
        rtol: float = 1e-3,
        atol: float = 1e-6,
        max_steps: int = 200_000,
    ):
        import diffrax
        import optimistix as optx

        if space == "auto":
            space = choose_space(problem)
        if space not in ("function", "parameter"):
            raise ValueError(f"space must be 'auto', 'function' or 'parameter', got {space!r}")
        self.problem, self.space = problem, space
        n = problem.n
        y_lab = problem.y
        t0 = time.perf_counter()
        with jax.enable_x64(True):
            rhs, consts, f_of, y0 = _jax_rhs(problem, space)
            yl = jnp.asarray(y_lab)

            def quantile(s, consts, kth):
                f = f_of(s, consts)
                true = jnp.take_along_axis(f, yl[:, None], axis=1)[:, 0]
                other = jnp.where(jax.nn.one_hot(yl, f.shape[1], dtype=bool), -jnp.inf, f)
                return jnp.sort(true - other.max(axis=1))[n - kth]

            def solve(y0, consts, t_max, kth):
                term = diffrax.ODETerm(lambda t, s, args: rhs(s, args))
                event = diffrax.Event(
                    lambda t, y, args, **kw: quantile(y, args, kth),
                    root_finder=optx.Bisection(rtol=1e-9, atol=1e-9),
                )
                sol = diffrax.diffeqsolve(
                    term,
                    diffrax.Tsit5(),
                    0.0,
                    t_max,
                    None,
                    y0,
                    args=consts,
                    saveat=diffrax.SaveAt(t1=True),
                    stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
                    event=event,
                    max_steps=max_steps,
                    throw=False,
                )
                hit = sol.event_mask if sol.event_mask is not None else jnp.array(False)
                ok = diffrax.is_okay(sol.result)
                return sol.ts[-1], sol.ys[-1], hit, ok, sol.stats["num_steps"]

            self._y0, self._consts = y0, consts
            args = (y0, consts, jnp.float64(1.0), jnp.int32(1))
            self._solve = jax.jit(solve).lower(*args).compile()
        self.compile_time = time.perf_counter() - t0
        self._f_of = f_of

    def __call__(self, t_max: float, threshold: float) -> FlowResult:
        if not t_max > 0:
            raise ValueError(f"t_max must be positive, got {t_max}")
        pr = self.problem
        kth = math.ceil(_checked_threshold(threshold) * pr.n - 1e-9)
        start = time.perf_counter()
        with jax.enable_x64(True):
            if margin_quantile(pr.f0, pr.y, threshold) > 0:
                f_of = functools.partial(_np_f_of, pr, self.space)
                y0 = np.asarray(self._y0)
                return _result_at_start(pr, self.space, threshold, y0, f_of, 0.0, "t=0")
            t, s, hit, ok, steps = jax.block_until_ready(
                self._solve(self._y0, self._consts, jnp.float64(t_max), jnp.int32(kth))
            )
        solve_time = time.perf_counter() - start
        if not bool(ok):
            raise SolverError("diffrax Tsit5 failed (step limit or non-finite state)")
        state = np.asarray(s)
        f_of = functools.partial(_np_f_of, pr, self.space)
        t_event = float(t) if bool(hit) else None
        nfev = 6 * int(steps) + 1
        return _result(
            pr, self.space, threshold, t_event, state, f_of, nfev, 0, 0, solve_time, 0.0, 0, "Tsit5"
        )


def _checked_threshold(threshold: float) -> float:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"accuracy threshold must be in (0, 1], got {threshold}")
    return float(threshold)


def _np_f_of(problem: FlowProblem, space: str, s: np.ndarray) -> np.ndarray:
    if space == "function":
        return np.asarray(s).reshape(problem.n, problem.k)
    return (problem.f0.ravel() + np.asarray(problem.J, np.float64) @ s).reshape(
        problem.n, problem.k
    )


def closed_form_event(
    problem: FlowProblem, t_max: float, threshold: float, grid: int = 256
) -> FlowResult:
    r"""Squared loss in function space: the event time from the flow's closed form.

    With :math:`\Theta_0 = V\Lambda V^\top` (one symmetric eigendecomposition, timed as part of
    the solve), :math:`f_t = y + V e^{-\eta\Lambda t/N} V^\top (f_0 - y)` at any ``t`` for the
    price of two matrix-vector products.  The first crossing is bracketed on a geometric grid of
    ``grid`` times in (0, ``t_max``] (one matrix product for all of them) and located by Brent's
    method; a crossing that goes up and back down between two grid points is missed (stated).
    ``nfev`` counts the times at which ``f_t`` was evaluated.
    """
    if problem.loss != "mse":
        raise ValueError("the closed form holds for the squared loss only (loss='mse')")
    if not t_max > 0:
        raise ValueError(f"t_max must be positive, got {t_max}")
    _checked_threshold(threshold)
    start = time.perf_counter()
    pr = with_ntk(problem)
    n, k = pr.n, pr.k
    target = pr.target().ravel()
    lam, V = scipy.linalg.eigh(pr.theta)
    lam = np.clip(lam, 0.0, None)
    a = V.T @ (pr.f0.ravel() - target)
    c = pr.lr / n
    count = [0]

    def f_at(t):
        count[0] += 1
        return (target + V @ (np.exp(-c * lam * t) * a)).reshape(n, k)

    def g(t):
        return margin_quantile(f_at(t), pr.y, threshold)

    def f_of(s):
        return s.reshape(n, k)

    if g(0.0) > 0:
        return _result_at_start(pr, "function", threshold, pr.f0.ravel(), f_of, 0.0, "t=0")
    ts = np.geomspace(t_max * 1e-7, t_max, grid)
    F = target[:, None] + V @ (np.exp(-c * np.outer(lam, ts)) * a[:, None])
    count[0] += grid
    vals = np.array([margin_quantile(F[:, j].reshape(n, k), pr.y, threshold) for j in range(grid)])
    up = np.flatnonzero(vals > 0)
    if len(up) == 0:
        t_event, state = None, F[:, -1]
    else:
        j = int(up[0])
        lo = 0.0 if j == 0 else ts[j - 1]
        t_event = float(scipy.optimize.brentq(g, lo, ts[j], xtol=1e-12, rtol=1e-10))
        state = f_at(t_event).ravel()
    solve_time = time.perf_counter() - start
    return _result(
        pr, "function", threshold, t_event, state, f_of, count[0], 0, 0, solve_time, 0.0, 0, "eig"
    )


def flow_jacobian_spectrum(problem: FlowProblem, f: np.ndarray) -> np.ndarray:
    r"""Eigenvalues (real, >= 0, descending) of :math:`\frac\eta N \Theta_0 H(f)`: minus eq. 2's Jacobian.

    :math:`\Theta_0 H` is similar to the symmetric :math:`H^{1/2}\Theta_0 H^{1/2}` (``H`` is
    positive semi-definite), so its spectrum is real and non-negative; it is computed from that
    symmetric form with the per-example square roots of ``H``.
    """
    pr = with_ntk(problem)
    n, k = pr.n, pr.k
    H = pr.hessian_blocks(np.asarray(f).reshape(n, k))
    if H is None:
        M = pr.theta
    else:
        w, U = np.linalg.eigh(H)
        R = np.einsum("iab,ib,icb->iac", U, np.sqrt(np.clip(w, 0.0, None)), U)
        Rb = scipy.linalg.block_diag(*R)
        M = Rb @ pr.theta @ Rb
    ev = scipy.linalg.eigvalsh(M)
    return np.sort(np.clip(ev, 0.0, None))[::-1] * pr.lr / n


def spectral_radius(problem: FlowProblem, f: np.ndarray) -> float:
    r"""The flow Jacobian's spectral radius :math:`\rho = \frac\eta N\lambda_{max}(J_0^\top H(f) J_0)`.

    The nonzero eigenvalues of eq. 1's and eq. 2's Jacobians coincide (they are those of
    :math:`H^{1/2}\Theta_0 H^{1/2}`), so one Lanczos run (``scipy.sparse.linalg.eigsh``) on
    the P-dimensional symmetric form, with matrix-vector products through ``J0``, serves both.
    An explicit method's step is bounded by about (its stability interval) / rho, so
    ``rho * t`` measures how stiff the flow is up to time ``t``.
    """
    import scipy.sparse.linalg as spla

    n, k = problem.n, problem.k
    J = np.asarray(problem.J, dtype=np.float64)
    H = problem.hessian_blocks(np.asarray(f).reshape(n, k))

    def mv(v):
        u = (J @ np.ravel(v)).reshape(n, k)
        if H is not None:
            u = np.einsum("ikl,il->ik", H, u)
        return J.T @ u.ravel()

    op = spla.LinearOperator((problem.P, problem.P), matvec=mv, dtype=np.float64)
    lam = spla.eigsh(op, k=1, which="LA", tol=1e-4, return_eigenvectors=False)[0]
    return float(lam) * problem.lr / n
