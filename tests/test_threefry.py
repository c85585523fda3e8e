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


def _step_key(*folds):
    key = jax.random.key(5)
    for f in folds:
        key = jax.random.fold_in(key, f)
    return key


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 33), (50, 4099)])
def test_bits_uniform_and_normal_are_jax_randoms_bit_for_bit(shape):
    """The dense directions' draws: jax.random's words and floats, jitted and vmapped over keys."""
    key = _step_key(0, 12, 3)
    assert tf.is_native(key)
    r = float(np.sqrt(3.0))
    pairs = [
        (lambda k: tf.bits(k, shape), lambda k: jax.random.bits(k, shape, jnp.uint32)),
        (lambda k: tf.uniform(k, shape), lambda k: jax.random.uniform(k, shape)),
        (
            lambda k: tf.uniform(k, shape, jnp.float32, -r, r),
            lambda k: jax.random.uniform(k, shape, jnp.float32, -r, r),
        ),
        (lambda k: tf.normal(k, shape), lambda k: jax.random.normal(k, shape)),
    ]
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(3))
    for ours, theirs in pairs:
        want = np.asarray(theirs(key))
        got = np.asarray(jax.jit(ours)(key))
        assert got.dtype == want.dtype and got.shape == want.shape == shape
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(
            np.asarray(jax.jit(jax.vmap(ours))(keys)), np.asarray(jax.vmap(theirs)(keys))
        )


def test_normal_has_standard_moments():
    """Not only equal to jax's: a standard normal."""
    x = np.asarray(tf.normal(_step_key(1), (400_000,)))
    assert np.isfinite(x).all()
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01


def test_dense_draws_defer_to_jax_random_for_other_keys_and_dtypes(monkeypatch):
    rbg = jax.random.key(7, impl="rbg")
    assert not tf.is_native(rbg)
    np.testing.assert_array_equal(
        np.asarray(tf.normal(rbg, (5, 9))), np.asarray(jax.random.normal(rbg, (5, 9)))
    )
    np.testing.assert_array_equal(
        np.asarray(tf.bits(rbg, (40,))), np.asarray(jax.random.bits(rbg, (40,)))
    )
    # other dtypes go to jax.random's own draw (checked by the call, not by drawing half floats:
    # XLA:CPU capped at SSE4.2 fails to compile jax's own float16 uniform, an XLA bug)
    calls = []
    for name in ("uniform", "normal"):
        monkeypatch.setattr(
            jax.random, name, lambda key, shape, dtype, *a, _n=name: calls.append((_n, dtype))
        )
    key = _step_key(2)
    for dtype in (jnp.float16, jnp.bfloat16):
        tf.uniform(key, (6,), dtype)
        tf.normal(key, (6,), dtype)
    assert calls == [(n, dt) for dt in (jnp.float16, jnp.bfloat16) for n in ("uniform", "normal")]
