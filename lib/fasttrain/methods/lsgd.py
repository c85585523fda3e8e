r"""Least-squares / gradient-descent hybrid training and box initialisation
(Cyr, Gulian, Patel, Perego, Trask, "Robust training and initialization of
deep neural networks: an adaptive basis viewpoint", MSML 2020, arXiv 1912.04862).

**Adaptive basis.**  The hidden layers with parameters :math:`\xi` define basis
functions :math:`\Phi(x;\xi) \in \mathbb R^{p}` (the last hidden layer's
outputs plus a constant), and the network is :math:`u(x) = \Phi(x;\xi)\,c`
with a linear output layer :math:`c`.  Every problem here has a loss that is
quadratic in ``c``,

.. math::  L(\xi, c) = \tfrac12\|A(\xi)\,c - r\|^2 + \tfrac\lambda2\|c\|^2 ,

* regression: :math:`A = \Phi(X;\xi)/\sqrt n`, :math:`r = y/\sqrt n` (half mean squared error);
* 1-D Poisson PINN, :math:`-u'' = f` on ``[0, 1]`` with :math:`u(0)=a,\ u(1)=b`:
  rows :math:`-\Phi''(x_i;\xi)/\sqrt{n}` with right-hand side :math:`f(x_i)/\sqrt n`
  at the collocation points and rows :math:`\sqrt\beta\,\Phi(0)`,
  :math:`\sqrt\beta\,\Phi(1)` with right-hand sides :math:`\sqrt\beta a`,
  :math:`\sqrt\beta b` (the PDE residual is linear in ``c``; the second
  derivatives of the basis functions in ``x`` come from ``jax.jacfwd``).

**LSGD** (the paper's Alg. 1): :math:`c \leftarrow \arg\min_c L(\xi, c)`
(regularised least squares), then a gradient step (Adam or GD, optax) on
:math:`\xi` with :math:`c` fixed, and repeat.  Per iteration: one forward and
backward pass for the hidden layers (as one Adam step), one more forward
pass, and the least-squares solve, :math:`O(m p^2)` for ``m`` rows and ``p``
basis functions.  :func:`least_squares` solves the normal equations in float64 by a Cholesky
factorisation of the small ``p x p`` Gram matrix (default, ``solver="cholesky"``): one
``m x p`` by ``p x m`` product and an ``O(p^3)`` factorisation of a 33 x 33 matrix, so an
LSGD iteration costs about two Adam steps.  Why not the alternatives: the normal equations
square the condition number, which in float32 costs up to an order of magnitude in the loss
on the ill-conditioned 1-D ReLU bases -- in float64 (unit roundoff 1e-16) the squared
condition number of a float32 basis (at most ~1e7 squared) leaves digits to spare; a QR of the
tall system (``solver="qr"``, the previous default) is accurate in float32 but is a sequence of
``p`` dependent Gram-Schmidt steps, 5-8x the cost of the Cholesky route here; LAPACK's QR/SVD
(``"lstsq"``) run through a multithreaded BLAS that was 10-100x slower on a busy 2-core
machine.  A ridge ``lambda`` (the caller's) plus a jitter ``p eps_64 max diag(G)`` (declared in
:data:`JITTER`) keeps the factorisation positive definite when dead ReLUs give zero columns:
their coefficients come out 0, as with the QR route.

**Compilation.**  :func:`fit` compiles one chunk of steps per static
configuration (method, optimiser, solver, chunk length, shapes); the
least-squares systems and error functions are pytrees passed as arguments,
and step counts, learning rate and ridge are run-time values, so a chapter's
many fits (benchmarks, seeds, initialisations) share a handful of compilations.

**Box initialisation** for ReLU networks (Sec. 3 of the paper; our reading of
it, the FACTS file marks it unconfirmed): every neuron gets a point ``p``
drawn uniformly in a box (the unit box or the data's bounding box) and a unit
normal ``n``; ``k`` is chosen so that the maximum of :math:`k\,n\cdot(x-p)`
over the box is 1, and :math:`W = k n,\ b = -k\,n\cdot p`.  So every
neuron's hyperplane cuts the box (no dead neurons on the box) and outputs lie
in ``[0, 1]``, hence the next layer's box is the unit box again.

**ResNet variant** (our choice, "box scaled per layer"): for
:math:`u_{l+1} = u_l + \frac1L \sigma(W_l u_l + b_l)`, ``l < L``, with an
opening layer box-initialised on the data box (outputs in ``[0,1]^w``), the
states of layer ``l`` lie in :math:`[0, m_l]^w`, :math:`m_l = (1 + 1/L)^l`,
if each residual neuron is box-initialised on :math:`[0, m_l]^w` with its
maximum there scaled to :math:`m_l`; that is unit-box weights with biases
scaled by :math:`m_l` (the box grows at most to ``e``).
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core.errors import DivergenceError
from ..core.progress import progress_bar

__all__ = [
    "ACTIVATIONS",
    "DivergenceError",
    "box_layer",
    "init_mlp",
    "init_resnet_box",
    "hidden",
    "basis",
    "predict",
    "dead_fraction",
    "box_extrema",
    "quadratic_loss",
    "least_squares",
    "SOLVERS",
    "JITTER",
    "INITS",
    "BIAS",
    "ls_step",
    "Benchmark",
    "BENCHMARKS",
    "benchmark",
    "regression_data",
    "RegressionSystem",
    "regression_system",
    "RelativeError",
    "relative_error",
    "Poisson1D",
    "POISSON",
    "POISSON_DAMPED",
    "poisson_problem",
    "basis_d2",
    "PoissonSystem",
    "poisson_system",
    "relative_l2",
    "FitResult",
    "LSGD",
    "Adam",
    "GD",
    "Method",
    "method_from_name",
    "run",
    "fit",
    "iterations_to_reach",
]

ACTIVATIONS: dict[str, Callable] = {"relu": jax.nn.relu, "tanh": jnp.tanh}


def _act(name: str) -> Callable:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}: choose one of {sorted(ACTIVATIONS)}"
        ) from None


# ----------------------------------------------------------------------------
# initialisations


def box_layer(key, lo, hi, n_out: int, target: float = 1.0, dtype=jnp.float32):
    r"""Box initialisation of one layer: ``W (d, n_out)``, ``b (n_out,)``.

    For neuron ``j``: ``p_j ~ U(box)``, ``n_j`` uniform on the unit sphere,
    ``k_j = target / max_{x in box} n_j . (x - p_j)``, ``W[:, j] = k_j n_j``,
    ``b_j = -k_j n_j . p_j``.  The maximum of the affine map over the box is
    attained at a corner: :math:`\sum_i \max(n_i lo_i, n_i hi_i) - n\cdot p`.
    """
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    if lo.ndim != 1 or lo.shape != hi.shape:
        raise ValueError(f"box corners must be 1-D of equal length, got {lo.shape} and {hi.shape}")
    if not np.all(hi > lo):
        raise ValueError("box needs hi > lo in every coordinate")
    if n_out < 1:
        raise ValueError(f"n_out must be positive, got {n_out}")
    return _box_layer(key, jnp.asarray(lo, dtype), jnp.asarray(hi, dtype), n_out, target, dtype)


@partial(jax.jit, static_argnames=("n_out", "dtype"))
def _box_layer(key, lo, hi, n_out, target, dtype):
    d = lo.shape[0]
    kp, kn = jax.random.split(key)
    p = lo + (hi - lo) * jax.random.uniform(kp, (n_out, d), dtype)
    n = jax.random.normal(kn, (n_out, d), dtype)
    n = n / jnp.linalg.norm(n, axis=1, keepdims=True)
    mx = jnp.sum(jnp.maximum(n * lo, n * hi), axis=1) - jnp.sum(n * p, axis=1)
    k = target / mx
    return {"W": (k[:, None] * n).T, "b": -k * jnp.sum(n * p, axis=1)}


#: the initialisations of :func:`init_mlp`: box, and He / Glorot in three variants (see there)
INITS: tuple[str, ...] = (
    "box",
    "he",
    "glorot",
    "he-centred",
    "glorot-centred",
    "he-bias",
    "glorot-bias",
)
#: the constant bias of the ``"-bias"`` variants (the common "small positive bias" for ReLUs)
BIAS = 0.01


def _check_init(method: str) -> None:
    if method not in INITS:
        raise ValueError(f"unknown initialisation {method!r}: choose one of {INITS}")


def _dense(key, d_in, d_out, method, dtype):
    base = method.split("-")[0]
    if base not in ("he", "glorot"):
        raise ValueError(f"unknown initialisation {method!r}: choose one of {INITS}")
    std = math.sqrt(2.0 / d_in) if base == "he" else math.sqrt(2.0 / (d_in + d_out))
    b = BIAS if method.endswith("-bias") else 0.0
    return {
        "W": std * jax.random.normal(key, (d_in, d_out), dtype),
        "b": jnp.full((d_out,), b, dtype),
    }


def init_mlp(
    key,
    d_in: int,
    widths: Sequence[int],
    n_out: int = 1,
    method: str = "box",
    box=None,
    dtype=jnp.float32,
) -> dict:
    """An MLP ``{"hidden": [{"W", "b"}, ...], "c": (widths[-1] + 1, n_out)}``.

    ``method`` (one of :data:`INITS`): ``"box"`` (first layer on ``box = (lo, hi)``, default the
    unit box, later layers on the unit box); ``"he"`` or ``"glorot"`` (normal weights, zero
    biases, raw inputs); ``"he-centred"`` / ``"glorot-centred"`` (the same on inputs centred at
    the box's midpoint ``m``: folded into the first layer, ``b = -W^T m``, so that
    ``W^T x + b = W^T (x - m)``); ``"he-bias"`` / ``"glorot-bias"`` (every hidden bias
    :data:`BIAS`).  The output layer ``c`` (last row: the constant basis function) gets Glorot
    weights in every case.
    """
    _check_init(method)
    widths = tuple(int(w) for w in widths)
    if d_in < 1 or n_out < 1 or not widths or min(widths) < 1:
        raise ValueError(f"need positive sizes, got d_in={d_in}, widths={widths}, n_out={n_out}")
    keys = jax.random.split(key, len(widths) + 1)
    lo, hi = _box(box, d_in)
    layers, d = [], d_in
    for i, w in enumerate(widths):
        if method == "box":
            layers.append(
                box_layer(
                    keys[i],
                    lo if i == 0 else np.zeros(d),
                    hi if i == 0 else np.ones(d),
                    w,
                    dtype=dtype,
                )
            )
        else:
            layer = _dense(keys[i], d, w, method, dtype)
            if i == 0 and method.endswith("-centred"):
                mid = jnp.asarray((lo + hi) / 2, dtype)
                layer = {"W": layer["W"], "b": layer["b"] - mid @ layer["W"]}
            layers.append(layer)
        d = w
    c = math.sqrt(2.0 / (d + 1 + n_out)) * jax.random.normal(keys[-1], (d + 1, n_out), dtype)
    return {"hidden": layers, "c": c}


def _box(box, d):
    if box is None:
        return np.zeros(d), np.ones(d)
    lo, hi = (np.broadcast_to(np.asarray(v, float), (d,)) for v in box)
    return lo, hi


def init_resnet_box(
    key,
    d_in: int,
    width: int,
    depth: int,
    n_out: int = 1,
    box=None,
    method: str = "box",
    dtype=jnp.float32,
) -> dict:
    r"""A ResNet ``u_{l+1} = u_l + sigma(W_l u_l + b_l) / L`` with an opening layer.

    ``method="box"``: opening layer box-initialised on the data box, residual
    layer ``l`` on :math:`[0, m_l]^w` with maximum :math:`m_l = (1+1/L)^l`
    (see the module docstring); the He / Glorot variants of :func:`init_mlp` for comparison
    (residual layers: the variant's weights and biases; centring acts on the opening layer).
    Parameters: ``{"hidden": [opening], "res": {"W": (L, w, w), "b": (L, w)}, "c"}``.
    """
    if depth < 1:
        raise ValueError(f"depth must be positive, got {depth}")
    _check_init(method)
    k_open, k_res, k_c = jax.random.split(key, 3)
    p = init_mlp(k_open, d_in, (width,), n_out, method, box, dtype)
    keys = jax.random.split(k_res, depth)
    Ws, bs = [], []
    for l in range(depth):
        m = (1.0 + 1.0 / depth) ** l
        if method == "box":
            layer = box_layer(
                keys[l], np.zeros(width), m * np.ones(width), width, target=m, dtype=dtype
            )
        else:
            layer = _dense(keys[l], width, width, method, dtype)
        Ws.append(layer["W"])
        bs.append(layer["b"])
    p["res"] = {"W": jnp.stack(Ws), "b": jnp.stack(bs)}
    return p


# ----------------------------------------------------------------------------
# the network as an adaptive basis


def hidden(params, x, activation: str = "relu"):
    """Pre-activations of every hidden (and residual) layer, and the last hidden state."""
    _act(activation)
    return _hidden(params, x, activation)


@partial(jax.jit, static_argnames=("activation",))
def _hidden(params, x, activation):
    sig = _act(activation)
    pre, h = [], x
    for layer in params["hidden"]:
        z = h @ layer["W"] + layer["b"]
        pre.append(z)
        h = sig(z)
    if "res" in params:
        L = params["res"]["W"].shape[0]

        def body(u, wb):
            z = u @ wb[0] + wb[1]
            return u + sig(z) / L, z

        h, zs = jax.lax.scan(body, h, (params["res"]["W"], params["res"]["b"]))
        pre.extend(list(zs))
    return pre, h


def basis(params, x, activation: str = "relu"):
    r"""The basis :math:`\Phi(x;\xi)`: last hidden state plus a constant column, ``(n, p)``."""
    h = hidden(params, x, activation)[1]
    return jnp.concatenate([h, jnp.ones(h.shape[:-1] + (1,), h.dtype)], axis=-1)


def predict(params, x, activation: str = "relu"):
    r""":math:`u(x) = \Phi(x;\xi)\,c`."""
    return basis(params, x, activation) @ params["c"]


def dead_fraction(params, x, activation: str = "relu") -> dict:
    """Fraction of ReLU neurons whose pre-activation is <= 0 at every point of ``x``.

    Returns ``{"total": fraction over all neurons, "per_layer": [...]}``.
    """
    pre, _ = hidden(params, jnp.asarray(x), activation)
    dead = [np.asarray(jnp.all(z <= 0, axis=0)) for z in pre]
    per = [float(d.mean()) for d in dead]
    return {"total": float(np.concatenate(dead).mean()), "per_layer": per}


def box_extrema(layer, lo, hi):
    """Min and max of each neuron's affine map over the box, by enumerating its corners."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array(list(itertools.product(*zip(lo, hi))))
    vals = corners @ np.asarray(layer["W"], float) + np.asarray(layer["b"], float)
    return vals.min(axis=0), vals.max(axis=0)


# ----------------------------------------------------------------------------
# the least-squares step


def quadratic_loss(params, system: Callable, ridge: float = 0.0):
    r""":math:`\frac12\|A(\xi)c - r\|^2 + \frac\lambda2\|c\|^2` with ``A, r = system(params)``."""
    A, r = system(params)
    c = params["c"]
    return 0.5 * jnp.sum((A @ c - r) ** 2) + 0.5 * ridge * jnp.sum(c**2)


def _qr_cgs2(A):
    """Thin QR of ``A`` (m, p) by classical Gram-Schmidt with re-orthogonalisation.

    A column whose remainder after orthogonalisation is below ``p eps`` times
    its norm is declared dependent: its ``q`` is zero and ``R[j, j] = 0``.
    """
    m, p = A.shape
    eps = jnp.finfo(A.dtype).eps
    idx = jnp.arange(p)

    def body(j, QR):
        Q, R = QR
        a = A[:, j]
        mask = (idx < j).astype(A.dtype)
        r1 = (Q.T @ a) * mask
        v = a - Q @ r1
        r2 = (Q.T @ v) * mask
        v = v - Q @ r2
        nrm = jnp.linalg.norm(v)
        keep = nrm > p * eps * jnp.linalg.norm(a)
        Q = Q.at[:, j].set(jnp.where(keep, v / jnp.where(keep, nrm, 1.0), 0.0))
        R = R.at[:, j].set(r1 + r2).at[j, j].set(jnp.where(keep, nrm, 0.0))
        return Q, R

    return jax.lax.fori_loop(0, p, body, (jnp.zeros_like(A), jnp.zeros((p, p), A.dtype)))


#: the least-squares solvers of :func:`least_squares` (the first is the default)
SOLVERS: tuple[str, ...] = ("cholesky", "qr", "lstsq", "normal")
#: the Cholesky route's jitter, relative: ``JITTER * p * max diag(G)`` is added to the diagonal
#: of the float64 Gram matrix ``G`` (with the caller's ridge); ``p eps_64 max diag(G)`` is the
#: rounding error of forming ``G``, so the jitter changes the solution at that level only
JITTER = float(np.finfo(np.float64).eps)


def least_squares(A, r, ridge: float = 0.0, solver: str = "cholesky"):
    r"""``argmin_c ||A c - r||^2 + ridge ||c||^2`` for ``A`` (m, p), ``r`` (m, k).

    Solvers, all on the stacked system :math:`[A;\sqrt\lambda I]\,c = [r; 0]`
    or its normal equations:

    * ``"cholesky"`` (default): the normal equations in float64,
      :math:`(A^\top A + (\lambda + \delta) I)\,c = A^\top r` with the jitter
      :math:`\delta` = :data:`JITTER` ``p max diag(A^T A)``, by a Cholesky factorisation; the
      result is cast back to ``A``'s dtype.  Squaring the condition number costs nothing
      visible in float64 for float32 bases (see the module docstring); dead ReLUs (zero columns)
      get coefficient 0.  Float64 is enabled for the solve only (``jax.enable_x64`` while
      tracing it), whatever the process' setting;
    * ``"qr"``: thin QR by Gram-Schmidt with re-orthogonalisation
      (CGS2, as accurate as Householder QR for numerically full-rank
      matrices), then back substitution; columns found dependent (dead
      ReLUs give zero columns) get coefficient 0.  Written with ``jnp``
      because LAPACK's QR and SVD (``jnp.linalg.qr``/``lstsq``) run through a
      multithreaded BLAS that became 10-100x slower for more than 256 rows on
      a busy 2-core machine.  Accurate in float32 but sequential (``p`` dependent steps):
      5-8x the Cholesky route's cost here;
    * ``"lstsq"``: SVD, ``jnp.linalg.lstsq`` (the minimum-norm solution);
    * ``"normal"``: the normal equations :math:`(A^\top A + \lambda I) c = A^\top r`
      by an eigen-decomposition (pseudo-inverse below ``eps`` times the
      largest eigenvalue).  Cheap, but it squares the condition number: in
      float32 it loses up to an order of magnitude in the loss on the
      ill-conditioned ReLU bases of 1-D problems.  (A plain Cholesky
      factorisation breaks down on them.)
    """
    if A.ndim != 2 or r.shape[0] != A.shape[0]:
        raise ValueError(
            f"least squares needs A (m, p) and r (m, ...), got {A.shape} and {r.shape}"
        )
    if not isinstance(ridge, jax.core.Tracer) and ridge < 0:  # a traced ridge is checked by fit
        raise ValueError(f"ridge must be non-negative, got {ridge}")
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}: choose one of {SOLVERS}")
    return _least_squares(A, r, ridge, solver)


