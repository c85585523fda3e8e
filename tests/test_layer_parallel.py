"""Tests of fasttrain.layer_parallel: MGRIT against serial propagation and jax.grad."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fasttrain.chapters import ch04_layer_parallel_lsgd as lps
from fasttrain.core import data
from fasttrain.methods import layer_parallel as lp


def _problem(N, width=6, batch=5, T=1.0, scale=2.0, activation="tanh", seed=0, dtype=jnp.float64):
    spec = lp.Spec(2, width, 3, N, T, activation)
    p = lp.init_params(jax.random.key(seed), spec, scale=scale, dtype=dtype)
    x = jax.random.uniform(jax.random.key(seed + 1), (batch, 2), dtype, -3, 3)
    y = jnp.arange(batch) % 3
    return spec, p, x, y


def _iterate(layers, u0, h, cfg, n):
    """States after 1..n MGRIT iterations (one compiled single-iteration solve, warm-started)."""
    out, u = [], None
    for _ in range(n):
        res = lp.mgrit_forward(layers, u0, h, cfg, 1, u_init=u)
        u = res.states
        out.append(res)
    return out


@pytest.mark.heavy
def test_two_level_f_relaxation_is_exact_after_n_over_c_iterations():
    # a hard problem (T = 8, large weights): the coarse propagator is poor, so
    # convergence comes from the exactness property and not from a small rate
    with jax.enable_x64(True):
        spec, p, x, _ = _problem(16, width=4, batch=3, T=8.0, scale=4.0)
        u0 = lp.open_layer(p["open"], x)
        ref = lp.serial_states(p["layers"], u0, spec.h)
        runs = _iterate(
            p["layers"], u0, spec.h, lp.MGRITConfig(cfactor=2, max_levels=2, relax="F"), 8
        )
        err = [float(jnp.abs(r.states - ref).max()) for r in runs]
    assert err[6] > 1e-3  # not yet converged after N/c - 1 = 7 iterations
    assert err[7] < 1e-12  # exact after N/c = 8


@pytest.mark.parametrize("relax,levels", [("F", 2), ("FCF", 4)])
@pytest.mark.heavy
def test_converged_mgrit_equals_serial_forward(relax, levels):
    with jax.enable_x64(True):
        spec, p, x, _ = _problem(64)
        u0 = lp.open_layer(p["open"], x)
        ref = lp.serial_states(p["layers"], u0, spec.h)
        cfg = lp.MGRITConfig(cfactor=4, max_levels=levels, relax=relax)
        assert lp.level_sizes(64, cfg) == {2: (64, 16), 4: (64, 16, 4)}[levels]
        res = lp.mgrit_forward(p["layers"], u0, spec.h, cfg, 14)
        rel = np.asarray(res.relative)
        assert np.abs(np.asarray(res.states) - np.asarray(ref)).max() < 1e-10
    assert rel[-1] < 1e-12
    assert np.all(np.diff(np.log(rel[:8])) < 0)  # the residual falls every iteration
    assert lp.iterations_to_tol(res.residuals, 1e-8) <= 10


def test_multilevel_hierarchy():
    assert lp.level_sizes(1024, lp.MGRITConfig(4, 10, min_coarse=2)) == (1024, 256, 64, 16, 4)
    assert lp.level_sizes(96, lp.MGRITConfig(4, 10)) == (96, 24, 6)  # 6 is not divisible by 4


@pytest.mark.heavy
def test_adjoint_gradient_equals_jax_grad(activation="smoothrelu"):
    # (tanh gradients are compared through whole training runs below)
    with jax.enable_x64(True):
        spec, p, x, y = _problem(16, activation=activation)
        loss, g, (U, lam) = lp.value_and_grad_mgrit(
            p, x, y, spec, lp.MGRITConfig(2, 2, "FCF"), 4, 4
        )
        loss_ref, g_ref = jax.jit(jax.value_and_grad(lp.loss_fn), static_argnums=3)(p, x, y, spec)
        # independent check of lambda_0: derivative of the loss w.r.t. the opening state
        u0 = lp.open_layer(p["open"], x, activation)
        head = lambda u: lp._head_loss(
            p["cls"], lp.serial_states(p["layers"], u, spec.h, activation)[-1], y
        )  # noqa: E731
        lam0 = jax.jit(jax.grad(head))(u0)
        assert abs(float(loss - loss_ref)) < 1e-12
        assert float(jnp.abs(lam[0] - lam0).max()) < 1e-12
        for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
            assert a.shape == b.shape
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12)


SHARD_SCRIPT = textwrap.dedent("""
    import os, json
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, jax.numpy as jnp
    from fasttrain.methods import layer_parallel as lp
    with jax.enable_x64(True):
        spec = lp.Spec(2, 6, 3, 32)
        p = lp.init_params(jax.random.key(0), spec, scale=2.0, dtype=jnp.float64)
        x = jax.random.uniform(jax.random.key(1), (5, 2), jnp.float64, -3, 3)
        u0 = lp.open_layer(p["open"], x)
        mesh = lp.make_mesh(4)
        data = (p["layers"]["W"], p["layers"]["b"])
        U = jnp.broadcast_to(u0, (33,) + u0.shape) + 0.01 * jnp.arange(33.0)[:, None, None]
        g = jnp.zeros_like(U).at[0].set(u0)
        f = jax.jit(lambda U: lp.relax_intervals(lp.ForwardStep(), data, spec.h, U, g, 4, mesh))
        xs_sharded = f(U)
        xs_vmap = lp.relax_intervals(lp.ForwardStep(), data, spec.h, U, g, 4)
        # FCF two-level is exact after N/(2c) = 4 iterations
        a = lp.mgrit_forward(p["layers"], u0, spec.h, lp.MGRITConfig(4, 2, "FCF"), 4, mesh=mesh).states
        ref = lp.serial_states(p["layers"], u0, spec.h)
        print(json.dumps({
            "devices": jax.device_count(),
            "relax_diff": float(jnp.abs(xs_sharded - xs_vmap).max()),
            "relax_change": float(jnp.abs(xs_vmap.reshape(U[1:].shape) - U[1:]).max()),
            "mgrit_err": float(jnp.abs(a - ref).max()),
            "shards": len(xs_sharded.sharding.device_set),
        }))
