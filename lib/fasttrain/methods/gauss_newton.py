"""Gauss-Newton training of a two-layer ReLU network in near-linear time.

Chapter 02 reproduces van den Brand, Peng, Song, Weinstein, "Training
(Overparametrized) Neural Networks in Near-Linear Time" (ITCS 2021,
arXiv 2006.11648).  The paper has no experiments; this module implements the
three methods whose costs and convergence the chapter measures:

* gradient descent ``W <- W - eta J^T (f - y)``;
* exact Gauss-Newton, i.e. the Gram-Gauss-Newton step of Cai et al. (2019),
  ``W <- W - alpha J^T (G + lambda I)^{-1} (f - y)`` with ``G = J J^T``,
  which costs O(m n^2 + n^3) per step (forming and factoring ``G``);
* the paper's fast step: the same direction, but ``G z = f - y`` is solved by
  conjugate gradient preconditioned with the R factor of a sketch
  ``S J^T = Q R`` (``S`` a subsampled randomised Hadamard transform, SRHT, a
  Fast-JL map), so the step costs O~(m n d + s n^2) with s = O~(n) and never
  forms ``G`` or ``J``.  (The abstract's O~(mn) treats d as a constant and
  the s n^2 = O~(n^3) term as dominated, which needs m >> n.)

Beyond the paper, the fast step takes a second sketch (``sketch="kron"``,
the Kronecker-structured sketch): instead of an SRHT of R^{md} applied to the
columns ``p_i (x) x_i / sqrt m`` of ``J^T``, an SRHT ``S_m`` of R^m applied to
the pattern columns ``p_i`` only, i.e. the sketch ``S_m (x) I_d`` of
R^{md}.  Every vector ``J^T z`` reshaped to m x d has its d columns in
``colspace(P^T)``, so if ``S_m`` embeds that (at most n-dimensional) subspace
of R^m with distortion eps, ``S_m (x) I_d`` embeds ``colspace(J^T)`` with the
same eps; the sketched Gram is ``B = ((S_m P^T)^T (S_m P^T)) o (X X^T) / m``
(Schur product), formed in O(s n^2 + n^2 d) after a sketch of O(n m log m)
instead of O(n md log md).  The chapter writes the argument out.

Model (the standard setting of this line of work, FACTS.md B; the paper text
at hand does not spell it out): for unit-norm inputs ``x_i`` in R^d,

    f(W, x) = (1/sqrt(m)) sum_{r=1}^m a_r ReLU(w_r^T x),

with ``a_r`` in {+1, -1} fixed at random, ``W`` (m x d) trained from
``w_r(0) ~ N(0, I_d)`` and squared loss ``1/2 ||f - y||^2``.  Row ``i`` of the
Jacobian ``J`` (n x md, ``vec`` = row-major flattening of ``W``) is
``(1/sqrt m) (a o 1[W x_i >= 0]) (x) x_i``.  With the masked, signed
activation pattern ``P_ir = a_r 1[w_r^T x_i >= 0]`` (n x m) the "tensor
trick" gives both products in O(mnd) time without forming ``J``:

    (J v)_i = (1/sqrt m) sum_r P_ir (V x_i)_r      (V = v reshaped m x d)
    J^T u   = (1/sqrt m) vec(P^T diag(u) X)
    G_ij    = (x_i^T x_j / m) sum_r 1[w_r^T x_i >= 0] 1[w_r^T x_j >= 0].

The products take the pattern stored as ``PT = P^T`` (m x n, from
:func:`activation_pattern_t`), the layout in which XLA on CPU runs both of
them fast.  Memory: ``PT`` (m x n) besides ``W`` (m x d) and ``X`` (n x d),
i.e. O(nm + md + nd) -- a factor d less than ``J`` itself.

Written by hand, and why (see STYLE.md):

* ``fwht`` -- neither jax nor scipy has a fast Walsh-Hadamard transform
  (``scipy.linalg.hadamard`` builds the dense N x N matrix, O(N^2) per
  vector); the paper's O(md log md) sketch cost needs the butterfly.
* ``pcg`` -- ``jax.scipy.sparse.linalg.cg`` does not report its iteration
  count or residual history, and the iteration count is the quantity the
  paper's analysis is about (O(log 1/eps) iterations once the preconditioned
  condition number is O(1)).  The loop is the textbook preconditioned CG.
* ``spd_solver`` (how ``(R^T R)^{-1} r`` is applied) -- ``jax.scipy.linalg.solve_triangular``
  with one right-hand side runs at about 1 GB/s on this CPU (3 % of the read bandwidth; chapter
  02's bandwidth study measured the two solves at 55-81 % of a PCG iteration at n = 4096-8192).
  Two routes replace it, both as matrix-vector products at streaming speed: ``inverse`` forms
  ``R^{-1}`` once per step (``_tri_inverse``, the blocked recursion of LAPACK's ``trtri``, which
  jax does not expose: about n^3/3 flops as matrix products) and applies ``R^{-1} (R^{-T} r)``;
  ``blocked`` substitutes block by block (the off-diagonal blocks and the inverted 256 x 256
  diagonal blocks as matrix-vector products, no n^3 work).  Measured (float32, 2 cores, one
  application / once-per-step work, each called on its own): n = 4096 triangular 83 ms, inverse
  8.3 ms / 192 ms, blocked 3.6 ms / 21 ms; n = 8192 triangular 284 ms, inverse 27 ms / 1.37 s,
  blocked 13 ms / 62 ms.  So ``blocked`` is the default for the fast steps' PCG and, so that the
  baseline gets the same implementation, for exact GN's Cholesky solve (``solve_apply``; inside
  that solve, where the factorisation dominates, chapter 02's book run measured it no faster than
  the triangular solves).  The previous route (``"triangular"``) stays selectable; all routes
  agree to rounding (tests).

Floating point: every function follows the dtype of its inputs.  Tight
comparisons need float64: wrap calls in ``with jax.enable_x64(True):`` (the
:func:`train` driver does this itself when ``x64=True``).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_factor, cho_solve, solve_triangular

from ..core.errors import DivergenceError
from ..core.hadamard import fwht, next_pow2
from ..core.progress import progress_bar

__all__ = [
    "DivergenceError",
    "METHODS",
    "normalize_rows",
    "check_problem",
    "init_params",
    "synthetic_data",
    "nearly_collinear_data",
    "forward",
    "activation_pattern",
    "activation_pattern_t",
    "jac_vec",
    "jac_t_vec",
    "gram",
    "gram_matvec",
    "fwht",
    "SRHT",
    "srht",
    "srht_apply",
    "sketch_jacobian_t",
    "sketch_pattern",
    "sketch_pattern_from_weights",
    "kron_preconditioner",
    "forward_and_pattern",
    "sketch_js",
    "sketch_qs",
    "sketch_qs_from_weights",
    "preconditioner_from_js",
    "sketched_factor",
    "check_apply",
    "check_step_settings",
    "SKETCHES",
    "sketch_preconditioner",
    "PRECOND_APPLY",
    "TRI_BLOCK",
    "spd_solver",
    "spd_solver_parts",
    "spd_solver_from_parts",
    "FACTORS",
    "pcg",
    "StepInfo",
    "GD",
    "ExactGN",
    "CG",
    "FastGN",
    "Method",
    "method_from_name",
    "build",
    "unbound",
    "run",
    "Step",
    "gd_step",
    "gauss_newton_step",
    "fast_gauss_newton_step",
    "cg_gauss_newton_step",
    "make_step",
    "step_fn",
    "TrainResult",
    "train",
    "ntk_lambda_min",
    "gram_lambda_max",
    "preconditioned_condition_number",
    "default_sketch_size",
]

UNIT_NORM_TOL = 1e-6
METHODS: tuple[str, ...] = ("gd", "gn", "fast", "cg")
"""The names of the methods in the (deprecated) string interface :func:`train`,
:func:`make_step`, :func:`step_fn`: ``gd`` gradient descent (:class:`GD`); ``gn`` exact
(Gram-)Gauss-Newton with a dense Cholesky solve (:class:`ExactGN`); ``fast`` the paper's
sketch-preconditioned CG step (:class:`FastGN`); ``cg`` the same CG without preconditioner, an
ablation (:class:`CG`).  The descriptions carry their own settings: :func:`build` binds one to
the data (a :class:`Step`), :func:`run` trains with it, :func:`unbound` gives the step with the
data left as arguments."""


# ---------------------------------------------------------------------------
# data, initialisation and input checks
# ---------------------------------------------------------------------------


def normalize_rows(X):
    """``X`` with every row scaled to unit Euclidean norm (the paper assumes ||x_i|| = 1)."""
    if not _is_concrete(X):
        return X / jnp.linalg.norm(X, axis=-1, keepdims=True)
    X = jnp.asarray(X)  # keeps the dtype rules of jax (float32 unless x64 is on)
    Xh = np.asarray(X)
    norms = np.linalg.norm(Xh.astype(np.float64), axis=-1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("normalize_rows: a row of X is zero and has no direction")
    return jnp.asarray(Xh / norms, X.dtype)


def init_params(key, m: int, d: int, dtype=None):
    """Random initialisation of the paper: ``W ~ N(0, I)`` (m x d), ``a_r`` uniform in {+1, -1}.

    Returns ``(W, a)``.  Only ``W`` is trained; ``a`` stays fixed.
    """
    if m < 1 or d < 1:
        raise ValueError(f"init_params: need m >= 1 and d >= 1, got m={m}, d={d}")
    dtype = jnp.dtype(dtype or jnp.zeros(()).dtype)  # float64 under enable_x64, else float32
    return _init_params(key, m, d, dtype)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _init_params(key, m, d, dtype):
    kw, ka = jax.random.split(key)
    W = jax.random.normal(kw, (m, d), dtype)
    a = jnp.where(jax.random.bernoulli(ka, 0.5, (m,)), 1.0, -1.0).astype(dtype)
    return W, a


def synthetic_data(n: int, d: int, key, labels: str = "teacher", teacher_width: int = 64):
    """Unit-norm Gaussian inputs and labels; returns ``(X, y)``.

    ``labels="teacher"``: ``y = f(W*, a*, X)`` for a random two-layer ReLU
    teacher of width ``teacher_width`` (the same architecture, so labels are
    O(1) and realisable); ``labels="sign"``: ``y = sign`` of that teacher's
    output, values in {+1, -1}.
    """
    if n < 1 or d < 1:
        raise ValueError(f"synthetic_data: need n >= 1 and d >= 1, got n={n}, d={d}")
    if labels not in ("teacher", "sign"):
        raise ValueError(f"synthetic_data: labels must be 'teacher' or 'sign', got {labels!r}")
    return _synthetic_data(key, n, d, labels, teacher_width)


@partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _synthetic_data(key, n, d, labels, teacher_width):
    kx, kt = jax.random.split(key)
    X = normalize_rows(jax.random.normal(kx, (n, d)))
    Wt, at = _init_params(kt, teacher_width, d, X.dtype)
    y = forward(Wt, at, X)
    if labels == "sign":
        y = jnp.where(y >= 0, 1.0, -1.0).astype(X.dtype)
    return X, y


def nearly_collinear_data(n: int, d: int, eps: float, key, labels: str = "sign"):
    """Unit-norm inputs clustered around one direction; returns ``(X, y)``.

    ``x_i = normalize(e_1 + eps g_i)`` with ``g_i ~ N(0, I_d)``: the angle
    between points is O(eps), so the NTK Gram matrix approaches a rank-one
    matrix and its smallest eigenvalue lambda_min shrinks as eps -> 0 (the
    paper's iteration bounds for gradient descent grow like 1/lambda^2 while
    the Gauss-Newton contraction does not depend on lambda).  Labels are
    random signs (``labels="sign"``), which are hard to fit for close points
    and spread the residual over all eigendirections of G (so gradient
    descent's 1/lambda dependence shows), or the outputs of a random teacher
    (``labels="teacher"``).

    Caveat, measured: with random signs, eps = 0.1, n = 16 and m = 1024 or
    8192, undamped Gauss-Newton (alpha = 1) moves W by 25-100 % of its norm
    within 3-5 steps, leaves the kernel regime, lambda_min(G) collapses and
    the run diverges (:class:`DivergenceError`); the theorem's width
    requirement (m >= poly(n, 1/lambda)) is not met there.  Use damping, a
    step size below 1, or a larger eps at such widths.
    """
    if not eps > 0:
        raise ValueError(f"nearly_collinear_data: eps must be positive, got {eps}")
    if n < 1 or d < 2:
        raise ValueError(f"nearly_collinear_data: need n >= 1 and d >= 2, got n={n}, d={d}")
    if labels not in ("teacher", "sign"):
        raise ValueError(
            f"nearly_collinear_data: labels must be 'teacher' or 'sign', got {labels!r}"
        )
    return _nearly_collinear_data(key, n, d, eps, labels)


@partial(jax.jit, static_argnums=(1, 2, 4))
def _nearly_collinear_data(key, n, d, eps, labels):
    kx, ky = jax.random.split(key)
    g = jax.random.normal(kx, (n, d))
    X = normalize_rows(g * eps + jnp.zeros(d, g.dtype).at[0].set(1.0))
    if labels == "sign":
        y = jnp.where(jax.random.bernoulli(ky, 0.5, (n,)), 1.0, -1.0).astype(X.dtype)
    else:
        Wt, at = _init_params(ky, 64, d, X.dtype)
        y = forward(Wt, at, X)
    return X, y


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_problem(W, a, X, y=None) -> None:
    """Raise ``ValueError`` with a clear message if shapes or inputs are wrong.

    Checks: ``W`` is m x d, ``a`` has length m with entries +-1, ``X`` is n x d
    with unit-norm rows (within 1e-6; use :func:`normalize_rows`), ``y`` has
    length n, and nothing is non-finite.  Values are checked on the host with
    numpy (cheap, no compilation); traced arrays get the shape checks only.
    """
    if jnp.ndim(W) != 2:
        raise ValueError(f"W must be an (m, d) matrix, got shape {jnp.shape(W)}")
    if jnp.ndim(X) != 2:
        raise ValueError(f"X must be an (n, d) matrix, got shape {jnp.shape(X)}")
    m, d = jnp.shape(W)
    n, dx = jnp.shape(X)
    if dx != d:
        raise ValueError(f"W has input dimension {d} but X has {dx} columns")
    if jnp.shape(a) != (m,):
        raise ValueError(f"a must have shape ({m},) to match W's {m} rows, got {jnp.shape(a)}")
    if y is not None and jnp.shape(y) != (n,):
        raise ValueError(f"y must have shape ({n},) to match X's {n} rows, got {jnp.shape(y)}")
    if all(_is_concrete(v) for v in (W, a, X)):
        W_, a_, X_ = (np.asarray(v) for v in (W, a, X))
        if not np.all(np.abs(a_) == 1):
            raise ValueError("a must have entries +1 or -1 (the paper's fixed output signs)")
        if not (np.all(np.isfinite(W_)) and np.all(np.isfinite(X_))):
            raise ValueError("W and X must be finite")
        dev = float(
            np.max(np.abs(np.linalg.norm(X_.astype(np.float64), axis=1) - 1.0), initial=0.0)
        )
        if dev > UNIT_NORM_TOL:
            raise ValueError(
                f"rows of X must have unit norm (the paper assumes ||x_i|| = 1); "
                f"largest deviation {dev:.3g} > {UNIT_NORM_TOL:g}: call normalize_rows(X) first"
            )
    if y is not None and _is_concrete(y) and not np.all(np.isfinite(np.asarray(y))):
        raise ValueError("y must be finite")


# ---------------------------------------------------------------------------
# model, Jacobian products and Gram matrix (the tensor trick)
# ---------------------------------------------------------------------------


@jax.jit
def forward(W, a, X):
    """``f(W, x_i) = (1/sqrt m) sum_r a_r ReLU(w_r^T x_i)`` for every row of ``X``; shape (n,)."""
    return jax.nn.relu(X @ W.T) @ a / jnp.sqrt(W.shape[0]).astype(W.dtype)


@jax.jit
def activation_pattern(W, a, X):
    """The paper's masked, signed pattern ``P_ir = a_r 1[w_r^T x_i >= 0]`` (n x m)."""
    return jnp.where(X @ W.T >= 0, a, jnp.zeros((), a.dtype))


@jax.jit
def activation_pattern_t(W, a, X):
    """``P^T`` (m x n, one row per neuron) computed directly from ``W X^T``.

    The products below take the pattern in this layout: XLA on CPU is slow
    at contracting the leading axis of a matrix and at transposing, and with
    ``P^T`` stored row-major both products contract a trailing axis or reduce
    over a leading one (measured 3x faster setup and no slower products than
    keeping ``P`` and a transposed copy, for n = 256, m = 8192, d = 16).
    """
    return jnp.where(W @ X.T >= 0, a[:, None], jnp.zeros((), a.dtype))


def forward_and_pattern(W, a, X):
    """``f`` and ``P^T`` from one product ``W X^T`` (what every step needs; not jitted, so that
    callers can jit it alone or inside a step)."""
    pre_t = W @ X.T
    f = a @ jax.nn.relu(pre_t) / jnp.sqrt(W.shape[0]).astype(W.dtype)
    return f, jnp.where(pre_t >= 0, a[:, None], jnp.zeros((), a.dtype))


def _sqrt_m(PT, dtype):
    return jnp.sqrt(PT.shape[0]).astype(dtype)


@jax.jit
def jac_vec(PT, X, V):
    """``J v`` in O(mnd) with ``PT = P^T`` (m x n) and ``V`` = ``v`` as an (m, d) matrix.

    ``(J v)_i = (1/sqrt m) sum_r P_ir (V x_i)_r``, i.e. the column sums of
    ``P^T o (V X^T)``.
    """
    return jnp.sum(PT * (V @ X.T), axis=0) / _sqrt_m(PT, X.dtype)


@jax.jit
def jac_t_vec(PT, X, u):
    """``J^T u = (1/sqrt m) P^T diag(u) X`` in O(mnd), as an (m, d) matrix (``PT = P^T``, m x n).

    The diagonal scales the small n x d factor, not the m x n pattern.
    """
    return PT @ (u[:, None] * X) / _sqrt_m(PT, X.dtype)


@jax.jit
def gram_matvec(PT, X, z):
    """``G z = J (J^T z)`` in O(mnd) time without forming ``J`` or ``G`` (``PT = P^T``)."""
    return jac_vec(PT, X, jac_t_vec(PT, X, z))


@jax.jit
def gram(W, a, X):
    """Dense Gram matrix ``G = J J^T`` (n x n), O(n^2 (m + d)) time.

    ``G_ij = (x_i^T x_j / m) sum_r 1[w_r^T x_i >= 0] 1[w_r^T x_j >= 0]``
    (``a_r^2 = 1``).  Only the exact Gauss-Newton step and the diagnostics
    form it.
    """
    A = (X @ W.T >= 0).astype(X.dtype)
    return (X @ X.T) * (A @ A.T) / W.shape[0]


# ---------------------------------------------------------------------------
# the SRHT sketch (fast Walsh-Hadamard transform from fasttrain.core.hadamard)
# ---------------------------------------------------------------------------


@partial(jax.tree_util.register_dataclass, data_fields=["signs", "rows"], meta_fields=["dim"])
@dataclass(frozen=True)
class SRHT:
    """A subsampled randomised Hadamard transform ``S = sqrt(N/s) R (H_N / sqrt N) D``.

    ``D = diag(signs)`` random +-1 of size ``N`` (``dim`` padded to a power of
    two), ``H_N`` Hadamard, ``R`` picks the ``s`` distinct coordinates
    ``rows`` uniformly; ``E[S^T S] = I`` and ``S`` is a Fast-JL map
    (Ailon-Chazelle 2006), the paper's sketch.
    """

    signs: jax.Array
    rows: jax.Array
    dim: int

    @property
    def padded_dim(self) -> int:
        return int(self.signs.shape[0])

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])