@partial(jax.jit, static_argnames=("solver",))
def _least_squares(A, r, ridge, solver):
    p = A.shape[1]
    if solver == "cholesky":
        return _cholesky64(A, r, ridge)
    if solver == "normal":
        mu, V = jnp.linalg.eigh(A.T @ A + ridge * jnp.eye(p, dtype=A.dtype))
        inv = jnp.where(mu > jnp.finfo(A.dtype).eps * jnp.max(mu), 1.0 / mu, 0.0)
        return V @ (inv.reshape((p,) + (1,) * (r.ndim - 1)) * (V.T @ (A.T @ r)))
    # ridge rows (zero rows when ridge = 0, which change nothing)
    A = jnp.concatenate([A, jnp.sqrt(ridge).astype(A.dtype) * jnp.eye(p, dtype=A.dtype)])
    r = jnp.concatenate([r, jnp.zeros((p,) + r.shape[1:], r.dtype)])
    if solver == "lstsq":
        return jnp.linalg.lstsq(A, r)[0]
    Q, R = _qr_cgs2(A)
    dep = jnp.diag(R) == 0
    R = jnp.where(dep[:, None], jnp.eye(p, dtype=A.dtype), R)  # c_j = 0 for dependent columns
    rhs = jnp.where(dep.reshape((p,) + (1,) * (r.ndim - 1)), 0.0, Q.T @ r)
    return jax.scipy.linalg.solve_triangular(R, rhs, lower=False)


