"""Tests of fasttrain.random_bases (chapter 03) and fasttrain.models.

The mathematics is checked against independent routes: dense Hadamard
matrices from scipy, the explicit direction matrix, plain gradients and
SGD steps, and the estimator means against the quantity they estimate
(chi-square-type bounds over many seeded draws).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from jax.flatten_util import ravel_pytree

from fasttrain.chapters import ch03_random_bases as S
from fasttrain.core import claims as C
from fasttrain.core import models
from fasttrain.core.data import Dataset
from fasttrain.methods import random_bases as rb


# ----------------------------------------------------------------- helpers
def _normal(seed, shape, dtype=np.float32):
    """Seeded standard normals (numpy, so test set-up compiles nothing)."""
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape).astype(dtype))


def _tiny_params():
    """A small parameter pytree with leaves of different sizes (D = 120 + 12 + 36 + 3 = 171)."""
    return {
        "a": {"w": _normal(0, (10, 12)), "b": _normal(1, (12,))},
        "b": {"w": _normal(2, (12, 3)), "b": _normal(3, (3,))},
    }


def _two_leaves():
    """A parameter pytree with two leaves, a 'kernel' (10, 12) and a 'bias' (12,): D = 132."""
    return {"b": _normal(0, (12,)), "w": _normal(1, (10, 12))}


def _draws(sub, g, n, seed=1):
    """n independent updates sum_i c_i phi_i for the fixed vector g."""
    keys = jax.random.split(jax.random.key(seed), n)
    return np.asarray(
        jax.jit(jax.vmap(lambda k: rb.project_expand(sub, k, g)[1]))(keys), np.float64
    )


def _chi2_per_dim(us, target):
    """Mean squared z-score of the sample mean of ``us`` against ``target`` (about 1 if unbiased)."""
    mean, sd = us.mean(0), us.std(0, ddof=1)
    keep = (
        sd > 1e-9 * np.abs(target).max()
    )  # coordinates with no variance are compared exactly below
    assert np.allclose(mean[~keep], target[~keep], rtol=1e-4, atol=1e-7)
    z = (mean[keep] - target[keep]) / (sd[keep] / np.sqrt(len(us)))
    return float(np.mean(z**2)), int(keep.sum())


def _bound(k):
    # mean of k squared z-scores: 1 +- sqrt(2/k); 6 sigma keeps false alarms negligible
    return 1 + 6 * np.sqrt(2 / k)


def _tiny_data(n_train=256, n_test=128, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(64, 4))
    x = rng.normal(size=(n_train + n_test, 8, 8, 1)).astype(np.float32)
    y = np.argmax(x.reshape(len(x), -1) @ w, axis=1).astype(np.int32)
    return Dataset("tiny", x[:n_train], y[:n_train], x[n_train:], y[n_train:], ("0", "1", "2", "3"))


# ----------------------------------------------------------------- models
def test_parameter_counts_match_the_paper():
    assert models.flat_dim(models.fc(), (28, 28, 1)) == 101_770
    assert models.flat_dim(models.cnn(), (28, 28, 1)) == 93_322
    assert models.flat_dim(models.fc(), (32, 32, 3)) == 394_634
    assert models.flat_dim(models.cnn(), (32, 32, 3)) == 122_570
    # ResNet-8: trainable parameters; Keras's count adds 2 x 240 batch-norm running statistics
    assert models.flat_dim(models.resnet8(), (32, 32, 3)) + 2 * (16 * 3 + 32 * 2 + 64 * 2) == 78_330


def test_model_layers_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 7, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    b = rng.normal(size=(4,)).astype(np.float32)
    got = np.asarray(models.conv({"w": jnp.asarray(w), "b": jnp.asarray(b)}, jnp.asarray(x)))
    want = np.zeros((2, 4, 5, 4))
    for i in range(4):
        for j in range(5):
            want[:, i, j, :] = np.einsum("nhwc,hwco->no", x[:, i : i + 3, j : j + 3, :], w) + b
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    pooled = np.asarray(models.max_pool(jnp.asarray(x)))
    np.testing.assert_array_equal(
        pooled, x[:, :6, :6, :].reshape(2, 3, 2, 3, 2, 3).max(axis=(2, 4))
    )


def test_models_apply_and_reject_bad_input():
    key = jax.random.key(0)
    for name, shape in [("fc", (28, 28, 1)), ("cnn", (28, 28, 1)), ("resnet8", (32, 32, 3))]:
        m = models.get_model(name)
        out = jax.eval_shape(
            lambda k, m=m, shape=shape: m.apply(m.init(k, shape), jnp.ones((3,) + shape)), key
        )
        assert out.shape == (3, 10)
    m = models.fc()
    logits = jax.jit(lambda k, x: m.apply(m.init(k, (28, 28, 1)), x))(key, jnp.ones((3, 28, 28, 1)))
    assert bool(jnp.all(jnp.isfinite(logits)))
    with pytest.raises(ValueError, match="unknown model"):
        models.get_model("vgg16")
    with pytest.raises(ValueError, match="input_shape"):
        models.fc().init(key, (28, 28))
    with pytest.raises(ValueError, match="too small"):
        models.cnn().init(key, (8, 8, 1))


# ----------------------------------------------------------------- direction sets
@pytest.mark.parametrize("dist", [d for d in rb.UNBIASED if d != "orthonormal"])
@pytest.mark.heavy
def test_update_is_unbiased_estimate_of_scaled_gradient(dist):
    """E[sum_i c_i phi_i] = (d / D) g for every distribution (chunk 5 < d exercises the block padding).

    (The Haar-orthonormal basis is checked exactly instead: with d = D, FPD is SGD.)
    """
    D, d, n = 200, 12, 1500
    g = _normal(7, (D,))
    sub = rb.subspace(D, d, dist, chunk=5)
    us = _draws(sub, g, n)
    chi2, k = _chi2_per_dim(us, d / D * np.asarray(g, np.float64))
    assert chi2 < _bound(k), f"{dist}: mean squared z-score {chi2:.2f} over {k} coordinates"
    # and the same number of coefficients carries the same energy: E||u||^2 = (d/D)||g||^2 (1 + O(d/D))
    ratio = np.mean(np.sum(us**2, 1)) / (d / D * float(jnp.sum(g**2)))
    assert 0.8 < ratio < 1.3, ratio


def test_unbiasedness_check_detects_the_official_bernoulli_bias():
    """Directions with mean -0.5 (the official 'bernoulli-0.5') fail the same statistical check."""
    D, d, n = 200, 12, 1500
    g = _normal(7, (D,))

    sub = rb.subspace(D, d, "bernoulli-0.5", chunk=5)
    phi = np.asarray(rb.directions(sub, rb.step_key(0, 0))) * np.sqrt(D)
    np.testing.assert_allclose(np.sort(np.unique(phi.round(5))), [-1.5, 0.5])  # the official values
    us = _draws(sub, g, n)
    chi2, k = _chi2_per_dim(us, d / D * np.asarray(g, np.float64))
    assert chi2 > 10 * _bound(k)
    # its mean is the biased (d / D) (I + 11^T / 4) g, checked by the same statistic
    target = d / D * (np.asarray(g, np.float64) + float(np.sum(np.asarray(g, np.float64))) / 4)
    chi2, k = _chi2_per_dim(us, target)
    assert chi2 < _bound(k), chi2


@pytest.mark.parametrize(
    "dist,compartments",
    [
        ("gaussian", rb.Compartments("leaf", budget="split")),
        ("hadamard-coset", rb.Compartments("chunk", size=50, budget="each")),
    ],
)
@pytest.mark.heavy
def test_compartment_updates_are_unbiased(dist, compartments):
    params = _two_leaves()
    g, _ = ravel_pytree(params)
    sub = rb.subspace(params, 7, dist, compartments, chunk=3)
    if compartments.kind == "leaf":
        # leaves in jax.tree_util order (sorted dict keys): b, w; 7 = 4 + 3
        assert sub.sizes == (12, 120) and sub.dims == (4, 3)
    else:
        assert sub.sizes == (50, 50, 32) and sub.dims == (7, 7, 7)
    target = np.concatenate(
        [
            np.asarray(g[o : o + s], np.float64) * dj / sub.total
            for o, s, dj in zip(sub.offsets, sub.sizes, sub.dims)
        ]
    )
    chi2, k = _chi2_per_dim(_draws(sub, g, 1500), target)
    assert chi2 < _bound(k), chi2


@pytest.mark.parametrize("dist", ["gaussian", "hadamard"])
@pytest.mark.heavy
def test_directions_regenerate_identically_and_match_project_expand(dist):
    D = 132
    sub = rb.subspace(_two_leaves(), 9, dist, rb.Compartments("leaf", budget="each"), chunk=4)
    g = _normal(3, (D,))

    @jax.jit
    def run(key):
        c, u = rb.project_expand(sub, key, g)
        return rb.directions(sub, key), c, u, rb.project(sub, key, g), rb.expand(sub, key, c)

    k1 = rb.step_key(5, 17)
    phi, c, u, c2, u2 = map(np.asarray, run(k1))
    phi_again = np.asarray(run(rb.step_key(5, 17))[0])
    np.testing.assert_array_equal(phi, phi_again)  # regenerated, bit for bit
    assert not np.allclose(phi, np.asarray(run(rb.step_key(5, 18))[0]))  # next step: new directions
    assert phi.shape == (sub.d, D) == (18, D)
    np.testing.assert_allclose(c, phi @ np.asarray(g), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(u, phi.T @ c, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(c, c2)
    np.testing.assert_allclose(u, u2, rtol=1e-6, atol=1e-7)
    # every direction lives in its own compartment
    for j, (o, s) in enumerate(zip(sub.offsets, sub.sizes)):
        rows = phi[9 * j : 9 * (j + 1)]
        assert np.all(rows[:, :o] == 0) and np.all(rows[:, o + s :] == 0)


def test_pytree_route_equals_the_flat_route():
    """Hadamard directions applied leaf by leaf (leaves straddling compartments) = the flat vector route."""
    params = _tiny_params()
    flat, unravel = ravel_pytree(params)
    sub = rb.subspace(params, 9, "hadamard-coset", rb.Compartments("chunk", size=50))
    key = rb.step_key(1, 2)
    c_tree, u_tree = jax.jit(lambda g: rb.project_expand_tree(sub, key, g))(params)
    c_flat, u_flat = rb.project_expand(sub, key, flat)
    np.testing.assert_allclose(np.asarray(c_tree), np.asarray(c_flat), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(ravel_pytree(u_tree)[0]), np.asarray(u_flat), rtol=1e-5, atol=1e-6
    )
    assert jax.tree.structure(u_tree) == jax.tree.structure(params)


def test_gaussian_directions_follow_the_documented_formula():
    D, d = 300, 7
    sub = rb.subspace(D, d, "gaussian", chunk=4)
    key = rb.step_key(0, 3)
    phi = np.asarray(rb.directions(sub, key))
    comp_key = jax.random.fold_in(key, 0)  # compartment 0
    first = np.asarray(jax.random.normal(jax.random.fold_in(comp_key, 0), (4, D))) / np.sqrt(D)
    second = np.asarray(jax.random.normal(jax.random.fold_in(comp_key, 1), (4, D))) / np.sqrt(D)
    np.testing.assert_allclose(phi, np.concatenate([first, second[:3]]), rtol=1e-6, atol=1e-7)


def test_bernoulli_and_uniform_directions_have_mean_zero_and_unit_variance():
    D, d = 4000, 50
    for dist in ("bernoulli", "uniform"):
        phi = np.asarray(
            rb.directions(rb.subspace(D, d, dist), rb.step_key(1, 0)), np.float64
        ) * np.sqrt(D)
        m = phi.size
        assert abs(phi.mean()) < 5 / np.sqrt(m), (dist, phi.mean())  # N(0, 1/m) under the null
        assert abs(phi.var() - 1) < 5 * np.sqrt(2 / m) * 1.5
        if dist == "bernoulli":
            np.testing.assert_allclose(np.abs(phi), 1.0, rtol=1e-6)
        else:
            assert np.abs(phi).max() <= np.sqrt(3) + 1e-5


@pytest.mark.parametrize("dist", ["hadamard", "hadamard-coset"])
def test_hadamard_directions_are_signed_rows_of_the_dense_hadamard_matrix(dist):
    D, d = 300, 20
    sub = rb.subspace(D, d, dist)
    key = rb.step_key(2, 9)
    phi = np.asarray(rb.directions(sub, key), np.float64)
    coset = dist == "hadamard-coset"
    parts = jax.jit(rb._hadamard_parts, static_argnums=(1, 2, 3, 4))
    signs, r1, h_b = map(np.asarray, parts(jax.random.fold_in(key, 0), D, d, jnp.float32, coset))
    a, b = rb._hadamard_shape(D, d, coset)
    assert (a, b) == ((32, 16) if coset else (512, 1))
    big = scipy.linalg.hadamard(b)
    r2 = [r for r in range(b) if np.array_equal(big[r], h_b)]
    assert len(r2) == 1
    rows = r2[0] * a + r1
    assert len(set(rows.tolist())) == d  # distinct rows of H_512
    want = (scipy.linalg.hadamard(a * b)[rows] * signs)[:, :D] / np.sqrt(D)
    np.testing.assert_allclose(phi, want, rtol=1e-6, atol=1e-7)
    gram = phi @ phi.T
    np.testing.assert_allclose(np.diag(gram), 1.0, rtol=1e-6)  # every entry is +-1/sqrt(D)
    if coset:
        # rows differ only in the H_a factor and the padding sits along h_b, so the truncated
        # directions stay nearly orthogonal (the plain SRHT's need not: rows whose XOR is the top
        # bit have truncated inner products up to (n - D) / D)
        off = np.abs(gram - np.diag(np.diag(gram))).max()
        assert off < 0.1, off


def test_directions_are_generated_in_blocks_not_all_at_once():
    """No intermediate of the jitted step holds d x D numbers: memory is O(chunk * D)."""
    D, d, chunk = 6000, 500, 20
    sub = rb.subspace(D, d, "gaussian", chunk=chunk)
    jaxpr = jax.make_jaxpr(lambda k, g: rb.project_expand(sub, k, g))(
        jax.random.key(0), jnp.ones(D)
    )

    def sizes(jx):
        for eqn in jx.eqns:
            for v in eqn.outvars:
                yield int(np.prod(v.aval.shape)) if hasattr(v.aval, "shape") else 0
            for p in eqn.params.values():
                for q in p if isinstance(p, (tuple, list)) else (p,):
                    inner = getattr(q, "jaxpr", None)
                    if inner is not None:
                        yield from sizes(inner if hasattr(inner, "eqns") else inner.jaxpr)

    biggest = max(sizes(jaxpr.jaxpr))
    assert chunk * D <= biggest <= 4 * chunk * D < d * D


# ----------------------------------------------------------------- estimators and methods
def _mlp_loss():
    model = models.fc(n_classes=4, hidden=6)
    params = jax.jit(model.init, static_argnums=1)(jax.random.key(0), (4, 4, 1))
    x = _normal(1, (8, 4, 4, 1))
    y = jnp.arange(8) % 4
    return model, params, x, y, rb.make_loss(model.apply)


@pytest.mark.heavy
def test_rbd_estimate_projects_the_minibatch_gradient():
    model, params, x, y, loss = _mlp_loss()
    sub = rb.subspace(params, 10, "gaussian", chunk=4)
    est, m = jax.jit(lambda p: rb.rbd_estimate(p, x, y, 3, loss=loss, sub=sub, seed=11))(params)
    g = np.asarray(
        jax.jit(lambda p: ravel_pytree(jax.grad(lambda q: loss(q, x, y)[0])(p))[0])(params)
    )
    phi = np.asarray(rb.directions(sub, jax.random.fold_in(rb.step_key(11, 3), 0)))
    np.testing.assert_allclose(np.asarray(m["coefficients"][0]), phi @ g, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(ravel_pytree(est)[0]), phi.T @ (phi @ g), rtol=1e-4, atol=1e-6
    )
    u = phi.T @ (phi @ g)
    assert abs(float(m["cos"]) - u @ g / np.linalg.norm(u) / np.linalg.norm(g)) < 1e-4


@pytest.mark.heavy
def test_fpd_with_a_full_orthonormal_basis_is_sgd():
    with jax.enable_x64(True):
        model, params, x, y, loss = _mlp_loss()
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        x = x.astype(jnp.float64)
        D = models.count_params(params)
        runs = {}
        for name, method in [("sgd", rb.SGD(0.3)), ("fpd", rb.FPD(0.3, D, "orthonormal"))]:
            init, step = rb.build(method, loss, params, seed=4)
            step = jax.jit(step)
            p, aux = params, init(params)
            for t in range(3):
                p, aux, _ = step(p, aux, x, y, t)
            runs[name] = p, aux
        want = ravel_pytree(runs["sgd"][0])[0]
        np.testing.assert_allclose(ravel_pytree(runs["fpd"][0])[0], want, rtol=1e-10, atol=1e-12)
        assert np.abs(ravel_pytree(runs["fpd"][0])[0] - ravel_pytree(params)[0]).max() > 1e-3
        assert runs["fpd"][1][1].shape == (D,)  # FPD's trained coordinates z


@pytest.mark.heavy
def test_fpd_stays_in_its_fixed_subspace():
    model, params, x, y, loss = _mlp_loss()
    init, step = rb.build(rb.FPD(0.5, 6, chunk=4), loss, params, seed=2)
    aux = init(params)
    assert float(jnp.abs(aux[1]).max()) == 0.0  # coordinates start at zero
    p = params
    for t in range(4):
        p, aux, _ = jax.jit(step)(p, aux, x, y, t)
    delta = np.asarray(ravel_pytree(p)[0] - ravel_pytree(params)[0], np.float64)
    sub = rb.subspace(params, 6, chunk=4)
    # the run's fixed P^T
    basis = np.asarray(rb.directions(sub, rb.stream_key(2, rb.STREAM_BASIS)), np.float64)
    z, *_ = np.linalg.lstsq(basis.T, delta, rcond=None)
    assert np.linalg.norm(basis.T @ z - delta) < 1e-5 * np.linalg.norm(delta)
    np.testing.assert_allclose(z, np.asarray(aux[1]), rtol=1e-4, atol=1e-6)
    assert np.linalg.norm(delta) > 0


_DISTRIBUTED_SCRIPT = textwrap.dedent("""
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, jax.numpy as jnp, numpy as np
    from jax.flatten_util import ravel_pytree
    from fasttrain.core import models
    from fasttrain.methods import random_bases as rb
    assert jax.device_count() == 4, jax.devices()
    mesh = jax.make_mesh((4,), ("workers",))
    with jax.enable_x64(True):
        model = models.fc(n_classes=4, hidden=6)
        rng = np.random.default_rng(0)
        params = {"dense1": {"w": jnp.asarray(rng.normal(size=(16, 6))), "b": jnp.zeros(6)},
                  "dense2": {"w": jnp.asarray(rng.normal(size=(6, 4))), "b": jnp.zeros(4)}}
        loss = rb.make_loss(model.apply)
        xs = jnp.asarray(rng.normal(size=(3, 16, 4, 4, 1)))
        ys = jnp.asarray(rng.integers(0, 4, size=(3, 16)))
        sub = rb.subspace(params, 3, "gaussian", chunk=2)  # 3 directions per worker, d = 12 in all

        def stepper(estimate):
            def step(p, x, y, t):
                e, m = estimate(p, x, y, t, loss=loss, sub=sub, seed=9)
                return jax.tree.map(lambda a, b: a - 0.5 * b, p, e), m["coefficients"]
            return jax.jit(step)

        serial = stepper(lambda *a, **k: rb.rbd_estimate(*a, **k, n_groups=4))
        distributed = stepper(lambda *a, **k: rb.distributed_rbd_estimate(*a, **k, mesh=mesh))
        p1 = p2 = params
        cdiff = 0.0
        for t in range(3):
            p1, c1 = serial(p1, xs[t], ys[t], t)
            p2, c2 = distributed(p2, xs[t], ys[t], t)
            assert c2.shape == (4, 3)
            cdiff = max(cdiff, float(np.abs(np.asarray(c1) - np.asarray(c2)).max()))
        moved = float(np.abs(ravel_pytree(p1)[0] - ravel_pytree(params)[0]).max())
        diff = float(np.abs(ravel_pytree(p1)[0] - ravel_pytree(p2)[0]).max())
        print("gaussian", diff, moved, cdiff)
