"""The fast Walsh-Hadamard transform, shared by the sketched Gauss-Newton step and the random bases.

Neither JAX nor SciPy offers a fast transform (``scipy.linalg.hadamard`` is the dense O(N^2)
matrix), so it is written here once: radix-4 butterflies (one radix-2 stage first when log2 N is
odd), O(N log N) per vector.
"""

from __future__ import annotations

import jax.numpy as jnp


def is_pow2(n: int) -> bool:
    """Whether ``n`` is a positive power of two."""
    return n >= 1 and (n & (n - 1)) == 0


def next_pow2(n: int) -> int:
    """The smallest power of two ``>= n`` (1 for ``n <= 1``)."""
    return 1 << max(n - 1, 0).bit_length()


def fwht(x):
    """Unnormalised fast Walsh-Hadamard transform ``H_N x`` along the last axis.

    ``H_N`` is Sylvester's matrix ``H_2 (x) ... (x) H_2`` with entries +-1 and ``H_N^2 = N I`` (the same
    matrix as ``scipy.linalg.hadamard(N)``).  ``N`` must be a power of two: zero-pad first.
    """
    x = jnp.asarray(x)
    n = x.shape[-1]
    if not is_pow2(n):
        raise ValueError(
            f"fwht: length {n} of the last axis is not a power of two; zero-pad it first"
        )
    lead = x.shape[:-1]
    k = n.bit_length() - 1
    h = 1
    if k % 2:
        y = x.reshape(lead + (n // 2, 2))
        x = jnp.stack([y[..., 0] + y[..., 1], y[..., 0] - y[..., 1]], axis=-1)
        h = 2
    while h < n:
        y = x.reshape(lead + (n // (4 * h), 4, h))
        a, b, c, e = y[..., 0, :], y[..., 1, :], y[..., 2, :], y[..., 3, :]
        s1, d1, s2, d2 = a + b, a - b, c + e, c - e
        x = jnp.stack([s1 + s2, d1 + d2, s1 - s2, d1 - d2], axis=-2)
        h *= 4
    return x.reshape(lead + (n,))