def _cholesky64(A, r, ridge):
    """The float64 normal-equations solve of :func:`least_squares` (``solver="cholesky"``)."""
    p = A.shape[1]
    with jax.enable_x64(True):
        A64, r64 = A.astype(jnp.float64), r.astype(jnp.float64)
        G = A64.T @ A64
        lam = jnp.asarray(ridge, jnp.float64) + JITTER * p * jnp.max(jnp.diag(G))
        L = jnp.linalg.cholesky(G + lam * jnp.eye(p, dtype=jnp.float64))
        c = jax.scipy.linalg.cho_solve((L, True), A64.T @ r64)
        return c.astype(A.dtype)


def ls_step(params, system: Callable, ridge: float = 0.0, solver: str = "cholesky"):
    """``params`` with the output layer replaced by the least-squares optimum."""
    A, r = system(params)
    return {**params, "c": least_squares(A, r, ridge, solver).reshape(params["c"].shape)}


# ----------------------------------------------------------------------------
# regression benchmarks


@dataclass(frozen=True)
class Benchmark:
    """A regression target ``fn`` on the box ``[lo, hi]^dim``."""

    name: str
    dim: int
    fn: Callable
    lo: float = 0.0
    hi: float = 1.0


def benchmark(name: str, k: int = 4) -> Benchmark:
    """``"smooth1d"``: sin(2 pi x); ``"osc1d"``: sin(2 pi k x); ``"smooth2d"``:
    sin(pi x) sin(pi y), all on the unit box (our choice of test functions)."""
    table = {
        "smooth1d": Benchmark("smooth1d", 1, lambda x: jnp.sin(2 * jnp.pi * x[:, :1])),
        "osc1d": Benchmark(f"osc1d(k={k})", 1, lambda x: jnp.sin(2 * jnp.pi * k * x[:, :1])),
        "smooth2d": Benchmark(
            "smooth2d",
            2,
            lambda x: (jnp.sin(jnp.pi * x[:, 0]) * jnp.sin(jnp.pi * x[:, 1]))[:, None],
        ),
    }
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}: choose one of {sorted(table)}") from None