""")


@pytest.mark.heavy
def test_distributed_rbd_equals_single_device_run():
    """4 host devices in a subprocess (the XLA flag must precede jax's initialisation)."""
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, "-c", _DISTRIBUTED_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln.split() for ln in proc.stdout.strip().splitlines()]
    assert [ln[0] for ln in lines] == ["gaussian"]
    for name, diff, moved, cdiff in lines:
        assert float(moved) > 1e-3, name  # the parameters did change
        assert float(diff) < 1e-12 * max(1.0, float(moved)), (name, diff)
        assert float(cdiff) < 1e-12, (name, cdiff)


@pytest.mark.heavy
def test_nes_estimate_points_along_the_gradient_of_a_linear_loss():
    a = _normal(0, (40,))
    params = {"w": jnp.zeros((40,))}

    def loss(p, x, y):
        return jnp.vdot(a, p["w"]), jnp.float32(0)

    # the default (independent noise, one shared batch) and the antithetic, batch-per-member variant
    for antithetic, per_member in ((False, False), (True, True)):
        x = jnp.zeros((20, 1)) if per_member else None  # one (ignored) batch per population member
        fn = jax.jit(
            jax.vmap(
                lambda t, x=x, antithetic=antithetic, per_member=per_member: rb.nes_estimate(
                    params,
                    x,
                    x,
                    t,
                    loss=loss,
                    population=20,
                    sigma=0.01,
                    seed=3,
                    antithetic=antithetic,
                    chunk=6,
                    per_member=per_member,
                )[0]["w"]
            )
        )
        est = np.asarray(fn(jnp.arange(300))).mean(0)
        cos = est @ np.asarray(a) / np.linalg.norm(est) / np.linalg.norm(a)
        assert cos > 0.95, (antithetic, cos)
    f = np.asarray(rb.rank_fitness(jnp.array([3.0, 1.0, 2.0, 0.5])))
    np.testing.assert_allclose(f, [-0.5, 1 / 6, -1 / 6, 0.5], rtol=1e-6)


