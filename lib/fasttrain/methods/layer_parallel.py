r"""Layer-parallel training of ODE-ResNets with MGRIT (Guenther et al. 2020).

The network (Guenther, Ruthotto, Schroder, Cyr, Gauger, "Layer-parallel
training of deep residual neural networks", SIMODS 2020, eqs. 2.1-2.3) is

.. math::

    u_0 = \sigma(x W_{op} + b_{op}),\qquad
    u_{n+1} = \Phi_n(u_n) = u_n + h\,\sigma(W_n u_n + b_n),\quad h = T/N,\qquad
    \text{logits} = u_N W_{cl} + b_{cl},

with the opening and classification layers outside the N time steps and a
mean softmax cross-entropy loss.  States are row vectors in a batch, so
``W_n u`` is written ``u @ W[n].T``.  Parameters are a pytree
``{"open": {"W","b"}, "layers": {"W": (N, w, w), "b": (N, w)}, "cls": {"W","b"}}``.

Forward propagation is the block lower-bidiagonal system
:math:`u_0 = g_0,\; u_{n+1} - \Phi_n(u_n) = g_{n+1}` (``g = 0`` for n>0),
solved here by MGRIT (multigrid reduction in time; Falgout et al. 2014,
nonlinear FAS form of Falgout, Manteuffel, O'Neill, Schroder 2017, as in XBraid):

* points ``0, c, 2c, ...`` are C-points, the others F-points; **F-relaxation**
  propagates every coarse interval from its C-point through its F-points,
  all intervals at once (``jax.vmap``; across devices with ``jax.shard_map``);
  **FCF** adds a C-relaxation (one step into each C-point) and another F sweep;
* the coarse level has ``N/c`` steps of size ``c h`` whose propagator
  re-uses the layer at the coarse point, :math:`\Phi^c_i(v) = v + c h\,
  \sigma(W_{ic} v + b_{ic})` (the authors' choice; no coarse training);
* FAS coarse right-hand side (tau correction):
  :math:`g^c = A_c(R u) + R\,(g - A(u))` with injection ``R`` at C-points,
  correction :math:`u_C \mathrel{+}= v^\ast - R u`, then F-relaxation
  (the interpolation);
* two-level = exact serial solve on the coarse grid; multilevel = recursive
  V-cycle, serial solve only on the coarsest level.

The backward propagation is the adjoint of the linearised steps,
:math:`\lambda_N = \partial L/\partial u_N,\; \lambda_n = \lambda_{n+1} +
h\,W_n^\top(\sigma'(z_n)\odot\lambda_{n+1})`, a linear system in reverse layer
order that the same MGRIT code solves (coarse steps again re-use the layer at
the coarse point with step ``c h``).  The gradients follow from states and
adjoints, :math:`\partial L/\partial W_n = h\,(\sigma'(z_n)\odot\lambda_{n+1})^\top u_n`,
:math:`\partial L/\partial b_n = h\sum_{\text{batch}} \sigma'(z_n)\odot\lambda_{n+1}`
(SIMODS paper, Sec. 3.2); with converged MGRIT they equal ``jax.grad`` of the
serial network.  In *simultaneous* training each optimisation step runs only a
few MGRIT iterations forward and backward (2 in the authors' peaks example),
warm-started from the previous step, so the gradients are inexact.

Compilation: :func:`mgrit` keeps the residual history, so its iteration
count is static (one compilation per count; the convergence study uses one
count).  :func:`mgrit_states`, :func:`forward_mgrit`,
:func:`value_and_grad_mgrit` and :func:`train` take the counts at run time
(``lax.fori_loop`` with a dynamic bound): one compilation per depth and MGRIT
configuration serves 1, 2, 3, ... iterations.

MGRIT is written by hand because it is the paper's contribution; no JAX
library provides it.  The serial reference uses ``jax.lax.scan`` and
``jax.grad``; the optimisers are optax's: Adam, SGD, and L-BFGS with Armijo backtracking
(``optax.lbfgs`` with ``optax.scale_by_backtracking_linesearch``; the authors train with L-BFGS
and a backtracking line search).  In MGRIT mode the line search evaluates the objective by
``n_fwd`` forward MGRIT iterations warm-started from the step's states (what XBraid's objective
evaluation does), not by serial propagation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec as P

from ..core.data import Dataset
from ..core.errors import DivergenceError
from ..core.progress import progress_bar

__all__ = [
    "ACTIVATIONS",
    "Spec",
    "MGRITConfig",
    "MGRITResult",
    "TrainResult",
    "DivergenceError",
    "smooth_relu",
    "init_params",
    "layer_step",
    "open_layer",
    "classify",
    "serial_states",
    "forward",
    "loss_fn",
    "accuracy",
    "ForwardStep",
    "AdjointStep",
    "level_sizes",
    "relax_intervals",
    "make_mesh",
    "mgrit",
    "mgrit_forward",
    "mgrit_adjoint",
    "mgrit_states",
    "layer_gradients",
    "value_and_grad_mgrit",
    "forward_mgrit",
    "iterations_to_tol",
    "critical_path",
    "train",
]


# ----------------------------------------------------------------------------
# the ODE-ResNet


def smooth_relu(z, eta: float = 0.1):
    """ReLU with a quadratic blend on ``|z| < eta`` (C^1); the authors' peaks
    example uses a smoothed ReLU, this is our formula for one."""
    return jnp.where(z <= -eta, 0.0, jnp.where(z >= eta, z, (z + eta) ** 2 / (4 * eta)))


ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "smoothrelu": smooth_relu,
}


def _activation(name: str) -> Callable:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}: choose one of {sorted(ACTIVATIONS)}"
        ) from None


@dataclass(frozen=True)
class Spec:
    """Architecture of the ODE-ResNet: ``depth`` = N time steps on ``[0, T]``."""

    n_features: int
    width: int
    n_classes: int
    depth: int
    T: float = 1.0
    activation: str = "tanh"

    def __post_init__(self):
        for name in ("n_features", "width", "n_classes", "depth"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v > 0):
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not (math.isfinite(self.T) and self.T > 0):
            raise ValueError(f"final time T must be positive and finite, got {self.T}")
        _activation(self.activation)

    @property
    def h(self) -> float:
        """The step size ``T / N``."""
        return self.T / self.depth


@partial(jax.jit, static_argnames=("spec", "dtype"))
def init_params(key, spec: Spec, scale: float = 1.0, dtype=jnp.float32) -> dict:
    """Gaussian weights ``N(0, scale^2 / fan_in)``, biases ``N(0, 0.1^2 scale^2)``.

    (The authors initialise with uniform noise times 1e-3; a larger ``scale``
    gives non-trivial layers, which is what a convergence study needs.)
    """
    k = jax.random.split(key, 6)
    w, f, nc, N = spec.width, spec.n_features, spec.n_classes, spec.depth

    def g(key, shape, fan_in):
        return (scale / math.sqrt(fan_in)) * jax.random.normal(key, shape, dtype)

    return {
        "open": {"W": g(k[0], (f, w), f), "b": 0.1 * scale * jax.random.normal(k[1], (w,), dtype)},
        "layers": {
            "W": g(k[2], (N, w, w), w),
            "b": 0.1 * scale * jax.random.normal(k[3], (N, w), dtype),
        },
        "cls": {"W": g(k[4], (w, nc), w), "b": jnp.zeros((nc,), dtype)},
    }


def layer_step(u, W, b, h, activation: str = "tanh"):
    r"""One residual layer, :math:`\Phi(u) = u + h\,\sigma(W u + b)` (forward Euler)."""
    return u + h * _activation(activation)(u @ W.T + b)


def open_layer(p, x, activation: str = "tanh"):
    """The opening layer ``sigma(x W + b)`` (features -> width)."""
    return _activation(activation)(x @ p["W"] + p["b"])


def classify(p, u):
    """The classification layer: logits ``u W + b`` (width -> classes)."""
    return u @ p["W"] + p["b"]


def serial_states(layers, u0, h, activation: str = "tanh"):
    """All states ``u_0..u_N`` (shape ``(N+1,) + u0.shape``) by serial propagation."""

    def body(u, wb):
        u = layer_step(u, wb[0], wb[1], h, activation)
        return u, u

    _, us = jax.lax.scan(body, u0, (layers["W"], layers["b"]))
    return jnp.concatenate([u0[None], us])


def forward(params, x, spec: Spec):
    """Logits of the serial network."""
    u0 = open_layer(params["open"], x, spec.activation)
    return classify(params["cls"], serial_states(params["layers"], u0, spec.h, spec.activation)[-1])


def _head_loss(cls, uN, y):
    return optax.softmax_cross_entropy_with_integer_labels(classify(cls, uN), y).mean()


def loss_fn(params, x, y, spec: Spec):
    """Mean softmax cross-entropy of the serial network (the reference for ``jax.grad``)."""
    return optax.softmax_cross_entropy_with_integer_labels(forward(params, x, spec), y).mean()


def accuracy(params, x, y, spec: Spec):
    return jnp.mean(jnp.argmax(forward(params, x, spec), -1) == y)


# ----------------------------------------------------------------------------
# MGRIT


@dataclass(frozen=True)
class ForwardStep:
    """The forward propagator ``Phi(u; (W, b), h)`` used by :func:`mgrit`."""

    activation: str = "tanh"

    def __call__(self, u, d, h):
        return layer_step(u, d[0], d[1], h, self.activation)


@dataclass(frozen=True)
class AdjointStep:
    r"""The adjoint propagator :math:`\mu \mapsto \mu + h\,(s \odot \mu) W`
    with per-step data ``(W_n, s_n = sigma'(z_n))`` (reverse layer order)."""

    def __call__(self, mu, d, h):
        W, s = d
        return mu + h * (s * mu) @ W


@dataclass(frozen=True)
class MGRITConfig:
    """MGRIT settings: coarsening factor, number of levels (2 = two-level),
    relaxation ``"F"`` or ``"FCF"``, and the smallest coarse grid (in steps)."""

    cfactor: int = 4
    max_levels: int = 2
    relax: str = "FCF"
    min_coarse: int = 2

    def __post_init__(self):
        if not (isinstance(self.cfactor, (int, np.integer)) and self.cfactor >= 2):
            raise ValueError(f"coarsening factor must be an integer >= 2, got {self.cfactor!r}")
        if not (isinstance(self.max_levels, (int, np.integer)) and self.max_levels >= 2):
            raise ValueError(f"max_levels must be an integer >= 2, got {self.max_levels!r}")
        if self.relax not in ("F", "FCF"):
            raise ValueError(f"relaxation must be 'F' or 'FCF', got {self.relax!r}")
        if self.min_coarse < 1:
            raise ValueError(f"min_coarse must be >= 1, got {self.min_coarse}")


def level_sizes(N: int, cfg: MGRITConfig) -> tuple[int, ...]:
    """Number of steps on each level: ``(N, N/c, N/c^2, ...)``.

    Raises ``ValueError`` when ``c`` does not divide ``N``; coarsening stops
    at ``max_levels``, when ``c`` no longer divides, or below ``min_coarse`` steps.
    """
    c = cfg.cfactor
    if N < 1:
        raise ValueError(f"depth must be positive, got {N}")
    if N % c:
        raise ValueError(
            f"coarsening factor {c} does not divide the depth N={N}; "
            f"choose a depth that is a multiple of {c}"
        )
    sizes = [N]
    while len(sizes) < cfg.max_levels and sizes[-1] % c == 0 and sizes[-1] // c >= cfg.min_coarse:
        sizes.append(sizes[-1] // c)
    if len(sizes) < 2:
        raise ValueError(
            f"depth N={N} with coarsening factor {c} leaves a coarse grid of "
            f"{N // c} step{'s' if N // c != 1 else ''}, fewer than min_coarse={cfg.min_coarse}"
        )
    return tuple(sizes)


def make_mesh(n_devices: int | None = None):
    """A 1-D device mesh with axis ``"intervals"`` for sharding the relaxation."""
    n = n_devices or len(jax.devices())
    return jax.make_mesh((n,), ("intervals",), axis_types=(jax.sharding.AxisType.Auto,))


def _propagate(step, u, d, g, h):
    """Propagate one interval: ``x_{k+1} = step(x_k, d_k) + g_k`` for its c steps."""

    def body(x, dg):
        x = step(x, dg[0], h) + dg[1]
        return x, x

    return jax.lax.scan(body, u, (d, g))[1]


def relax_intervals(step, data, h, u, g, c: int, mesh=None):
    """Propagate every coarse interval from its C-point through ``c`` steps.

    ``u``: states ``(n+1, ...)``; ``data``: per-step pytree with leading axis
    ``n``; ``g``: right-hand side ``(n+1, ...)``.  Returns ``xs`` of shape
    ``(n/c, c, ...)`` with ``xs[i, k]`` the new value at index ``i c + k + 1``:
    ``xs[:, :c-1]`` are the F-relaxed F-points, ``xs[:, c-1]`` the
    C-relaxation value of the next C-point.  The intervals run in parallel:
    ``jax.vmap`` on one device, and with a ``mesh`` they are split across its
    devices with ``jax.shard_map`` (when the device count divides ``n/c``).
    """
    nc = (u.shape[0] - 1) // c
    starts = u[:-1:c]
    d = jax.tree.map(lambda a: a.reshape((nc, c) + a.shape[1:]), data)
    gi = g[1:].reshape((nc, c) + g.shape[1:])
    f = jax.vmap(lambda s, dd, gg: _propagate(step, s, dd, gg, h))
    if mesh is not None and nc % mesh.size == 0:
        spec = P(mesh.axis_names[0])
        f = jax.shard_map(f, mesh=mesh, in_specs=(spec, spec, spec), out_specs=spec)
    return f(starts, d, gi)


def _with_f_points(u, xs, c):
    """``u`` with its F-points replaced by ``xs[:, :c-1]`` (C-points kept)."""
    nc = xs.shape[0]
    blocks = jnp.concatenate([u[:-1:c][:, None], xs[:, : c - 1]], axis=1)
    return jnp.concatenate([blocks.reshape((nc * c,) + u.shape[1:]), u[-1:]])


def _serial_solve(step, data, h, g):
    """Exact solve of ``u_0 = g_0, u_{n+1} = step(u_n) + g_{n+1}``."""
    return jnp.concatenate([g[:1], _propagate(step, g[0], data, g[1:], h)])


def _vcycle(step, datas, hs, u, g, lvl, cfg: MGRITConfig, mesh):
    """One MGRIT V-cycle on level ``lvl``; returns new states and C-point residuals."""
    c, data, h = cfg.cfactor, datas[lvl], hs[lvl]
    relax = lambda u: relax_intervals(step, data, h, u, g, c, mesh)  # noqa: E731
    u = u.at[0].set(g[0])
    xs = relax(u)
    u = _with_f_points(u, xs, c)  # F-relaxation
    if cfg.relax == "FCF":
        u = u.at[c::c].set(xs[:, c - 1])  # C-relaxation
        xs = relax(u)
        u = _with_f_points(u, xs, c)  # F-relaxation
    r = xs[:, c - 1] - u[c::c]  # residual at C-points
    # FAS restriction: g_c = A_c(v) + r, with v the injected C-point values
    v = u[::c]
    dc, hc = datas[lvl + 1], hs[lvl + 1]
    gc = jnp.concatenate([g[:1], v[1:] - jax.vmap(step, (0, 0, None))(v[:-1], dc, hc) + r])
    if lvl + 1 == len(datas) - 1:
        v_new = _serial_solve(step, dc, hc, gc)
    else:
        v_new, _ = _vcycle(step, datas, hs, v, gc, lvl + 1, cfg, mesh)
    u = u.at[::c].add(v_new - v)  # coarse-grid correction
    xs = relax(u)
    u = _with_f_points(u, xs, c)  # interpolation = F-relaxation
    return u, xs[:, c - 1] - u[c::c]


def _full_residual(step, data, h, u, g):
    """``g - A(u)`` at every point (``A(u)_0 = u_0``, ``A(u)_{n+1} = u_{n+1} - step(u_n)``)."""
    prop = jax.vmap(step, (0, 0, None))(u[:-1], data, h)
    return jnp.concatenate([(g[0] - u[0])[None], g[1:] + prop - u[1:]])


def _norm(r):
    return jnp.sqrt(jnp.sum(r**2))


@dataclass(frozen=True)
class MGRITResult:
    """States ``(N+1, ...)`` after the last iteration and the residual norms
    ``residuals[k]`` after ``k`` iterations (``residuals[0]``: initial guess)."""

    states: Any
    residuals: Any

    @property
    def relative(self):
        return self.residuals / self.residuals[0]


def _check_h(h):
    try:
        hv = float(h)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return  # traced inside jit: checked by the caller
    if not (math.isfinite(hv) and hv > 0):
        raise ValueError(f"step size h must be positive and finite, got {h}")


def mgrit(step, data, h, u0, cfg: MGRITConfig, n_iter: int, u_init=None, mesh=None) -> MGRITResult:
    """Solve ``u_0 = u0, u_{n+1} = step(u_n, data_n, h)`` with ``n_iter`` MGRIT V-cycles.

    ``data`` is a pytree of per-step arrays with leading axis ``N``; the
    coarse level ``l`` uses ``data[::c**l]`` with step ``c**l * h`` (the layer
    at the coarse point).  ``u_init`` (``(N+1,) + u0.shape``) is the initial
    guess (default: ``u0`` at every layer).  Residual norms are the fine-level
    residual :math:`\\|g - A(u)\\|_2` after each iteration.
    """
    _check_h(h)
    leaves = jax.tree.leaves(data)
    N = leaves[0].shape[0]
    if any(a.shape[0] != N for a in leaves):
        raise ValueError(f"per-step data disagree on the depth: {[a.shape[0] for a in leaves]}")
    sizes = level_sizes(N, cfg)
    if u_init is not None and u_init.shape != (N + 1,) + u0.shape:
        raise ValueError(f"initial guess has shape {u_init.shape}, expected {(N + 1,) + u0.shape}")
    if not (isinstance(n_iter, (int, np.integer)) and n_iter >= 0):
        raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
    return _mgrit_jit(step, data, h, u0, u_init, cfg, int(n_iter), len(sizes), mesh)


def _mgrit_impl(step, data, h, u0, u_init, cfg, n_iter, n_levels, mesh):
    c = cfg.cfactor
    datas = tuple(jax.tree.map(lambda a, s=c**l: a[::s], data) for l in range(n_levels))
    hs = tuple(h * c**l for l in range(n_levels))
    N = jax.tree.leaves(data)[0].shape[0]
    g = jnp.zeros((N + 1,) + u0.shape, u0.dtype).at[0].set(u0)
    u = jnp.broadcast_to(u0, g.shape) if u_init is None else u_init.astype(u0.dtype)
    r0 = _norm(_full_residual(step, data, h, u, g))

    def it(u, _):
        u, r = _vcycle(step, datas, hs, u, g, 0, cfg, mesh)
        return u, _norm(r)

    u, rs = jax.lax.scan(it, u, None, length=n_iter)
    return MGRITResult(u, jnp.concatenate([r0[None], rs]))


_mgrit_jit = jax.jit(_mgrit_impl, static_argnames=("step", "cfg", "n_iter", "n_levels", "mesh"))


def _check_n_iter(n_iter):
    """Validate a concrete iteration count (a traced one is checked by its caller)."""
    if isinstance(n_iter, jax.core.Tracer):
        return n_iter
    if (
        isinstance(n_iter, (jax.Array, np.ndarray))
        and n_iter.ndim == 0
        and jnp.issubdtype(n_iter.dtype, jnp.integer)
    ):
        n_iter = int(n_iter)
    if not (isinstance(n_iter, (int, np.integer)) and not isinstance(n_iter, bool) and n_iter >= 0):
        raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
    return n_iter


def _mgrit_states_impl(step, data, h, u0, u_init, cfg, n_iter, mesh):
    """``n_iter`` V-cycles, ``n_iter`` a run-time (possibly traced) integer: the loop is a
    ``lax.fori_loop`` with a dynamic bound, so one compiled function serves every count."""
    c = cfg.cfactor
    N = jax.tree.leaves(data)[0].shape[0]
    n_levels = len(level_sizes(N, cfg))
    datas = tuple(jax.tree.map(lambda a, s=c**l: a[::s], data) for l in range(n_levels))
    hs = tuple(h * c**l for l in range(n_levels))
    g = jnp.zeros((N + 1,) + u0.shape, u0.dtype).at[0].set(u0)
    u = jnp.broadcast_to(u0, g.shape) if u_init is None else u_init.astype(u0.dtype)
    return jax.lax.fori_loop(
        0, n_iter, lambda _, u: _vcycle(step, datas, hs, u, g, 0, cfg, mesh)[0], u
    )


def mgrit_states(step, data, h, u0, cfg: MGRITConfig, n_iter, u_init=None, mesh=None):
    """Like :func:`mgrit` but returns only the states and takes ``n_iter`` at run time.

    No residual history is kept, so the iteration count is an ordinary
    (traceable) argument: ``jax.jit`` compiles once per depth and
    configuration, not once per count.  This is the route of training and
    timing, where only the states after a fixed number of V-cycles matter.
    """
    _check_h(h)
    _check_n_iter(n_iter)
    leaves = jax.tree.leaves(data)
    N = leaves[0].shape[0]
    if any(a.shape[0] != N for a in leaves):
        raise ValueError(f"per-step data disagree on the depth: {[a.shape[0] for a in leaves]}")
    level_sizes(N, cfg)
    if u_init is not None and u_init.shape != (N + 1,) + u0.shape:
        raise ValueError(f"initial guess has shape {u_init.shape}, expected {(N + 1,) + u0.shape}")
    return _mgrit_states_impl(step, data, h, u0, u_init, cfg, n_iter, mesh)


jax.tree_util.register_dataclass(MGRITResult, data_fields=["states", "residuals"], meta_fields=[])


def _check_layers(layers, width: int | None = None):
    W, b = layers["W"], layers["b"]
    if W.ndim != 3 or W.shape[1] != W.shape[2]:
        raise ValueError(f"layer weights must have shape (N, w, w), got {W.shape}")
    if b.shape != W.shape[:2]:
        raise ValueError(
            f"layer biases must have shape {W.shape[:2]} to match the weights, got {b.shape}"
        )
    if width is not None and width != W.shape[1]:
        raise ValueError(f"states have width {width} but the layers have width {W.shape[1]}")


def mgrit_forward(
    layers, u0, h, cfg: MGRITConfig, n_iter: int, activation: str = "tanh", u_init=None, mesh=None
) -> MGRITResult:
    """Forward propagation through the residual layers by MGRIT (states ``u_0..u_N``)."""
    _check_layers(layers, u0.shape[-1])
    _activation(activation)
    return mgrit(
        ForwardStep(activation), (layers["W"], layers["b"]), h, u0, cfg, n_iter, u_init, mesh
    )


def _sigma_prime(states, layers, activation):
    z = jnp.einsum("n...j,nij->n...i", states[:-1], layers["W"]) + layers["b"][:, None]
    return jax.jvp(_activation(activation), (z,), (jnp.ones_like(z),))[1]


def mgrit_adjoint(
    layers,
    states,
    lam_N,
    h,
    cfg: MGRITConfig,
    n_iter: int,
    activation: str = "tanh",
    lam_init=None,
    mesh=None,
) -> MGRITResult:
    r"""Adjoints :math:`\lambda_0..\lambda_N` (forward layer order) by MGRIT in reverse layer order.

    Solves :math:`\lambda_n = \lambda_{n+1} + h W_n^\top(\sigma'(z_n)\odot\lambda_{n+1})`,
    :math:`z_n = W_n u_n + b_n`, given the forward ``states`` (``(N+1, B, w)``).
    ``lam_init`` is an initial guess in forward order.  The residuals refer to
    the reversed system.
    """
    _check_layers(layers, lam_N.shape[-1])
    N = layers["W"].shape[0]
    if states.shape != (N + 1,) + lam_N.shape:
        raise ValueError(f"states have shape {states.shape}, expected {(N + 1,) + lam_N.shape}")
    s = _sigma_prime(states, layers, activation)
    data = (layers["W"][::-1], s[::-1])
    init = None if lam_init is None else lam_init[::-1]
    res = mgrit(AdjointStep(), data, h, lam_N, cfg, n_iter, init, mesh)
    return MGRITResult(res.states[::-1], res.residuals)


def layer_gradients(layers, states, lam, h, activation: str = "tanh"):
    r"""``dL/dW_n = h (sigma'(z_n) . lambda_{n+1})^T u_n`` and ``dL/db_n`` summed over the batch."""
    s = _sigma_prime(states, layers, activation) * lam[1:]
    gW = h * jnp.einsum("nbi,nbj->nij", s, states[:-1])
    gb = h * s.sum(axis=1)
    return {"W": gW, "b": gb}


def value_and_grad_mgrit(
    params, x, y, spec: Spec, cfg: MGRITConfig, n_fwd, n_bwd, u_init=None, lam_init=None, mesh=None
):
    """Loss and gradient with MGRIT forward (``n_fwd`` iterations) and adjoint (``n_bwd``).

    Returns ``(loss, grads, (states, adjoints))``; the loss is the one of
    the MGRIT states (what the optimiser sees).  With enough iterations this
    equals ``jax.value_and_grad(loss_fn)``.  The iteration counts are run-time
    arguments: one compilation per architecture and MGRIT configuration
    serves every count.
    """
    _check_n_iter(n_fwd)
    _check_n_iter(n_bwd)
    N = spec.depth
    level_sizes(N, cfg)
    for name, init in (("u_init", u_init), ("lam_init", lam_init)):
        if init is not None and init.shape != (N + 1, x.shape[0], spec.width):
            raise ValueError(
                f"{name} has shape {init.shape}, expected {(N + 1, x.shape[0], spec.width)}"
            )
    return _value_and_grad_mgrit(params, x, y, spec, cfg, n_fwd, n_bwd, u_init, lam_init, mesh)


@partial(jax.jit, static_argnames=("spec", "cfg", "mesh"))
def _value_and_grad_mgrit(params, x, y, spec, cfg, n_fwd, n_bwd, u_init, lam_init, mesh):
    act, h = spec.activation, spec.h
    u0, open_vjp = jax.vjp(lambda p: open_layer(p, x, act), params["open"])
    layers = params["layers"]
    U = _mgrit_states_impl(
        ForwardStep(act), (layers["W"], layers["b"]), h, u0, u_init, cfg, n_fwd, mesh
    )
    loss, (g_cls, lam_N) = jax.value_and_grad(_head_loss, argnums=(0, 1))(params["cls"], U[-1], y)
    s = _sigma_prime(U, layers, act)
    lam = _mgrit_states_impl(
        AdjointStep(),
        (layers["W"][::-1], s[::-1]),
        h,
        lam_N,
        None if lam_init is None else lam_init[::-1],
        cfg,
        n_bwd,
        mesh,
    )[::-1]
    grads = {
        "open": open_vjp(lam[0])[0],
        "layers": layer_gradients(layers, U, lam, h, act),
        "cls": g_cls,
    }
    return loss, grads, (U, lam)


@partial(jax.jit, static_argnames=("spec", "cfg", "mesh"))
def forward_mgrit(params, x, spec: Spec, cfg: MGRITConfig, n_iter, mesh=None):
    """Logits with the residual layers propagated by ``n_iter`` MGRIT V-cycles (run-time count),
    started from the opening state copied to every layer."""
    U = _mgrit_forward_states(params, x, spec, cfg, n_iter, None, mesh)
    return classify(params["cls"], U[-1])


def _mgrit_forward_states(params, x, spec: Spec, cfg: MGRITConfig, n_iter, u_init, mesh):
    """Every layer's state after ``n_iter`` forward MGRIT iterations from ``u_init`` (``None``: the
    opening state copied to every layer)."""
    u0 = open_layer(params["open"], x, spec.activation)
    layers = params["layers"]
    return _mgrit_states_impl(
        ForwardStep(spec.activation),
        (layers["W"], layers["b"]),
        spec.h,
        u0,
        u_init,
        cfg,
        n_iter,
        mesh,
    )


def iterations_to_tol(residuals, tol: float) -> int | None:
    """First iteration count ``k`` with ``residuals[k] / residuals[0] <= tol`` (``None``: not reached)."""
    r = np.asarray(residuals, dtype=float)
    if r[0] == 0:
        return 0
    hit = np.nonzero(r / r[0] <= tol)[0]
    return int(hit[0]) if len(hit) else None


# ----------------------------------------------------------------------------
# work model


def critical_path(N: int, cfg: MGRITConfig, P: int, n_iter: int = 1) -> dict:
    """Layer applications on the critical path of ``n_iter`` V-cycles with ``P`` processors.

    Model (communication and the residual norm ignored): on a level with ``n``
    steps the ``n/c`` intervals are dealt out to ``P`` processors, ``q =
    ceil(n/(cP))`` each; F-relaxation costs ``q (c-1)``, C-relaxation ``q``,
    the C-point residual ``q``, the FAS restriction ``q`` (one coarse step
    per C-point), the final F-relaxation ``q (c-1)``; the coarsest level is
    solved serially.  Serial propagation costs ``N``.  ``work`` is the total
    count (``P = 1``).  Returns serial, critical path, work and the predicted
    speed-up ``N / critical_path``.
    """
    if P < 1:
        raise ValueError(f"processor count must be >= 1, got {P}")
    sizes = level_sizes(N, cfg)
    c = cfg.cfactor

    def cycle(P):
        total = 0
        for n in sizes[:-1]:
            q = -(-n // (c * P))
            relax = q * (c - 1) + (q + q * (c - 1) if cfg.relax == "FCF" else 0)
            total += relax + q + q + q * (c - 1)
        return total + sizes[-1]

    cp, work = n_iter * cycle(P), n_iter * cycle(1)
    return {"serial": N, "critical_path": cp, "work": work, "speedup": N / cp, "levels": sizes}


# ----------------------------------------------------------------------------
# training


@dataclass(frozen=True)
class TrainResult:
    """A training run: loss seen by the optimiser per step, exact (serial)
    train loss / test accuracy every ``eval_every`` steps, wall time."""

    params: Any
    mode: str
    loss: np.ndarray
    eval_steps: np.ndarray
    exact_loss: np.ndarray
    test_accuracy: np.ndarray
    wall_time: float
    history: dict = field(default_factory=dict)


#: L-BFGS: stored curvature pairs and the most backtracking halvings per step (Armijo)
LBFGS_MEMORY = 10
LBFGS_BACKTRACK = 20
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd", "lbfgs")


def _optimizer(name: str, lr):
    if name == "adam":
        return optax.adam(lr)
    if name == "sgd":
        return optax.sgd(lr)
    if name == "lbfgs":  # the step comes from the line search; ``lr`` is not used
        return optax.lbfgs(
            learning_rate=None,
            memory_size=LBFGS_MEMORY,
            linesearch=optax.scale_by_backtracking_linesearch(
                max_backtracking_steps=LBFGS_BACKTRACK, store_grad=False
            ),
        )
    raise ValueError(f"unknown optimiser {name!r}: choose one of {OPTIMIZERS}")


def _update(optimizer, lr, g, s, p, loss, value_fn):
    opt = _optimizer(optimizer, lr)
    if optimizer == "lbfgs":
        return opt.update(g, s, p, value=loss, grad=g, value_fn=value_fn)
    return opt.update(g, s, p)


@partial(jax.jit, static_argnames=("spec", "optimizer"))
def _serial_step(p, s, warm, x, y, lr, spec, optimizer):
    loss, g = jax.value_and_grad(loss_fn)(p, x, y, spec)
    upd, s = _update(optimizer, lr, g, s, p, loss, lambda q: loss_fn(q, x, y, spec))
    return optax.apply_updates(p, upd), s, warm, loss


def _mgrit_loss(params, x, y, spec, cfg, n_fwd, u_init, mesh):
    """The loss of ``n_fwd`` forward MGRIT iterations from ``u_init`` (the line search's objective)."""
    U = _mgrit_forward_states(params, x, spec, cfg, n_fwd, u_init, mesh)
    return _head_loss(params["cls"], U[-1], y)


@partial(jax.jit, static_argnames=("spec", "optimizer", "cfg", "warm_start", "mesh"))
def _mgrit_step(p, s, warm, x, y, lr, spec, optimizer, cfg, n_fwd, n_bwd, warm_start, mesh):
    u_init, lam_init = warm if warm_start else (None, None)
    loss, g, warm = _value_and_grad_mgrit(p, x, y, spec, cfg, n_fwd, n_bwd, u_init, lam_init, mesh)
    start = warm[0] if warm_start else None
    upd, s = _update(
        optimizer, lr, g, s, p, loss, lambda q: _mgrit_loss(q, x, y, spec, cfg, n_fwd, start, mesh)
    )
    return optax.apply_updates(p, upd), s, warm, loss


@partial(jax.jit, static_argnames=("spec",))
def _evaluate(p, x, y, xt, yt, spec):
    return loss_fn(p, x, y, spec), accuracy(p, xt, yt, spec)


def train(
    params,
    data: Dataset,
    spec: Spec,
    steps: int,
    lr: float = 1e-2,
    optimizer: str = "adam",
    mode: str = "mgrit",
    mgrit_cfg: MGRITConfig = MGRITConfig(),
    n_fwd: int = 2,
    n_bwd: int = 2,
    warm_start: bool = True,
    eval_every: int = 10,
    mesh=None,
    progress: bool = False,
) -> TrainResult:
    """Full-batch training, ``mode="serial"`` (``jax.value_and_grad``) or ``"mgrit"``.

    ``optimizer``: ``"adam"``, ``"sgd"`` (learning rate ``lr``) or ``"lbfgs"`` (L-BFGS with
    Armijo backtracking; ``lr`` unused, the line search evaluates the serial loss in serial mode
    and ``n_fwd`` warm-started forward MGRIT iterations in MGRIT mode).

    In ``"mgrit"`` mode every step runs ``n_fwd`` forward and ``n_bwd``
    adjoint MGRIT iterations (inexact gradients), warm-started from the
    previous step's states and adjoints (as XBraid keeps its solution between
    optimisation iterations).  Raises :class:`DivergenceError` on a
    non-finite loss.
    """
    _check_train_args(mode, n_fwd, n_bwd, steps, eval_every, lr)
    opt = _optimizer(optimizer, lr)  # also checks the name before any work
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    xt, yt = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    if x.shape[-1] != spec.n_features:
        raise ValueError(f"data have {x.shape[-1]} features, the network expects {spec.n_features}")
    lr_ = jnp.asarray(lr, jnp.result_type(*jax.tree.leaves(params)))
    if mode == "serial":
        step = lambda p, s, warm: _serial_step(p, s, warm, x, y, lr_, spec, optimizer)  # noqa: E731
        warm = None
    else:
        step, warm = _mgrit_training_step(
            params, x, y, lr_, spec, optimizer, mgrit_cfg, n_fwd, n_bwd, warm_start, mesh
        )
    evaluate = lambda p: _evaluate(p, x, y, xt, yt, spec)  # noqa: E731
    s = opt.init(params)
    losses, ev_steps, ev_loss, ev_acc = [], [], [], []
    it = progress_bar(range(steps), desc=f"{mode} training", unit="step", enabled=progress)
    t0 = time.perf_counter()
    for k in it:
        if k % eval_every == 0:
            el, ea = evaluate(params)
            ev_steps.append(k), ev_loss.append(float(el)), ev_acc.append(float(ea))
        params, s, warm, loss = step(params, s, warm)
        loss = float(loss)
        if not math.isfinite(loss):
            raise DivergenceError(
                f"{mode} training diverged at step {k} (loss {loss}) with "
                f"{optimizer} lr={lr:g}; use a smaller learning rate"
            )
        losses.append(loss)
    el, ea = evaluate(params)
    ev_steps.append(steps), ev_loss.append(float(el)), ev_acc.append(float(ea))
    wall = time.perf_counter() - t0
    if not math.isfinite(ev_loss[-1]):
        raise DivergenceError(f"{mode} training ended with a non-finite loss")
    return TrainResult(
        params,
        mode,
        np.array(losses),
        np.array(ev_steps),
        np.array(ev_loss),
        np.array(ev_acc),
        wall,
    )


def _check_train_args(mode, n_fwd, n_bwd, steps, eval_every, lr):
    """:func:`train`'s argument checks (the optimiser's name is checked by :func:`_optimizer`)."""
    if mode not in ("serial", "mgrit"):
        raise ValueError(f"mode must be 'serial' or 'mgrit', got {mode!r}")
    _check_n_iter(n_fwd)
    _check_n_iter(n_bwd)
    if steps < 1 or eval_every < 1:
        raise ValueError("steps and eval_every must be at least 1")
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")


def _mgrit_training_step(
    params, x, y, lr_, spec, optimizer, mgrit_cfg, n_fwd, n_bwd, warm_start, mesh
):
    """``(step, warm)``: the MGRIT training step ``step(p, s, warm)`` and its first warm start.

    The first guess is ``u0`` broadcast to every layer (no serial solve) and zero adjoints.
    """
    nf, nb = jnp.asarray(n_fwd, jnp.int32), jnp.asarray(n_bwd, jnp.int32)

    def step(p, s, warm):
        return _mgrit_step(
            p, s, warm, x, y, lr_, spec, optimizer, mgrit_cfg, nf, nb, warm_start, mesh
        )

    z = jnp.zeros((spec.depth + 1, x.shape[0], spec.width), x.dtype)
    warm = (jnp.broadcast_to(open_layer(params["open"], x, spec.activation), z.shape), z)
    return step, warm


# ----------------------------------------------------------------------------
# across processes (issue 14)


def _mgrit_intervals_impl(step, data, h, u0, cfg, n_iter, n_levels, mesh):
    """MGRIT with the fine level's intervals dealt out in contiguous blocks to the devices of
    ``mesh`` (one per process); see :func:`mgrit_intervals`."""
    axis = mesh.axis_names[0]
    n_dev = mesh.shape[axis]
    c = cfg.cfactor
    N = jax.tree.leaves(data)[0].shape[0]
    nc = N // c
    nloc = nc // n_dev
    datas = tuple(jax.tree.map(lambda a, s=c**l: a[::s], data) for l in range(n_levels))
    hs = tuple(h * c**l for l in range(n_levels))

    def local(data, datas, u0):
        me = jax.lax.axis_index(axis)
        mine = jax.tree.map(
            lambda a: jax.lax.dynamic_slice_in_dim(a, me * nloc * c, nloc * c).reshape(
                (nloc, c) + a.shape[1:]
            ),
            data,
        )
        zeros = jnp.zeros((c,) + u0.shape, u0.dtype)  # g = 0 away from point 0
        relax = jax.vmap(lambda s, d: _propagate(step, s, d, zeros, h))  # my intervals
        cpts = lambda v, k: jax.lax.dynamic_slice_in_dim(v, me * nloc + k, nloc)  # noqa: E731
        right = [(i, i + 1) for i in range(n_dev - 1)]

        def sumsq(r):
            return jax.lax.psum(jnp.sum(r**2), axis)

        def vcycle(carry, _):
            V, F = (
                carry  # C-point values (nc+1, ...) on every process; my F-points (nloc, c-1, ...)
            )
            V = V.at[0].set(u0)
            xs = relax(cpts(V, 0), mine)  # F-relaxation of my intervals
            if cfg.relax == "FCF":
                ends = xs[:, c - 1]  # C-relaxation: my intervals' end points
                left = jax.lax.ppermute(ends[-1], axis, right)  # the one value a neighbour needs
                first = jnp.where(me == 0, u0, left)
                xs = relax(jnp.concatenate([first[None], ends[:-1]]), mine)
                mine_c = ends
            else:
                mine_c = cpts(V, 1)
            r = xs[:, c - 1] - mine_c  # residual at my C-points
            both = jax.lax.all_gather(jnp.stack([mine_c, r]), axis, axis=1, tiled=True)
            v = jnp.concatenate([u0[None], both[0]])  # injected C-point values, all processes
            dc, hc = datas[1], hs[1]
            gc = jnp.concatenate(
                [u0[None], v[1:] - jax.vmap(step, (0, 0, None))(v[:-1], dc, hc) + both[1]]
            )
            if n_levels == 2:
                v_new = _serial_solve(step, dc, hc, gc)
            else:  # the coarser levels on every process (no further distribution)
                v_new, _ = _vcycle(step, datas, hs, v, gc, 1, cfg, None)
            V = v + (v_new - v)  # coarse-grid correction
            xs = relax(cpts(V, 0), mine)  # interpolation = F-relaxation
            return (V, xs[:, : c - 1]), jnp.sqrt(sumsq(xs[:, c - 1] - cpts(V, 1)))

        V = jnp.broadcast_to(u0, (nc + 1,) + u0.shape)
        F = jnp.broadcast_to(u0, (nloc, c - 1) + u0.shape)
        # residual of the constant initial guess: step(u0) - u0 at every point after the first
        r0 = jax.vmap(lambda d: jax.vmap(lambda dd: step(u0, dd, h) - u0)(d))(mine)
        r0 = jnp.sqrt(sumsq(r0))
        (V, F), rs = jax.lax.scan(vcycle, (V, F), None, length=n_iter)
        allF = jax.lax.all_gather(F, axis, tiled=True)  # once, to return every state
        blocks = jnp.concatenate([V[:-1, None], allF], axis=1).reshape((N,) + u0.shape)
        return jnp.concatenate([blocks, V[-1:]]), jnp.concatenate([r0[None], rs])

    states, res = jax.shard_map(
        local, mesh=mesh, in_specs=(P(), P(), P()), out_specs=(P(), P()), check_vma=False
    )(data, datas, u0)
    return MGRITResult(states, res)


_mgrit_intervals_jit = jax.jit(
    _mgrit_intervals_impl, static_argnames=("step", "h", "cfg", "n_iter", "n_levels", "mesh")
)


def mgrit_intervals(step, data, h, u0, cfg: MGRITConfig, n_iter: int, mesh) -> MGRITResult:
    """:func:`mgrit` (from the constant initial guess ``u0``) with the fine level's coarse
    intervals split over the devices of ``mesh`` -- one device per process in a multi-process
    run (``fasttrain.core.multiprocess.global_mesh``), or one process's devices.

    Process ``p`` owns a contiguous block of ``N/(c P)`` intervals: it keeps their F-points
    and relaxes them (F or FCF) with no communication except, for the C-relaxation, the one
    state its left neighbour's last interval ends in (``lax.ppermute``).  The coarse grid
    needs every C-point value and residual: one all-gather of ``2 N/c`` states per V-cycle
    (``N/c`` states: the coarse level's size, not the fine level's), after which every
    process solves the coarse level itself (serially, or by V-cycles below level 1 when
    ``max_levels > 2``) and corrects its own C-points; residual norms take one ``psum`` of a
    scalar.  The F-points are gathered once, at the end, to return all states.  ``data`` and
    ``u0`` are host values, the same on every process; the result is this process's copy.
    Needs ``P`` to divide ``N/c``.  Equals :func:`mgrit` up to rounding.
    """
    from ..core.multiprocess import local_value

    res = _mgrit_intervals_jit(*_intervals_args(step, data, h, u0, cfg, n_iter, mesh))
    return MGRITResult(*local_value((res.states, res.residuals)))


def lower_mgrit_intervals(step, data, h, u0, cfg: MGRITConfig, n_iter: int, mesh):
    """The program :func:`mgrit_intervals` runs for these arguments, lowered and not yet run
    (``jax.stages.Lowered``: ``.compile().as_text()`` shows the collectives it communicates by)."""
    return _mgrit_intervals_jit.lower(*_intervals_args(step, data, h, u0, cfg, n_iter, mesh))


def _intervals_args(step, data, h, u0, cfg, n_iter, mesh) -> tuple:
    """The checked arguments of ``_mgrit_intervals_jit``, ``data`` and ``u0`` replicated over ``mesh``."""
    from ..core.multiprocess import replicated

    _check_h(h)
    leaves = jax.tree.leaves(data)
    N = leaves[0].shape[0]
    if any(a.shape[0] != N for a in leaves):
        raise ValueError(f"per-step data disagree on the depth: {[a.shape[0] for a in leaves]}")
    sizes = level_sizes(N, cfg)
    if not (isinstance(n_iter, (int, np.integer)) and n_iter >= 0):
        raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
    n_dev = mesh.size
    if (N // cfg.cfactor) % n_dev:
        raise ValueError(
            f"{N // cfg.cfactor} coarse intervals cannot be split evenly over {n_dev} processes"
        )
    data, u0 = replicated((data, np.asarray(u0)), mesh)
    return (step, data, float(h), u0, cfg, int(n_iter), len(sizes), mesh)


def mgrit_forward_intervals(
    layers, u0, h, cfg: MGRITConfig, n_iter: int, mesh, activation: str = "tanh"
) -> MGRITResult:
    """:func:`mgrit_forward` with the intervals split over ``mesh`` (:func:`mgrit_intervals`)."""
    _check_layers(layers, u0.shape[-1])
    _activation(activation)
    data = (np.asarray(layers["W"]), np.asarray(layers["b"]))
    return mgrit_intervals(ForwardStep(activation), data, h, u0, cfg, n_iter, mesh)


def mgrit_adjoint_intervals(
    layers, states, lam_N, h, cfg: MGRITConfig, n_iter: int, mesh, activation: str = "tanh"
) -> MGRITResult:
    """:func:`mgrit_adjoint` with the intervals split over ``mesh`` (:func:`mgrit_intervals`)."""
    _check_layers(layers, lam_N.shape[-1])
    N = layers["W"].shape[0]
    if states.shape != (N + 1,) + lam_N.shape:
        raise ValueError(f"states have shape {states.shape}, expected {(N + 1,) + lam_N.shape}")
    s = _sigma_prime(jnp.asarray(states), layers, activation)
    data = (np.asarray(layers["W"][::-1]), np.asarray(s[::-1]))
    res = mgrit_intervals(AdjointStep(), data, h, lam_N, cfg, n_iter, mesh)
    return MGRITResult(res.states[::-1], res.residuals)


__all__ += [
    "mgrit_intervals",
    "lower_mgrit_intervals",
    "mgrit_forward_intervals",
    "mgrit_adjoint_intervals",
    "OPTIMIZERS",
]