BENCHMARKS = ("smooth1d", "osc1d", "smooth2d")


def regression_data(bench: Benchmark, n_train: int, n_test: int, seed: int = 0, dtype=jnp.float32):
    """Training points uniform in the box (seeded), test points on a uniform grid.

    Returns ``(x_train, y_train, x_test, y_test)``; ``y`` has shape ``(n, 1)``;
    for ``dim = 2`` the test grid has ``ceil(sqrt(n_test))^2`` points.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError("need at least one training and one test point")
    rng = np.random.default_rng(seed)
    xtr = rng.uniform(bench.lo, bench.hi, size=(n_train, bench.dim))
    m = n_test if bench.dim == 1 else math.ceil(n_test ** (1 / bench.dim))
    t = np.linspace(bench.lo, bench.hi, m)
    xte = np.stack(np.meshgrid(*([t] * bench.dim), indexing="ij"), -1).reshape(-1, bench.dim)
    xtr, xte = jnp.asarray(xtr, dtype), jnp.asarray(xte, dtype)
    return xtr, bench.fn(xtr), xte, bench.fn(xte)


@dataclass(frozen=True)
class RegressionSystem:
    r"""``params -> (Phi(x)/sqrt(n), y/sqrt(n))``: the half mean squared error as a quadratic in ``c``.

    A pytree (data ``x``, ``y``; static ``activation``), so that :func:`fit`
    passes it to its compiled step as an argument: one compilation serves
    every data set of the same shapes.
    """

    x: Any
    y: Any
    activation: str = "relu"

    def __call__(self, params):
        s = 1.0 / math.sqrt(self.x.shape[0])
        return s * basis(params, self.x, self.activation), s * self.y


def regression_system(x, y, activation: str = "relu") -> RegressionSystem:
    """The least-squares system of regression on ``(x, y)`` (see :class:`RegressionSystem`)."""
    x, y = jnp.asarray(x), jnp.asarray(y)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x has {x.shape[0]} rows but y has {y.shape[0]}"
            if x.ndim == 2
            else f"x must be 2-D (points, features), got shape {x.shape}"
        )
    _act(activation)
    return RegressionSystem(x, y, activation)


@dataclass(frozen=True)
class RelativeError:
    """``params -> ||u(x) - y|| / ||y||`` on evaluation points (a pytree, like :class:`RegressionSystem`)."""

    x: Any
    y: Any
    activation: str = "relu"

    def __call__(self, params):
        return relative_l2(predict(params, self.x, self.activation), self.y)


def relative_error(x, y, activation: str = "relu") -> RelativeError:
    """Error function for :func:`fit`: relative L2 error of the network on ``(x, y)``."""
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"evaluation points must be (n, d) with n values, got {x.shape} and {y.shape}"
        )
    _act(activation)
    return RelativeError(x, y, activation)


# ----------------------------------------------------------------------------
# physics-informed example: 1-D Poisson


@dataclass(frozen=True)
class Poisson1D:
    """``-u'' = f`` on ``[0, 1]``, ``u(0) = a``, ``u(1) = b``, exact solution ``u``."""

    name: str
    u: Callable
    f: Callable
    a: float = 0.0
    b: float = 0.0


def _poisson(k: int = 2) -> Poisson1D:
    w = k * jnp.pi
    return Poisson1D(f"sin({k} pi x)", lambda x: jnp.sin(w * x), lambda x: w**2 * jnp.sin(w * x))


POISSON = _poisson(2)


def _damped(k: int = 3) -> Poisson1D:
    r""":math:`u = e^{-x}\sin(k\pi x) + x`, :math:`f = -u'' = e^{-x}((w^2 - 1)\sin wx + 2w\cos wx)`,
    ``w = k pi``; boundary values 0 and 1 (non-zero, unlike :data:`POISSON`)."""
    w = k * jnp.pi
    return Poisson1D(
        f"exp(-x) sin({k} pi x) + x",
        lambda x: jnp.exp(-x) * jnp.sin(w * x) + x,
        lambda x: jnp.exp(-x) * ((w**2 - 1) * jnp.sin(w * x) + 2 * w * jnp.cos(w * x)),
        0.0,
        1.0,
    )


#: a second Poisson problem: a damped oscillation plus a linear part, boundary values 0 and 1
POISSON_DAMPED = _damped(3)


def poisson_problem(name: str) -> Poisson1D:
    """``"sin"``: :data:`POISSON`; ``"damped"``: :data:`POISSON_DAMPED`."""
    table = {"sin": POISSON, "damped": POISSON_DAMPED}
    try:
        return table[name]
    except KeyError:
        raise ValueError(
            f"unknown Poisson problem {name!r}: choose one of {sorted(table)}"
        ) from None


def basis_d2(params, x, activation: str = "tanh"):
    r""":math:`\partial_x^2 \Phi(x;\xi)` for 1-D inputs ``x`` of shape ``(n,)`` -> ``(n, p)``."""
    phi = lambda t: basis(params, t.reshape(1, 1), activation)[0]  # noqa: E731
    return jax.vmap(jax.jacfwd(jax.jacfwd(phi)))(jnp.asarray(x))


@dataclass(frozen=True)
class PoissonSystem:
    r"""``params -> (A, r)`` of the 1-D Poisson PINN (see :func:`poisson_system`); a pytree
    with data ``x_int`` and static problem, activation and boundary weight."""

    x_int: Any
    problem: Poisson1D = POISSON
    activation: str = "tanh"
    beta: float = 1.0

    def __call__(self, params):
        x_int = self.x_int
        s, sb = 1.0 / math.sqrt(x_int.shape[0]), math.sqrt(self.beta)
        xb = jnp.array([[0.0], [1.0]], x_int.dtype)
        ab = jnp.array([self.problem.a, self.problem.b], x_int.dtype)
        A = jnp.concatenate(
            [-s * basis_d2(params, x_int, self.activation), sb * basis(params, xb, self.activation)]
        )
        rhs = jnp.concatenate([s * self.problem.f(x_int), sb * ab])[:, None]
        return A, rhs


def poisson_system(
    x_int, problem: Poisson1D = POISSON, activation: str = "tanh", beta: float = 1.0
) -> PoissonSystem:
    r"""``params -> (A, r)``: PDE rows :math:`-\Phi''(x_i)/\sqrt n`, rhs :math:`f(x_i)/\sqrt n`,
    boundary rows :math:`\sqrt\beta\,\Phi(0), \sqrt\beta\,\Phi(1)`, rhs :math:`\sqrt\beta\,(a, b)`."""
    x_int = jnp.asarray(x_int)
    if x_int.ndim != 1:
        raise ValueError(f"collocation points must be 1-D, got shape {x_int.shape}")
    if beta <= 0:
        raise ValueError(f"boundary weight beta must be positive, got {beta}")
    _act(activation)
    return PoissonSystem(x_int, problem, activation, float(beta))


for _cls, _data in (
    (RegressionSystem, ["x", "y"]),
    (RelativeError, ["x", "y"]),
    (PoissonSystem, ["x_int"]),
):
    jax.tree_util.register_dataclass(
        _cls,
        data_fields=_data,
        meta_fields=[f for f in _cls.__dataclass_fields__ if f not in _data],
    )


def relative_l2(pred, target) -> jnp.ndarray:
    """``||pred - target|| / ||target||``."""
    pred, target = jnp.reshape(pred, (-1,)), jnp.reshape(target, (-1,))
    return jnp.linalg.norm(pred - target) / jnp.linalg.norm(target)


# ----------------------------------------------------------------------------
# training


@dataclass(frozen=True)
class FitResult:
    """``loss[k]``, ``error[k]`` (relative L2 test error) after ``k`` iterations (``k = 0``: start;
    for LSGD after the first least-squares solve)."""

    params: Any
    method: str
    loss: np.ndarray
    error: np.ndarray
    wall_time: float


@dataclass(frozen=True)
class _Opaque:
    """A plain Python callable passed to the compiled step as a static (hashed by identity) leaf-less pytree."""

    fn: Callable

    def __call__(self, params):
        return self.fn(params)


jax.tree_util.register_dataclass(_Opaque, data_fields=[], meta_fields=["fn"])


def _no_error(params):
    return jnp.nan


def _as_pytree(fn):
    return (
        fn
        if isinstance(fn, (RegressionSystem, PoissonSystem, RelativeError, _Opaque))
        else _Opaque(fn)
    )


def _optimizer(method: str, optimizer: str, lr):
    return (
        optax.sgd(lr)
        if method == "gd" or (method == "lsgd" and optimizer == "gd")
        else optax.adam(lr)
    )


@partial(jax.jit, static_argnames=("solve", "solver"))
def _fit_start(params, system, err, ridge, solve, solver):
    if solve:
        params = ls_step(params, system, ridge, solver)
    return params, quadratic_loss(params, system, ridge), err(params)


@partial(jax.jit, static_argnames=("method", "optimizer", "solver", "chunk"))
def _fit_chunk(carry, n, system, err, lr, ridge, method, optimizer, solver, chunk):
    """``n <= chunk`` iterations (run-time ``n``: ``lax.fori_loop`` with a dynamic bound), losses and
    errors written into buffers of static length ``chunk``."""
    opt = _optimizer(method, optimizer, lr)
    loss = lambda p: quadratic_loss(p, system, ridge)  # noqa: E731

    def one(carry):
        if method == "lsgd":
            xi, c, s = carry
            g = jax.grad(lambda xi: loss({**xi, "c": c}))(xi)
            upd, s = opt.update(g, s, xi)
            xi = optax.apply_updates(xi, upd)
            p = ls_step({**xi, "c": c}, system, ridge, solver)
            return (xi, p["c"], s), p
        p, s = carry
        upd, s = opt.update(jax.grad(loss)(p), s, p)
        p = optax.apply_updates(p, upd)
        return (p, s), p

    def body(i, state):
        carry, ls, es = state
        carry, p = one(carry)
        return carry, ls.at[i].set(loss(p)), es.at[i].set(err(p))

    dtype = jnp.result_type(*jax.tree.leaves(carry[0]))
    buf = jnp.full((chunk,), jnp.nan, dtype)
    return jax.lax.fori_loop(0, n, body, (carry, buf, buf))


@dataclass(frozen=True)
class LSGD:
    """Least-squares ``c``, then ``optimizer`` (``"adam"`` or ``"gd"``) steps of rate ``lr`` on the
    hidden parameters with ``c`` fixed, alternating; ``solver`` (:data:`SOLVERS`) of every
    least-squares solve."""

    lr: float = 1e-3
    optimizer: str = "adam"
    solver: str = "cholesky"

    name: ClassVar[str] = "lsgd"


@dataclass(frozen=True)
class Adam:
    """optax Adam of rate ``lr`` on all parameters."""

    lr: float = 1e-3

    name: ClassVar[str] = "adam"


@dataclass(frozen=True)
class GD:
    """optax SGD (plain gradient descent) of rate ``lr`` on all parameters."""

    lr: float = 1e-3

    name: ClassVar[str] = "gd"


Method = LSGD | Adam | GD


def method_from_name(
    method: str, lr: float = 1e-3, optimizer: str = "adam", solver: str = "cholesky"
) -> Method:
    """The description of the string interface's ``method`` (``"lsgd"``, ``"adam"``, ``"gd"``);
    ``optimizer`` and ``solver`` are LSGD's (the other methods drop them)."""
    if method == "lsgd":
        return LSGD(lr, optimizer, solver)
    if method in ("adam", "gd"):
        return {"adam": Adam, "gd": GD}[method](lr)
    raise ValueError(f"unknown method {method!r}: choose 'lsgd', 'adam' or 'gd'")