def test_communication_bytes():
    c = rb.communication_bytes(101_770, 250, 16)
    assert c["rbd_payload"] == 1000 and c["sgd_payload"] == 407_080
    assert c["rbd_per_worker"] == pytest.approx(15 / 16 * 1000)
    assert c["sgd_per_worker"] == pytest.approx(2 * 15 / 16 * 407_080)
    assert c["ratio"] == pytest.approx(407.08)


# ----------------------------------------------------------------- augmentation
def test_mnist_augmentation_is_a_crop_plus_one_brightness_shift():
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(6, 28, 28, 1)).astype(np.float32))
    out = np.asarray(jax.jit(rb.augment, static_argnums=0)("mnist", jax.random.key(1), x))
    assert out.shape == x.shape
    padded = np.pad(np.asarray(x), ((0, 0), (3, 3), (3, 3), (0, 0)))
    for i in range(len(x)):
        fits = []
        for oy in range(7):
            for ox in range(7):
                diff = out[i] - padded[i, oy : oy + 28, ox : ox + 28]
                if np.ptp(diff) < 1e-5:
                    fits.append(float(diff.mean()))
        assert fits and all(-0.5 <= f <= 0.5 for f in fits), i
    assert np.asarray(rb.augment("none", jax.random.key(1), x)).tolist() == np.asarray(x).tolist()
    with pytest.raises(ValueError, match="unknown augmentation"):
        rb.augment("imagenet", jax.random.key(1), x)


