"""Random Bases Descent (Gressmann, Eaton-Rosen & Luschi, NeurIPS 2020) and its baselines.

Random Bases Descent (RBD, paper section 3) restricts each SGD step to a
random d-dimensional subspace that is re-drawn at every step::

    phi_1..phi_d ~ N(0, I_D) / sqrt(D)          (fresh every step, never stored)
    c_i  = <grad L(theta), phi_i>                (the d "coordinates")
    theta <- theta - eta * sum_i c_i phi_i

so ``E[sum_i c_i phi_i] = (d / D) grad L``: the step is an unbiased estimate
of the gradient scaled by d/D.  Fixed Projection Descent (FPD, Li et al.
2018) keeps one projection for the whole run, ``theta = theta0 + P z``, and
trains ``z``.  The NES baseline (Salimans et al. 2017) estimates the
descent direction from ranked losses of random perturbations instead of
gradients.

How the pieces are computed here
--------------------------------
* **Coefficients.**  ``c = P^T g`` is computed from one reverse-mode
  gradient ``g`` (a single backward pass, whatever d) followed by d dot
  products.  Forward mode (a ``jvp`` per direction) would cost d forward
  passes.  Differentiating ``L(theta + P c)`` at ``c = 0``, as the official
  code does, gives the same numbers by the chain rule but also spends an
  O(dD) pass building ``P 0``.  So: gradient first, then project.
* **Directions** are regenerated from a key ``fold_in(fold_in(key(seed), 0),
  step)`` inside the jitted step, in blocks of ``chunk`` directions
  (``lax.scan``), so memory is O(chunk * D), never O(d * D); one pass over the
  blocks gives both ``c`` and ``sum_i c_i phi_i``.  The direction set is a
  function of (key, d, compartment sizes, distribution, chunk).
* **Distributions** all satisfy ``E[phi phi^T] = I / D`` (D = all
  parameters): Gaussian ``N(0,1)/sqrt(D)`` (the paper's normalisation);
  Uniform ``U[-sqrt 3, sqrt 3]/sqrt(D)`` -- the paper's ``U[-1, 1]`` rescaled
  to unit variance, so the same learning rate means the same expected step
  (the paper's Uniform runs equal ours at a third of the learning rate);
  Bernoulli ``+-1/sqrt(D)`` with probability 1/2 each, truly zero-mean (the
  official "bernoulli-0.5" draws {+0.5, -1.5}, mean -0.5; it is available as
  ``"bernoulli-0.5"``, divided by sqrt(D), to reproduce the paper's Table 2,
  and is *not* an unbiased estimator: ``E[phi phi^T] = (I + 11^T / 4) / D``); ``"hadamard"``
  and ``"hadamard-coset"`` (below); ``"orthonormal"`` (Haar-random orthonormal columns scaled by
  ``sqrt(D_j / D)``; QR of a Gaussian block, small problems only -- used to
  check that FPD with d = D is SGD).
* **Structured directions** (beyond the paper): subsampled randomised
  Hadamard transforms (SRHT).  A compartment of D_j entries is zero-padded
  to n = 2^k = a * b and ``phi_i`` is row ``r2 * a + r1_i`` of ``H_n S``,
  cut to D_j entries and divided by sqrt(D), with ``H_n`` the +-1 Sylvester
  Hadamard matrix (``= H_b (x) H_a``) and S a diagonal of n random signs
  (drawn as n random *bits*, not d*D Gaussian numbers).  Rows
  ``r1_i = (beta + alpha i) mod a`` (alpha odd, beta uniform) are distinct
  and each uniform; ``r2`` is uniform on [0, b).  Every entry of phi_i is
  +-1/sqrt(D) and ``E_S[phi phi^T] = diag(h_r^2)/D = I/D`` for *any* fixed
  row r, so the update has exactly the Gaussian expectation (d/D) g, and
  the rows of one draw are orthogonal before the cut to D_j entries.

  - ``"hadamard"``: a = n, b = 1, the textbook SRHT.  ``c = (H S g)[r] /
    sqrt(D)`` and the update ``S H R^T c / sqrt(D)`` take one fast
    Walsh-Hadamard transform (:func:`fwht`) each, O(n log n).
  - ``"hadamard-coset"``: a = the power of two >= d_j, so all rows share
    the low part r2 and differ in r1 (a coset of rows).  With
    ``X = reshape(S g, (b, a))``, ``c = (H_a X^T h_b)[r1]`` and the update is
    ``S vec(h_b (H_a R^T c)^T)``: one pass over the D_j entries plus an FWHT
    of length a, O(D + d log d).  The padding falls on the shared factor
    h_b, so the cut directions stay nearly orthogonal (the textbook SRHT's
    cut rows need not be: rows whose XOR is n/2 overlap up to (n - D)/D).
    With d = a it is per-row Rademacher RBD on the (b, a) grid mixed by
    H_a; its expectation and expected squared norm equal the Gaussian
    update's, its covariance differs.  It exists because on XLA:CPU one
    length-2^17 FWHT (FC-MNIST) costs about two SGD steps of batch 32.

  Both work on the gradient's leaves in place (:func:`project_expand_tree`),
  without concatenating them into one vector.

  :func:`fwht` is written by hand (radix-4 butterflies of reshapes) because
  neither jax nor scipy has a fast transform (``scipy.linalg.hadamard``
  builds the dense matrix; the tests use it as the reference).
  The signs' and rows' random bits are jax.random's, drawn by an unrolled Threefry-2x32
  (:func:`split_bits`, ``core/threefry.py``), one kernel where jax's rolled loop on XLA:CPU
  cost about 5x as much.
* **Compartments** (paper section 4.4): the flat parameter vector is cut
  into compartments -- one per leaf of the parameter pytree (a layer's
  kernel or bias) or fixed-size chunks -- each with its own random subspace
  of d_j directions.  The budget d is split across compartments (``"split"``:
  d_j = d/K rounded, sum d_j = d) or given to each (``"each"``: d_j = d).
  Normalisation stays 1/sqrt(D) (as in the official code), so
  ``E[update_j] = (d_j / D) g_j``.
* **Distribution over devices** (paper section 4.3; the official Ray
  implementation): the direction set is split into G groups, group k uses
  key ``fold_in(step_key, k)`` and the k-th share of the minibatch.  Worker
  k computes only its d/G coefficients; these are all that cross devices
  (``lax.all_gather``), and every worker regenerates all groups' directions
  to apply the full update.  The single-device run with ``n_groups = G``
  computes the same groups serially, so both give the same parameters (to
  floating-point rounding of the order-preserving sums).  The official Ray
  scheme likewise has workers draw different directions on different data
  and exchange coefficients; it gives every worker d directions (total G*d),
  here the total is d (so the expected step does not grow with G).

SGD and FPD's coordinate updates use ``optax.sgd``; RBD's update ``sum_i c_i
phi_i`` is handed to ``optax.sgd`` as the gradient estimate.  The training
driver runs minibatch epochs (batch 32, the paper's augmentation written in
JAX), evaluates test accuracy per epoch and can switch from one method to
another at a chosen step; :func:`train` runs one seed with its own step,
:func:`train_seeds` several seeds side by side with the step vmapped over the
seed, through the same loop (``_drive``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from ..core import threefry
from ..core.errors import DivergenceError
from ..core.hadamard import fwht, next_pow2
from ..core.models import Model, accuracy, softmax_cross_entropy
from ..core.progress import progress_bar
from ..core.threefry import split_bits

__all__ = [
    "DISTRIBUTIONS",
    "UNBIASED",
    "Compartments",
    "Subspace",
    "subspace",
    "step_key",
    "stream_key",
    "STREAM_BASIS",
    "STREAM_AUGMENTATION",
    "STREAM_ORDER",
    "STREAM_INIT",
    "fwht",
    "project",
    "expand",
    "project_expand",
    "project_expand_tree",
    "expand_groups",
    "directions",
    "RBD",
    "SGD",
    "FPD",
    "NES",
    "build",
    "rbd_estimate",
    "distributed_rbd_estimate",
    "nes_estimate",
    "rank_fitness",
    "make_loss",
    "augment",
    "preprocess",
    "communication_bytes",
    "train",
    "train_seeds",
    "TrainResult",
    "evaluate",
    "time_step",
    "DivergenceError",
]

DISTRIBUTIONS: tuple[str, ...] = (
    "gaussian",
    "uniform",
    "bernoulli",
    "hadamard",
    "hadamard-coset",
    "orthonormal",
    "bernoulli-0.5",
)
#: distributions whose directions are zero-mean with E[phi phi^T] = I / D (all but the official biased Bernoulli)
UNBIASED: tuple[str, ...] = DISTRIBUTIONS[:-1]
_ORTHONORMAL_MAX = 2**24  # D_j * d_j above which a dense QR is refused
_STORED_BASIS_MAX = 2**28  # d * D above which FPD refuses to store its basis (1 GB of float32)


# ===================================================================== subspaces
@dataclass(frozen=True)
class Compartments:
    """How the parameter vector is cut into independently projected compartments.

    ``kind``: ``"none"`` (one subspace for all parameters, the paper's
    default), ``"leaf"`` (one per leaf of the parameter pytree, i.e. per
    layer kernel/bias) or ``"chunk"`` (consecutive pieces of ``size``
    entries of the flat vector).  ``budget``: ``"split"`` divides d among the
    K compartments, ``"each"`` gives every compartment d directions.
    """

    kind: str = "none"
    size: int = 0
    budget: str = "split"

    def __post_init__(self):
        if self.kind not in ("none", "leaf", "chunk"):
            raise ValueError(
                f"unknown compartment kind {self.kind!r}: choose 'none', 'leaf' or 'chunk'"
            )
        if self.budget not in ("split", "each"):
            raise ValueError(
                f"unknown compartment budget {self.budget!r}: choose 'split' or 'each'"
            )
        if self.kind == "chunk" and not (isinstance(self.size, int) and self.size >= 1):
            raise ValueError(f"chunk compartments need a positive integer size, got {self.size!r}")


@dataclass(frozen=True)
class Subspace:
    """Static description of a random direction set (hashable; safe as a jit static argument).

    Compartment j covers ``flat[offsets[j] : offsets[j] + sizes[j]]`` and
    has ``dims[j]`` directions; ``total`` is D, the normalisation.
    """

    distribution: str
    total: int
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    dims: tuple[int, ...]
    chunk: int

    @property
    def d(self) -> int:
        """Number of coefficients per draw (sum of the compartments' d_j)."""
        return sum(self.dims)

    @property
    def n_compartments(self) -> int:
        return len(self.sizes)


def _leaf_sizes(params) -> list[int]:
    return [int(np.prod(np.shape(leaf))) for leaf in jax.tree_util.tree_leaves(params)]


def subspace(
    params,
    d: int,
    distribution: str = "gaussian",
    compartments: Compartments = Compartments(),
    chunk: int = 50,
) -> Subspace:
    """The :class:`Subspace` of ``d`` directions for ``params`` (a pytree, or D as an int).

    Raises ``ValueError`` for d outside [1, D], an unknown distribution, a
    budget too small for the compartments, or an orthonormal basis too large
    to build densely.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"unknown direction distribution {distribution!r}: choose one of {', '.join(DISTRIBUTIONS)}"
        )
    if isinstance(params, (int, np.integer)):
        sizes_leaf = [int(params)]
    else:
        sizes_leaf = _leaf_sizes(params)
    total = sum(sizes_leaf)
    if total < 1:
        raise ValueError("the parameter vector is empty")
    if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
        raise ValueError(f"d must be an integer, got {d!r}")
    d = int(d)
    if d <= 0 or d > total:
        raise ValueError(
            f"d must be between 1 and D = {total} (the number of parameters), got d = {d}"
        )
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    sizes = _compartment_sizes(params, sizes_leaf, total, compartments)
    offsets = tuple(int(o) for o in np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    dims = _compartment_dims(d, len(sizes), compartments.budget)
    if distribution == "orthonormal":
        _check_orthonormal(sizes, dims)
    return Subspace(
        distribution, total, offsets, tuple(int(s) for s in sizes), tuple(dims), int(chunk)
    )


def _compartment_sizes(params, sizes_leaf, total, compartments) -> list[int]:
    """The sizes of the compartments the flat parameter vector is cut into, in order."""
    if compartments.kind == "none":
        return [total]
    if compartments.kind == "leaf":
        if isinstance(params, (int, np.integer)):
            raise ValueError("leaf compartments need the parameter pytree, not just D")
        return [s for s in sizes_leaf if s > 0]
    sizes = [compartments.size] * (total // compartments.size)
    if total % compartments.size:
        sizes.append(total % compartments.size)
    return sizes


def _compartment_dims(d, k, budget) -> list[int]:
    """The directions d_j of each of ``k`` compartments: d each, or d split as evenly as possible."""
    if budget == "each" or k == 1:
        return [d] * k
    if d < k:
        raise ValueError(
            f"d = {d} directions cannot be split across {k} compartments; "
            "use a larger d, fewer compartments or budget='each'"
        )
    return [d // k + (1 if j < d % k else 0) for j in range(k)]


def _check_orthonormal(sizes, dims):
    """Refuse orthonormal bases that do not fit their compartment or are too large to build densely."""
    for s, m in zip(sizes, dims):
        if m > s:
            raise ValueError(
                f"an orthonormal basis of {m} vectors does not fit a compartment of size {s}"
            )
        if s * m > _ORTHONORMAL_MAX:
            raise ValueError(
                f"an orthonormal basis of {m} x {s} is too large to build densely; "
                "use 'gaussian' or 'hadamard' directions"
            )


def step_key(seed, step):
    """The key of step ``step`` of the run with ``seed``: ``fold_in(fold_in(key(seed), 0), step)``."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 0), step)


#: the independent key streams of one run (:func:`stream_key`); the steps' directions use stream 0
#: through :func:`step_key`
STREAM_BASIS = 1  # FPD's fixed basis P
STREAM_AUGMENTATION = 2  # training-time augmentation
STREAM_ORDER = 3  # the order of the examples in each epoch
STREAM_INIT = 4  # the initial network theta_0


def stream_key(seed, stream: int):
    """The key of stream ``stream`` (``STREAM_*``) of the run with ``seed``: ``fold_in(key(seed), stream)``."""
    return jax.random.fold_in(jax.random.key(seed), stream)


# ===================================================================== primitives
def _signs(key, shape, dtype):
    """+-1 with probability 1/2 each, from 32 random bits per uint32 word (32x fewer random numbers)."""
    n = shape[-1]
    # jax's draw, not threefry.bits: each word feeds 32 signs, and XLA:CPU fuses the unrolled hash
    # into every one of them (a 4-seed projection and expansion at d = 250: 130 ms with jax's
    # draw, 250 ms unrolled; measured)
    words = jax.random.bits(key, tuple(shape[:-1]) + (-(-n // 32),), jnp.uint32)
    bits = (words[..., None] >> jnp.arange(32, dtype=jnp.uint32)) & jnp.uint32(1)
    bits = bits.reshape(tuple(shape[:-1]) + (-1,))[..., :n]
    return (1 - 2 * bits.astype(jnp.int32)).astype(dtype)


def _dense_block(distribution, key, rows, size, scale, dtype):
    """``rows`` directions of length ``size`` (a block of the direction set), times ``scale``.

    The Gaussian and uniform draws are jax.random's with the Threefry hash unrolled
    (``core/threefry.py``): the same numbers, bit for bit; on FC-MNIST at d = 250 a step of 4 seeds
    vmapped took 1.06 s -> 0.25 s for the Gaussian and 1.02 s -> 0.12 s for the uniform (idle).
    """
    if distribution == "gaussian":
        block = threefry.normal(key, (rows, size), dtype)
    elif distribution == "uniform":
        r = math.sqrt(3.0)  # U[-sqrt3, sqrt3] has unit variance
        block = threefry.uniform(key, (rows, size), dtype, -r, r)
    elif distribution == "bernoulli":
        block = _signs(key, (rows, size), dtype)
    else:  # "bernoulli-0.5", the official code's: {+0.5, -1.5}, mean -0.5, variance 1
        block = _signs(key, (rows, size), dtype) - jnp.asarray(0.5, dtype)
    return block * jnp.asarray(scale, dtype)


def _hadamard_shape(size: int, m: int, coset: bool) -> tuple[int, int]:
    """``(a, b)`` with ``a * b = n`` = padded compartment size; rows of H_n are ``r2 * a + r1``, r1 < a."""
    n = next_pow2(size)
    a = min(n, next_pow2(m)) if coset else n
    return a, n // a


def _hadamard_parts(key, size, m, dtype, coset):
    """Signs (n,), row parts ``r1`` (m,) and the +-1 Hadamard row ``h_b[r2]`` (b,) of an SRHT draw.

    Rows ``r1_i = (beta + alpha i) mod a`` with alpha odd, beta uniform: distinct
    for i < a and each uniform on [0, a).  ``r2`` is uniform on [0, b).  The random
    bits are those of ``k_sign, k_row = jax.random.split(key)``,
    ``jax.random.bits(k_sign, (ceil(n / 32),))`` and ``jax.random.bits(k_row, (3,))``,
    computed by :func:`split_bits` (``core/threefry.py``: the same numbers, without jax's rolled
    loops on CPU).
    """
    words, r1, parity = _hadamard_bits(key, size, m, coset)
    a, b = _hadamard_shape(size, m, coset)
    signs = _signs_of_words(words, a * b, dtype)
    h_b = (1 - 2 * parity.astype(jnp.int32)).astype(dtype)  # row r2 of H_b: (-1)^popcount(r2 & l)
    return signs, r1, h_b


def _hadamard_bits(key, size, m, coset):
    """The sign words (ceil(n / 32),), ``r1`` (m,) and the parity bits of ``h_b[r2]`` (b,) (uint32)."""
    a, b = _hadamard_shape(size, m, coset)
    words, bits = split_bits(key, -(-(a * b) // 32), 3)
    alpha = bits[0] * jnp.uint32(2) + jnp.uint32(1)  # odd, so i -> alpha i mod a is a bijection
    # uint32 arithmetic wraps mod 2^32, a multiple of a, so the result is exact mod a
    r1 = ((bits[1] + alpha * jnp.arange(m, dtype=jnp.uint32)) % jnp.uint32(a)).astype(jnp.int32)
    r2 = bits[2] % jnp.uint32(b)
    parity = jax.lax.population_count(r2 & jnp.arange(b, dtype=jnp.uint32)) & jnp.uint32(1)
    return words, r1, parity


_UINT_OF_WIDTH = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}


def _sign_mask(words, parity, a, b, dtype):
    """The sign bits of ``S (h_b (x) 1_a)`` as a (b, a) mask of ``dtype``'s sign bit (unsigned ints).

    Entry (r, l) has the sign bit set where ``signs[r * a + l] * h_b[r] = -1``; xor-ing it into a
    float's bits multiplies the float by that +-1 exactly (see :func:`_flip`).
    """
    width = jnp.dtype(dtype).itemsize
    if width not in _UINT_OF_WIDTH:
        raise ValueError(f"structured directions need a float of 2, 4 or 8 bytes, got {dtype}")
    bits = (words[:, None] >> jnp.arange(32, dtype=jnp.uint32)) & jnp.uint32(1)
    neg = bits.reshape(-1)[: a * b].reshape(b, a) ^ parity[:, None]
    uint = _UINT_OF_WIDTH[width]
    return neg.astype(uint) << uint(8 * width - 1)


def _flip(x, mask):
    """``x * (-1)^sign(mask)``: the sign bit of ``mask`` xor-ed into x's (exact, one integer op)."""
    uint = mask.dtype
    return jax.lax.bitcast_convert_type(jax.lax.bitcast_convert_type(x, uint) ^ mask, x.dtype)


def _signs_of_words(words, n, dtype):
    """+-1 from the bits of uint32 ``words``, least significant bit first (as :func:`_signs`)."""
    bits = (words[:, None] >> jnp.arange(32, dtype=jnp.uint32)) & jnp.uint32(1)
    return (1 - 2 * bits.reshape(-1)[:n].astype(jnp.int32)).astype(dtype)


def _orthonormal(key, size, m, scale, dtype):
    q, r = jnp.linalg.qr(jax.random.normal(key, (size, m), dtype))
    return q * jnp.sign(jnp.diagonal(r)) * jnp.asarray(scale, dtype)  # Haar-distributed columns


def _blocks(sub: Subspace, j: int):
    m = min(sub.chunk, sub.dims[j])
    return m, -(-sub.dims[j] // m)


def _compartment(sub, j, key, g=None, c=None, want_u=True):
    """Coefficients ``c = Phi_j g`` and/or update ``u = Phi_j^T c`` of compartment j (key already folded)."""
    size, dj = sub.sizes[j], sub.dims[j]
    dtype = (g if g is not None else c).dtype
    inv = 1.0 / math.sqrt(sub.total)
    dist = sub.distribution
    if dist in _HADAMARD:
        c, us = _hadamard_compartment(
            sub, j, key, [(0, size)], None if g is None else [g], c, want_u
        )
        return c, (us[0] if want_u else None)
    if dist == "orthonormal":
        q = _orthonormal(key, size, dj, math.sqrt(size / sub.total), dtype)
        if g is not None:
            c = q.T @ g
        return c, (q @ c if want_u else None)
    # dense distributions: scan over blocks of m directions, O(m * size) memory
    m, nb = _blocks(sub, j)
    ids = jnp.arange(nb)
    if g is not None:

        def body(acc, k):
            p = _dense_block(dist, jax.random.fold_in(key, k), m, size, inv, dtype)
            ck = p @ g
            if want_u:
                ck = jnp.where(k * m + jnp.arange(m) < dj, ck, 0)  # padded directions do not count
                acc = acc + ck @ p
            return acc, ck

        u, cs = jax.lax.scan(body, jnp.zeros((size,) if want_u else (), dtype), ids)
        return cs.reshape(-1)[:dj], (u if want_u else None)
    cpad = jnp.zeros((nb * m,), dtype).at[:dj].set(c).reshape(nb, m)

    def body(acc, kc):
        k, ck = kc
        return acc + ck @ _dense_block(dist, jax.random.fold_in(key, k), m, size, inv, dtype), None

    u, _ = jax.lax.scan(body, jnp.zeros((size,), dtype), (ids, cpad))
    return c, u


_HADAMARD = ("hadamard", "hadamard-coset")


def _hadamard_compartment(sub, j, key, layout, pieces=None, c=None, want_u=True):
    """SRHT coefficients/update of compartment j given in pieces: ``layout[p] = (position, length)``.

    phi_i = row ``r2 * a + r1_i`` of ``H_n S = (H_b (x) H_a) S``; with the
    compartment laid out as X = reshape(S g, (b, a)), ``c = (H_a X^T h_b)[r1]``
    and ``sum_i c_i phi_i = S vec(h_b (H_a R^T c)^T)`` (b = 1: the plain
    SRHT).  The zero padding sits in X's last row(s), so every direction
    keeps (nearly) the same support in each H_a coordinate and the cut
    directions stay nearly orthogonal.  Pieces (e.g. the leaves of a
    gradient pytree) are placed in their rows of X without concatenating
    them; the update comes back in the same pieces.
    """
    size, dj = sub.sizes[j], sub.dims[j]
    dtype = (pieces[0] if pieces is not None else c).dtype
    inv = 1.0 / math.sqrt(sub.total)
    coset = sub.distribution == "hadamard-coset"
    words, r1, parity = _hadamard_bits(key, size, dj, coset)
    a, b = _hadamard_shape(size, dj, coset)
    # the +-1 factors S (h_b (x) 1_a) applied as sign flips: multiplying by +-1 is exact, so
    # flipping the sign bit gives the same floats with one integer op and no float signs in memory
    mask = _sign_mask(words, parity, a, b, dtype)

    def rows(pos, length):
        first, lead = divmod(pos, a)
        n_rows = -(-(lead + length) // a)
        return first, lead, n_rows

    if pieces is not None:
        v = jnp.zeros((a,), dtype)
        for (pos, length), vec in zip(layout, pieces):
            first, lead, n_rows = rows(pos, length)
            block = jnp.pad(vec, (lead, n_rows * a - lead - length)).reshape(n_rows, a)
            v = v + jnp.sum(
                _flip(block, mask[first : first + n_rows]), axis=0
            )  # a sum, not a dot: one fused pass
        c = fwht(v)[r1] * inv
    if not want_u:
        return c, None
    w = fwht(jnp.zeros((a,), dtype).at[r1].add(c)) * inv
    out = []
    for pos, length in layout:
        first, lead, n_rows = rows(pos, length)
        u = _flip(jnp.broadcast_to(w, (n_rows, a)), mask[first : first + n_rows])
        out.append(u.reshape(-1)[lead : lead + length])
    return c, out


def _split_coefficients(sub, c):
    out, i = [], 0
    for dj in sub.dims:
        out.append(c[i : i + dj])
        i += dj
    return out


@partial(jax.jit, static_argnums=0)
def project(sub: Subspace, key, g):
    """Coefficients ``c_i = <g, phi_i>`` of the flat vector ``g`` (shape (d,), compartments concatenated)."""
    return jnp.concatenate(
        [
            _compartment(sub, j, jax.random.fold_in(key, j), g=g[o : o + s], want_u=False)[0]
            for j, (o, s) in enumerate(zip(sub.offsets, sub.sizes))
        ]
    )


@partial(jax.jit, static_argnums=0)
def expand(sub: Subspace, key, c):
    """``sum_i c_i phi_i``, the flat vector with coefficients ``c`` in the directions of ``key``."""
    cs = _split_coefficients(sub, c)
    return jnp.concatenate(
        [
            _compartment(sub, j, jax.random.fold_in(key, j), c=cs[j])[1]
            for j in range(sub.n_compartments)
        ]
    )


@partial(jax.jit, static_argnums=0)
def project_expand(sub: Subspace, key, g):
    """``(c, sum_i c_i phi_i)`` with ``c = Phi g``, generating every direction block once."""
    cs, us = [], []
    for j, (o, s) in enumerate(zip(sub.offsets, sub.sizes)):
        c, u = _compartment(sub, j, jax.random.fold_in(key, j), g=g[o : o + s])
        cs.append(c)
        us.append(u)
    return jnp.concatenate(cs), jnp.concatenate(us)


def project_expand_tree(sub: Subspace, key, g_tree):
    """:func:`project_expand` for a pytree ``g_tree`` (``sub`` indexes its ``ravel_pytree`` vector).

    Returns ``(c, update_tree)``.  Hadamard directions work on the leaves in
    place (no concatenated copy of the gradient and no slicing of the
    update: half the step time of the flat route for FC-MNIST, measured);
    other distributions ravel and unravel.
    """
    if sub.distribution not in _HADAMARD:
        flat, unravel = ravel_pytree(g_tree)
        c, u = project_expand(sub, key, flat)
        return c, unravel(u)
    return _structured_tree(sub, key, g_tree, _hadamard_compartment)


def _structured_tree(sub: Subspace, key, g_tree, compartment):
    """:func:`project_expand_tree`'s structured route: each compartment's pieces of the leaves go
    to ``compartment`` (:func:`_hadamard_compartment`'s signature) and its update comes back in
    the same pieces, leaf by leaf."""
    leaves, treedef = jax.tree.flatten(g_tree)
    starts = np.concatenate([[0], np.cumsum([leaf.size for leaf in leaves])]).tolist()
    parts: list[list] = [[] for _ in leaves]
    cs = []
    for j, (o, s) in enumerate(zip(sub.offsets, sub.sizes)):
        layout, pieces, owners = [], [], []
        for li, leaf in enumerate(leaves):
            lo, hi = max(o, starts[li]), min(o + s, starts[li + 1])
            if lo < hi:
                layout.append((lo - o, hi - lo))
                pieces.append(leaf.reshape(-1)[lo - starts[li] : hi - starts[li]])
                owners.append(li)
        c, us = compartment(sub, j, jax.random.fold_in(key, j), layout, pieces)
        cs.append(c)
        for li, u in zip(owners, us):
            parts[li].append(u)
    update = [
        (p[0] if len(p) == 1 else jnp.concatenate(p)).reshape(leaf.shape)
        for p, leaf in zip(parts, leaves)
    ]
    return jnp.concatenate(cs), jax.tree.unflatten(treedef, update)


@partial(jax.jit, static_argnums=(0, 2))
def directions(sub: Subspace, key, dtype=jnp.float32):
    """The direction set as a dense (d, D) matrix, row i = phi_i (FPD's stored basis, tests, small problems).

    Dense distributions concatenate the same blocks :func:`project` and
    :func:`expand` generate (d * D random numbers once); structured ones
    expand the unit coefficient vectors.
    """
    if sub.distribution in _HADAMARD:
        return jax.vmap(lambda e: expand(sub, key, e))(jnp.eye(sub.d, dtype=dtype))
    rows = []
    inv = 1.0 / math.sqrt(sub.total)
    for j, (o, size, dj) in enumerate(zip(sub.offsets, sub.sizes, sub.dims)):
        kj = jax.random.fold_in(key, j)
        if sub.distribution == "orthonormal":
            block = _orthonormal(kj, size, dj, math.sqrt(size / sub.total), dtype).T
        else:
            m, nb = _blocks(sub, j)
            block = jnp.concatenate(
                [
                    _dense_block(sub.distribution, jax.random.fold_in(kj, k), m, size, inv, dtype)
                    for k in range(nb)
                ]
            )[:dj]
        rows.append(jnp.pad(block, ((0, 0), (o, sub.total - o - size))))
    return jnp.concatenate(rows)


# ===================================================================== estimators
def make_loss(apply_fn: Callable, loss_fn: Callable = softmax_cross_entropy):
    """``loss(params, x, y) -> (loss, accuracy)`` of a model (mean softmax cross-entropy by default).

    Parameters stay a pytree in the training loops: slicing a loop-carried
    flat vector back into layers makes XLA's CPU backend fall back to a slow
    matmul inside ``lax.fori_loop`` (a 100x slower SGD step, measured), so
    only gradients and updates are flattened.
    """

    def loss(params, x, y):
        logits = apply_fn(params, x)
        return loss_fn(logits, y), accuracy(logits, y)

    return loss


def _cosine(a, b):
    """Cosine between two pytrees (or arrays)."""
    dot = sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    na = jnp.sqrt(sum(jnp.vdot(x, x) for x in jax.tree.leaves(a)))
    nb = jnp.sqrt(sum(jnp.vdot(y, y) for y in jax.tree.leaves(b)))
    return dot / (na * nb + jnp.finfo(dot.dtype).tiny)


def _group_batches(x, y, n_groups, split_batch):
    if not split_batch:
        rep = lambda a: jnp.broadcast_to(a, (n_groups,) + a.shape)  # noqa: E731
        return rep(x), rep(y)
    if x.shape[0] % n_groups:
        raise ValueError(f"a batch of {x.shape[0]} cannot be split evenly over {n_groups} groups")
    return (x.reshape((n_groups, -1) + x.shape[1:]), y.reshape((n_groups, -1) + y.shape[1:]))


def expand_groups(sub, key, coefficients):
    """RBD's update from G groups of coefficients: ``sum_k expand(sub, fold_in(key, k), C[k])`` in
    the order k = 0, 1, ... (shared by both RBD paths)."""

    def body(acc, kc):
        k, c = kc
        return acc + expand(sub, jax.random.fold_in(key, k), c), None

    ks = jnp.arange(coefficients.shape[0])
    u, _ = jax.lax.scan(body, jnp.zeros((sub.total,), coefficients.dtype), (ks, coefficients))
    return u


def rbd_estimate(
    params, x, y, t, *, loss, sub: Subspace, seed: int, n_groups: int = 1, split_batch: bool = True
):
    """RBD's gradient estimate ``sum_i c_i phi_i`` at step ``t`` (paper eq. for the RBD update).

    With ``n_groups = G`` the d = G * ``sub.d`` directions come in G groups;
    group k has key ``fold_in(step_key(seed, t), k)`` and (``split_batch``)
    the k-th share of the batch -- the serial twin of
    :func:`distributed_rbd_estimate`.  Returns ``(estimate, metrics)`` with
    the minibatch loss/accuracy before the step, the cosine between the
    estimate and the minibatch gradient, and the coefficients (G, sub.d).
    ``params`` and the estimate are pytrees; ``sub`` indexes their
    ``ravel_pytree`` vector.
    """
    key = step_key(seed, t)
    grad_fn = jax.value_and_grad(loss, has_aux=True)
    if n_groups == 1:
        (val, acc), g = grad_fn(params, x, y)
        c, u = project_expand_tree(sub, jax.random.fold_in(key, 0), g)
        return u, {"loss": val, "acc": acc, "cos": _cosine(u, g), "coefficients": c[None]}
    xs, ys = _group_batches(x, y, n_groups, split_batch)
    (vals, accs), g_trees = jax.vmap(grad_fn, in_axes=(None, 0, 0))(params, xs, ys)
    gs = jax.vmap(lambda tr: ravel_pytree(tr)[0])(g_trees)
    unravel = ravel_pytree(params)[1]
    cs = jax.lax.map(
        lambda kg: project(sub, jax.random.fold_in(key, kg[0]), kg[1]), (jnp.arange(n_groups), gs)
    )
    u = expand_groups(sub, key, cs)
    return unravel(u), {
        "loss": vals.mean(),
        "acc": accs.mean(),
        "cos": _cosine(u, gs.mean(0)),
        "coefficients": cs,
    }


def distributed_rbd_estimate(
    params,
    x,
    y,
    t,
    *,
    loss,
    sub: Subspace,
    seed: int,
    mesh,
    axis: str = "workers",
    split_batch: bool = True,
):
    """RBD over the devices of ``mesh[axis]``: only the coefficients travel.

    Worker k draws group k's ``sub.d`` directions from ``fold_in(step_key,
    k)``, computes their coefficients on its share of the batch, all-gathers
    the G x sub.d coefficients and regenerates every group's directions to
    form the same update on every device.  Equals :func:`rbd_estimate` with
    ``n_groups = G``.  Returns ``(estimate, metrics)``; the cosine is not
    available without communicating the full gradient and is NaN.
    """
    from jax.sharding import PartitionSpec as P

    n_groups = mesh.shape[axis]
    if split_batch and x.shape[0] % n_groups:
        raise ValueError(f"a batch of {x.shape[0]} cannot be split evenly over {n_groups} devices")
    grad_fn = jax.value_and_grad(loss, has_aux=True)

    def local(params, x, y, t):
        key = step_key(seed, t)
        (val, acc), g_tree = grad_fn(params, x, y)
        g, unravel = ravel_pytree(g_tree)
        c = project(sub, jax.random.fold_in(key, jax.lax.axis_index(axis)), g)
        cs = jax.lax.all_gather(c, axis)  # the only data exchanged: G * sub.d numbers
        u = expand_groups(sub, key, cs)
        return unravel(u), jax.lax.pmean(val, axis), jax.lax.pmean(acc, axis), cs

    data_spec = P(axis) if split_batch else P()
    if (
        split_batch
        and mesh.axis_types[mesh.axis_names.index(axis)] == jax.sharding.AxisType.Explicit
    ):
        # jax.make_mesh's default (explicit) axes need the batch laid out as shard_map expects
        x, y = (
            jax.sharding.reshard(a, jax.sharding.NamedSharding(mesh, data_spec)) for a in (x, y)
        )
    u, val, acc, cs = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P(), data_spec, data_spec, P()),
        out_specs=(P(), P(), P(), P()),
        check_vma=False,
    )(params, x, y, jnp.asarray(t))
    return u, {"loss": val, "acc": acc, "cos": jnp.asarray(jnp.nan, cs.dtype), "coefficients": cs}


def rank_fitness(losses):
    """Centred ranks in [-0.5, 0.5]: the lowest loss gets +0.5, the highest -0.5 (official NES transform)."""
    n = losses.shape[0]
    ranks = jnp.argsort(jnp.argsort(-losses))  # 0 = highest loss
    return ranks / max(n - 1, 1) - 0.5


def _nes_members(population, antithetic, chunk, dtype):
    """Noise ids, signs and member indices of an NES population in ``(blocks, chunk)`` arrays.

    Antithetic pairs share a noise id with signs +1, -1; the last block is
    zero-padded (its padded members are dropped by the callers).
    """
    idx = jnp.arange(population)
    noise_id = idx // 2 if antithetic else idx
    sign = jnp.where(idx % 2 == 1, -1.0, 1.0) if antithetic else jnp.ones((population,))
    sign = sign.astype(dtype)
    m = min(chunk, population)
    nb = -(-population // m)
    pad = nb * m - population
    ids = jnp.pad(noise_id, (0, pad)).reshape(nb, m)
    sg = jnp.pad(sign, (0, pad)).reshape(nb, m)
    member = jnp.pad(idx, (0, pad)).reshape(nb, m)
    return ids, sg, member


def nes_estimate(
    params,
    x,
    y,
    t,
    *,
    loss,
    population: int,
    sigma: float,
    seed: int,
    antithetic: bool = False,
    chunk: int = 25,
    per_member: bool = False,
):
    """NES gradient estimate ``-1/(n sigma) sum_i F_i eps_i`` (Salimans et al. 2017, rank-shaped).

    Member i evaluates ``L(theta + sigma eps_i)``, eps_i ~ N(0, I_D) from
    ``fold_in(step_key, i)`` (antithetic: pairs +-eps); F are
    :func:`rank_fitness` values, so ``theta - lr * estimate`` moves toward the
    better perturbations.  ``per_member``: ``x`` holds one batch per member
    (shape (population, B, ...)), as in the official NES, else all members
    share the batch.
    """
    key = step_key(seed, t)
    flat, unravel = ravel_pytree(params)
    dim = flat.shape[0]
    ids, sg, member = _nes_members(population, antithetic, chunk, flat.dtype)
    nb, m = ids.shape
    pad = nb * m - population
    # jax.random.normal's numbers with the hash unrolled (core/threefry.py: the same floats, faster)
    eps_of = jax.vmap(lambda i: threefry.normal(jax.random.fold_in(key, i), (dim,), flat.dtype))

    def member_losses(block):
        i, s, mem = block
        eps = eps_of(i) * s[:, None]
        if per_member:
            return jax.vmap(lambda e, k: loss(unravel(flat + sigma * e), x[k], y[k])[0])(eps, mem)
        return jax.vmap(lambda e: loss(unravel(flat + sigma * e), x, y)[0])(eps)

    losses = jax.lax.map(member_losses, (ids, sg, member)).reshape(-1)[:population]
    fit = jnp.pad(rank_fitness(losses), (0, pad)).reshape(nb, m).astype(flat.dtype)

    def body(acc, block):
        i, s, f = block
        return acc + (f * s) @ eps_of(i), None

    est, _ = jax.lax.scan(body, jnp.zeros((dim,), flat.dtype), (ids, sg, fit))
    est = -est / (population * sigma)
    x0, y0 = (x[0], y[0]) if per_member else (x, y)
    val, acc = loss(params, x0, y0)
    metrics = {
        "loss": val,
        "acc": acc,
        "cos": jnp.asarray(jnp.nan, flat.dtype),
        "member_loss": losses.mean(),
    }
    return unravel(est), metrics


# ===================================================================== methods
# A method is a frozen dataclass of its hyperparameters that owns its behaviour:
#   name                      label of the run (property)
#   check()                   raises ValueError for bad hyperparameters
#   build(loss, params, seed, mesh=None) -> (init, step), see the module's build below
#   switchable                (optional, default False) whether train may switch from or to it
#   batches_per_step          (optional, default 1) minibatches one step consumes, stacked on a
#                             leading axis when more than one
# A new estimator is one more such class; nothing else dispatches on the method's type.
def _check_lr(method):
    """The check every method shares: a positive, finite learning rate."""
    if not (isinstance(method.lr, (int, float)) and math.isfinite(method.lr) and method.lr > 0):
        raise ValueError(f"{method.name}: learning rate must be positive, got {method.lr!r}")


def _refuse_mesh(method, mesh):
    """The ``build`` of a method that runs on one device only: no ``mesh``."""
    if mesh is not None:
        raise ValueError(f"only RBD runs on a device mesh, not {method.name}")


def _nan(params):
    """NaN in the parameters' dtype (the cosine of methods that do not measure it)."""
    return jnp.asarray(jnp.nan, ravel_pytree(params)[0].dtype)


def _sgd_on(opt, estimate_fn):
    """A step that hands ``estimate_fn``'s gradient estimate to the optax optimiser ``opt``."""

    def step(p, aux, x, y, t):
        est, m = estimate_fn(p, x, y, t)
        upd, aux = opt.update(est, aux, p)
        return (
            optax.apply_updates(p, upd),
            aux,
            {"loss": m["loss"], "acc": m["acc"], "cos": m["cos"]},
        )

    return step


@dataclass(frozen=True)
class SGD:
    """Plain minibatch SGD (``optax.sgd``, constant learning rate, no momentum)."""

    lr: float = 0.125

    switchable = True
    batches_per_step = 1

    @property
    def name(self) -> str:
        return "SGD"

    def check(self):
        _check_lr(self)

    def build(self, loss, params, seed, mesh=None):
        _refuse_mesh(self, mesh)
        opt = optax.sgd(self.lr)
        nan = _nan(params)

        def gradient(p, x, y, t):
            (val, acc), g = jax.value_and_grad(loss, has_aux=True)(p, x, y)
            return g, {"loss": val, "acc": acc, "cos": nan}

        return opt.init, _sgd_on(opt, gradient)


@dataclass(frozen=True)
class RBD:
    """Random Bases Descent: d fresh random directions per step (``n_groups`` > 1: grouped as on G workers)."""

    lr: float = 1.0
    d: int = 250
    distribution: str = "gaussian"
    compartments: Compartments = Compartments()
    chunk: int = 50
    n_groups: int = 1
    split_batch: bool = True

    switchable = True
    batches_per_step = 1

    @property
    def name(self) -> str:
        return "RBD" if self.distribution == "gaussian" else f"RBD-{self.distribution}"

    def check(self):
        _check_lr(self)
        if self.n_groups < 1 or self.d % self.n_groups:
            raise ValueError(f"RBD: d = {self.d} must be a multiple of n_groups = {self.n_groups}")

    def build(self, loss, params, seed, mesh=None):
        """``mesh``: run the groups on the devices of ``mesh["workers"]`` (one group each)."""
        opt = optax.sgd(self.lr)
        sub = subspace(
            params, self.d // self.n_groups, self.distribution, self.compartments, self.chunk
        )
        if mesh is None:
            estimate = partial(
                rbd_estimate,
                loss=loss,
                sub=sub,
                seed=seed,
                n_groups=self.n_groups,
                split_batch=self.split_batch,
            )
            return opt.init, _sgd_on(opt, estimate)
        if mesh.shape.get("workers") != self.n_groups:
            raise ValueError(
                f"RBD on a mesh needs n_groups = the number of devices on its 'workers' axis; "
                f"got n_groups = {self.n_groups} and mesh {dict(mesh.shape)}"
            )
        estimate = partial(
            distributed_rbd_estimate,
            loss=loss,
            sub=sub,
            seed=seed,
            mesh=mesh,
            split_batch=self.split_batch,
        )
        return opt.init, _sgd_on(opt, estimate)


@dataclass(frozen=True)
class FPD:
    """Fixed Projection Descent: ``theta = theta0 + P z``, P fixed for the run, z from 0 by SGD.

    ``store_basis``: build the (d, D) matrix P once and keep it (d * D floats,
    e.g. 100 MB for FC-MNIST at d = 250) instead of regenerating its d * D
    random numbers twice per step -- the same numbers, about 50x faster for
    Gaussian directions on a CPU.
    """

    lr: float = 1.0
    d: int = 250
    distribution: str = "gaussian"
    compartments: Compartments = Compartments()
    chunk: int = 50
    store_basis: bool = False

    switchable = False  # its parameters are theta0 + P z: another method's steps would be lost
    batches_per_step = 1

    @property
    def name(self) -> str:
        return "FPD"

    def check(self):
        _check_lr(self)

    def build(self, loss, params, seed, mesh=None):
        _refuse_mesh(self, mesh)
        sub = subspace(params, self.d, self.distribution, self.compartments, self.chunk)
        # FPD's one basis for the whole run, regenerated at every use
        key = stream_key(seed, STREAM_BASIS)
        if not self.store_basis:
            return self._build_regenerated(loss, params, sub, key)
        if sub.d * sub.total > _STORED_BASIS_MAX:
            raise ValueError(
                f"FPD: a stored basis of {sub.d} x {sub.total} floats is too large; "
                "use store_basis=False (regenerate) or structured directions"
            )
        return self._build_stored(loss, params, sub, key)

    def _build_stored(self, loss, params, sub, key):
        """Steps with the basis P built by ``init`` and carried in the state."""
        flat0, unravel = ravel_pytree(params)
        opt = optax.sgd(self.lr)
        nan = jnp.asarray(jnp.nan, flat0.dtype)

        def init(p):
            z = jnp.zeros((sub.d,), flat0.dtype)
            return p, z, opt.init(z), directions(sub, key, flat0.dtype)

        def step(p, aux, x, y, t):
            theta0, z, st, basis = aux
            (val, acc), g = jax.value_and_grad(loss, has_aux=True)(p, x, y)
            upd, st = opt.update(basis @ ravel_pytree(g)[0], st, z)
            z = optax.apply_updates(z, upd)
            p = jax.tree.map(jnp.add, theta0, unravel(z @ basis))
            return p, (theta0, z, st, basis), {"loss": val, "acc": acc, "cos": nan}

        return init, step

    def _build_regenerated(self, loss, params, sub, key):
        """Steps that regenerate P's directions from ``key`` for each projection and expansion."""
        flat0, unravel = ravel_pytree(params)
        opt = optax.sgd(self.lr)
        nan = jnp.asarray(jnp.nan, flat0.dtype)

        def init(p):
            z = jnp.zeros((sub.d,), flat0.dtype)  # coefficients start at zero: theta = theta0
            return p, z, opt.init(z)

        def step(p, aux, x, y, t):
            theta0, z, st = aux
            (val, acc), g = jax.value_and_grad(loss, has_aux=True)(p, x, y)
            g_z = project(sub, key, ravel_pytree(g)[0])  # chain rule: dL/dz = P^T g
            upd, st = opt.update(g_z, st, z)
            z = optax.apply_updates(z, upd)
            p = jax.tree.map(jnp.add, theta0, unravel(expand(sub, key, z)))
            return p, (theta0, z, st), {"loss": val, "acc": acc, "cos": nan}

        return init, step


@dataclass(frozen=True)
class NES:
    """NES baseline: population = d = 250, sigma = 0.01, rank fitness; not antithetic (as the official code)."""

    lr: float = 0.005
    population: int = 250
    sigma: float = 0.01
    antithetic: bool = False
    chunk: int = 25
    per_member: bool = False

    switchable = False

    @property
    def name(self) -> str:
        return "NES"

    @property
    def batches_per_step(self) -> int:
        """``population`` batches with ``per_member`` (one per member), else one."""
        return self.population if self.per_member else 1

    def check(self):
        _check_lr(self)
        if self.population < 2 or (self.antithetic and self.population % 2):
            raise ValueError(
                f"NES: population must be >= 2 (and even when antithetic), got {self.population}"
            )
        if not self.sigma > 0:
            raise ValueError(f"NES: sigma must be positive, got {self.sigma}")

    def build(self, loss, params, seed, mesh=None):
        _refuse_mesh(self, mesh)
        opt = optax.sgd(self.lr)
        estimate = partial(
            nes_estimate,
            loss=loss,
            population=self.population,
            sigma=self.sigma,
            seed=seed,
            antithetic=self.antithetic,
            chunk=self.chunk,
            per_member=self.per_member,
        )
        return opt.init, _sgd_on(opt, estimate)


def _check_method(method):
    """Reject what is not a method (no ``check``/``build``), then run the method's own checks."""
    if not (callable(getattr(method, "check", None)) and callable(getattr(method, "build", None))):
        raise ValueError(f"unknown method {method!r}: use SGD, RBD, FPD or NES")
    method.check()


def build(method, loss, params, seed, mesh=None):
    """``method``'s checked ``(init(params) -> aux, step(params, aux, x, y, t) -> (params, aux,
    metrics))``, for a training loop of one's own (as :func:`train` and :func:`time_step` run).

    ``params`` (the pytree) sizes the subspaces; leaf compartments need it.
    ``mesh``: run RBD's groups on the devices of ``mesh["workers"]``
    (:func:`distributed_rbd_estimate`); needs ``n_groups`` = the number of devices.
    """
    _check_method(method)
    return method.build(loss, params, seed, mesh)


# ===================================================================== data augmentation
def augment(kind: str, key, x):
    """Training-time augmentation of a batch of NHWC images in [0, 1] (official preprocessing).

    ``"mnist"`` (MNIST/FMNIST): pad 3 pixels a side to 34x34, random 28x28
    crop, then ``tf.image.random_brightness(max_delta=0.5)``: one uniform
    delta in [-0.5, 0.5] per image added to every pixel, no clipping.
    ``"cifar10"``: pad 4 to 40x40, random 32x32 crop, random left-right flip,
    then per-image standardisation.  ``"none"``: unchanged.
    """
    if kind == "none":
        return x
    if kind not in ("mnist", "cifar10"):
        raise ValueError(f"unknown augmentation {kind!r}: choose 'none', 'mnist' or 'cifar10'")
    n, h, w, c = x.shape
    pad = 3 if kind == "mnist" else 4
    xp = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    k_crop, k_other = jax.random.split(key)
    offs = jax.random.randint(k_crop, (n, 2), 0, 2 * pad + 1)
    crop = jax.vmap(lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, c)))(xp, offs)
    if kind == "mnist":
        delta = jax.random.uniform(k_other, (n, 1, 1, 1), x.dtype, -0.5, 0.5)
        return crop + delta
    flip = jax.random.bernoulli(k_other, 0.5, (n, 1, 1, 1))
    return preprocess("cifar10", jnp.where(flip, crop[:, :, ::-1, :], crop))


def preprocess(kind: str, x):
    """Deterministic preprocessing applied to every split (CIFAR-10: ``tf.image.per_image_standardization``)."""
    if kind != "cifar10":
        return x
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / jnp.maximum(std, 1.0 / math.sqrt(math.prod(x.shape[1:])))


# ===================================================================== communication
def communication_bytes(D: int, d: int, n_workers: int, bytes_per_number: int = 4) -> dict:
    """Bytes one worker sends per step: RBD's coefficients vs data-parallel SGD's gradient.

    RBD (this module's scheme, d directions in total): each worker
    contributes its d/G coefficients to an all-gather and receives the rest,
    sending ``(G-1)/G * d`` numbers in a ring.  Data-parallel SGD all-reduces
    the D-float gradient, a ring sends ``2 (G-1)/G * D`` numbers.  The
    payloads (what one step's update is made of) are d and D numbers.
    """
    if min(D, d, n_workers) < 1:
        raise ValueError("D, d and n_workers must be positive")
    g = n_workers
    return {
        "rbd_payload": d * bytes_per_number,
        "sgd_payload": D * bytes_per_number,
        "rbd_per_worker": (g - 1) / g * d * bytes_per_number,
        "sgd_per_worker": 2 * (g - 1) / g * D * bytes_per_number,
        "ratio": D / d,
    }


# ===================================================================== training driver
@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`.

    ``test_accuracy[e]`` is the test accuracy after e epochs (e = 0: at
    initialisation; with ``eval_epochs`` set, after the epochs it lists, see
    :attr:`evaluated`); ``loss``/``train_accuracy``/``cos`` are per step on the
    (augmented) minibatch before the update; ``step_time`` is the mean wall
    time of a training step (data pipeline included, compilation excluded).
    ``diverged_at``: None, or (``train(..., on_divergence="stop")``) the first step whose loss
    was not finite; ``steps`` then counts the finite steps and ``test_accuracy`` the checkpoints
    reached before it.
    """

    method: str
    params: object
    epochs: int
    steps: int
    steps_per_epoch: int
    test_accuracy: np.ndarray
    loss: np.ndarray
    train_accuracy: np.ndarray
    cos: np.ndarray
    step_time: float
    compile_time: float
    wall_time: float
    switch_at: int | None = None
    eval_epochs: tuple[int, ...] | None = None
    diverged_at: int | None = None

    @property
    def evaluated(self) -> tuple[int, ...]:
        """The epochs at which ``test_accuracy`` was measured (0 = initialisation)."""
        return tuple(range(self.epochs + 1)) if self.eval_epochs is None else self.eval_epochs

    @property
    def final_accuracy(self) -> float:
        return float(self.test_accuracy[-1])


def evaluate(model: Model, params, x, y, batch: int = 1000, augmentation: str = "none") -> float:
    """Accuracy of ``model`` on ``(x, y)``, in batches, after the test-time :func:`preprocess`."""
    correct = 0
    for i in range(0, len(x), batch):
        correct += int(
            _n_correct(
                model.apply,
                augmentation,
                params,
                jnp.asarray(x[i : i + batch]),
                jnp.asarray(y[i : i + batch]),
            )
        )
    return correct / len(x)


@partial(jax.jit, static_argnums=(0, 1))
def _n_correct(apply_fn, augmentation, params, xb, yb):
    return jnp.sum(jnp.argmax(apply_fn(params, preprocess(augmentation, xb)), -1) == yb)


def _python_loop(params) -> bool:
    """Whether to step from Python: yes for models with convolutions (a 4-D kernel leaf).

    XLA:CPU runs convolutions (and their gradients) inside a ``while`` loop
    about ten times slower than at the top level of a jitted function
    (measured for the paper's CNN: 160-190 ms against 13-25 ms a step), so
    :func:`train` and :func:`time_step` call a jitted single step from
    Python for such models; fully connected models step inside
    ``lax.fori_loop`` segments, where Python's dispatch overhead would
    dominate their sub-millisecond steps.
    """
    return any(np.ndim(leaf) == 4 for leaf in jax.tree.leaves(params))


@partial(jax.jit, static_argnums=2)
def _permutation(key, epoch, n):
    return jax.random.permutation(jax.random.fold_in(key, epoch), n)


def train(
    model: Model,
    data,
    method,
    *,
    epochs: int,
    batch_size: int = 32,
    seed: int = 0,
    augmentation: str = "none",
    params=None,
    switch_at: int | None = None,
    then=None,
    segment: int = 50,
    eval_batch: int = 1000,
    progress: bool = False,
    loop: str = "auto",
    mesh=None,
    eval_epochs=None,
    on_divergence: str = "raise",
) -> TrainResult:
    """Minibatch training of ``model`` on ``data`` (a :class:`fasttrain.core.data.Dataset`) with ``method``.

    Each epoch visits a fresh permutation of the training set in
    ``n // batch_size`` steps (an NES step with ``per_member`` uses
    ``population`` batches); test accuracy is measured after each epoch, or with
    ``eval_epochs`` only after the epochs it lists (epoch 0 and the last always; a long CNN run
    scores a 10 000-image test set in about a second, so checkpoints only).
    ``switch_at`` / ``then``: from global step ``switch_at`` on, use the
    method ``then`` (RBD <-> SGD, the paper's switching experiment).
    ``loop``: ``"fori"`` runs jitted ``lax.fori_loop`` segments of
    ``segment`` steps, ``"python"`` calls a jitted step per step,
    ``"auto"`` picks by :func:`_python_loop`.  ``mesh``: run an RBD with
    ``n_groups`` = G on G devices (:func:`distributed_rbd_estimate`).
    ``on_divergence``: ``"raise"`` (default) raises :class:`DivergenceError` when the loss stops
    being finite; ``"stop"`` ends the run there and returns it with ``diverged_at`` (the first
    step whose loss is not finite), the losses up to the end of that segment and the test
    accuracies of the checkpoints reached before it (``evaluated`` lists them): a caller can keep
    a diverged run as a result.

    The one-seed entry point of the training driver (:func:`_drive`, shared with
    :func:`train_seeds`): the seed's own, un-vmapped step (:func:`_one_seed`).
    """
    _check_train_args(method, then, switch_at, epochs, batch_size, loop, mesh)
    if on_divergence not in ("raise", "stop"):
        raise ValueError(f"on_divergence must be 'raise' or 'stop', got {on_divergence!r}")
    run = _Run(
        model,
        data,
        method,
        then,
        switch_at,
        epochs,
        batch_size,
        augmentation,
        segment,
        eval_epochs,
        eval_batch,
    )
    (result,) = _drive(run, _one_seed(run, seed, params, loop, mesh), progress, on_divergence)
    return result


def train_seeds(
    model: Model,
    data,
    method,
    *,
    seeds,
    epochs: int,
    batch_size: int = 32,
    augmentation: str = "none",
    switch_at: int | None = None,
    then=None,
    segment: int = 50,
    eval_epochs=None,
    eval_batch: int = 1000,
    progress: bool = False,
) -> list[TrainResult]:
    """:func:`train` for several ``seeds`` at once, vectorised over the seed with ``jax.vmap``.

    Each seed's run uses the same key streams as ``train(..., seed=s)`` (initial network,
    epoch order, augmentation, directions), so it is the same run computed side by side with the
    others (equal up to floating-point rounding of the batched kernels).  For small fully
    connected models a step at batch 32 is dominated by per-operation overhead, so S seeds in
    one batched step cost far less than S steps.  ``eval_epochs``: the epochs after which test
    accuracy is measured (default every epoch; the last epoch is always included, epoch 0 too);
    long budget curves evaluate at a few checkpoints only.  ``step_time`` is the wall time of a
    batched step divided by the number of seeds.  Models with convolutions are refused (XLA:CPU
    runs them far slower inside loops, see :func:`_python_loop`): use :func:`train` per seed.
    Raises :class:`DivergenceError` when any seed's loss stops being finite.

    The several-seed entry point of the training driver (:func:`_drive`, shared with
    :func:`train`): one step vmapped over the seeds (:func:`_seeds_side_by_side`).
    """
    _check_train_args(method, then, switch_at, epochs, batch_size, "fori", None)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0 or max(seeds) >= 2**32:
        raise ValueError(f"seeds must be distinct integers in [0, 2**32), got {seeds}")
    run = _Run(
        model,
        data,
        method,
        then,
        switch_at,
        epochs,
        batch_size,
        augmentation,
        segment,
        eval_epochs,
        eval_batch,
    )
    return _drive(run, _seeds_side_by_side(run, seeds), progress, "raise")


# The training driver.  ``train`` (one seed) and ``train_seeds`` (seeds side by side) share
# everything but the step: the data pipeline of an epoch (order, batches, augmentation: one
# ``_batch_step``), the segment loop, the evaluation schedule, the divergence handling, the
# progress bar and the results (``_Run``, ``_drive``, ``_run_epochs``).  What differs is
# a ``_Steps``: how the step is built and compiled (one seed's un-vmapped step, a ``fori_loop``
# segment or a Python loop of a donated jitted step, against ``jax.vmap`` over the seeds of a
# ``fori_loop`` segment), how the parameters are initialised and scored and how a seed's result
# is picked out.  Why one seed is not the vmapped path with S = 1: a vmapped step is another XLA
# program (batched kernels) and rounds differently -- ``train_seeds(seeds=(s,))`` gives the same
# parameters as ``train(seed=s)`` but losses that differ in the last bit (up to 2.4e-7 for SGD,
# RBD and FPD on a small FC model; the tests allow 1e-5) -- and the published chapters' numbers
# come from both paths, so each keeps its own compiled program, bit for bit as before the merge;
# the Python loop of a jitted step (convolutional models) exists for one seed only.
@dataclass
class _Run:
    """The arguments both entry points share and what follows from them (checked on creation)."""

    model: Model
    data: object
    method: object
    then: object
    switch_at: int | None
    epochs: int
    batch_size: int
    augmentation: str
    segment: int
    eval_epochs: object  # as the caller gave them (None: every epoch)
    eval_batch: int

    def __post_init__(self):
        self.evals = _eval_epochs(self.eval_epochs, self.epochs)  # 0 and the last included
        self.x_train, self.y_train = jnp.asarray(self.data.x_train), jnp.asarray(self.data.y_train)
        self.n = self.x_train.shape[0]
        self.batches = getattr(self.method, "batches_per_step", 1)  # minibatches per step
        self.steps_per_epoch = self.n // (self.batch_size * self.batches)
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"{self.n} training images are fewer than the "
                f"{self.batch_size * self.batches} one step needs"
            )
        self.seg = max(1, min(self.segment, self.steps_per_epoch))  # steps per segment
        self.loss = make_loss(self.model.apply)
        self.name = _describe(self.method, self.then, self.switch_at)


def _eval_epochs(eval_epochs, epochs: int) -> list[int]:
    """The sorted epochs to score: every epoch (``eval_epochs`` None) or the listed ones, with 0
    and ``epochs`` always; raises ``ValueError`` for an epoch outside ``[0, epochs]``."""
    chosen = range(1, epochs + 1) if eval_epochs is None else eval_epochs
    evals = sorted({0, epochs} | {int(e) for e in chosen})
    if evals[0] < 0 or evals[-1] > epochs:
        raise ValueError(f"eval_epochs must lie in [0, {epochs}], got {eval_epochs}")
    return evals


@dataclass(frozen=True)
class _Steps:
    """The varying part of the driver: S seeds' state and compiled segment (S = 1 for :func:`train`).

    ``segment(params, aux, x, y, perm, i0, count, t) -> (params, aux, metrics)`` runs ``count``
    steps from batch ``i0`` and global step ``t``; metrics (3, L) for one seed or (S, 3, L) with
    L >= ``count``.  ``order(epoch)``: the epoch's permutation(s); ``score(params)``: the (S,)
    test accuracies; ``pick(params, k)``: seed k's parameters; ``labels``: seed k's name in a
    divergence message.
    """

    labels: tuple[str, ...]
    state: tuple  # (params, aux), stacked over the seeds when S > 1
    segment: Callable
    order: Callable
    score: Callable
    pick: Callable
    compile_time: float


def _one_seed(run: _Run, seed, params, loop, mesh) -> _Steps:
    """:func:`train`'s steps: ``seed``'s un-vmapped step in ``fori_loop`` segments or a Python loop."""
    if params is None:
        params = run.model.init(stream_key(seed, STREAM_INIT), tuple(run.x_train.shape[1:]))
    python_loop = _python_loop(params) if loop == "auto" else loop == "python"
    aux, step = _method_step(run.method, run.then, run.switch_at, run.loss, params, seed, mesh)
    dtype = ravel_pytree(params)[0].dtype
    aug_key = stream_key(seed, STREAM_AUGMENTATION)
    one = _batch_step(step, run.augmentation, aug_key, run.batch_size, run.batches, dtype)
    perm_key = stream_key(seed, STREAM_ORDER)
    t_compile = time.perf_counter()
    args = (params, aux, run.x_train, run.y_train, _permutation(perm_key, 0, run.n))
    compiled = _compile(one, python_loop, run.seg, dtype, args)
    compile_time = time.perf_counter() - t_compile
    if python_loop:  # the donated buffers must not be the caller's
        params, aux = jax.tree.map(jnp.copy, (params, aux))

    def segment(p, a, x_all, y_all, perm, i0, count, t0):
        return compiled(p, a, x_all, y_all, perm, np.int32(i0), np.int32(count), np.int32(t0))

    def score(p):
        d = run.data
        return np.asarray(
            [evaluate(run.model, p, d.x_test, d.y_test, run.eval_batch, run.augmentation)]
        )

    return _Steps(
        labels=(run.name,),
        state=(params, aux),
        segment=segment,
        order=lambda epoch: _permutation(perm_key, epoch, run.n),
        score=score,
        pick=lambda p, k: p,
        compile_time=compile_time,
    )


def _seeds_side_by_side(run: _Run, seeds) -> _Steps:
    """:func:`train_seeds`'s steps: one ``fori_loop`` segment vmapped over the seeds.

    Each seed builds its own method step (its directions' seed) inside the vmapped function;
    models with convolutions are refused (see :func:`_python_loop`).
    """
    shape = tuple(run.x_train.shape[1:])
    template = run.model.init(stream_key(seeds[0], STREAM_INIT), shape)
    if _python_loop(template):
        raise ValueError("train_seeds is for models without convolutions; use train per seed")
    method, then, switch_at, loss = run.method, run.then, run.switch_at, run.loss
    dtype = ravel_pytree(template)[0].dtype
    seg = run.seg
    s_arr = jnp.asarray(seeds, jnp.uint32)

    def init_one(s):
        params = run.model.init(stream_key(s, STREAM_INIT), shape)
        return params, _method_step(method, then, switch_at, loss, params, s, None)[0]

    def run_one(s, p, aux, x_all, y_all, perm, i0, count, t0):
        step = _method_step(method, then, switch_at, loss, p, s, None)[1]
        aug_key = stream_key(s, STREAM_AUGMENTATION)
        one = _batch_step(step, run.augmentation, aug_key, run.batch_size, run.batches, dtype)
        return _fori_segment(one, seg, dtype)(p, aux, x_all, y_all, perm, i0, count, t0)

    def perms(epoch):
        return jax.vmap(lambda s: _permutation(stream_key(s, STREAM_ORDER), epoch, run.n))(s_arr)

    t_compile = time.perf_counter()
    params, aux = jax.jit(jax.vmap(init_one))(s_arr)
    compiled = (
        jax.jit(jax.vmap(run_one, in_axes=(0, 0, 0, None, None, 0, None, None, None)))
        .lower(s_arr, params, aux, run.x_train, run.y_train, perms(0), 0, seg, 0)
        .compile()
    )
    compile_time = time.perf_counter() - t_compile

    def segment(p, a, x_all, y_all, perm, i0, count, t0):
        return compiled(s_arr, p, a, x_all, y_all, perm, i0, count, t0)

    def score(p):
        x_test, y_test, batch = run.data.x_test, run.data.y_test, run.eval_batch
        correct = np.zeros(len(seeds))
        for i in range(0, len(x_test), batch):
            xb, yb = jnp.asarray(x_test[i : i + batch]), jnp.asarray(y_test[i : i + batch])
            correct += np.asarray(_n_correct_seeds(run.model.apply, run.augmentation, p, xb, yb))
        return correct / len(x_test)

    return _Steps(
        labels=tuple(f"{run.name} (seed {s})" for s in seeds),
        state=(params, aux),
        segment=segment,
        order=perms,
        score=score,
        pick=lambda p, k: jax.tree.map(lambda leaf: leaf[k], p),
        compile_time=compile_time,
    )


@partial(jax.jit, static_argnums=(0, 1))
def _n_correct_seeds(apply_fn, augmentation, params, xb, yb):
    """:func:`_n_correct` for parameters stacked over seeds (leading axis)."""
    return jax.vmap(lambda p: _n_correct(apply_fn, augmentation, p, xb, yb))(params)


def _run_epochs(run: _Run, steps: _Steps, progress: bool, stop: bool = False):
    """Score the initial parameters, then run the epochs in segments of ``run.seg`` steps.

    The parameters are scored after the epochs ``run.evals`` lists.  A loss that stops being
    finite raises :class:`DivergenceError` naming the seed, or with ``stop`` (one seed: ``train``)
    ends the run there (so do parameters that are not finite when they are to be scored: that
    checkpoint is not scored).

    Returns ``(params, metrics, accuracies, run_time, steps, diverged_at)``: the per-segment
    (S, 3, count) metric arrays, ``steps.score(params)`` at epoch 0 and after each scored epoch,
    the time spent in the segments, the number of steps taken and the first step whose loss (or,
    at a checkpoint, whose resulting parameters) is not finite (None: the run finished).
    """
    params, aux = steps.state
    accs, metrics, run_time, t = [steps.score(params)], [], 0.0, 0
    bar = progress_bar(
        total=run.epochs * run.steps_per_epoch, desc=run.name, unit="step", enabled=progress
    )
    try:
        for epoch in range(run.epochs):
            perm = steps.order(epoch)
            for i0 in range(0, run.steps_per_epoch, run.seg):
                count = min(run.seg, run.steps_per_epoch - i0)
                t0 = time.perf_counter()
                params, aux, buf = steps.segment(
                    params, aux, run.x_train, run.y_train, perm, i0, count, t
                )
                buf = np.asarray(buf)  # blocks until the segment is done
                buf = buf.reshape(-1, 3, buf.shape[-1])[..., :count]  # (seeds, 3, count)
                run_time += time.perf_counter() - t0
                metrics.append(buf)
                bar.update(count)
                bar.set_postfix(loss=f"{np.nanmean(buf[:, 0]):.3f}")
                if stop and not np.all(np.isfinite(buf[:, 0])):
                    return params, metrics, accs, run_time, t + count, t + _first_bad(buf[0, 0])
                for label, losses in zip(steps.labels, buf[:, 0]):
                    _check_finite(losses, label, t)
                t += count
            if epoch + 1 in run.evals:
                if stop and not _all_finite(params):
                    return params, metrics, accs, run_time, t, t
                accs.append(steps.score(params))
    finally:
        bar.close()
    return params, metrics, accs, run_time, t, None


def _drive(run: _Run, steps: _Steps, progress: bool, on_divergence: str) -> list[TrainResult]:
    """The training driver: ``run``'s epochs with ``steps`` (:func:`_run_epochs`), one
    :class:`TrainResult` per seed."""
    t_wall = time.perf_counter()
    out = _run_epochs(run, steps, progress, stop=on_divergence == "stop")
    params, metrics, accs, run_time, t, diverged_at = out
    m = np.concatenate(metrics, axis=2)
    acc = np.stack(accs, axis=1)
    scored = None if run.eval_epochs is None and diverged_at is None else tuple(run.evals)
    if diverged_at is not None:
        t = diverged_at
        scored = tuple(run.evals[: len(accs)])  # epoch 0 and the checkpoints reached
    wall = time.perf_counter() - t_wall
    return [
        TrainResult(
            method=run.name,
            params=steps.pick(params, k),
            epochs=run.epochs,
            steps=t,
            steps_per_epoch=run.steps_per_epoch,
            test_accuracy=acc[k],
            loss=m[k, 0],
            train_accuracy=m[k, 1],
            cos=m[k, 2],
            step_time=run_time / max(t, 1) / len(steps.labels),
            compile_time=steps.compile_time,
            wall_time=wall,
            switch_at=run.switch_at,
            eval_epochs=scored,
            diverged_at=diverged_at,
        )
        for k in range(len(steps.labels))
    ]


def _check_train_args(method, then, switch_at, epochs, batch_size, loop, mesh):
    """:func:`train`'s argument checks, the methods' own ones included."""
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if loop not in ("auto", "fori", "python"):
        raise ValueError(f"loop must be 'auto', 'fori' or 'python', got {loop!r}")
    if (switch_at is None) != (then is None):
        raise ValueError("switching needs both switch_at and then")
    _check_method(method)
    if then is None:
        return
    _check_method(then)
    if not all(getattr(m, "switchable", False) for m in (method, then)):
        raise ValueError("switching is supported between SGD and RBD only")
    if switch_at < 0:
        raise ValueError(f"switch_at must be >= 0, got {switch_at}")
    if mesh is not None:
        raise ValueError("switching is not supported on a device mesh")


def _method_step(method, then, switch_at, loss, params, seed, mesh):
    """``(aux, step)``: the initial state and step of ``method``, or of the switch to ``then``.

    The switched step carries both methods' states and runs ``method``'s step
    before global step ``switch_at``, ``then``'s from it on.
    """
    init_a, step_a = build(method, loss, params, seed, mesh)
    if then is None:
        return init_a(params), step_a
    init_b, step_b = build(then, loss, params, seed)

    def step(p, aux, x, y, t):
        def first(args):
            q, a = args
            q, a0, m = step_a(q, a[0], x, y, t)
            return q, (a0, a[1]), m

        def second(args):
            q, a = args
            q, a1, m = step_b(q, a[1], x, y, t)
            return q, (a[0], a1), m

        return jax.lax.cond(t < switch_at, first, second, (p, aux))

    return (init_a(params), init_b(params)), step


def _batch_step(step, augmentation, aug_key, batch_size, batches, dtype):
    """``one(p, aux, x_all, y_all, perm, i, t)``: step ``t`` on batch ``i`` of the epoch's ``perm``.

    The batch (``batches`` minibatches of ``batch_size``, stacked on a leading
    axis when more than one) is augmented with ``fold_in(aug_key, t)``;
    ``one`` returns the new parameters, state and metrics (loss, acc, cos).
    """
    per_step = batch_size * batches

    def one(p, aux, x_all, y_all, perm, i, t):
        idx = jax.lax.dynamic_slice(perm, (i * per_step,), (per_step,))
        xb = augment(augmentation, jax.random.fold_in(aug_key, t), x_all[idx])
        yb = y_all[idx]
        if batches > 1:
            xb = xb.reshape((batches, batch_size) + xb.shape[1:])
            yb = yb.reshape(batches, batch_size)
        p, aux, m = step(p, aux, xb, yb, t)
        return p, aux, jnp.stack([m["loss"], m["acc"], m["cos"]]).astype(dtype)

    return one


def _compile(one, python_loop, seg, dtype, args):
    """``compiled(p, aux, x, y, perm, i0, count, t0) -> (p, aux, metrics)``, compiled ahead of time.

    Runs ``count`` <= ``seg`` steps from batch ``i0`` and global step ``t0``;
    the metrics are a (3, count) array for the Python loop, (3, seg) with NaN
    past ``count`` for the ``fori_loop`` one.  ``args`` = (params, aux,
    x_train, y_train, perm) are example arguments for the ahead-of-time
    compilation.
    """
    if python_loop:
        compiled_one = (
            jax.jit(one, donate_argnums=(0, 1)).lower(*args, jnp.int32(0), jnp.int32(0)).compile()
        )

        def compiled(p, aux, x_all, y_all, perm, i0, count, t0):
            ms = []
            for i in range(int(count)):
                p, aux, m = compiled_one(
                    p, aux, x_all, y_all, perm, np.int32(i0 + i), np.int32(t0 + i)
                )
                ms.append(m)
            return p, aux, jnp.stack(ms, axis=1)
    else:
        run = _fori_segment(one, seg, dtype)
        lowered = jax.jit(run).lower(*args, jnp.int32(0), jnp.int32(seg), jnp.int32(0))
        compiled = lowered.compile()
    return compiled


def _fori_segment(one, seg, dtype):
    """``run(p, aux, x_all, y_all, perm, i0, count, t0) -> (p, aux, metrics)``: ``count`` <= ``seg``
    steps of ``one`` (:func:`_batch_step`) in a ``lax.fori_loop``; metrics (3, seg), NaN past
    ``count``.  The segment of both :func:`train` (jitted) and :func:`train_seeds` (vmapped)."""

    def run(p, aux, x_all, y_all, perm, i0, count, t0):
        buf = jnp.full((3, seg), jnp.nan, dtype)

        def body(i, carry):
            p, aux, buf = carry
            p, aux, m = one(p, aux, x_all, y_all, perm, i0 + i, t0 + i)
            return p, aux, buf.at[:, i].set(m)

        return jax.lax.fori_loop(0, count, body, (p, aux, buf))

    return run


def _first_bad(losses) -> int:
    """Index of the first non-finite entry of ``losses``."""
    return int(np.argmin(np.isfinite(losses)))


def _all_finite(tree) -> bool:
    """Whether every entry of every leaf of ``tree`` is finite."""
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(tree))


def _check_finite(losses, name, t):
    """Raise :class:`DivergenceError` if a loss of the segment starting at step ``t`` is not finite."""
    if not np.all(np.isfinite(losses)):
        first_bad = _first_bad(losses)
        raise DivergenceError(
            f"{name} diverged at step {t + first_bad} (loss {losses[first_bad]}); "
            "use a smaller learning rate"
        )


def _describe(method, then, switch_at):
    return method.name if then is None else f"{method.name}->{then.name}@{switch_at}"


def step_runner(method, loss, params, x, y, inner: int, seed: int = 0, loop: str = "auto"):
    """``(run, aux0)``: ``run(params, aux)`` takes ``inner`` training steps of ``method`` on the batch
    ``(x, y)`` and returns ``(params, aux)``; ``aux0`` is the method's initial state for ``params``.

    The steps run in one jitted ``lax.fori_loop`` (dispatch overhead does not count) or, with
    ``loop="python"`` (the default for convolutional models, see :func:`_python_loop`), as a jitted
    single step called ``inner`` times from Python.  The one step runner of :func:`time_step` and of
    the paper-scale plan (``fasttrain.chapters.plan``).
    """
    if inner < 1:
        raise ValueError(f"inner must be positive, got {inner}")
    init, step = build(method, loss, params, seed)
    if _python_loop(params) if loop == "auto" else loop == "python":
        one = jax.jit(lambda p, a, i: step(p, a, x, y, i)[:2])

        def stepped(p, a):
            for i in range(inner):
                p, a = one(p, a, i)
            return p, a

        return stepped, init(params)

    @jax.jit
    def many(p, aux):
        def body(i, carry):
            q, a = carry
            q, a, _ = step(q, a, x, y, i)
            return q, a

        return jax.lax.fori_loop(0, inner, body, (p, aux))

    return many, init(params)


def time_step(
    model: Model,
    method,
    x,
    y,
    *,
    seed: int = 0,
    repeats: int = 5,
    inner: int = 10,
    loop: str = "auto",
) -> float:
    """Best wall time (seconds) of one training step of ``method`` on the batch ``(x, y)``.

    ``inner`` steps per measurement through :func:`step_runner` (a jitted ``lax.fori_loop``, or a
    jitted step called from Python for convolutional models); compilation is excluded.
    """
    from ..core.timing import best_time

    if repeats < 1 or inner < 1:
        raise ValueError(f"repeats and inner must be positive, got {repeats} and {inner}")
    x, y = jnp.asarray(x), jnp.asarray(y)
    params = model.init(stream_key(seed, STREAM_INIT), tuple(x.shape[1:]))
    run, aux = step_runner(method, make_loss(model.apply), params, x, y, inner, seed, loop)
    return best_time(run, params, aux, repeats=repeats) / inner