def _statics(method) -> tuple[str, str, str]:
    """``(name, optimizer, solver)``: the static arguments of the compiled start and chunk (the
    other methods' unused optimiser and solver as the string interface has always passed them)."""
    if isinstance(method, LSGD):
        return method.name, method.optimizer, method.solver
    if isinstance(method, (Adam, GD)):
        return method.name, "adam", "cholesky"
    raise ValueError(f"unknown method {method!r}: use LSGD, Adam or GD")


def run(
    method: Method,
    params,
    system: Callable,
    steps: int = 1000,
    *,
    ridge: float = 0.0,
    error_fn: Callable | None = None,
    chunk: int = 100,
    progress: bool = False,
) -> FitResult:
    """Train ``method`` (:class:`LSGD`, :class:`Adam`, :class:`GD`) on the quadratic-in-``c`` loss of
    ``system`` (with ``ridge``) for ``steps`` iterations from ``params``.

    ``error_fn(params)`` (e.g. :func:`relative_error`) is recorded every step.

    Steps run in jitted chunks of ``chunk`` steps.  The compiled chunk is
    cached per static configuration (method, optimiser, solver, ``chunk``,
    the shapes of parameters and data): ``system`` and ``error_fn`` built by
    :func:`regression_system`, :func:`poisson_system` and
    :func:`relative_error` are pytrees passed as arguments, and ``steps``,
    ``lr`` and ``ridge`` are run-time values, so repeated fits (other data,
    seeds, learning rates, step counts) compile nothing new.  (A plain Python
    callable works too but is hashed by identity: a new closure compiles anew.)
    ``wall_time`` includes any compilation; call once with ``steps=1`` first
    to time without it.  Raises :class:`DivergenceError` on a non-finite loss.
    """
    name, optimizer, solver = _statics(method)
    lr = method.lr
    _check_fit_args(name, steps, lr, ridge, optimizer, solver, chunk)
    system, err = _as_pytree(system), _as_pytree(error_fn or _no_error)
    dtype = jnp.result_type(*jax.tree.leaves(params))
    lr_, ridge_ = jnp.asarray(lr, dtype), jnp.asarray(ridge, dtype)
    t0 = time.perf_counter()
    params, loss0, err0 = _fit_start(params, system, err, ridge_, name == "lsgd", solver)
    carry, unpack = _fit_carry(params, name, _optimizer(name, optimizer, lr_))
    losses, errors = [np.array([float(loss0)])], [np.array([float(err0)])]
    bar = progress_bar(total=steps, desc=name, unit="step", enabled=progress)
    done = 0
    while done < steps:
        n = min(chunk, steps - done)
        carry, l, e = _fit_chunk(
            carry,
            jnp.asarray(n, jnp.int32),
            system,
            err,
            lr_,
            ridge_,
            name,
            optimizer,
            solver,
            int(chunk),
        )
        l, e = np.asarray(l)[:n], np.asarray(e)[:n]
        _check_finite_losses(l, done, name, lr)
        losses.append(l)
        errors.append(e)
        done += n
        bar.update(n)
    bar.close()
    return FitResult(
        unpack(carry),
        name,
        np.concatenate(losses),
        np.concatenate(errors),
        time.perf_counter() - t0,
    )