def test_cifar_augmentation_standardises_each_image():
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype(np.float32))
    out = np.asarray(jax.jit(rb.augment, static_argnums=0)("cifar10", jax.random.key(1), x))
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, rtol=1e-3)


# ----------------------------------------------------------------- training driver
@pytest.mark.heavy
def test_training_learns_and_switching_is_wired_to_the_step_counter():
    data, model = _tiny_data(), models.fc(n_classes=4, hidden=16)
    sgd, rbd = rb.SGD(0.5), rb.RBD(2.0, d=32, distribution="hadamard-coset")
    # RBD for steps 0..6 (its cosine with the gradient is recorded), SGD from step 7 on (no cosine);
    # segments of 5 steps put the switch inside a segment
    r = rb.train(model, data, rbd, epochs=2, batch_size=16, switch_at=7, then=sgd, segment=5)
    assert (
        r.steps == 32
        and r.steps_per_epoch == 16
        and len(r.test_accuracy) == 3
        and len(r.loss) == 32
    )
    assert np.all(np.isfinite(r.cos[:7])) and np.all(np.isnan(r.cos[7:]))
    assert np.all((r.cos[:7] > 0) & (r.cos[:7] < 1))
    assert r.method == "RBD-hadamard-coset->SGD@7" and np.all(np.isfinite(r.loss))
    assert (
        r.test_accuracy[-1] > r.test_accuracy[0] + 0.2
    )  # it learns (4 balanced classes: chance 0.25)


