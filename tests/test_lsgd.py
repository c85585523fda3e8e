"""Tests of fasttrain.lsgd: least squares, box initialisation, PINN system, training."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fasttrain.chapters import ch04_layer_parallel_lsgd as lss
from fasttrain.core.selection import on_grid
from fasttrain.methods import lsgd


@pytest.mark.heavy
def test_least_squares_step_zeroes_the_output_layer_gradient():
    with jax.enable_x64(True):
        b = lsgd.benchmark("smooth2d")
        x, y, _, _ = lsgd.regression_data(b, 200, 16, seed=1, dtype=jnp.float64)
        system = lsgd.regression_system(x, y)
        p0 = lsgd.init_mlp(jax.random.key(0), 2, (12, 10), 1, "box", dtype=jnp.float64)
        grad_c = jax.jit(lambda p, ridge: jax.grad(lsgd.quadratic_loss)(p, system, ridge)["c"])
        A, r = (np.asarray(a) for a in system(p0))
        k = A.shape[1]
        for ridge in (0.0, 1e-3):
            assert float(jnp.abs(grad_c(p0, ridge)).max()) > 1e-3
            # independent route: numpy's least squares on the stacked system
            c_ref = np.linalg.lstsq(
                np.vstack([A, np.sqrt(ridge) * np.eye(k)]),
                np.vstack([r, np.zeros((k, 1))]),
                rcond=None,
            )[0]
            for solver in lsgd.SOLVERS:
                p = lsgd.ls_step(p0, system, ridge, solver)
                assert float(jnp.abs(grad_c(p, ridge)).max()) < 1e-10, (solver, ridge)
                np.testing.assert_allclose(A @ np.asarray(p["c"]), A @ c_ref, atol=1e-9)  # same fit


@pytest.mark.heavy
def test_least_squares_with_dead_columns():
    # zero (dead-ReLU) and duplicated columns: still a minimiser of the loss
    with jax.enable_x64(True):
        A = jax.random.normal(jax.random.key(0), (50, 6), jnp.float64)
        A = jnp.concatenate([A, jnp.zeros((50, 1)), A[:, :1]], axis=1)
        r = jax.random.normal(jax.random.key(1), (50, 2), jnp.float64)
        best = np.linalg.lstsq(np.asarray(A), np.asarray(r), rcond=None)[0]
        for solver in ("qr", "lstsq", "cholesky"):
            c = lsgd.least_squares(A, r, 0.0, solver)
            assert np.all(np.isfinite(np.asarray(c)))
            assert float(jnp.abs(A.T @ (A @ c - r)).max()) < 1e-10
            np.testing.assert_allclose(np.asarray(A @ c), np.asarray(A) @ best, atol=1e-10)
        # the Cholesky route gives a dead (zero) column the coefficient 0, as QR does
        c = lsgd.least_squares(A, r, 1e-10, "cholesky")
        assert float(jnp.abs(c[6]).max()) == 0.0


@pytest.mark.heavy
def test_qr_solver_keeps_float32_accuracy_on_an_ill_conditioned_basis():
    b = lsgd.benchmark("smooth1d")
    x, y, _, _ = lsgd.regression_data(b, 256, 16, seed=0)
    A, r = lsgd.regression_system(x, y)(lsgd.init_mlp(jax.random.key(0), 1, (32, 32), 1, "box"))
    A64, r64 = np.asarray(A, float), np.asarray(r, float)
    best = np.linalg.lstsq(A64, r64, rcond=None)[0]
    obj = lambda c: 0.5 * np.sum((A64 @ np.asarray(c, float) - r64) ** 2)  # noqa: E731
    assert obj(lsgd.least_squares(A, r, 0.0, "qr")) < 1.05 * obj(best)


@pytest.mark.parametrize("bench, widths", [("smooth1d", (32, 32)), ("smooth2d", (32, 32))])
def test_float64_cholesky_matches_the_qr_route_in_float32(bench, widths):
    # the default solve (float64 normal equations) against the float32 QR route and a float64
    # SVD reference, on the chapter's ill-conditioned ReLU bases: same objective, the output is
    # float32 like the basis, and the cheap float32 normal equations are visibly worse
    b = lsgd.benchmark(bench)
    x, y, _, _ = lsgd.regression_data(b, 256, 16, seed=0)
    p0 = lsgd.init_mlp(jax.random.key(0), b.dim, widths, 1, "box")
    A, r = lsgd.regression_system(x, y)(p0)
    A64, r64 = np.asarray(A, float), np.asarray(r, float)
    obj = lambda c: 0.5 * np.sum((A64 @ np.asarray(c, float) - r64) ** 2)  # noqa: E731
    best = obj(np.linalg.lstsq(A64, r64, rcond=None)[0])
    c = lsgd.least_squares(A, r, 1e-10)
    assert c.dtype == jnp.float32
    assert obj(c) < 1.05 * best + 1e-12
    assert abs(obj(c) - obj(lsgd.least_squares(A, r, 1e-10, "qr"))) < 0.05 * best + 1e-12


@pytest.mark.heavy
def test_cholesky_and_qr_train_alike():
    # a whole LSGD run: the two solvers give the same errors to a few per cent
    b = lsgd.benchmark("osc1d")
    x, y, xt, yt = lsgd.regression_data(b, 128, 64, seed=0)
    sys_, err = lsgd.regression_system(x, y), lsgd.relative_error(xt, yt)
    p0 = lsgd.init_mlp(jax.random.key(0), 1, (16, 16), 1, "box")
    runs = {
        s: lsgd.fit(p0, sys_, "lsgd", 100, 1e-3, 1e-10, error_fn=err, solver=s, chunk=50).error
        for s in ("cholesky", "qr")
    }
    np.testing.assert_allclose(runs["cholesky"][:10], runs["qr"][:10], rtol=0.05)
    assert (
        runs["cholesky"][-1] < 1.5 * runs["qr"][-1] and runs["qr"][-1] < 1.5 * runs["cholesky"][-1]
    )


@pytest.mark.parametrize("d,box", [(1, None), (2, None), (3, ([-1.0, 0.0, 2.0], [1.0, 0.5, 5.0]))])
@pytest.mark.heavy
def test_box_init_hyperplanes_cut_the_box_with_maximum_one(d, box):
    p = lsgd.init_mlp(jax.random.key(d), d, (40, 30), 1, "box", box=box)
    lo, hi = (np.zeros(d), np.ones(d)) if box is None else (np.array(box[0]), np.array(box[1]))
    mn, mx = lsgd.box_extrema(p["hidden"][0], lo, hi)
    np.testing.assert_allclose(mx, 1.0, rtol=1e-5)
    assert np.all(mn < 0)  # the hyperplane passes through the box
    # second layer: its box is the unit box [0, 1]^40 (2^40 corners: use the closed form)
    W, b = np.asarray(p["hidden"][1]["W"], float), np.asarray(p["hidden"][1]["b"], float)
    corner_max = np.maximum(W, 0).sum(0) + b  # max over [0,1]^40 of x.W + b
    corner_min = np.minimum(W, 0).sum(0) + b
    np.testing.assert_allclose(corner_max, 1.0, rtol=1e-5)
    assert np.all(corner_min < 0)
    # outputs of every layer stay in [0, 1] for inputs in the box
    x = lo + (hi - lo) * np.random.default_rng(0).uniform(size=(2000, d))
    pre, h = lsgd.hidden(p, jnp.asarray(x, jnp.float32))
    assert float(h.min()) >= 0 and float(h.max()) <= 1 + 1e-5


def test_box_extrema_matches_corner_formula():
    p = lsgd.box_layer(jax.random.key(0), [0.0, 0.0, 0.0], [1.0, 2.0, 3.0], 7)
    mn, mx = lsgd.box_extrema(p, [0, 0, 0], [1, 2, 3])
    corners = np.array(list(itertools.product([0, 1], [0, 2], [0, 3])), float)
    vals = corners @ np.asarray(p["W"]) + np.asarray(p["b"])
    np.testing.assert_allclose(mx, vals.max(0), rtol=1e-6)
    np.testing.assert_allclose(mx, 1.0, rtol=1e-5)


@pytest.mark.heavy
def test_resnet_box_init_scales_the_box_per_layer():
    L, w = 8, 5
    p = lsgd.init_resnet_box(jax.random.key(0), 2, w, L)
    for l in range(L):
        m = (1 + 1 / L) ** l
        layer = {"W": p["res"]["W"][l], "b": p["res"]["b"][l]}
        mn, mx = lsgd.box_extrema(layer, np.zeros(w), m * np.ones(w))
        np.testing.assert_allclose(mx, m, rtol=1e-5)
        assert np.all(mn < 0)
    # states of layer l stay in [0, (1 + 1/L)^l]: run the network layer by layer
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(500, 2)), jnp.float32)
    u = jax.nn.relu(x @ p["hidden"][0]["W"] + p["hidden"][0]["b"])
    for l in range(L):
        assert float(u.min()) >= 0 and float(u.max()) <= (1 + 1 / L) ** l + 1e-5
        u = u + jax.nn.relu(u @ p["res"]["W"][l] + p["res"]["b"][l]) / L
    np.testing.assert_allclose(np.asarray(lsgd.hidden(p, x)[1]), np.asarray(u), rtol=1e-6)


@pytest.mark.heavy
def test_dead_relus_at_initialisation():
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(1000, 2)), jnp.float32)

    def dead(init, seed, **kw):
        return lsgd.dead_fraction(init(jax.random.key(seed), 2, **kw), x)

    box = [dead(lsgd.init_mlp, s, widths=(16, 16), method="box") for s in range(2)]
    he = [dead(lsgd.init_mlp, s, widths=(16, 16), method="he") for s in range(2)]
    # on the data box no first-layer neuron is dead; He (zero biases) kills about a quarter
    assert max(d["per_layer"][0] for d in box) == 0.0
    assert 0.1 < np.mean([d["per_layer"][0] for d in he]) < 0.4
    assert np.mean([d["total"] for d in box]) < np.mean([d["total"] for d in he])
    # centring puts the He kinks through the box's middle; a small bias keeps deeper ReLUs alive
    hc = [dead(lsgd.init_mlp, s, widths=(16, 16), method="he-centred") for s in range(2)]
    assert max(d["per_layer"][0] for d in hc) == 0.0
    pb = lsgd.init_mlp(jax.random.key(0), 2, (16, 16), method="glorot-bias")
    assert all(float(jnp.abs(layer["b"] - lsgd.BIAS).max()) == 0 for layer in pb["hidden"])
    pc = lsgd.init_mlp(jax.random.key(0), 2, (16,), method="he-centred", box=([0, 0], [2, 4]))
    W, b0 = pc["hidden"][0]["W"], pc["hidden"][0]["b"]
    np.testing.assert_allclose(np.asarray(b0), -np.array([1.0, 2.0]) @ np.asarray(W), rtol=1e-6)
    rbox = [dead(lsgd.init_resnet_box, s, width=16, depth=4)["total"] for s in range(2)]
    rhe = [dead(lsgd.init_resnet_box, s, width=16, depth=4, method="he")["total"] for s in range(2)]
    assert np.mean(rbox) < np.mean(rhe)


@pytest.mark.heavy
def test_pinn_least_squares_recovers_a_solution_in_the_span():
    # u* = Phi(x) c* is the exact solution of -u'' = f with f = -Phi'' c*, u(0), u(1) = u*(0), u*(1)
    with jax.enable_x64(True):
        p = lsgd.init_mlp(jax.random.key(0), 1, (10, 10), 1, "glorot", dtype=jnp.float64)
        c_star = jax.random.normal(jax.random.key(1), (11, 1), jnp.float64)
        u_star = lambda x: (lsgd.basis(p, jnp.reshape(x, (-1, 1)), "tanh") @ c_star)[:, 0]  # noqa: E731
        f = lambda x: -(lsgd.basis_d2(p, jnp.reshape(x, (-1,)), "tanh") @ c_star)[:, 0]  # noqa: E731
        prob = lsgd.Poisson1D("span", u_star, f, float(u_star(0.0)[0]), float(u_star(1.0)[0]))
        system = lsgd.poisson_system(jnp.linspace(0, 1, 40)[1:-1], prob, "tanh", beta=10.0)
        q = lsgd.ls_step(p, system, 0.0, "qr")
        xt = jnp.linspace(0, 1, 101)[:, None]
        err = float(jnp.abs(lsgd.predict(q, xt, "tanh")[:, 0] - u_star(xt)).max())
        assert err < 1e-8
        assert float(lsgd.quadratic_loss(q, system)) < 1e-18
        # the default float64 normal equations square the condition number: fewer digits on a
        # float64 basis, still far below any error the chapter measures
        q = lsgd.ls_step(p, system, 0.0)
        assert float(jnp.abs(lsgd.predict(q, xt, "tanh")[:, 0] - u_star(xt)).max()) < 1e-5
        assert float(lsgd.quadratic_loss(q, system)) < 1e-12
        # the second derivatives of the basis against central differences
        x = jnp.linspace(0.1, 0.9, 7)
        d2 = lsgd.basis_d2(p, x, "tanh")
        phi = jax.jit(lambda t: lsgd.basis(p, t[:, None], "tanh"))
        e = 1e-4
        fd = (phi(x + e) - 2 * phi(x) + phi(x - e)) / e**2
        assert d2.shape == (7, 11)
        np.testing.assert_allclose(np.asarray(d2), np.asarray(fd), atol=1e-6)
        assert float(jnp.abs(d2[:, -1]).max()) == 0.0  # the constant basis function
        # the benchmark's right-hand side is -u''
        u2 = jax.jit(jax.vmap(jax.grad(jax.grad(lsgd.POISSON.u))))(x)
        np.testing.assert_allclose(
            np.asarray(-u2), np.asarray(lsgd.POISSON.f(x)), rtol=1e-10, atol=1e-9
        )


@pytest.mark.heavy
def test_lsgd_beats_adam_early_on_the_smooth_benchmark():
    b = lsgd.benchmark("smooth1d")
    x, y, xt, yt = lsgd.regression_data(b, 128, 200, seed=0)
    system = lsgd.regression_system(x, y)
    err = lambda p: lsgd.relative_l2(lsgd.predict(p, xt), yt)  # noqa: E731
    p0 = lsgd.init_mlp(jax.random.key(0), 1, (16, 16), 1, "box")
    ls = lsgd.fit(p0, system, "lsgd", 30, 1e-3, error_fn=err, chunk=30)
    ad = lsgd.fit(p0, system, "adam", 30, 1e-3, error_fn=err, chunk=30)
    assert ls.loss.shape == ad.loss.shape == ls.error.shape == (31,)
    assert ls.error[0] < 0.1 < ad.error[-1]
    assert ls.loss[-1] < ad.loss[-1]
    assert lsgd.iterations_to_reach(ls.error, ad.error[-1]) == 0
    assert lsgd.iterations_to_reach(ad.error, 1e-9) is None
    # the output layer after every LSGD iteration is the least-squares optimum
    g = jax.grad(lsgd.quadratic_loss)(ls.params, system)["c"]
    assert float(jnp.abs(g).max()) < 1e-4


def test_method_descriptions_run_exactly_as_the_string_interface():
    """``run(LSGD(...) | Adam(...) | GD(...))`` is the deprecated ``fit(..., "lsgd" | ...)``, bit for bit."""
    b = lsgd.benchmark("smooth1d")
    x, y, xt, yt = lsgd.regression_data(b, 32, 8)
    system, err = lsgd.regression_system(x, y), lsgd.relative_error(xt, yt)
    p0 = lsgd.init_mlp(jax.random.key(0), 1, (8,), 1, "box")
    pairs = [
        (lsgd.LSGD(1e-2, "gd", "qr"), dict(method="lsgd", optimizer="gd", solver="qr")),
        (lsgd.LSGD(1e-2), dict(method="lsgd")),
        (lsgd.Adam(1e-2), dict(method="adam")),
        (lsgd.GD(1e-2), dict(method="gd")),
    ]
    for spec, kw in pairs:
        new = lsgd.run(spec, p0, system, 5, ridge=1e-8, error_fn=err, chunk=3)
        old = lsgd.fit(p0, system, steps=5, lr=1e-2, ridge=1e-8, error_fn=err, chunk=3, **kw)
        assert new.method == old.method == spec.name == kw["method"]
        for f in ("loss", "error"):
            assert np.array_equal(getattr(new, f), getattr(old, f)), (spec, f)
        assert all(
            np.array_equal(u, v)
            for u, v in zip(jax.tree.leaves(new.params), jax.tree.leaves(old.params), strict=True)
        )
    with pytest.raises(ValueError, match="unknown method"):
        lsgd.run("lsgd", p0, system, 1)
    with pytest.raises(ValueError, match="unknown optimiser"):
        lsgd.run(lsgd.LSGD(optimizer="sgd"), p0, system, 1)


def test_divergence_is_reported():
    b = lsgd.benchmark("smooth1d")
    x, y, _, _ = lsgd.regression_data(b, 32, 8)
    p0 = lsgd.init_mlp(jax.random.key(0), 1, (8,), 1, "he")
    with pytest.raises(lsgd.DivergenceError, match="diverged"):
        lsgd.fit(p0, lsgd.regression_system(x, y), "gd", 50, 1e30, chunk=50)


def test_bad_inputs_give_clear_errors():
    b = lsgd.benchmark("smooth1d")
    x, y, _, _ = lsgd.regression_data(b, 32, 8)
    p0 = lsgd.init_mlp(jax.random.key(0), 1, (8,), 1)
    system = lsgd.regression_system(x, y)
    with pytest.raises(ValueError, match="unknown method"):
        lsgd.fit(p0, system, "newton")
    with pytest.raises(ValueError, match="learning rate must be positive"):
        lsgd.fit(p0, system, "adam", lr=0.0)
    with pytest.raises(ValueError, match="unknown initialisation"):
        lsgd.init_mlp(jax.random.key(0), 1, (8,), 1, "orthogonal")
    with pytest.raises(ValueError, match="hi > lo"):
        lsgd.box_layer(jax.random.key(0), [1.0], [0.0], 4)
    with pytest.raises(ValueError, match="rows but y has"):
        lsgd.regression_system(x, y[:-1])
    with pytest.raises(ValueError, match="ridge must be non-negative"):
        lsgd.least_squares(jnp.ones((3, 2)), jnp.ones((3, 1)), -1.0)
    with pytest.raises(ValueError, match="least squares needs"):
        lsgd.least_squares(jnp.ones((3, 2)), jnp.ones((4, 1)))
    with pytest.raises(ValueError, match="unknown solver"):
        lsgd.least_squares(jnp.ones((3, 2)), jnp.ones((3, 1)), solver="cg")
    with pytest.raises(ValueError, match="unknown benchmark"):
        lsgd.benchmark("peaks")
    with pytest.raises(ValueError, match="unknown activation"):
        lsgd.basis(p0, x, "gelu")
    with pytest.raises(ValueError, match="collocation points must be 1-D"):
        lsgd.poisson_system(jnp.ones((4, 1)))
    with pytest.raises(ValueError, match="unknown scale"):
        lss.lsgd_config("tiny")
    with pytest.raises(ValueError, match="unknown Poisson problem"):
        lsgd.poisson_problem("heat")


@pytest.mark.parametrize("name", ["sin", "damped"])
def test_poisson_problems_are_consistent(name):
    # f = -u'' by automatic differentiation, and the boundary values are u(0), u(1)
    with jax.enable_x64(True):
        pr = lsgd.poisson_problem(name)
        u = lambda t: pr.u(t.reshape(1, 1))[0, 0]  # noqa: E731
        x = jnp.linspace(0.05, 0.95, 7, dtype=jnp.float64)
        d2 = jax.vmap(jax.grad(jax.grad(u)))(x)
        np.testing.assert_allclose(np.asarray(-d2), np.asarray(pr.f(x)), rtol=1e-10, atol=1e-9)
        ends = pr.u(jnp.array([[0.0], [1.0]], jnp.float64))[:, 0]
        np.testing.assert_allclose(np.asarray(ends), [pr.a, pr.b], atol=1e-12)


# ----------------------------------------------------------------------------
# the cached fit step and the chapter's protocols (fasttrain.lsgd_study)

from types import SimpleNamespace  # noqa: E402


@pytest.mark.heavy
def test_fit_compiles_once_per_configuration():
    b1, b2 = lsgd.benchmark("smooth1d"), lsgd.benchmark("osc1d")
    (x1, y1, t1, u1), (x2, y2, t2, u2) = (
        lsgd.regression_data(b, 40, 30, seed=s) for b, s in ((b1, 0), (b2, 1))
    )
    p0 = lsgd.init_mlp(jax.random.key(3), 1, (8, 8), 1, "box")
    r = lsgd.fit(
        p0,
        lsgd.regression_system(x1, y1),
        "lsgd",
        7,
        1e-3,
        error_fn=lsgd.relative_error(t1, u1),
        chunk=5,
    )
    assert r.error.shape == r.loss.shape == (8,)
    np.testing.assert_allclose(
        r.error[-1], float(lsgd.relative_l2(lsgd.predict(r.params, t1), u1)), rtol=1e-5
    )
    n_chunk, n_start = lsgd._fit_chunk._cache_size(), lsgd._fit_start._cache_size()
    # other data of the same shapes, another step count, learning rate and ridge: nothing new to compile
    r2 = lsgd.fit(
        p0,
        lsgd.regression_system(x2, y2),
        "lsgd",
        12,
        3e-3,
        1e-8,
        error_fn=lsgd.relative_error(t2, u2),
        chunk=5,
    )
    assert r2.error.shape == (13,)
    assert lsgd._fit_chunk._cache_size() == n_chunk and lsgd._fit_start._cache_size() == n_start
    # the run-time step count gives the same trajectory as one long chunk
    r3 = lsgd.fit(
        p0,
        lsgd.regression_system(x1, y1),
        "lsgd",
        7,
        1e-3,
        error_fn=lsgd.relative_error(t1, u1),
        chunk=50,
    )
    np.testing.assert_allclose(r3.error, r.error, rtol=1e-5)
    with pytest.raises(ValueError, match="evaluation points"):
        lsgd.relative_error(t1[:, 0], u1)
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        lsgd.fit(p0, lsgd.regression_system(x1, y1), "adam", 2.5)


def _fitres(errors, wall=1.0):
    e = np.asarray(errors, float)
    return SimpleNamespace(error=e, wall_time=wall)


def test_iteration_ratio_cannot_divide_by_zero_or_be_won_by_the_first_solve():
    adam = _fitres([1.0, 0.5, 0.3, 0.2, 0.1])  # final 0.1, reached at step 4
    # LSGD's first (random-feature) fit 0.05 already beats Adam: the target becomes e0 / 2
    lsgd_ = _fitres([0.05, 0.04, 0.02, 0.01])
    i = lss.iteration_ratio(lsgd_, adam)
    assert i["target"] == 0.025 and i["target_is"] == "e0 / 2"
    assert (
        i["k_lsgd"] == 3
        and i["k_adam"] is None
        and i["bound"] == ">"
        and i["ratio"] == pytest.approx(5 / 3)
    )
    # the usual case: Adam's final error is the target, LSGD needs >= 2 iterations
    lsgd_ = _fitres([0.5, 0.2, 0.09])
    i = lss.iteration_ratio(lsgd_, adam)
    assert (
        i["target"] == 0.1
        and i["k_adam"] == 4
        and i["k_lsgd"] == 3
        and i["ratio"] == pytest.approx(4 / 3)
    )
    # LSGD never gets there
    i = lss.iteration_ratio(_fitres([0.5, 0.4]), adam)
    assert i["ratio"] is None
    with pytest.raises(ValueError, match="shrink must exceed 1"):
        lss.iteration_ratio(lsgd_, adam, shrink=1.0)
    with pytest.raises(ValueError, match="must be finite"):
        lss.iteration_ratio(_fitres([np.nan, 0.1]), adam)


def test_regression_study_rejects_unknown_methods():
    with pytest.raises(ValueError, match="unknown method"):
        lss.regression_study(lss.lsgd_config("smoke"), 0, methods=("LSGD", "SGD"))


@pytest.mark.heavy
def test_learning_rate_selection_uses_a_validation_split_and_the_same_budget():
    import dataclasses

    cfg = dataclasses.replace(
        lss.lsgd_config("smoke"),
        methods=("LSGD", "Adam"),
        benchmarks=("smooth1d",),
        lr_grid=(1e-3, 1e5),
        lsgd_steps=20,
        adam_steps=20,
        pinn_steps=5,
        chunk=20,
    )
    out = lss.tune_lr(cfg, 0)
    assert [(r["method"], r["lr"]) for r in out["rows"]] == [
        ("LSGD", 1e-3),
        ("LSGD", 1e5),
        ("Adam", 1e-3),
        ("Adam", 1e5),
    ]
    # an absurd learning rate diverges or scores worse: never chosen
    assert out["chosen"] == {("smooth1d", "LSGD"): 1e-3, ("smooth1d", "Adam"): 1e-3}
    # the validation points are training points, never the test grid
    _, sys_v, val = lss.regression_problem(cfg, "smooth1d", 0, validation=True)
    _, sys_t, test = lss.regression_problem(cfg, "smooth1d", 0)
    x_train = np.asarray(sys_t.x)
    assert sys_v.x.shape[0] + val.x.shape[0] == x_train.shape[0]
    np.testing.assert_array_equal(np.asarray(val.x), x_train[sys_v.x.shape[0] :])
    pinn = lss.tune_pinn_lr(cfg, "sin", 0)
    assert set(pinn["chosen"]) == {"LSGD", "Adam"} and len(pinn["rows"]) == 4
    with pytest.raises(ValueError, match="every learning rate diverged"):
        on_grid([1.0], lambda lr: float("inf"), higher=False, what="learning rate")