def srht(key, dim: int, s: int, dtype=None) -> SRHT:
    """Draw an SRHT sketch of ``R^dim`` with ``s`` rows (``dim`` is zero-padded to a power of two)."""
    if dim < 1:
        raise ValueError(f"srht: dimension must be positive, got {dim}")
    N = next_pow2(dim)
    if not 1 <= s <= N:
        raise ValueError(
            f"srht: sketch size s={s} must be between 1 and the padded dimension {N} (dim={dim})"
        )
    dtype = jnp.dtype(dtype or jnp.zeros(()).dtype)
    signs, rows = _srht_draw(key, N, s, dtype)
    return SRHT(signs, rows, dim)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _srht_draw(key, N, s, dtype):
    ks, kr = jax.random.split(key)
    signs = jnp.where(jax.random.bernoulli(ks, 0.5, (N,)), 1.0, -1.0).astype(dtype)
    rows = jax.random.choice(kr, N, (s,), replace=False)
    return signs, rows


@jax.jit
def srht_apply(S: SRHT, v):
    """``S v`` for ``v`` of shape (..., dim): pad, random signs, FWHT, subsample, scale. O(N log N) per vector."""
    v = jnp.asarray(v)
    if v.shape[-1] != S.dim:
        raise ValueError(
            f"srht_apply: vectors have length {v.shape[-1]}, the sketch expects {S.dim}"
        )
    N, s = S.padded_dim, S.size
    pad = [(0, 0)] * (v.ndim - 1) + [(0, N - S.dim)]
    Hv = fwht(jnp.pad(v, pad) * S.signs.astype(v.dtype))
    return jnp.take(Hv, S.rows, axis=-1) / jnp.sqrt(s).astype(v.dtype)