def test_diverging_run_raises():
    with pytest.raises(rb.DivergenceError, match="diverged"):
        rb.train(
            models.fc(n_classes=4, hidden=16), _tiny_data(), rb.SGD(1e30), epochs=1, batch_size=16
        )


def test_bad_inputs_give_clear_errors():
    params = _tiny_params()
    for d in (0, -3):
        with pytest.raises(ValueError, match="d must be between 1 and D = 171"):
            rb.subspace(params, d)
    with pytest.raises(ValueError, match="d must be between 1 and D = 171"):
        rb.subspace(params, 172)
    with pytest.raises(ValueError, match="d must be an integer"):
        rb.subspace(params, 2.5)
    with pytest.raises(ValueError, match="unknown direction distribution 'cauchy'"):
        rb.subspace(params, 5, "cauchy")
    with pytest.raises(ValueError, match="unknown compartment kind"):
        rb.Compartments("layers")
    with pytest.raises(ValueError, match="unknown compartment budget"):
        rb.Compartments("leaf", budget="half")
    with pytest.raises(ValueError, match="positive integer size"):
        rb.Compartments("chunk", size=0)
    with pytest.raises(ValueError, match="cannot be split across 4 compartments"):
        rb.subspace(params, 3, compartments=rb.Compartments("leaf"))
    with pytest.raises(ValueError, match="orthonormal basis of 5 vectors"):
        rb.subspace(params, 5, "orthonormal", rb.Compartments("leaf", budget="each"))
    with pytest.raises(ValueError, match="chunk must be a positive integer"):
        rb.subspace(params, 5, chunk=0)
    data, model = _tiny_data(), models.fc(n_classes=4, hidden=16)
    with pytest.raises(ValueError, match="multiple of n_groups"):
        rb.train(model, data, rb.RBD(1.0, d=10, n_groups=4), epochs=1)
    with pytest.raises(ValueError, match="learning rate must be positive"):
        rb.train(model, data, rb.SGD(-0.1), epochs=1)
    with pytest.raises(ValueError, match="even when antithetic"):
        rb.train(model, data, rb.NES(population=7, antithetic=True), epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        rb.train(model, data, rb.SGD(0.1), epochs=0)
    with pytest.raises(ValueError, match="switching is supported between SGD and RBD only"):
        rb.train(model, data, rb.FPD(), epochs=1, switch_at=3, then=rb.SGD())
    with pytest.raises(ValueError, match="unknown scale"):
        S.config("huge")
    with pytest.raises(ValueError, match="no paper learning rate"):
        S.learning_rates("vgg", "mnist")


def test_smoke_data_is_the_configured_subsample():
    cfg = S.config("smoke")
    ds = S.load_data(cfg)
    assert ds.x_train.shape == (cfg.n_train, 28, 28, 1) and ds.x_test.shape == (
        cfg.n_test,
        28,
        28,
        1,
    )
    assert (
        0.0 <= ds.x_train.min()
        and ds.x_train.max() <= 1.0
        and set(np.unique(ds.y_train)) == set(range(10))
    )
    with pytest.raises(ValueError, match="unknown dataset"):
        S.load_data(
            S.Config(
                scale="paper", dataset="svhn", n_train=None, n_test=None, epochs=1, dense_epochs=1
            )
        )


def test_configs_follow_the_paper_at_paper_scale():
    paper, book, smoke = S.config("paper"), S.config("book"), S.config("smoke")
    assert (paper.epochs, paper.batch_size, paper.d, len(paper.seeds)) == (100, 32, 250, 3)
    assert book.dataset == smoke.dataset == "mnist-subset" and book.n_train is None
    assert smoke.n_train <= 1000 and smoke.epochs == 1
    assert S.learning_rates("fc", "mnist-subset") == {"rbd": 1.0, "sgd": 0.125, "fpd": 1.0}
    assert S.learning_rates("cnn", "cifar10")["sgd"] == 0.015625
    assert S.learning_rates("fc", "fashion_mnist")["rbd"] == 0.5
    assert paper.nes_per_member and paper.nes_population == 250 and paper.dataset == "mnist"


# ----------------------------------------------------------------- additions for the chapter
def test_max_pool_gradient_matches_reduce_window():
    """The reshape-based pool has reduce_window's values and (without ties) its gradient."""
    x = _normal(4, (2, 7, 9, 3))  # odd sizes: the last row/column is dropped, as with VALID padding

    def ref(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    w = _normal(5, (2, 3, 4, 3))
    np.testing.assert_array_equal(np.asarray(models.max_pool(x)), np.asarray(ref(x)))
    g = jax.grad(lambda x: jnp.sum(w * models.max_pool(x)))(x)
    g_ref = jax.grad(lambda x: jnp.sum(w * ref(x)))(x)
    np.testing.assert_allclose(np.asarray(g), np.asarray(g_ref), rtol=1e-6)


@pytest.mark.heavy
def test_fpd_with_a_stored_basis_equals_the_regenerated_one():
    model, params, x, y, loss = _mlp_loss()
    runs = {}
    for store in (False, True):
        init, step = rb.build(
            rb.FPD(0.5, 6, "gaussian", chunk=4, store_basis=store), loss, params, seed=2
        )
        p, aux = params, init(params)
        for t in range(3):
            p, aux, _ = jax.jit(step)(p, aux, x, y, t)
        runs[store] = np.asarray(ravel_pytree(p)[0])
    np.testing.assert_allclose(runs[True], runs[False], rtol=1e-5, atol=1e-6)
    assert np.abs(runs[True] - np.asarray(ravel_pytree(params)[0])).max() > 1e-4
    with pytest.raises(ValueError, match="stored basis .* too large"):
        rb.build(rb.FPD(0.5, 5000, store_basis=True), loss, {"w": jnp.zeros((60_000,))}, seed=0)


@pytest.mark.heavy
def test_python_and_fori_loops_train_identically():
    data, model = _tiny_data(), models.fc(n_classes=4, hidden=16)
    method = rb.RBD(2.0, d=16, distribution="hadamard-coset")
    a = rb.train(model, data, method, epochs=1, batch_size=32, loop="fori", segment=3)
    b = rb.train(model, data, method, epochs=1, batch_size=32, loop="python", segment=3)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5)
    np.testing.assert_allclose(a.test_accuracy, b.test_accuracy)
    # conv models (4-D kernels) step from Python, dense ones inside lax.fori_loop
    cnn = jax.eval_shape(lambda k: models.cnn().init(k, (28, 28, 1)), jax.random.key(0))
    assert rb._python_loop(cnn) and not rb._python_loop(_tiny_params())
    with pytest.raises(ValueError, match="loop must be"):
        rb.train(model, data, method, epochs=1, loop="while")


@pytest.mark.heavy
def test_rbd_on_a_one_device_mesh_equals_the_plain_run():
    data, model = _tiny_data(), models.fc(n_classes=4, hidden=16)
    mesh = jax.make_mesh((1,), ("workers",))
    method = rb.RBD(2.0, d=16, distribution="gaussian", chunk=8)
    a = rb.train(model, data, method, epochs=1, batch_size=32)
    b = rb.train(model, data, method, epochs=1, batch_size=32, mesh=mesh)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5)
    assert np.all(np.isnan(b.cos))  # the gradient never leaves its device
    with pytest.raises(ValueError, match="n_groups = the number of devices"):
        rb.train(model, data, rb.RBD(2.0, d=16, n_groups=2), epochs=1, mesh=mesh)
    with pytest.raises(ValueError, match="only RBD runs on a device mesh"):
        rb.train(model, data, rb.SGD(0.1), epochs=1, mesh=mesh)


