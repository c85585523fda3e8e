"""Tests of fasttrain.core.threefry: the unrolled Threefry-2x32 is Random123's and jax.random's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.random import threefry_2x32

from fasttrain.core import threefry as tf

# Threefry-2x32, 20 rounds: Random123's known-answer vectors (tests/kat_vectors), as in jax's own
# tests: (key, counter) -> output words
KAT_VECTORS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


def _words(*xs):
    return [jnp.asarray(np.uint32(x)) for x in xs]


@pytest.mark.parametrize("key, counter, want", KAT_VECTORS)
def test_threefry_matches_the_random123_known_answers(key, counter, want):
    got = tf.threefry2x32(*_words(*key), *_words(*counter))
    assert [int(g) for g in got] == list(want)
    # jax's hash gives the same words: the vectors pin both to the published function
    assert [int(w) for w in threefry_2x32(np.uint32(key), np.uint32(counter))] == list(want)


def test_threefry_is_jax_threefry_2x32_bit_for_bit():
    """``threefry_2x32((k1, k2), [x1, x2]) = [threefry2x32(k1, k2, x1, x2)]``, jitted or not."""
    rng = np.random.default_rng(0)
    ours = jax.jit(tf.threefry2x32)
    for n in (1, 2, 33, 4096):
        k = rng.integers(0, 2**32, size=2, dtype=np.uint32)
        x1, x2 = rng.integers(0, 2**32, size=(2, n), dtype=np.uint32)
        want = np.asarray(threefry_2x32(k, np.concatenate([x1, x2])))
        for f in (tf.threefry2x32, ours):
            got = f(*_words(*k), jnp.asarray(x1), jnp.asarray(x2))
            np.testing.assert_array_equal(np.concatenate([np.asarray(g) for g in got]), want)


def test_split_bits_is_jax_random_split_and_bits():
    key = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(jax.random.key(2), 0), 9), 4)
    assert tf.is_native(key)
    k1, k2 = jax.random.split(key)
    draw = jax.jit(tf.split_bits, static_argnums=(1, 2))
    for n1, n2 in ((1, 3), (4096, 3), (33, 2)):
        a, b = draw(key, n1, n2)
        assert a.dtype == b.dtype == jnp.uint32
        np.testing.assert_array_equal(np.asarray(a), np.asarray(jax.random.bits(k1, (n1,))))
        np.testing.assert_array_equal(np.asarray(b), np.asarray(jax.random.bits(k2, (n2,))))


def test_split_bits_defers_to_jax_random_for_other_keys():
    """Keys of another PRNG, or Threefry without partitionable counts: jax.random's own draws."""
    rbg = jax.random.key(7, impl="rbg")
    with jax.threefry_partitionable(False):
        old = jax.random.key(7)
        assert not tf.is_native(old)
        for key in (rbg, old):
            k1, k2 = jax.random.split(key)
            a, b = tf.split_bits(key, 40, 3)
            np.testing.assert_array_equal(np.asarray(a), np.asarray(jax.random.bits(k1, (40,))))
            np.testing.assert_array_equal(np.asarray(b), np.asarray(jax.random.bits(k2, (3,))))
    assert not tf.is_native(rbg)