""")


@pytest.mark.heavy
def test_sharded_relaxation_equals_vmapped():
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run(
        [sys.executable, "-c", SHARD_SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["devices"] == 4
    assert res["shards"] == 4  # the intervals really were split over 4 devices
    assert res["relax_diff"] < 1e-13
    assert res["relax_change"] > 1e-3  # (the relaxation did something)
    assert res["mgrit_err"] < 1e-12  # sharded MGRIT solves the forward problem


def test_critical_path_counts():
    cfg = lp.MGRITConfig(cfactor=4, max_levels=2, relax="F")
    c1 = lp.critical_path(64, cfg, P=1)
    # P = 1: F-relax 16*3, residual 16, restriction 16, final F 16*3, coarse 16
    assert c1["critical_path"] == c1["work"] == 48 + 16 + 16 + 48 + 16
    c16 = lp.critical_path(64, cfg, P=16)
    assert c16["critical_path"] == 3 + 1 + 1 + 3 + 16
    assert c16["speedup"] == pytest.approx(64 / 24)
    fcf = lp.critical_path(64, lp.MGRITConfig(4, 2, "FCF"), P=16, n_iter=2)
    assert fcf["critical_path"] == 2 * (3 + 1 + 3 + 1 + 1 + 3 + 16)
    ml = lp.critical_path(1024, lp.MGRITConfig(4, 10), P=256)
    assert ml["speedup"] > lp.critical_path(1024, lp.MGRITConfig(4, 10), P=4)["speedup"]


def test_peaks_labels_are_equal_width_level_sets():
    d = data.load_peaks(500, 100, seed=3)
    assert d.x_train.shape == (500, 2) and d.x_test.shape == (100, 2)
    assert np.abs(d.x_train).max() <= 3
    counts = np.bincount(np.concatenate([d.y_train, d.y_test]), minlength=5)
    assert counts.min() >= 115 and counts.max() <= 125  # balanced classes
    t = np.linspace(-3, 3, 256)
    zz = data.peaks(*np.meshgrid(t, t))
    z = data.peaks(d.x_train[:, 0].astype(float), d.x_train[:, 1].astype(float))
    lab = np.clip(np.floor((z - zz.min()) / (zz.max() - zz.min()) * 5), 0, 4)
    assert np.mean(lab == d.y_train) > 0.99  # float32 rounding at the edges only
    assert data.peaks(0.0, 0.0) == pytest.approx(3 * np.exp(-1) - np.exp(-1) / 3)
    np.testing.assert_array_equal(data.load_peaks(500, 100, seed=3).x_train, d.x_train)


@pytest.mark.heavy
def test_training_with_converged_mgrit_follows_serial_training():
    d = data.load_peaks(60, 20, seed=0)
    spec = lp.Spec(2, 4, 5, 8)
    with jax.enable_x64(True):
        p = lp.init_params(jax.random.key(0), spec, dtype=jnp.float64)
        ser = lp.train(p, d, spec, 4, lr=1e-2, mode="serial", eval_every=2)
        # two-level FCF with c = 2 on 8 layers is exact after 2 iterations
        par = lp.train(
            p,
            d,
            spec,
            4,
            lr=1e-2,
            mode="mgrit",
            mgrit_cfg=lp.MGRITConfig(2, 2, "FCF"),
            n_fwd=2,
            n_bwd=2,
            eval_every=2,
        )
    np.testing.assert_allclose(par.loss, ser.loss, rtol=1e-10)
    np.testing.assert_allclose(par.exact_loss, ser.exact_loss, rtol=1e-10)
    assert list(ser.eval_steps) == [0, 2, 4]
    assert ser.loss[-1] < ser.loss[0]


@pytest.mark.heavy
def test_lbfgs_training_serial_equals_converged_mgrit_and_beats_its_start():
    # the authors' optimiser: optax L-BFGS with Armijo backtracking; with exact MGRIT (FCF
    # two-level, c = 2, 8 layers, 2 iterations) the line search sees the serial objective
    d = data.load_peaks(60, 20, seed=0)
    spec = lp.Spec(2, 4, 5, 8)
    with jax.enable_x64(True):
        p = lp.init_params(jax.random.key(0), spec, dtype=jnp.float64)
        ser = lp.train(p, d, spec, 6, optimizer="lbfgs", mode="serial", eval_every=3)
        par = lp.train(
            p,
            d,
            spec,
            6,
            optimizer="lbfgs",
            mode="mgrit",
            mgrit_cfg=lp.MGRITConfig(2, 2, "FCF"),
            n_fwd=2,
            n_bwd=2,
            eval_every=3,
        )
        adam = lp.train(p, d, spec, 6, lr=1e-2, mode="serial", eval_every=3)
    np.testing.assert_allclose(par.loss, ser.loss, rtol=1e-9)
    assert np.all(np.diff(ser.loss) <= 1e-12)  # Armijo: the objective never rises
    assert ser.loss[-1] < adam.loss[-1]  # curvature pays on a smooth full-batch problem
    with pytest.raises(ValueError, match="unknown optimiser"):
        lp.train(p, d, spec, 1, optimizer="newton")


def test_diverging_training_raises():
    # same shapes as above, so the compiled training step is reused
    d = data.load_peaks(60, 20, seed=0)
    spec = lp.Spec(2, 4, 5, 8)
    with jax.enable_x64(True):
        p = lp.init_params(jax.random.key(0), spec, dtype=jnp.float64)
        with pytest.raises(lp.DivergenceError, match="diverged"):
            lp.train(p, d, spec, 3, lr=1e307, mode="serial")


@pytest.mark.heavy
def test_bad_inputs_give_clear_errors():
    spec, p, x, _ = _problem(12, dtype=jnp.float32)
    u0 = lp.open_layer(p["open"], x)
    with pytest.raises(ValueError, match="does not divide the depth"):
        lp.mgrit_forward(p["layers"], u0, spec.h, lp.MGRITConfig(cfactor=5), 2)
    with pytest.raises(ValueError, match="step size h must be positive"):
        lp.mgrit_forward(p["layers"], u0, 0.0, lp.MGRITConfig(cfactor=4), 2)
    with pytest.raises(ValueError, match="step size h must be positive"):
        lp.mgrit_forward(p["layers"], u0, -0.1, lp.MGRITConfig(cfactor=4), 2)
    with pytest.raises(ValueError, match="final time T must be positive"):
        lp.Spec(2, 4, 3, 8, T=0.0)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        lp.Spec(2, 4, 3, 0)
    with pytest.raises(ValueError, match="biases must have shape"):
        lp.mgrit_forward(
            {"W": p["layers"]["W"], "b": p["layers"]["b"][:-1]}, u0, spec.h, lp.MGRITConfig(4), 2
        )
    with pytest.raises(ValueError, match="states have width"):
        lp.mgrit_forward(p["layers"], u0[:, :-1], spec.h, lp.MGRITConfig(4), 2)
    with pytest.raises(ValueError, match="initial guess has shape"):
        lp.mgrit_forward(
            p["layers"], u0, spec.h, lp.MGRITConfig(4), 2, u_init=jnp.zeros((12,) + u0.shape)
        )
    with pytest.raises(ValueError, match="coarsening factor must be an integer >= 2"):
        lp.MGRITConfig(cfactor=1)
    with pytest.raises(ValueError, match="relaxation must be"):
        lp.MGRITConfig(relax="C")
    with pytest.raises(ValueError, match="unknown activation"):
        lp.Spec(2, 4, 3, 8, activation="sigmoid")
    with pytest.raises(ValueError, match="the network expects 3"):
        lp.train(p, data.load_peaks(20, 5), lp.Spec(3, 6, 3, 12), 1)
    with pytest.raises(ValueError, match="unknown scale"):
        lps.lp_config("huge")


def test_configs_are_consistent():
    for scale in ("smoke", "book", "paper"):
        c = lps.lp_config(scale)
        assert c.depth % c.cfactor == 0
        assert all(n % c.conv_cfactor == 0 for n in c.conv_depths)
        assert all(n % c.cfactor == 0 for n in c.timing_depths)
    assert (
        max(lps.lp_config("book").conv_depths) == 1024
        and min(lps.lp_config("book").conv_depths) == 32
    )
    for scale in ("smoke", "book", "paper"):
        c = lps.lp_config(scale)
        assert all(n % c.cfactor == 0 for n in c.grad_depths) and c.n_fwd in c.train_iters


# ----------------------------------------------------------------------------
# run-time iteration counts and the chapter's protocols (fasttrain.layer_parallel_study)


@pytest.mark.heavy
def test_run_time_iteration_count_matches_history_and_compiles_once():
    with jax.enable_x64(True):
        spec, p, x, y = _problem(16)
        u0 = lp.open_layer(p["open"], x)
        cfg = lp.MGRITConfig(4, 2, "F")
        data = (p["layers"]["W"], p["layers"]["b"])
        refs = _iterate(p["layers"], u0, spec.h, cfg, 3)  # states after 1, 2, 3 iterations
        for k in (1, 3):
            np.testing.assert_allclose(
                np.asarray(lp.mgrit_states(lp.ForwardStep(), data, spec.h, u0, cfg, k)),
                np.asarray(refs[k - 1].states),
                rtol=0,
                atol=1e-13,
            )
        # value_and_grad_mgrit: one compilation for every count
        before = lp._value_and_grad_mgrit._cache_size()
        _, g_ref = jax.jit(jax.value_and_grad(lp.loss_fn), static_argnums=3)(p, x, y, spec)
        errs = []
        for k in (1, 5):
            _, g, _ = lp.value_and_grad_mgrit(p, x, y, spec, cfg, k, k)
            errs.append(
                max(
                    float(jnp.abs(a - b).max())
                    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref))
                )
            )
        assert lp._value_and_grad_mgrit._cache_size() - before == 1
        assert errs[0] > 1e-6 and errs[-1] < 1e-12  # F two-level is exact after N/c = 4 iterations
        # forward_mgrit equals the serial logits once converged
        np.testing.assert_allclose(
            np.asarray(lp.forward_mgrit(p, x, spec, cfg, 4)),
            np.asarray(lp.forward(p, x, spec)),
            atol=1e-12,
        )
    with pytest.raises(ValueError, match="n_iter must be a non-negative integer"):
        lp.value_and_grad_mgrit(p, x, y, spec, cfg, -1, 1)
    with pytest.raises(ValueError, match="n_iter must be a non-negative integer"):
        lp.mgrit_states(lp.ForwardStep(), data, spec.h, u0, cfg, 1.5)


@pytest.mark.heavy
def test_study_convergence_and_gradients_on_a_small_problem():
    cfg = lps.LayerParallelConfig(
        width=4,
        conv_depths=(16,),
        conv_batch=3,
        conv_max_iter=9,
        conv_variants=(("FCF", 2),),
        grad_iters=(1, 8),
        grad_depths=(16,),
    )
    rows, hist = lps.convergence_study(cfg, 0)
    assert [r["depth"] for r in rows] == [16] and hist[16, "FCF", 2].shape == (10,)
    for r in rows:
        assert r["iters_to_tol"] is not None and r["max_err_vs_serial"] < 1e-10
    b = lps.bounded_iterations(rows, min_depth=16, max_iter=10)
    assert (
        b["best"] == "FCF, two-level"
        and b["ok"]
        and b["worst_of_best"] == max(r["iters_to_tol"] for r in rows)
    )
    g = lps.gradient_study(cfg, 0)
    assert (
        g[0]["grad_rel_err"] > 1e-4 and g[-1]["grad_rel_err"] < 1e-12
    )  # FCF two-level: exact after N/2c


def test_bounded_iterations_handles_unreached_tolerances():
    rows = [
        {"depth": 64, "variant": "F, two-level", "iters_to_tol": None},
        {"depth": 64, "variant": "FCF, two-level", "iters_to_tol": 7},
        {"depth": 128, "variant": "F, two-level", "iters_to_tol": 9},
        {"depth": 128, "variant": "FCF, two-level", "iters_to_tol": 12},
        {"depth": 32, "variant": "FCF, two-level", "iters_to_tol": 99},
    ]
    b = lps.bounded_iterations(rows, 64, 10)
    assert b["per_variant"] == {"F, two-level": None, "FCF, two-level": 12}
    assert b["best"] == "FCF, two-level" and b["worst_of_best"] == 12 and not b["ok"]
    with pytest.raises(ValueError, match="no convergence measurement"):
        lps.bounded_iterations(rows, 1024)


def test_majority_accuracy():
    assert lps.majority_accuracy(np.array([0, 1, 1, 2])) == 0.5
    with pytest.raises(ValueError, match="no labels"):
        lps.majority_accuracy(np.array([], int))


def test_work_model_helpers_agree_with_critical_path():
    P = lps.processors_for(1024, 4, 10, 2, ("F", 99))
    assert (
        P is not None and lp.critical_path(1024, lp.MGRITConfig(4, 99, "F"), P, 2)["speedup"] >= 10
    )
    assert lp.critical_path(1024, lp.MGRITConfig(4, 99, "F"), P // 2, 2)["speedup"] < 10
    assert lps.processors_for(64, 4, 10, 2) is None  # saturates below 10x
    top = lps.max_model_speedup(64, 4, 2)
    assert top == lp.critical_path(64, lp.MGRITConfig(4, 99, "FCF"), 10**6, 2)["speedup"]
    rows = lps.work_model([64], 4, (1, 2), 2)
    assert len(rows) == 6 and {r["variant"] for r in rows} == {
        "FCF, two-level",
        "F, multilevel",
        "FCF, multilevel",
    }
    with pytest.raises(ValueError, match="speed-up must be positive"):
        lps.processors_for(64, 4, 0, 2)
    with pytest.raises(ValueError, match="unknown MGRIT variant"):
        lps.variant_name("C", 2)
