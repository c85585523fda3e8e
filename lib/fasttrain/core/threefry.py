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
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

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


def split_bits(key, n1, n2):
    """``jax.random.bits(k, (n1,))`` and ``bits(k', (n2,))`` (uint32) with ``k, k' = split(key)``."""
    if not is_native(key):
        k1, k2 = jax.random.split(key)
        return jax.random.bits(k1, (n1,), jnp.uint32), jax.random.bits(k2, (n2,), jnp.uint32)

    def draw(w):
        zero = jnp.zeros((2,), jnp.uint32)
        s1, s2 = threefry2x32(w[0], w[1], zero, jnp.arange(2, dtype=jnp.uint32))
        out = []
        for i, n in enumerate((n1, n2)):
            b1, b2 = threefry2x32(
                s1[i], s2[i], jnp.zeros((n,), jnp.uint32), jnp.arange(n, dtype=jnp.uint32)
            )
            out.append(b1 ^ b2)
        return tuple(out)

    def never(w):
        return jnp.zeros((n1,), jnp.uint32), jnp.zeros((n2,), jnp.uint32)

    # The draw runs as a branch of a conditional whose predicate is always true (w | 1 is never 0)
    # but not known to XLA: the branch's results are materialised once.  Inlined, XLA:CPU fuses
    # the integer hash (cheap by its cost model) into every consumer of every sign and recomputes
    # it per element -- 3x slower than jax's rolled loop (measured).
    w = jax.random.key_data(key)
    return jax.lax.cond((w[0] | jnp.uint32(1)) != 0, draw, never, w)
