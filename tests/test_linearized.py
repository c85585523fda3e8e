"""Chapter 01's mathematics checked against independent routes."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from fasttrain.chapters import ch01_linear_ivp as ch01
from fasttrain.methods import gradient_descent as B
from fasttrain.methods import linearized as L


def _problem(n=12, d=3, width=24, k=2, seed=0, loss="ce", lr=0.5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.int32)
    p0 = L.init_two_layer(jax.random.PRNGKey(seed), d, width, k)
    app = partial(L.two_layer, activation="tanh")
    return x, y, p0, app


def test_jacobian_matches_finite_differences():
    x, y, p0, app = _problem()
    with jax.enable_x64(True):
        p64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), p0)
        J = L.jacobian(app, p64, jnp.asarray(x, jnp.float64))
        flat, unravel = jax.flatten_util.ravel_pytree(p64)
        rng = np.random.default_rng(1)
        for _ in range(3):
            v = rng.normal(size=flat.size)
            eps = 1e-6
            fp = np.asarray(app(unravel(flat + eps * v), x)).ravel()
            fm = np.asarray(app(unravel(flat - eps * v), x)).ravel()
            np.testing.assert_allclose(J @ v, (fp - fm) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_ntk_is_jjt_and_matches_finite_differences():
    x, y, p0, app = _problem(n=6)
    with jax.enable_x64(True):
        p64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), p0)
        J = L.jacobian(app, p64, jnp.asarray(x, jnp.float64))
        theta = L.empirical_ntk(J)
        # Theta_ab = <df_a/dtheta, df_b/dtheta>: check one entry with finite-difference gradients
        flat, unravel = jax.flatten_util.ravel_pytree(p64)
        eps = 1e-6
        grads = []
        for a in (0, 3):
            g = np.zeros(flat.size)
            for i in range(flat.size):
                e = np.zeros(flat.size)
                e[i] = eps
                g[i] = (
                    np.asarray(app(unravel(flat + e), x)).ravel()[a]
                    - np.asarray(app(unravel(flat - e), x)).ravel()[a]
                ) / (2 * eps)
            grads.append(g)
        np.testing.assert_allclose(theta[0, 3], grads[0] @ grads[1], rtol=1e-6)
        np.testing.assert_allclose(theta, theta.T)
        assert np.linalg.eigvalsh(theta).min() > -1e-8


def test_linearize_is_first_order_taylor():
    x, y, p0, app = _problem()
    f_lin = L.linearize(app, p0)
    np.testing.assert_allclose(f_lin(p0, x), app(p0, x), rtol=1e-6)
    J = L.jacobian(app, p0, x)
    flat, unravel = jax.flatten_util.ravel_pytree(p0)
    dv = 0.01 * np.random.default_rng(0).normal(size=flat.size).astype(np.float32)
    got = np.asarray(f_lin(unravel(flat + dv), x)).ravel()
    want = np.asarray(app(p0, x)).ravel() + J @ dv
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _flow(loss="ce", lr=0.5, n=12):
    x, y, p0, app = _problem(n=n)
    J = L.jacobian(app, p0, x).astype(np.float64)
    f0 = np.asarray(app(p0, x), dtype=np.float64)
    return L.FlowProblem(J, f0, y, lr, loss)


@pytest.mark.heavy
def test_mse_flow_matches_closed_form_in_both_spaces():
    pr = _flow("mse", lr=0.3)
    t = 5.0
    theta = L.empirical_ntk(pr.J)
    want = L.closed_form_mse(theta, pr.f0, pr.target(), pr.lr, t)
    for space in ("function", "parameter"):
        r = L.solve_flow(pr, t, space=space, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(r.f, want, rtol=1e-5, atol=1e-6)


@pytest.mark.heavy
def test_parameter_and_function_space_agree_for_cross_entropy():
    pr = _flow("ce", lr=0.5)
    rf = L.solve_flow(pr, 20.0, space="function", rtol=1e-9, atol=1e-11)
    rp = L.solve_flow(pr, 20.0, space="parameter", rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(rf.f, rp.f, rtol=1e-5, atol=1e-6)
    # the function-space parameters recovered with pinv equal the parameter-space state
    np.testing.assert_allclose(rf.dtheta, rp.dtheta, rtol=1e-4, atol=1e-6)


def test_analytic_jacobians_match_finite_differences_of_rhs():
    pr = _flow("ce")
    rng = np.random.default_rng(3)
    for builder, dim in ((L.rhs_function_space, pr.n * pr.k), (L.rhs_parameter_space, pr.P)):
        out = builder(pr)
        fun, jac = out[1], out[2]
        s = rng.normal(size=dim) * (0.5 if dim == pr.n * pr.k else 0.05)
        if dim == pr.n * pr.k:
            s = s + pr.f0.ravel()
        Jan = jac(0.0, s)
        eps = 1e-6
        v = rng.normal(size=dim)
        fd = (fun(0.0, s + eps * v) - fun(0.0, s - eps * v)) / (2 * eps)
        np.testing.assert_allclose(Jan @ v, fd, rtol=1e-5, atol=1e-9)


@pytest.mark.heavy
def test_gd_with_small_steps_follows_the_flow():
    """GD on the linear model with small steps tracks the gradient flow (time in steps)."""
    pr = _flow("ce", lr=0.01)
    steps = 300
    f = pr.f0.copy()
    dth = np.zeros(pr.P)
    for _ in range(steps):
        g = pr.grad_f(f).ravel()
        dth -= pr.lr / pr.n * pr.J.T @ g
        f = pr.f0 + (pr.J @ dth).reshape(f.shape)
    r = L.solve_flow(pr, float(steps), space="parameter", rtol=1e-9, atol=1e-11)
    err = np.abs(r.f - f).max() / np.abs(f - pr.f0).max()
    assert err < 0.02


def test_network_gd_with_small_steps_follows_the_linear_flow_early():
    x, y, p0, app = _problem(n=16, width=256)
    gd = B.full_batch_gd(app, p0, x, y, lr=0.01, max_steps=50, chunk=50)
    J = L.jacobian(app, p0, x).astype(np.float64)
    f0 = np.asarray(app(p0, x), dtype=np.float64)
    r = L.solve_flow(L.FlowProblem(J, f0, y, 0.01), 50.0, rtol=1e-8, atol=1e-10)
    f_gd = np.asarray(app(gd.params, x))
    assert np.abs(r.f - f_gd).max() < 0.05 * np.abs(f_gd - f0).max() + 1e-4


def test_threshold_event_stops_at_the_threshold():
    pr = _flow("ce", lr=0.5, n=40)
    acc0 = L.accuracy_np(pr.f0, pr.y)
    thr = min(1.0, np.ceil((acc0 + 0.1) * pr.n) / pr.n)
    r = L.solve_flow(pr, 1e4, threshold=thr, rtol=1e-8, atol=1e-10)
    assert r.reached
    # just after the event the accuracy is at least thr, just before it is below
    sol_after = L.solve_flow(pr, r.t_event * (1 + 1e-6), rtol=1e-10, atol=1e-12)
    sol_before = L.solve_flow(pr, r.t_event * (1 - 1e-3), rtol=1e-10, atol=1e-12)
    assert L.accuracy_np(sol_after.f, pr.y) >= thr
    assert L.accuracy_np(sol_before.f, pr.y) < thr


def test_threshold_already_met_returns_t0():
    pr = _flow("ce", n=12)
    acc0 = L.accuracy_np(pr.f0, pr.y)
    r = L.solve_flow(pr, 10.0, threshold=max(acc0, 1 / 12))
    assert r.t_event == 0.0


def test_margin_quantile_sign_is_accuracy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        f = rng.normal(size=(30, 3))
        y = rng.integers(0, 3, 30)
        acc = L.accuracy_np(f, y)
        for thr in (0.1, 0.3, 0.5):
            assert (L.margin_quantile(f, y, thr) > 0) == (acc >= thr)


def test_unreached_threshold_is_reported_not_invented():
    pr = _flow("ce", lr=1e-6)
    r = L.solve_flow(pr, 1.0, threshold=1.0)
    assert not r.reached and r.t_event is None


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"lr": -0.1}, "learning rate"),
        ({"lr": 0.0}, "learning rate"),
        ({"loss": "hinge"}, "unknown loss"),
    ],
)
def test_bad_problem_inputs(kwargs, msg):
    pr = _flow()
    args = dict(J=pr.J, f0=pr.f0, y=pr.y, lr=0.1, loss="ce")
    args.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        L.FlowProblem(**args)


def test_mismatched_shapes():
    pr = _flow()
    with pytest.raises(ValueError, match="rows"):
        L.FlowProblem(pr.J[:-2], pr.f0, pr.y, 0.1)
    with pytest.raises(ValueError, match="labels"):
        L.FlowProblem(pr.J, pr.f0, pr.y[:-1], 0.1)
    x, y, p0, app = _problem()
    with pytest.raises(ValueError, match="rows"):
        B.full_batch_gd(app, p0, x, y[:-1], 0.1, 10)


def test_bad_solver_arguments():
    pr = _flow()
    with pytest.raises(ValueError, match="space"):
        L.solve_flow(pr, 1.0, space="banana")
    with pytest.raises(ValueError, match="jac"):
        L.solve_flow(pr, 1.0, jac="magic")
    with pytest.raises(ValueError, match="t_max"):
        L.solve_flow(pr, -1.0)
    with pytest.raises(ValueError, match="threshold"):
        L.solve_flow(pr, 1.0, threshold=1.5)


def test_solver_failure_is_a_clear_error(monkeypatch):
    pr = _flow()
    with pytest.raises(L.SolverError, match="wall-time budget"):
        L.solve_flow(pr, 1e6, max_wall=0.0)
    with pytest.raises(ValueError, match="finite"):
        L.FlowProblem(pr.J * np.nan, pr.f0, pr.y, 0.1)

    real = L.scipy.integrate.solve_ivp

    def failing(*a, **k):
        sol = real(*a, **k)
        sol.status, sol.message = -1, "Required step size is less than spacing between numbers."
        return sol

    monkeypatch.setattr(L.scipy.integrate, "solve_ivp", failing)
    with pytest.raises(L.SolverError, match="BDF solver failed: Required step size"):
        L.solve_flow(pr, 1.0)


def test_diverging_gd_raises():
    x, y, p0, app = _problem()
    with pytest.raises(B.DivergenceError, match="diverged"):
        B.full_batch_gd(
            app,
            p0,
            x * 1e3,
            y,
            lr=1e6,
            max_steps=200,
            chunk=10,
            loss_fn=lambda logits, lab: jnp.mean((logits - 1.0) ** 2),
        )


def test_gd_records_threshold_steps_consistently():
    x, y, p0, app = _problem(n=40)
    gd = B.full_batch_gd(app, p0, x, y, lr=0.5, max_steps=500, thresholds=(0.6, 0.8), chunk=25)
    for thr, s in gd.steps_to.items():
        if s is not None:
            assert gd.train_accuracy[s] >= thr
            assert np.all(gd.train_accuracy[:s] < thr)
            assert gd.time_to[thr] >= 0


def test_unknown_scale_rejected():
    with pytest.raises(ValueError, match="unknown scale"):
        ch01.config("huge")
    for s in ("smoke", "book", "paper"):
        assert ch01.config(s).thresholds


def test_critical_lr_bound_is_stable_for_linear_model():
    pr = _flow("mse", n=20)
    theta = L.empirical_ntk(pr.J)
    lr = 0.99 * L.critical_lr(theta, pr.n, "mse")
    hess = pr.J.T @ pr.J / pr.n
    lam = scipy.linalg.eigvalsh(hess).max()
    assert lr * lam < 2.0


def test_one_solve_to_many_thresholds_equals_separate_solves():
    pr = _flow("ce", lr=0.5, n=40)
    acc0 = L.accuracy_np(pr.f0, pr.y)
    thrs = [min(1.0, np.ceil((acc0 + d) * pr.n) / pr.n) for d in (0.05, 0.15)]
    many = L.solve_to_thresholds(pr, 1e4, thrs, rtol=1e-8, atol=1e-10)
    for thr, r in zip(thrs, many):
        one = L.solve_flow(pr, 1e4, threshold=thr, rtol=1e-8, atol=1e-10)
        assert r.reached and one.reached
        np.testing.assert_allclose(r.t_event, one.t_event, rtol=1e-5)
    assert many[0].solve_time <= many[1].solve_time


def test_non_finite_right_hand_side_is_a_solver_error():
    """Floating-point errors are trapped in the right-hand side (not in SciPy's own bookkeeping)."""
    with pytest.raises(L.SolverError, match="right-hand side became non-finite"):
        L._bdf(lambda t, s: np.exp(1e3 * s), 1.0, np.ones(1), None, [], 1e-3, 1e-6)


def _event_threshold(pr, step=0.1):
    acc0 = L.accuracy_np(pr.f0, pr.y)
    return min(1.0, np.ceil((acc0 + step) * pr.n) / pr.n)


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("space", ["function", "parameter"])
@pytest.mark.heavy
def test_every_route_finds_the_same_event_time(loss, space):
    pr = _flow(loss, lr=0.5, n=40)
    thr = _event_threshold(pr)
    ref = L.solve_flow(pr, 1e4, thr, space, rtol=1e-10, atol=1e-12)
    assert ref.reached
    got = {
        m: L.solve_flow(pr, 1e4, thr, space, rtol=1e-6, atol=1e-9, method=m).t_event
        for m in ("BDF", "RK45", "DOP853")
    }
    got["Tsit5"] = L.DiffraxFlow(pr, space, rtol=1e-6, atol=1e-9)(1e4, thr).t_event
    if loss == "mse" and space == "function":
        got["eig"] = L.closed_form_event(pr, 1e4, thr).t_event
    for name, t in got.items():
        assert t == pytest.approx(ref.t_event, rel=1e-3), name


@pytest.mark.heavy
def test_diffrax_route_reports_unreached_and_its_counters():
    pr = _flow("ce", lr=0.5, n=40)
    dx = L.DiffraxFlow(pr, "function")
    assert dx.compile_time > 0
    r = dx(1e-3, _event_threshold(pr, 0.3))  # far too short a horizon
    assert not r.reached and r.nfev >= 7
    with pytest.raises(ValueError, match="threshold"):
        dx(1.0, 1.5)


def test_closed_form_event_is_for_squared_loss_only():
    with pytest.raises(ValueError, match="squared loss"):
        L.closed_form_event(_flow("ce"), 10.0, 0.9)


def test_explicit_method_needs_no_jacobian_and_bad_method_is_rejected():
    pr = _flow("ce", lr=0.5, n=20)
    r = L.solve_flow(pr, 5.0, method="RK45")
    assert r.njev == 0 and r.nlu == 0
    with pytest.raises(ValueError, match="method"):
        L.solve_flow(pr, 5.0, method="Euler")


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_spectral_radius_and_spectrum_match_the_dense_jacobian(loss):
    pr = L.with_ntk(_flow(loss, lr=0.5, n=15))
    f = pr.f0 + 0.3 * np.random.default_rng(0).normal(size=pr.f0.shape)
    _, _, jac = L.rhs_function_space(pr)
    dense = np.sort(np.linalg.eigvals(-jac(0.0, f.ravel())).real)[::-1]
    spec = L.flow_jacobian_spectrum(pr, f)
    np.testing.assert_allclose(spec, dense, rtol=1e-6, atol=1e-9)
    assert L.spectral_radius(pr, f) == pytest.approx(dense[0], rel=1e-3)