def fit(
    params,
    system: Callable,
    method: str = "lsgd",
    steps: int = 1000,
    lr: float = 1e-3,
    ridge: float = 0.0,
    optimizer: str = "adam",
    error_fn: Callable | None = None,
    solver: str = "cholesky",
    chunk: int = 100,
    progress: bool = False,
) -> FitResult:
    """Deprecated string interface of :func:`run`: ``method="lsgd"`` is :class:`LSGD` (``lr``,
    ``optimizer``, ``solver``), ``"adam"`` / ``"gd"`` :class:`Adam` / :class:`GD` (``lr``).
    Every argument is checked, the ones the method does not use included."""
    warnings.warn(
        "lsgd.fit with a method name is deprecated: use lsgd.run with LSGD, Adam or GD",
        DeprecationWarning,
        stacklevel=2,
    )
    _check_fit_args(method, steps, lr, ridge, optimizer, solver, chunk)
    return run(
        method_from_name(method, lr, optimizer, solver),
        params,
        system,
        steps,
        ridge=ridge,
        error_fn=error_fn,
        chunk=chunk,
        progress=progress,
    )


def _check_fit_args(method, steps, lr, ridge, optimizer, solver, chunk):
    """:func:`fit`'s argument checks."""
    if method not in ("lsgd", "adam", "gd"):
        raise ValueError(f"unknown method {method!r}: choose 'lsgd', 'adam' or 'gd'")
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if not (isinstance(steps, (int, np.integer)) and steps >= 0) or not (
        isinstance(chunk, (int, np.integer)) and chunk >= 1
    ):
        raise ValueError(
            f"steps must be a non-negative integer and chunk a positive one, got {steps}, {chunk}"
        )
    if ridge < 0:
        raise ValueError(f"ridge must be non-negative, got {ridge}")
    if method == "lsgd" and optimizer not in ("adam", "gd"):
        raise ValueError(f"unknown optimiser {optimizer!r}: choose 'adam' or 'gd'")
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}: choose one of {SOLVERS}")


def _fit_carry(params, method, opt):
    """``(carry, unpack)``: the loop state of :func:`_fit_chunk` and ``carry -> params``.

    LSGD carries the hidden parameters ``xi``, the coefficients ``c`` and the
    optimiser state of ``xi``; the other methods the parameters and their state.
    """
    if method == "lsgd":
        xi = {k: v for k, v in params.items() if k != "c"}
        return (xi, params["c"], opt.init(xi)), lambda carry: {**carry[0], "c": carry[1]}
    return (params, opt.init(params)), lambda carry: carry[0]


def _check_finite_losses(l, done, method, lr):
    """Raise :class:`DivergenceError` if a loss of the chunk starting at step ``done`` is not finite."""
    if not np.all(np.isfinite(l)):
        bad = done + int(np.argmin(np.isfinite(l)))
        raise DivergenceError(
            f"{method} diverged at step {bad} (loss {l[bad - done]}) with "
            f"lr={lr:g}; use a smaller learning rate"
        )


def iterations_to_reach(errors, target: float) -> int | None:
    """First iteration ``k`` with ``errors[k] <= target`` (``None``: never)."""
    hit = np.nonzero(np.asarray(errors) <= target)[0]
    return int(hit[0]) if len(hit) else None