def test_time_step_rejects_bad_counts():
    x, y = np.zeros((4, 4, 4, 1), np.float32), np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="repeats and inner must be positive"):
        rb.time_step(models.fc(n_classes=4, hidden=6), rb.SGD(0.1), x, y, inner=0)


# ----------------------------------------------------------------- the chapter's protocols
def test_study_memoises_equivalent_runs(monkeypatch):

    calls = []
    monkeypatch.setattr(rb, "train", lambda *a, **k: calls.append((a, k)) or object())
    study = S.Study(S.config("smoke"))
    m = rb.SGD(0.1)
    first = study.run("fc", m, 1)
    assert (
        study.run("fc", m, 1, dataset="mnist-subset", n_train=10_000) is first
    )  # same data, same run
    assert study.run("fc", m, 1, n_train=100) is not first
    assert len(calls) == 2 and len(calls[1][0][1].x_train) == 100


def test_chapter_helpers():
    assert S.compare_counts([0.93, 0.80, 0.50], [0.928, 0.77, 0.53]) == (1, 1, 1)
    assert S.monotone([0.1, 0.1, 0.3]) and not S.monotone([0.2, 0.1])
    assert S.distributed_d(S.config("book")) == 252 and S.distributed_d(S.config("smoke")) == 64
    rows = S.communication(101_770, 250, (4,))
    assert rows[0]["RBD payload (B)"] == 1000 and rows[0]["SGD payload (B)"] == 407_080


def test_absent_data_sets_give_not_run_rows(monkeypatch, tmp_path):

    monkeypatch.setenv("FASTTRAIN_DATA", str(tmp_path))  # an empty cache: nothing is present
    rows = S.extra_dataset_rows(S.Study(S.config("book")))
    assert len(rows) == 2 * 2 * 4 and {r["status"] for r in rows} == {"not run: data absent"}
    fc_cifar = {
        r["method"]: r["paper"] for r in rows if r["model"] == "fc" and r["dataset"] == "cifar10"
    }
    assert fc_cifar == pytest.approx({"NES": 0.178, "FPD": 0.214, "RBD": 0.4377, "SGD": 0.5209})


@pytest.mark.heavy
def test_lr_selection_uses_the_validation_split_and_the_same_candidates_for_every_method():

    cfg = S.config("smoke")
    study = S.Study(cfg, 0)
    with pytest.raises(ValueError, match="positive"):
        S.lr_selection(study, (0,))
    val = study.data(split="val")
    full = study.data()
    assert len(val.x_train) + len(val.x_test) == len(full.x_train)
    assert len(val.x_test) == cfg.val_size  # the held-out images come from the training set
    with pytest.raises(ValueError, match="split"):
        study.data(split="train")
    out = S.lr_selection(study, (1, 2))
    cands = out["candidates"]
    for name in S.SELECTED:
        assert sorted(r["factor"] for r in cands if r["method"] == name) == [1, 2]
    sel = {r["method"]: r for r in out["selected"]}
    best = {}
    for r in cands:
        if r["status"] == "run" and r["val_accuracy"] > best.get(r["method"], (-1, 0))[0]:
            best[r["method"]] = (r["val_accuracy"], r["factor"])
    assert {k: v["factor"] for k, v in sel.items()} == {k: v[1] for k, v in best.items()}
    sgd = sel["SGD"]["per_seed"]
    assert sel["RBD"]["fractions"] == pytest.approx(
        [a / b for a, b in zip(sel["RBD"]["per_seed"], sgd)]
    )


@pytest.mark.heavy
def test_train_seeds_equals_train_per_seed():

    cfg = S.config("smoke")
    study = S.Study(cfg, 0)
    data = study.data(n_train=256)
    model = study.model("fc")
    method = rb.RBD(1.0, 16, "hadamard-coset", chunk=8)
    one = [rb.train(model, data, method, epochs=2, seed=s) for s in (3, 5)]
    both = rb.train_seeds(model, data, method, seeds=(3, 5), epochs=2, eval_epochs=(2,))
    for a, b in zip(one, both):
        np.testing.assert_allclose(a.loss, b.loss, atol=1e-5)
        assert b.evaluated == (0, 2) and b.test_accuracy[-1] == pytest.approx(
            a.final_accuracy, abs=2e-3
        )
    with pytest.raises(ValueError, match="distinct"):
        rb.train_seeds(model, data, method, seeds=(1, 1), epochs=1)
    with pytest.raises(ValueError, match="eval_epochs"):
        rb.train_seeds(model, data, method, seeds=(1,), epochs=1, eval_epochs=(3,))


def test_train_scores_only_at_eval_epochs_and_is_the_same_run():
    cfg = S.config("smoke")
    study = S.Study(cfg, 0)
    data = study.data(n_train=128)
    model = study.model("fc")
    method = rb.SGD(0.125)
    every = rb.train(model, data, method, epochs=3, seed=2)
    some = rb.train(model, data, method, epochs=3, seed=2, eval_epochs=(1,))
    assert some.evaluated == (0, 1, 3) and len(some.test_accuracy) == 3
    np.testing.assert_array_equal(every.loss, some.loss)
    assert list(some.test_accuracy) == [every.test_accuracy[e] for e in (0, 1, 3)]
    with pytest.raises(ValueError, match="eval_epochs"):
        rb.train(model, data, method, epochs=1, eval_epochs=(2,))