@partial(jax.jit, static_argnames=("batch_elems",))
def sketch_jacobian_t(S: SRHT, PT, X, batch_elems: int = 1 << 18):
    """The s x n matrix ``S J^T`` in O(n md log md) time and O(batch md + s n) memory.

    Column ``i`` of ``J^T`` is ``vec(p_i x_i^T) / sqrt m`` (``p_i`` the i-th
    row of the pattern ``P``, i.e. the i-th column of ``PT``); columns are
    built and sketched in batches of at most ``batch_elems`` padded entries (``jax.lax.map`` with
    ``batch_size``), so the
    md x n matrix ``J^T`` is never held in memory.  The default (2^18 entries,
    2 MB in float64) keeps a batch in cache through all log2(N) butterfly
    stages, which measured 2-3x faster than transforming all columns at once.
    """
    m, n = PT.shape
    d = X.shape[1]
    if S.dim != m * d:
        raise ValueError(
            f"sketch_jacobian_t: sketch is for dimension {S.dim}, J^T has {m * d} rows"
        )
    return sketch_js(S, PT, X, batch_elems).T


def sketch_js(S: SRHT, PT, X, batch_elems: int = 1 << 18):
    """``JS = (S J^T)^T`` (n x s), one sketched column of ``J^T`` per row: the work of
    :func:`sketch_jacobian_t`, unchecked and not jitted, in the layout :func:`preconditioner_from_js` takes."""
    m, n = PT.shape
    scale = 1.0 / jnp.sqrt(m).astype(X.dtype)

    def column(px):
        p, x = px
        return srht_apply(S, (p[:, None] * x[None, :]).reshape(-1) * scale)

    batch = max(1, min(n, batch_elems // S.padded_dim))
    return jax.lax.map(column, (PT.T, X), batch_size=batch)


def preconditioner_from_js(JS, damping, factor):
    """:func:`sketch_preconditioner` of ``S J^T = JS^T`` given ``JS`` (n x s, the layout the sketch produces).

    Forming ``JS JS^T`` contracts the trailing axis, the fast case for XLA on CPU.
    """
    n = JS.shape[0]
    if factor == "cholesky":
        B = JS @ JS.T + damping * jnp.eye(n, dtype=JS.dtype)
        return jnp.linalg.cholesky(B).T
    if factor != "qr":
        raise ValueError(f"unknown factor {factor!r}: choose one of {', '.join(FACTORS)}")
    SJt = JS.T
    if damping:  # a Python number: it changes the shape of the factorised matrix
        SJt = jnp.concatenate([SJt, jnp.sqrt(damping) * jnp.eye(n, dtype=JS.dtype)], axis=0)
    return jnp.linalg.qr(SJt, mode="r")


FACTORS: tuple[str, ...] = ("qr", "cholesky")

SKETCHES: tuple[str, ...] = ("srht", "kron")
"""``srht`` the paper's SRHT of R^{md} applied to the columns of ``J^T``; ``kron`` the
Kronecker-structured sketch ``S_m (x) I_d`` (an SRHT of R^m applied to the pattern columns
only, :func:`sketch_pattern` and :func:`kron_preconditioner`; beyond the paper)."""


@partial(jax.jit, static_argnames=("batch_elems",))
def sketch_pattern(S: SRHT, PT, batch_elems: int = 1 << 18):
    """``(S_m P^T)^T`` (n x s): an SRHT ``S_m`` of R^m applied to every pattern column ``p_i``.

    ``PT = P^T`` (m x n).  O(n m log m) time (against O(n md log md) for :func:`sketch_jacobian_t`)
    and O(batch m + s n) memory, in cache-sized batches like :func:`sketch_jacobian_t`.  With it,
    ``(S_m (x) I_d) J^T`` has column ``i`` equal to ``(S_m p_i) (x) x_i / sqrt m``.
    """
    if S.dim != PT.shape[0]:
        raise ValueError(
            f"sketch_pattern: sketch is for dimension {S.dim}, the pattern has {PT.shape[0]} rows"
        )
    return sketch_qs(S, PT, batch_elems)


def sketch_qs(S: SRHT, PT, batch_elems: int = 1 << 18):
    """``QS = (S_m P^T)^T`` (n x s): the work of :func:`sketch_pattern`, unchecked and not jitted."""
    n = PT.shape[1]
    batch = max(1, min(n, batch_elems // S.padded_dim))
    return jax.lax.map(lambda p: srht_apply(S, p), PT.T, batch_size=batch)


@partial(jax.jit, static_argnames=("batch_elems",))
def sketch_pattern_from_weights(S: SRHT, W, a, X, batch_elems: int = 1 << 18):
    """The same ``(S_m P^T)^T`` (n x s) as :func:`sketch_pattern`, without reading ``P^T``.

    Each cache-sized batch of points recomputes its pattern columns ``p_i = a o 1[W x_i >= 0]``
    from ``W`` (m x d) and ``x_i`` (O(m d) flops per column, the pattern pass's own work) and
    sketches them at once, so the m x n pattern is neither read nor transposed for the sketch
    (:func:`sketch_pattern` takes the columns of the row-major ``P^T``, a strided pass over
    n m floats).  Chapter 02 measured this route faster than :func:`sketch_pattern` inside the
    Kronecker fast step (n = 2048, m = 32768, d = 4: 0.68 s against 0.98 s per step).
    """
    if S.dim != W.shape[0]:
        raise ValueError(
            f"sketch_pattern_from_weights: sketch is for dimension {S.dim}, W has {W.shape[0]} rows"
        )
    return sketch_qs_from_weights(S, W, a, X, batch_elems)


def sketch_qs_from_weights(S: SRHT, W, a, X, batch_elems: int = 1 << 18):
    """``QS = (S_m P^T)^T`` (n x s) from ``W``, ``a``, ``X``: the work of
    :func:`sketch_pattern_from_weights`, unchecked and not jitted."""
    n = X.shape[0]
    batch = max(1, min(n, batch_elems // S.padded_dim))
    zero = jnp.zeros((), a.dtype)
    return jax.lax.map(lambda x: srht_apply(S, jnp.where(W @ x >= 0, a, zero)), X, batch_size=batch)


def kron_preconditioner(QS, X, m: int, damping=0.0, factor: str = "cholesky"):
    """Upper-triangular ``R`` with ``R^T R = B + damping I`` for the Kronecker sketch.

    ``QS = (S_m P^T)^T`` (n x s, from :func:`sketch_pattern`), ``X`` (n x d), ``m`` the width.
    ``B = J (S_m (x) I_d)^T (S_m (x) I_d) J^T = (QS QS^T) o (X X^T) / m``, since column ``i`` of
    the sketched ``J^T`` is ``(S_m p_i) (x) x_i / sqrt m`` and ``<u (x) x, v (x) x'> = <u, v>
    <x, x'>``.  ``factor="cholesky"``: form ``B`` by that Schur product, O(s n^2 + n^2 d), and
    factor it; ``factor="qr"``: the R of the reduced QR of the (s d) x n sketched ``J^T`` itself
    (the paper's factorisation of the same matrix, O(s d n^2)).  ``damping`` a Python number.
    """
    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}: choose one of {', '.join(FACTORS)}")
    return _kron_preconditioner(QS, X, m, damping, factor)


def _kron_preconditioner(QS, X, m, damping, factor):
    n = QS.shape[0]
    if factor == "cholesky":
        B = (QS @ QS.T) * (X @ X.T) / jnp.asarray(m, QS.dtype)
        B = B + damping * jnp.eye(n, dtype=QS.dtype)
        return jnp.linalg.cholesky(B).T
    scale = 1.0 / jnp.sqrt(jnp.asarray(m, QS.dtype))
    JS = (QS[:, :, None] * X[:, None, :]).reshape(n, -1) * scale  # row i: (S_m p_i) (x) x_i
    return preconditioner_from_js(JS, damping, "qr")


def sketched_factor(key, W, a, PT, X, sketch_size, damping, factor, sketch):
    """The preconditioner's ``R`` of one fresh sketch of kind ``sketch`` (:data:`SKETCHES`); the
    Kronecker sketch recomputes the pattern from ``W``, ``a`` (:func:`sketch_pattern_from_weights`)."""
    m, d = PT.shape[0], X.shape[1]
    if sketch == "kron":
        S = srht(key, m, sketch_size, dtype=X.dtype)
        return _kron_preconditioner(sketch_qs_from_weights(S, W, a, X), X, m, damping, factor)
    if sketch != "srht":
        raise ValueError(f"unknown sketch {sketch!r}: choose one of {', '.join(SKETCHES)}")
    S = srht(key, m * d, sketch_size, dtype=X.dtype)
    return preconditioner_from_js(sketch_js(S, PT, X), damping, factor)


def sketch_preconditioner(SJt, damping=0.0, factor: str = "qr"):
    """Upper-triangular ``R`` with ``R^T R = (S J^T)^T (S J^T) + damping I``.

    ``factor="qr"`` (the paper's choice, numerically robust): the R of the
    reduced QR of ``S J^T``, or of ``[S J^T; sqrt(damping) I]`` with damping,
    O(s n^2).  ``factor="cholesky"`` (CholeskyQR): ``R = chol(B^T B + damping
    I)^T`` for ``B = S J^T`` -- the same R up to row signs in exact arithmetic,
    also O(s n^2) but as a matrix product, measured about 10x faster than
    ``jnp.linalg.qr`` on 2 CPU cores (s = 4096, n = 1024, float64: 0.4 s
    against 4-5 s of CPU time); it squares the condition number of ``B``, so
    it fails (NaN) in float32 once cond(G) exceeds about 1e6.

    If ``S`` is a subspace embedding of the column space of ``J^T`` with
    distortion eps, the preconditioned Gram ``R^{-T} G R^{-1}`` has eigenvalues
    in [1/(1+eps), 1/(1-eps)] and condition number O(1) (paper: Fast-JL
    preconditioning).  ``damping`` must be a Python number here.
    """
    return preconditioner_from_js(SJt.T, damping, factor)


# ---------------------------------------------------------------------------
# applying (T^T T)^{-1} for a triangular factor T: three routes, the same mathematics
# ---------------------------------------------------------------------------

PRECOND_APPLY: tuple[str, ...] = ("blocked", "inverse", "triangular")
"""How a step applies ``M^{-1} = (R^T R)^{-1}`` (or ``(L L^T)^{-1}``) for its triangular factor:
``inverse`` forms ``R^{-1}`` once per step (blocked recursion, about n^3/3 flops as matrix
products) and applies ``M^{-1} r = R^{-1} (R^{-T} r)`` as two matrix-vector products;
``blocked`` (the default) substitutes block by block: the off-diagonal blocks of ``R`` (copied
once per step) and the inverted diagonal blocks (``TRI_BLOCK`` x ``TRI_BLOCK``) enter as
matrix-vector products, no n^3 work; ``triangular`` calls ``solve_triangular`` twice with one
right-hand side (the previous edition's route; XLA on CPU runs it at about 1 GB/s, 3 % of the
read bandwidth, measured in chapter 02).  All three compute the same vector up to rounding;
``blocked`` measured fastest per application and per step (module docstring)."""

#: block size of the ``blocked`` route and of the recursion's leaves in the ``inverse`` route
TRI_BLOCK = 256


def check_apply(how: str, what: str = "precond_apply") -> None:
    """Raise ``ValueError`` unless ``how`` (the setting named ``what``) is in :data:`PRECOND_APPLY`."""
    if how not in PRECOND_APPLY:
        raise ValueError(f"unknown {what} {how!r}: choose one of {', '.join(PRECOND_APPLY)}")


def _tri_inverse(T, lower: bool, leaf: int = TRI_BLOCK):
    """``T^{-1}`` of a triangular ``T`` by the blocked recursion ``[[A, B], [0, C]]^{-1} =
    [[A^{-1}, -A^{-1} B C^{-1}], [0, C^{-1}]]`` (and its lower mirror): about n^3/3 flops in
    matrix products, leaves of at most ``leaf`` rows by ``solve_triangular`` against the identity.
    Hand-written: neither jax nor jax.scipy exposes LAPACK's ``trtri``, and ``solve_triangular``
    against the identity costs n^3 flops (it does not use the identity's zeros)."""
    n = T.shape[0]
    if n <= leaf:
        return solve_triangular(T, jnp.eye(n, dtype=T.dtype), lower=lower)
    h = ((n // 2 + leaf - 1) // leaf) * leaf  # split on a multiple of the leaf size
    h = min(h, n - 1)
    Ai = _tri_inverse(T[:h, :h], lower, leaf)
    Ci = _tri_inverse(T[h:, h:], lower, leaf)
    if lower:
        off = -(Ci @ T[h:, :h]) @ Ai
        return jnp.block([[Ai, jnp.zeros((h, n - h), T.dtype)], [off, Ci]])
    off = -(Ai @ T[:h, h:]) @ Ci
    return jnp.block([[Ai, off], [jnp.zeros((n - h, h), T.dtype), Ci]])


def spd_solver(T, lower: bool = False, how: str = "blocked", block: int = TRI_BLOCK) -> Callable:
    """``r -> M^{-1} r`` for ``M = T^T T`` (``T`` upper triangular, ``lower=False``: the
    preconditioner's ``R``) or ``M = T T^T`` (``T`` lower, ``lower=True``: a Cholesky factor).

    ``how`` one of :data:`PRECOND_APPLY`.  The work that does not depend on ``r`` (the inverse, or
    the blocks: :func:`spd_solver_parts`) is done here, once; the returned function
    (:func:`spd_solver_from_parts`) does only matrix-vector products (or, for ``triangular``,
    the two ``solve_triangular`` calls).  Call inside ``jit``.
    """
    return spd_solver_from_parts(spd_solver_parts(T, lower, how, block), lower, how)


def spd_solver_parts(T, lower: bool = False, how: str = "blocked", block: int = TRI_BLOCK):
    """The once-per-factor work of :func:`spd_solver`: ``T`` itself (``triangular``), ``T^{-1}``
    (``inverse``, :func:`_tri_inverse`) or ``(diagonal-block inverses, off-diagonal blocks)``
    (``blocked``: row blocks of ``L`` left of the diagonal, column blocks of ``R`` above it)."""
    check_apply(how)
    if how == "triangular":
        return T
    if how == "inverse":
        return _tri_inverse(T, lower, block)
    n = T.shape[0]
    edges = list(range(0, n, block)) + [n]
    spans = list(zip(edges[:-1], edges[1:], strict=True))
    eye = {w: jnp.eye(w, dtype=T.dtype) for w in {b - a for a, b in spans}}
    dinv = [solve_triangular(T[a:b, a:b], eye[b - a], lower=lower) for a, b in spans]
    slab = [T[a:b, :a] if lower else T[:a, a:b] for a, b in spans[1:]]
    return dinv, slab


def spd_solver_from_parts(parts, lower: bool = False, how: str = "blocked") -> Callable:
    """The per-right-hand-side part of :func:`spd_solver`, from :func:`spd_solver_parts`."""
    check_apply(how)
    if how == "triangular":
        T = parts
        if lower:
            return lambda r: cho_solve((T, True), r)
        return lambda r: solve_triangular(
            T, solve_triangular(T, r, trans="T", lower=False), lower=False
        )
    if how == "inverse":
        Ti = parts
        if lower:  # M^{-1} = L^{-T} L^{-1}
            return lambda r: (Ti @ r) @ Ti
        return lambda r: Ti @ (r @ Ti)  # M^{-1} = R^{-1} R^{-T}
    dinv, slab = parts
    slab = [None, *slab]
    edges = np.cumsum([0] + [int(D.shape[0]) for D in dinv]).tolist()
    spans = list(zip(edges[:-1], edges[1:], strict=True))

    def cat(vs):
        return jnp.concatenate(vs) if len(vs) > 1 else vs[0]

    def apply(r):
        # forward substitution with Lam = L (lower) or R^T (upper), left-looking
        ys = []
        for j, (a, b) in enumerate(spans):
            t = r[a:b]
            if j:
                t = t - (slab[j] @ cat(ys) if lower else cat(ys) @ slab[j])
            ys.append(dinv[j] @ t if lower else t @ dinv[j])
        # back substitution with Lam^T, right-looking
        rem, xs = cat(ys), [None] * len(spans)
        for j in reversed(range(len(spans))):
            a, b = spans[j]
            xs[j] = rem[a:b] @ dinv[j] if lower else dinv[j] @ rem[a:b]
            if j:
                rem = rem[:a] - (xs[j] @ slab[j] if lower else slab[j] @ xs[j])
        return cat(xs)

    return apply


# ---------------------------------------------------------------------------
# preconditioned conjugate gradient with iteration count and history
# ---------------------------------------------------------------------------


def pcg(
    matvec: Callable, b, precond: Callable | None = None, tol: float = 1e-8, maxiter: int = 100
):
    """Preconditioned CG for SPD ``A x = b``; returns ``(x, iterations, rel_residual, history)``.

    Stops when ``||b - A x_k|| <= tol ||b||`` (recursively updated residual)
    or after ``maxiter`` iterations.  ``precond(r)`` applies ``M^{-1}``; with
    ``M = R^T R`` this is CG on the split-preconditioned system
    ``R^{-T} A R^{-1} w = R^{-T} b``, ``x = R^{-1} w`` (same iterates).
    ``history[k]`` is the relative residual after ``k`` iterations (NaN past
    the last one).  Hand-written because ``jax.scipy.sparse.linalg.cg``
    returns no iteration count.
    """
    precond = precond or (lambda r: r)
    bnorm = jnp.linalg.norm(b)
    safe = jnp.where(bnorm > 0, bnorm, 1.0)
    x = jnp.zeros_like(b)
    r = b
    z = precond(r)
    hist = (
        jnp.full((maxiter + 1,), jnp.nan, dtype=b.dtype).at[0].set(jnp.where(bnorm > 0, 1.0, 0.0))
    )
    state = (0, x, r, z, z, jnp.vdot(r, z), bnorm, hist)

    def cond(st):
        k, _, _, _, _, _, rnorm, _ = st
        return (k < maxiter) & (rnorm > tol * bnorm)

    def body(st):
        k, x, r, z, p, rz, _, hist = st
        Ap = matvec(p)
        alpha = rz / jnp.vdot(p, Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        z = precond(r)
        rz_new = jnp.vdot(r, z)
        p = z + (rz_new / rz) * p
        rnorm = jnp.linalg.norm(r)
        return (k + 1, x, r, z, p, rz_new, rnorm, hist.at[k + 1].set(rnorm / safe))

    k, x, _, _, _, _, rnorm, hist = jax.lax.while_loop(cond, body, state)
    return x, k, rnorm / safe, hist


# ---------------------------------------------------------------------------
# one training step of each method
# ---------------------------------------------------------------------------


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["residual_norm", "cg_iterations", "cg_relative_residual"],
    meta_fields=[],
)
@dataclass(frozen=True)
class StepInfo:
    """Diagnostics of one step: ``||f - y||`` before the step, CG iterations
    (0 for the direct methods) and the final relative CG residual
    ``||G z - (f - y)|| / ||f - y||`` (0 for the direct methods)."""

    residual_norm: jax.Array
    cg_iterations: jax.Array
    cg_relative_residual: jax.Array


def _info(res, iters=0, relres=0.0):
    return StepInfo(
        jnp.linalg.norm(res), jnp.asarray(iters, jnp.int32), jnp.asarray(relres, res.dtype)
    )


@jax.jit
def gd_step(W, a, X, y, step_size):
    """Gradient descent ``W <- W - eta J^T (f - y)`` (gradient of 1/2||f - y||^2), O(mnd)."""
    f, PT = forward_and_pattern(W, a, X)
    res = f - y
    return W - step_size * jac_t_vec(PT, X, res), _info(res)


@partial(jax.jit, static_argnames=("solve_apply",))
def gauss_newton_step(W, a, X, y, step_size=1.0, damping=0.0, solve_apply: str = "blocked"):
    """Exact Gram-Gauss-Newton (Cai et al. 2019): ``W <- W - alpha J^T (G + lambda I)^{-1} (f - y)``.

    Forms ``G`` (O(m n^2)) and solves by Cholesky (O(n^3)); with alpha = 1,
    lambda = 0 this is the Gauss-Newton step the paper accelerates.  ``solve_apply``
    (:data:`PRECOND_APPLY`) is how the two triangular solves with the Cholesky factor are done:
    ``blocked`` (default) by block substitution with matrix-vector products, ``triangular`` by
    ``cho_solve`` (two ``solve_triangular`` calls, about 1 GB/s on CPU), ``inverse`` by forming
    ``L^{-1}`` (n^3/3 extra flops: more than it saves for one right-hand side).
    """
    f, PT = forward_and_pattern(W, a, X)
    res = f - y
    G = gram(W, a, X) + damping * jnp.eye(X.shape[0], dtype=X.dtype)
    L = cho_factor(G, lower=True)[0]
    z = spd_solver(L, lower=True, how=solve_apply)(res)
    return W - step_size * jac_t_vec(PT, X, z), _info(res)


@partial(
    jax.jit,
    static_argnames=("sketch_size", "damping", "cg_maxiter", "factor", "sketch", "precond_apply"),
)
def fast_gauss_newton_step(
    W,
    a,
    X,
    y,
    key,
    sketch_size: int,
    step_size=1.0,
    damping=0.0,
    cg_tol=1e-8,
    cg_maxiter: int = 100,
    factor: str = "qr",
    sketch: str = "srht",
    precond_apply: str = "blocked",
):
    """The paper's fast step: the Gauss-Newton direction by sketch-preconditioned CG.

    1. ``S J^T`` (s x n) with an SRHT ``S`` of R^{md} -- O(n md log md);
    2. ``S J^T = Q R`` -- O(s n^2) (or CholeskyQR, see :func:`sketch_preconditioner`);
    3. CG on ``(G + lambda I) z = f - y`` with preconditioner ``(R^T R)^{-1}``,
       matrix-free products ``G p = J (J^T p)`` -- O(mnd) per iteration, O(log 1/eps)
       iterations; ``precond_apply`` (:data:`PRECOND_APPLY`, :func:`spd_solver`) says how the
       preconditioner is applied: ``blocked`` (default) by block substitution in matrix-vector
       products, ``inverse`` by forming ``R^{-1}`` once per step (about n^3/3 flops) and two
       matrix-vector products per iteration, ``triangular`` by two ``solve_triangular`` calls
       per iteration (the previous edition's route, about 1 GB/s on CPU);
    4. ``W <- W - alpha J^T z``.

    Returns ``(W_new, StepInfo)``; ``key`` draws the sketch (fresh each step).
    ``damping`` is static (it decides the shape of the QR), a Python float.
    Cost O(n md log md + s n^2 + k m n d) for ``k`` CG iterations, against
    O(m n^2 + n^3) for :func:`gauss_newton_step`.  ``sketch="kron"`` replaces
    steps 1-2 by the Kronecker-structured sketch ``S_m (x) I_d`` (:func:`sketch_pattern`,
    :func:`kron_preconditioner`): O(n m log m + s n^2 + n^2 d), ``s <= m``.
    """
    f, PT = forward_and_pattern(W, a, X)
    res = f - y
    R = sketched_factor(key, W, a, PT, X, sketch_size, damping, factor, sketch)
    precond = spd_solver(R, lower=False, how=precond_apply)

    def matvec(p):
        return gram_matvec(PT, X, p) + damping * p

    z, k, relres, _ = pcg(matvec, res, precond, cg_tol, cg_maxiter)
    return W - step_size * jac_t_vec(PT, X, z), _info(res, k, relres)


@partial(jax.jit, static_argnames=("cg_maxiter",))
def cg_gauss_newton_step(
    W, a, X, y, step_size=1.0, damping=0.0, cg_tol=1e-8, cg_maxiter: int = 100
):
    """Ablation of the fast step: the same CG solve of ``(G + lambda I) z = f - y`` without preconditioner.

    Its iteration count grows with sqrt(cond G), i.e. as lambda_min shrinks.
    """
    f, PT = forward_and_pattern(W, a, X)
    res = f - y
    z, k, relres, _ = pcg(
        lambda p: gram_matvec(PT, X, p) + damping * p, res, None, cg_tol, cg_maxiter
    )
    return W - step_size * jac_t_vec(PT, X, z), _info(res, k, relres)


def default_sketch_size(n: int, factor: float = 4.0) -> int:
    """``s = ceil(factor * n)``; the paper takes s = O~(n)."""
    return int(math.ceil(factor * n))


def check_step_settings(
    n, step_size, damping, sketch_size, cg_tol, cg_maxiter, md, sketch="srht", m=None
):
    """Raise ``ValueError`` on settings no step can use: step size, damping, CG tolerance and cap,
    :data:`SKETCHES` kind, and sketch size ``n <= s <= next_pow2(md)`` (``md = m d``; the width
    ``m`` for ``kron``); ``sketch_size=None`` (the unsketched steps) skips the size."""
    if not (np.isfinite(step_size) and step_size > 0):
        raise ValueError(f"step size must be positive and finite, got {step_size}")
    if not (np.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be non-negative, got {damping}")
    if not cg_tol > 0:
        raise ValueError(f"cg_tol must be positive, got {cg_tol}")
    if cg_maxiter < 1:
        raise ValueError(f"cg_maxiter must be at least 1, got {cg_maxiter}")
    if sketch not in SKETCHES:
        raise ValueError(f"unknown sketch {sketch!r}: choose one of {', '.join(SKETCHES)}")
    if sketch_size is not None:
        if sketch == "kron":
            if m is None:
                raise ValueError("the Kronecker sketch needs the width m to check its size")
            md, what = m, "width"
        else:
            what = "parameter dimension"
        if sketch_size < n:
            raise ValueError(
                f"sketch size s={sketch_size} is smaller than n={n}: S J^T must have at least n rows "
                "for its R factor to precondition the n x n Gram matrix (take s = O(n), e.g. 4n)"
            )
        if sketch_size > next_pow2(md):
            raise ValueError(
                f"sketch size s={sketch_size} exceeds the padded {what} {next_pow2(md)} "
                f"({md}); the problem is too small to sketch -- use the exact step"
            )


# ---------------------------------------------------------------------------
# the methods as descriptions: ``build(method, a, X, y) -> Step``
# ---------------------------------------------------------------------------


def _check_scalars(step_size=1.0, damping=0.0, cg_tol=1.0, cg_maxiter=1) -> None:
    """:func:`check_step_settings` for the settings that do not depend on the problem."""
    check_step_settings(1, step_size, damping, None, cg_tol, cg_maxiter, 1)


@dataclass(frozen=True)
class GD:
    """Gradient descent ``W <- W - eta J^T (f - y)``; ``step_size`` None: ``1 / lambda_max(G(W0))``
    (:func:`build` needs ``W0``)."""

    step_size: float | None = None

    name: ClassVar[str] = "gd"
    sketch_size: ClassVar[None] = None

    def check(self, n: int, m: int, d: int) -> None:
        if self.step_size is not None:
            _check_scalars(self.step_size)

    def resolve(self, n: int, W0, a, X) -> GD:
        if self.step_size is not None:
            return replace(self, step_size=float(self.step_size))
        if W0 is None:
            raise ValueError(
                "gradient descent needs a step size (or W_for_defaults to derive 1/lambda_max)"
            )
        return replace(self, step_size=float(1.0 / gram_lambda_max(W0, a, X)))

    def unbound(self) -> Callable:
        if self.step_size is None:
            raise ValueError("gradient descent needs a step size: build() resolves the default")
        step_size = self.step_size
        return lambda W, a, X, y, key: gd_step(W, a, X, y, step_size)


@dataclass(frozen=True)
class ExactGN:
    """Exact Gram-Gauss-Newton with a dense Cholesky solve (:func:`gauss_newton_step`);
    ``solve_apply`` one of :data:`PRECOND_APPLY`."""

    step_size: float = 1.0
    damping: float = 0.0
    solve_apply: str = "blocked"

    name: ClassVar[str] = "gn"
    sketch_size: ClassVar[None] = None

    def check(self, n: int, m: int, d: int) -> None:
        check_apply(self.solve_apply, "solve_apply")
        _check_scalars(self.step_size, self.damping)

    def resolve(self, n: int, W0, a, X) -> ExactGN:
        return replace(self, step_size=float(self.step_size))

    def unbound(self) -> Callable:
        step_size, damping, how = self.step_size, self.damping, self.solve_apply
        return lambda W, a, X, y, key: gauss_newton_step(W, a, X, y, step_size, damping, how)


@dataclass(frozen=True)
class CG:
    """The fast step's CG solve without preconditioner (an ablation, :func:`cg_gauss_newton_step`)."""

    step_size: float = 1.0
    damping: float = 0.0
    cg_tol: float = 1e-8
    cg_maxiter: int = 100

    name: ClassVar[str] = "cg"
    sketch_size: ClassVar[None] = None

    def check(self, n: int, m: int, d: int) -> None:
        _check_scalars(self.step_size, self.damping, self.cg_tol, self.cg_maxiter)

    def resolve(self, n: int, W0, a, X) -> CG:
        return replace(self, step_size=float(self.step_size))

    def unbound(self) -> Callable:
        s = self
        return lambda W, a, X, y, key: cg_gauss_newton_step(
            W, a, X, y, s.step_size, s.damping, s.cg_tol, s.cg_maxiter
        )


@dataclass(frozen=True)
class FastGN:
    """The paper's fast step (:func:`fast_gauss_newton_step`): ``sketch`` (:data:`SKETCHES`) with
    ``sketch_size`` rows (None: ``4 n``), ``factor`` (:data:`FACTORS`) of the sketch, PCG to
    ``cg_tol``, the preconditioner applied by ``precond_apply`` (:data:`PRECOND_APPLY`).  A fresh
    sketch every step, drawn from the step's key.  In float32 keep ``cg_tol >= 1e-5``."""

    sketch: str = "srht"
    sketch_size: int | None = None
    factor: str = "qr"
    step_size: float = 1.0
    damping: float = 0.0
    cg_tol: float = 1e-8
    cg_maxiter: int = 100
    precond_apply: str = "blocked"

    name: ClassVar[str] = "fast"

    def check(self, n: int, m: int, d: int) -> None:
        check_apply(self.precond_apply, "precond_apply")
        size = default_sketch_size(n) if self.sketch_size is None else self.sketch_size
        check_step_settings(
            n, self.step_size, self.damping, size, self.cg_tol, self.cg_maxiter, m * d,
            self.sketch, m,
        )  # fmt: skip
        if self.factor not in FACTORS:
            raise ValueError(f"unknown factor {self.factor!r}: choose one of {', '.join(FACTORS)}")

    def resolve(self, n: int, W0, a, X) -> FastGN:
        size = default_sketch_size(n) if self.sketch_size is None else self.sketch_size
        return replace(self, step_size=float(self.step_size), sketch_size=size)

    def unbound(self) -> Callable:
        s = self
        return lambda W, a, X, y, key: fast_gauss_newton_step(
            W, a, X, y, key, s.sketch_size, s.step_size, float(s.damping), s.cg_tol,
            s.cg_maxiter, s.factor, s.sketch, s.precond_apply,
        )  # fmt: skip


Method = GD | ExactGN | CG | FastGN
_BY_NAME = {c.name: c for c in (GD, ExactGN, CG, FastGN)}


def _check_method(method) -> None:
    if not isinstance(method, (GD, ExactGN, CG, FastGN)):
        raise ValueError(f"unknown method {method!r}: use GD, ExactGN, CG or FastGN")


@dataclass(frozen=True)
class Step:
    """One method's step bound to its data: ``step(W, key) -> (W_new, StepInfo)``.

    ``step_size`` and ``sketch_size`` (None unless ``fast``) record the
    values actually used, defaults resolved; ``spec`` the resolved method description.
    """

    method: str
    fn: Callable
    step_size: float
    sketch_size: int | None
    spec: Method | None = None

    def __call__(self, W, key):
        return self.fn(W, key)


def build(method: Method, a, X, y, W0=None) -> Step:
    """The checked :class:`Step` of ``method`` (:class:`GD`, :class:`ExactGN`, :class:`CG`,
    :class:`FastGN`) for the data ``(a, X, y)``, defaults resolved (``W0``: where gradient
    descent's default step size ``1 / lambda_max(G)`` is taken).  The step is jitted and does no
    checks (use it for timing, e.g. with :func:`fasttrain.core.timing.best_time`)."""
    _check_method(method)
    n, d = jnp.shape(X)
    m = jnp.shape(a)[0]
    check_problem(np.zeros((m, d)) if W0 is None else W0, a, X, y)
    method = method.resolve(n, W0, a, X)
    method.check(n, m, d)
    fn = method.unbound()
    return Step(
        method.name,
        lambda W, key: fn(W, a, X, y, key),
        method.step_size,
        method.sketch_size,
        method,
    )


def unbound(method: Method) -> Callable:
    """``(W, a, X, y, key) -> (W_new, StepInfo)``: ``method``'s step with its settings bound and
    the data left as arguments (one compilation per problem size, as chapter 02 times it).  No
    checks and no defaults resolved: give ``GD`` its step size (or use :func:`build`)."""
    _check_method(method)
    return method.unbound()


def method_from_name(
    method: str,
    *,
    step_size: float | None = None,
    damping: float = 0.0,
    sketch_size: int | None = None,
    cg_tol: float = 1e-8,
    cg_maxiter: int = 100,
    factor: str = "qr",
    sketch: str = "srht",
    precond_apply: str = "blocked",
    solve_apply: str = "blocked",
) -> Method:
    """The method description of the string interface (``method`` in :data:`METHODS`); the settings
    a method does not use are checked (as the string interface always did) and dropped."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    check_apply(precond_apply, "precond_apply")
    check_apply(solve_apply, "solve_apply")
    check_step_settings(1, 1.0, damping, None, cg_tol, cg_maxiter, 1, sketch)
    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}: choose one of {', '.join(FACTORS)}")
    if method == "gd":
        return GD(step_size)
    size = {} if step_size is None else {"step_size": step_size}
    if method == "gn":
        return ExactGN(damping=damping, solve_apply=solve_apply, **size)
    if method == "cg":
        return CG(damping=damping, cg_tol=cg_tol, cg_maxiter=cg_maxiter, **size)
    return FastGN(
        sketch, sketch_size, factor, damping=damping, cg_tol=cg_tol, cg_maxiter=cg_maxiter,
        precond_apply=precond_apply, **size,
    )  # fmt: skip


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"gauss_newton.{old} with a method name is deprecated: use {new} with GD, ExactGN, CG or "
        "FastGN",
        DeprecationWarning,
        stacklevel=3,
    )


def step_fn(method: str, **settings) -> Callable:
    """Deprecated string interface of :func:`unbound`: ``method`` in :data:`METHODS` with the
    keyword settings of :func:`method_from_name` (``step_size`` required for ``gd``)."""
    _deprecated("step_fn", "unbound")
    return unbound(method_from_name(method, **settings))


def make_step(method: str, a, X, y, *, W_for_defaults=None, **settings) -> Step:
    """Deprecated string interface of :func:`build`: ``method`` in :data:`METHODS` with the
    keyword settings of :func:`method_from_name`."""
    _deprecated("make_step", "build")
    return build(method_from_name(method, **settings), a, X, y, W_for_defaults)


# ---------------------------------------------------------------------------
# training driver
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainResult:
    """A training run.  Arrays are numpy; ``residual_norms[t] = ||f(W_t) - y||``
    (length ``iterations + 1``); ``seconds[t]`` the wall time of step ``t``
    (after one untimed warm-up compilation); ``cg_iterations[t]`` and
    ``cg_relative_residuals[t]`` the CG diagnostics of step ``t`` (0 for
    ``gd`` and ``gn``)."""

    method: str
    residual_norms: np.ndarray
    seconds: np.ndarray
    cg_iterations: np.ndarray
    cg_relative_residuals: np.ndarray
    step_size: float
    sketch_size: int | None
    W: np.ndarray

    @property
    def iterations(self) -> int:
        return len(self.seconds)

    @property
    def contraction(self) -> np.ndarray:
        """Per-step ratios ``||f_{t+1} - y|| / ||f_t - y||`` (the paper's claim: <= 1/2)."""
        r = self.residual_norms
        return r[1:] / r[:-1]


def run(
    method: Method,
    W0,
    a,
    X,
    y,
    iters: int,
    *,
    key=None,
    target: float = 0.0,
    x64: bool = True,
    warmup: bool = True,
    progress: bool = False,
) -> TrainResult:
    """Run ``iters`` steps of ``method`` (:class:`GD`, :class:`ExactGN`, :class:`CG`,
    :class:`FastGN`) from ``W0``; returns a :class:`TrainResult`.

    ``target``: stop early once ``||f - y|| <= target * ||f_0 - y||``.
    ``key`` seeds the fresh sketch of every fast step (default key 0).
    ``x64`` runs in float64 (inside ``jax.enable_x64``), needed to follow
    Gauss-Newton's fast convergence below 1e-6.  Raises :class:`DivergenceError`
    when the residual stops being finite and ``ValueError`` on bad inputs.
    """
    _check_method(method)
    if iters < 0:
        raise ValueError(f"iters must be non-negative, got {iters}")
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        W, a, X, y = (jnp.asarray(v, dtype) for v in (W0, a, X, y))
        check_problem(W, a, X, y)
        step = build(method, a, X, y, W)
        key = jax.random.key(0) if key is None else key
        if warmup:
            jax.block_until_ready(step(W, key))
        res, secs, cgi, cgr, W = _iterate(
            step, W, key, iters, target, (a, X, y), step.method, progress
        )
        return TrainResult(
            method=step.method,
            residual_norms=np.asarray(res),
            seconds=np.asarray(secs),
            cg_iterations=np.asarray(cgi, dtype=int),
            cg_relative_residuals=np.asarray(cgr),
            step_size=step.step_size,
            sketch_size=step.sketch_size,
            W=np.asarray(W),
        )


def train(
    method: str,
    W0,
    a,
    X,
    y,
    iters: int,
    *,
    key=None,
    target: float = 0.0,
    x64: bool = True,
    warmup: bool = True,
    progress: bool = False,
    **settings,
) -> TrainResult:
    """Deprecated string interface of :func:`run`: ``method`` in :data:`METHODS` with the keyword
    settings of :func:`method_from_name` (``step_size``, ``damping``, ``sketch_size``, ``cg_tol``,
    ``cg_maxiter``, ``factor``, ``sketch``, ``precond_apply``, ``solve_apply``)."""
    _deprecated("train", "run")
    spec = method_from_name(method, **settings)
    if iters < 0:
        raise ValueError(f"iters must be non-negative, got {iters}")
    return run(
        spec, W0, a, X, y, iters, key=key, target=target, x64=x64, warmup=warmup, progress=progress
    )


def _iterate(step, W, key, iters, target, data, method, progress):
    """Up to ``iters`` timed steps from ``W``; returns ``(residuals, seconds, cg_its, cg_res, W)``.

    Each step gets a fresh split of ``key``.  With ``target`` > 0 the loop
    stops at the first iterate with ``||f - y|| <= target * ||f_0 - y||``
    (its step is not counted); otherwise the final residual is appended.
    """
    res, secs, cgi, cgr = [], [], [], []
    loop = progress_bar(range(iters), desc=method, enabled=progress)
    r0 = None
    for t in loop:
        key, sub = jax.random.split(key)
        t0 = time.perf_counter()
        W_new, info = jax.block_until_ready(step(W, sub))
        secs.append(time.perf_counter() - t0)
        rn = float(info.residual_norm)
        _check_finite(rn, method, t)
        r0 = rn if r0 is None else r0
        res.append(rn)
        cgi.append(int(info.cg_iterations))
        cgr.append(float(info.cg_relative_residual))
        W = W_new
        if target > 0 and rn <= target * r0:
            secs.pop(), cgi.pop(), cgr.pop()  # the converged iterate needs no step
            break
    else:
        rn = float(_residual_norm(W, *data))
        _check_finite(rn, method, iters)
        res.append(rn)
    return res, secs, cgi, cgr, W


@jax.jit
def _residual_norm(W, a, X, y):
    return jnp.linalg.norm(forward(W, a, X) - y)


def _check_finite(rn: float, method: str, t: int) -> None:
    if not math.isfinite(rn):
        raise DivergenceError(
            f"{method} diverged: residual ||f - y|| is {rn} at iteration {t}; "
            "use a smaller step size (gd) or damping (gn/fast/cg)"
        )


# ---------------------------------------------------------------------------
# diagnostics for the chapter
# ---------------------------------------------------------------------------


def ntk_lambda_min(W, a, X) -> float:
    """Smallest eigenvalue of the Gram matrix ``G = J J^T`` at ``W`` (the paper's lambda at init)."""
    check_problem(W, a, X)
    return float(_lambda_min(W, a, X))


@jax.jit
def _lambda_min(W, a, X):
    return jnp.linalg.eigvalsh(gram(W, a, X))[0]


def gram_lambda_max(W, a, X, iters: int = 100, seed: int = 0) -> float:
    """Largest eigenvalue of ``G`` by matrix-free power iteration (O(mnd) per iteration).

    Used for the gradient-descent step size ``1 / lambda_max``; accurate to a
    few per cent, which is all a step size needs (G is PSD, so the Rayleigh
    quotient approaches lambda_max from below; the result is inflated by 1 %).
    """
    return 1.01 * float(_power_iteration(W, a, X, jax.random.key(seed), iters))


@partial(jax.jit, static_argnums=(4,))
def _power_iteration(W, a, X, key, iters):
    PT = activation_pattern_t(W, a, X)
    v = jax.random.normal(key, (X.shape[0],), X.dtype)

    def body(_, v):
        w = gram_matvec(PT, X, v)
        return w / jnp.linalg.norm(w)

    v = jax.lax.fori_loop(0, iters, body, v / jnp.linalg.norm(v))
    return jnp.vdot(v, gram_matvec(PT, X, v))


def preconditioned_condition_number(
    W, a, X, s: int, key, damping: float = 0.0, factor: str = "qr", sketch: str = "srht"
) -> float:
    """Condition number of ``R^{-T} (G + damping I) R^{-1}`` for ``S J^T = Q R``, ``S`` an SRHT with ``s`` rows.

    ``sketch="kron"``: the Kronecker-structured sketch ``S_m (x) I_d`` (:data:`SKETCHES`).
    The paper's claim: O(1) for ``s = O~(n)``, independent of lambda_min.
    Dense O(n^3) diagnostic; compare with ``cond(G)`` from :func:`gram`.
    """
    check_problem(W, a, X)
    n = X.shape[0]
    check_step_settings(n, 1.0, damping, s, 1.0, 1, W.size, sketch, W.shape[0])
    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}: choose one of {', '.join(FACTORS)}")
    return float(_preconditioned_cond(W, a, X, key, s, float(damping), factor, sketch))


@partial(jax.jit, static_argnums=(4, 5, 6, 7))
def _preconditioned_cond(W, a, X, key, s, damping, factor, sketch):
    PT = activation_pattern_t(W, a, X)
    R = sketched_factor(key, W, a, PT, X, s, damping, factor, sketch)
    G = gram(W, a, X) + damping * jnp.eye(X.shape[0], dtype=X.dtype)
    B = solve_triangular(
        R, solve_triangular(R, G, trans="T", lower=False).T, trans="T", lower=False
    )
    ev = jnp.linalg.eigvalsh((B + B.T) / 2)
    return ev[-1] / ev[0]
