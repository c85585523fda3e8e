"""Threefry-2x32 written out: jax.random's split and bits as one unrolled hash, for ch. 03's structured bases.

The hash is Threefry-2x32 with 20 rounds (Salmon, Moraes, Dror & Shaw, "Parallel random numbers:
as easy as 1, 2, 3", SC 2011; the Random123 library): two 32-bit counter words are encrypted under
two 32-bit key words by 5 groups of 4 rounds (add, rotate by ``ROTATIONS``, xor) with a key
injection after each group (the third key word is ``k1 ^ k2 ^ 0x1BD11BDA``).  :func:`threefry2x32`
is the same function as JAX's, ``jax.extend.random.threefry_2x32`` (jax.random's default PRNG), bit
for bit: ``threefry_2x32((k1, k2), concatenate([x1, x2]))`` is ``concatenate(threefry2x32(k1, k2,
x1, x2))`` for counter halves of equal length (jax takes one count array and splits it into the
two halves, padding an odd length; here the halves are passed separately).
``tests/test_threefry.py`` checks it against Random123's known-answer vectors and against
``jax.extend.random.threefry_2x32``, and :func:`split_bits` against ``jax.random.split`` and
``jax.random.bits``.

Why by hand: on XLA:CPU jax lowers its hash as a rolled ``while`` loop of 5 iterations (to save
compile time), a loop of small kernels per call.  For FC-MNIST's structured directions (n = 2^17
signs, 4096 random words a step) ``jax.random.bits`` cost about 35 us a step against 7 us for the
unrolled hash in one kernel (probe, 200 steps in a fori_loop), next to an SGD step of about 90 us.
Only the split and the two draws of a step's structured directions are unrolled
(:func:`split_bits`, used by ``fasttrain.methods.random_bases``); the step's scalar fold_ins stay
jax's (about 1 us together).  The numbers are jax's own under ``jax_threefry_partitionable`` (jax's
default since 0.5: the counts of ``split`` and ``bits`` are the iota of the output shape split into
a high and a low word, here always 0 and the index); :func:`split_bits` calls jax.random itself for
keys of any other PRNG implementation or without that flag.

The dense directions' Gaussian and uniform draws (d x D numbers a step) and NES's perturbations use
:func:`uniform` and :func:`normal`: jax.random's functions of the same names with the bits from the
unrolled hash.  On FC-MNIST a Gaussian projection and expansion of 250 directions took 214 ms with
``jax.random.normal`` against 80 ms (probe, one seed; 1 171 ms against 570 ms vmapped over 3
seeds), the same floats bit for bit.  Not the Bernoulli signs: each of their words feeds 32 signs,
and XLA:CPU fuses the unrolled hash into every one (slower, measured); :func:`split_bits`
materialises its words behind a conditional for that reason.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

#: the rotation constants of Threefry-2x32's rounds: even groups of 4 rounds use the first, odd the second
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(k1, k2, x1, x2):
    """The Threefry-2x32 hash (20 rounds) of the counter words ``(x1, x2)`` under key ``(k1, k2)``."""
    ks = (k1, k2, k1 ^ k2 ^ jnp.uint32(0x1BD11BDA))
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = x1 ^ ((x2 << jnp.uint32(r)) | (x2 >> jnp.uint32(32 - r)))
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + jnp.uint32(i + 1)
    return x1, x2


def is_native(key) -> bool:
    """Whether ``key`` draws with partitionable Threefry-2x32 (what :func:`threefry2x32` copies)."""
    return str(jax.random.key_impl(key)) == "threefry2x32" and jax.config.jax_threefry_partitionable


def _words(k1, k2, n):
    """The n uint32 words jax.random.bits draws under key (k1, k2): ``x1 ^ x2`` of the hash of the
    counters (0, i), i < n (partitionable Threefry: the high counter word is 0 below 2^32)."""
    x1, x2 = threefry2x32(k1, k2, jnp.zeros((n,), jnp.uint32), jnp.arange(n, dtype=jnp.uint32))
    return x1 ^ x2


def split_bits(key, n1, n2):
    """``jax.random.bits(k, (n1,))`` and ``bits(k', (n2,))`` (uint32) with ``k, k' = split(key)``."""
    if not is_native(key):
        k1, k2 = jax.random.split(key)
        return jax.random.bits(k1, (n1,), jnp.uint32), jax.random.bits(k2, (n2,), jnp.uint32)

    def draw(w):
        zero = jnp.zeros((2,), jnp.uint32)
        s1, s2 = threefry2x32(w[0], w[1], zero, jnp.arange(2, dtype=jnp.uint32))
        return _words(s1[0], s2[0], n1), _words(s1[1], s2[1], n2)

    def never(w):
        return jnp.zeros((n1,), jnp.uint32), jnp.zeros((n2,), jnp.uint32)

    # The draw runs as a branch of a conditional whose predicate is always true (w | 1 is never 0)
    # but not known to XLA: the branch's results are materialised once.  Inlined, XLA:CPU fuses
    # the integer hash (cheap by its cost model) into every consumer of every sign and recomputes
    # it per element -- 3x slower than jax's rolled loop (measured).
    w = jax.random.key_data(key)
    return jax.lax.cond((w[0] | jnp.uint32(1)) != 0, draw, never, w)


def bits(key, shape):
    """``jax.random.bits(key, shape)`` (uint32), the hash unrolled: the same words.

    Under partitionable Threefry the word at flat index i is ``x1 ^ x2`` of the hash of the counter
    (i >> 32, i & 0xFFFFFFFF) (jax's ``iota_2x32_shape``); here i < 2^32, so the high word is 0.
    Other keys, or 2^32 words or more: jax.random's own draw.
    """
    shape = tuple(int(n) for n in shape)
    n = math.prod(shape)
    if not is_native(key) or n >= 2**32:
        return jax.random.bits(key, shape, jnp.uint32)
    w = jax.random.key_data(key)
    return _words(w[0], w[1], n).reshape(shape)


def uniform(key, shape, dtype=jnp.float32, minval=0.0, maxval=1.0):
    """``jax.random.uniform(key, shape, dtype, minval, maxval)`` from :func:`bits`: the same floats.

    jax's transform (``jax/_src/random/core.py``, ``_uniform``): the top 23 bits of a word as the
    mantissa of a float in [1, 2), minus 1, scaled to [minval, maxval), floored at minval.  Written
    for float32 (``tests/test_threefry.py`` checks it against jax.random bit for bit); other dtypes
    and keys: jax.random's own draw.
    """
    shape = tuple(int(n) for n in shape)
    if jnp.dtype(dtype) != jnp.float32 or not is_native(key):
        return jax.random.uniform(key, shape, dtype, minval, maxval)
    lo, hi = jnp.asarray(minval, jnp.float32), jnp.asarray(maxval, jnp.float32)
    one = np.array(1.0, np.float32).view(np.uint32)
    mantissa = (bits(key, shape) >> jnp.uint32(32 - 23)) | jnp.uint32(one)
    floats = jax.lax.bitcast_convert_type(mantissa, jnp.float32) - jnp.float32(1.0)
    return jax.lax.max(lo, floats * (hi - lo) + lo)


def normal(key, shape, dtype=jnp.float32):
    """``jax.random.normal(key, shape, dtype)`` from :func:`bits`: the same floats.

    jax's transform (``_normal_real``): sqrt(2) * erfinv(u) with u uniform on
    [nextafter(-1, 0), 1).  float32 and native keys; otherwise jax.random's own draw.
    """
    shape = tuple(int(n) for n in shape)
    if jnp.dtype(dtype) != jnp.float32 or not is_native(key):
        return jax.random.normal(key, shape, dtype)
    lo = np.nextafter(np.float32(-1.0), np.float32(0.0), dtype=np.float32)
    u = uniform(key, shape, jnp.float32, lo, np.float32(1.0))
    return jnp.float32(np.sqrt(2)) * jax.lax.erf_inv(u)