def test_train_and_train_seeds_share_one_driver_schedule():
    """One driver behind both entry points: the same schedule (segments that do not divide the
    epoch, a switch inside a segment, checkpoints), the same result fields, the same run up to the
    batched kernels' rounding (the vmapped step is a different XLA program: see ``_drive``)."""
    data, model = _tiny_data(n_train=96, n_test=64), models.fc(n_classes=4, hidden=16)
    rbd, sgd = rb.RBD(2.0, d=16, chunk=8), rb.SGD(0.5)
    kw = dict(epochs=3, batch_size=16, switch_at=7, then=sgd, segment=4, eval_epochs=(1,))
    one = [rb.train(model, data, rbd, seed=s, **kw) for s in (2, 7)]
    both = rb.train_seeds(model, data, rbd, seeds=(2, 7), **kw)
    for a, b in zip(one, both):
        same = ("method", "epochs", "steps", "steps_per_epoch", "switch_at", "eval_epochs")
        assert [getattr(a, f) for f in same] == [getattr(b, f) for f in same]
        assert a.evaluated == b.evaluated == (0, 1, 3) and a.diverged_at is b.diverged_at is None
        assert a.loss.shape == b.loss.shape == (18,) and a.test_accuracy.shape == (3,)
        np.testing.assert_allclose(a.loss, b.loss, atol=1e-5)
        np.testing.assert_allclose(a.test_accuracy, b.test_accuracy, atol=1.5 / 64)
        assert np.all(np.isfinite(a.cos[:7])) and np.all(np.isnan(b.cos[7:]))  # the switch at 7
    assert not np.array_equal(both[0].loss, both[1].loss)  # each seed its own run


def test_train_seeds_names_the_seed_that_diverged():
    data, model = _tiny_data(n_train=64, n_test=32), models.fc(n_classes=4, hidden=8)
    with pytest.raises(rb.DivergenceError, match=r"^SGD \(seed 5\) diverged at step 1 "):
        rb.train_seeds(model, data, rb.SGD(1e30), seeds=(5, 6), epochs=1, batch_size=16)
    with pytest.raises(rb.DivergenceError, match=r"^SGD diverged at step 1 "):
        rb.train(model, data, rb.SGD(1e30), epochs=1, batch_size=16, seed=5)


def test_study_run_memoises_and_fresh_reruns_identically():

    cfg = S.config("smoke")
    study = S.Study(cfg, 0)
    method = rb.SGD(0.125)
    a = study.run("fc", method, 1, n_train=64)
    assert study.run("fc", method, 1, n_train=64) is a
    b = study.run("fc", method, 1, n_train=64, fresh=True)
    assert b is not a and np.array_equal(a.loss, b.loss)
    assert study.run("fc", method, 1, n_train=64) is a  # the memoised result is kept


# ----------------------------------------------------------------- structured steps, fast route
# The structured (Hadamard) step as it was before its random bits were drawn by an unrolled
# Threefry (issue 11, item 5), copied verbatim as the reference: the fast route must give the same
# coefficients and update for the same key (up to float32 rounding).
def _reference_hadamard_parts(key, size, m, dtype, coset):
    a, b = rb._hadamard_shape(size, m, coset)
    k_sign, k_row = jax.random.split(key)
    signs = rb._signs(k_sign, (a * b,), dtype)
    bits = jax.random.bits(k_row, (3,), jnp.uint32)
    alpha = bits[0] * jnp.uint32(2) + jnp.uint32(1)
    r1 = ((bits[1] + alpha * jnp.arange(m, dtype=jnp.uint32)) % jnp.uint32(a)).astype(jnp.int32)
    r2 = bits[2] % jnp.uint32(b)
    parity = jax.lax.population_count(r2 & jnp.arange(b, dtype=jnp.uint32)) & jnp.uint32(1)
    h_b = (1 - 2 * parity.astype(jnp.int32)).astype(dtype)
    return signs, r1, h_b


def _reference_hadamard_compartment(sub, j, key, layout, pieces=None, c=None, want_u=True):
    size, dj = sub.sizes[j], sub.dims[j]
    dtype = (pieces[0] if pieces is not None else c).dtype
    inv = 1.0 / np.sqrt(sub.total)
    coset = sub.distribution == "hadamard-coset"
    signs, r1, h_b = _reference_hadamard_parts(key, size, dj, dtype, coset)
    a, b = rb._hadamard_shape(size, dj, coset)
    sh = signs.reshape(b, a) * h_b[:, None]

    def rows(pos, length):
        first, lead = divmod(pos, a)
        return first, lead, -(-(lead + length) // a)

    if pieces is not None:
        v = jnp.zeros((a,), dtype)
        for (pos, length), vec in zip(layout, pieces):
            first, lead, n_rows = rows(pos, length)
            block = jnp.pad(vec, (lead, n_rows * a - lead - length)).reshape(n_rows, a)
            v = v + jnp.sum(sh[first : first + n_rows] * block, axis=0)
        c = rb.fwht(v)[r1] * inv
    if not want_u:
        return c, None
    w = rb.fwht(jnp.zeros((a,), dtype).at[r1].add(c)) * inv
    out = []
    for pos, length in layout:
        first, lead, n_rows = rows(pos, length)
        out.append((sh[first : first + n_rows] * w[None, :]).reshape(-1)[lead : lead + length])
    return c, out


def _reference_project_expand_tree(sub, key, g_tree):
    return rb._structured_tree(sub, key, g_tree, _reference_hadamard_compartment)


_STRUCTURED_CASES = [
    (dist, comp)
    for dist in ("hadamard", "hadamard-coset")
    for comp in (
        rb.Compartments(),
        rb.Compartments("leaf"),
        rb.Compartments("chunk", size=50),
        rb.Compartments("chunk", size=40, budget="each"),
    )
]


@pytest.mark.parametrize("dist, compartments", _STRUCTURED_CASES)
@pytest.mark.heavy
def test_structured_step_equals_the_reference_implementation(dist, compartments):
    """project_expand_tree / project / expand / project_expand = the pre-optimisation formulas."""
    params = _tiny_params()
    flat, unravel = ravel_pytree(params)
    sub = rb.subspace(params, 9, dist, compartments)
    for seed, step in ((0, 0), (3, 17)):
        key = jax.random.fold_in(rb.step_key(seed, step), 0)
        c_ref, u_ref = jax.jit(lambda k, g: _reference_project_expand_tree(sub, k, g))(key, params)
        c, u = jax.jit(lambda k, g: rb.project_expand_tree(sub, k, g))(key, params)
        np.testing.assert_allclose(np.asarray(c), np.asarray(c_ref), rtol=1e-5, atol=1e-6)
        u_ref_flat = np.asarray(ravel_pytree(u_ref)[0])
        np.testing.assert_allclose(np.asarray(ravel_pytree(u)[0]), u_ref_flat, rtol=1e-5, atol=1e-6)
        assert jax.tree.structure(u) == jax.tree.structure(params)
        # the flat routes: every compartment is one piece
        c_flat, u_flat = rb.project_expand(sub, key, flat)
        np.testing.assert_allclose(np.asarray(c_flat), np.asarray(c_ref), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(u_flat), u_ref_flat, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            np.asarray(rb.project(sub, key, flat)), np.asarray(c_ref), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            np.asarray(rb.expand(sub, key, c_ref)), u_ref_flat, rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("coset", [False, True])
@pytest.mark.heavy
def test_structured_parts_equal_jax_random(coset):
    """The unrolled Threefry draws exactly jax.random's signs and rows (any key impl)."""
    parts = jax.jit(rb._hadamard_parts, static_argnums=(1, 2, 3, 4))
    ref = jax.jit(_reference_hadamard_parts, static_argnums=(1, 2, 3, 4))
    for key in (rb.step_key(5, 123), jax.random.key(7, impl="rbg")):
        for size, m in ((171, 9), (1000, 250), (70, 70)):
            got = parts(key, size, m, jnp.float32, coset)
            want = ref(key, size, m, jnp.float32, coset)
            for x, y in zip(got, want):
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.heavy
def test_a_diverging_run_can_stop_and_be_kept_as_a_result():
    data, model = _tiny_data(), models.fc(n_classes=4, hidden=16)
    r = rb.train(model, data, rb.SGD(1e30), epochs=2, batch_size=16, on_divergence="stop")
    # the loss is finite at step 0 (before any update) and not after the absurd first step
    assert r.diverged_at is not None and 0 < r.diverged_at < 2 * r.steps_per_epoch
    assert r.steps == r.diverged_at and not np.isfinite(r.loss[r.diverged_at])
    assert np.all(np.isfinite(r.loss[: r.diverged_at]))
    # only the checkpoints reached with finite parameters are scored (here: the initialisation)
    assert r.evaluated == (0,) and len(r.test_accuracy) == 1
    ok = rb.train(model, data, rb.SGD(0.5), epochs=2, batch_size=16, on_divergence="stop")
    same = rb.train(model, data, rb.SGD(0.5), epochs=2, batch_size=16)
    assert ok.diverged_at is None and ok.evaluated == (0, 1, 2)
    np.testing.assert_array_equal(ok.loss, same.loss)
    with pytest.raises(ValueError, match="on_divergence"):
        rb.train(model, data, rb.SGD(0.5), epochs=1, batch_size=16, on_divergence="ignore")


@pytest.mark.heavy
def test_long_runs_fall_back_down_the_grid_when_they_diverge():
    """The declared divergence protocol on a tiny FC: an absurd selected rate diverges, is kept as
    a result, and the method trains again from the start at the next smaller candidate."""
    from dataclasses import replace

    cfg = replace(
        S.config("smoke"), n_train=128, cnn_long_epochs=2, cnn_long_evals=(1,), cnn_epochs=1
    )
    study = S.Study(cfg, 0)
    grid = (1, 1e12, 1e20)
    assert S.fallback_factors(grid, 1e20) == [1e20, 1e12, 1]
    with pytest.raises(ValueError, match="not a candidate"):
        S.fallback_factors(grid, 4)
    out = S.long_protocol(study, "fc", {"RBD": 1, "FPD": 1, "SGD": 1e20}, grid)
    sgd = [a for a in out["attempts"] if a["method"] == "SGD"]
    assert [(a["factor"], a["status"]) for a in sgd] == [
        (1e20, "diverged"),
        (1e12, "diverged"),
        (1, "completed"),
    ]
    assert all(a["diverged_at"] is not None and a["last_epoch"] == 0 for a in sgd[:2])
    assert out["runs"][("SGD", 0)][0] == 1 and out["runs"][("SGD", 0)][1].diverged_at is None
    assert S.long_protocol(study, "fc", {"RBD": 1, "FPD": 1, "SGD": 1e20}, grid) is out
    rows = S.long_rows(study, out)
    assert {(r["method"], r["epochs"]) for r in rows} == {
        (m, e) for m in ("RBD", "FPD", "SGD") for e in (1, 2)
    }
    sgd_row = next(r for r in rows if r["method"] == "SGD" and r["epochs"] == 2)
    assert sgd_row["fallback"] and sgd_row["factor"] == 1 and sgd_row["fractions"] == [1.0]
    lm = S.long_measurements(rows, out["attempts"])
    at = sgd[0]["diverged_at"], sgd[1]["diverged_at"]
    assert lm["rates"] == (
        f"RBD 1×, FPD 1×, SGD 1× (1e+20× diverged at step {at[0]}; 1e+12× diverged at step {at[1]})"
    )
    # the claims' rules decide on the completed runs
    verdict, _ = S.CLAIMS["table1-rbd-fraction-cnn-long"].rule(lm["fraction"]["RBD"], paper=0.98)
    assert verdict in C.VERDICTS and lm["missing"] == []


def test_step_runner_takes_inner_steps_from_python_or_in_one_loop_alike():
    # the one step runner of time_step and the paper-scale plan: both loops take the same steps
    model = models.fc(n_classes=4, hidden=6)
    x = jax.random.normal(jax.random.key(0), (8, 4, 4, 1))
    y = jnp.arange(8) % 4
    params = model.init(jax.random.key(1), (4, 4, 1))
    loss = rb.make_loss(model.apply)
    out = {}
    for loop in ("python", "fori"):
        run, aux = rb.step_runner(rb.SGD(0.1), loss, params, x, y, 3, loop=loop)
        out[loop] = run(params, aux)[0]
    for a, b in zip(jax.tree.leaves(out["python"]), jax.tree.leaves(out["fori"]), strict=True):
        assert jnp.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not jnp.allclose(jax.tree.leaves(out["fori"])[0], jax.tree.leaves(params)[0])
    with pytest.raises(ValueError, match="inner must be positive"):
        rb.step_runner(rb.SGD(0.1), loss, params, x, y, 0)
