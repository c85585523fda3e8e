"""Tests of fasttrain.gauss_newton (chapter 02: van den Brand, Peng, Song, Weinstein).

Every identity is checked against an independent route: the Jacobian from
``jax.jacfwd`` of the model, the Hadamard matrix from ``scipy.linalg``, the
SRHT as an explicit dense matrix, and the Gauss-Newton step from a dense solve.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from fasttrain.chapters import ch02_sketched_gauss_newton as study
from fasttrain.methods import gauss_newton as gn

# Few distinct shapes keep the number of XLA compilations (the cost of this
# file) small: SMALL for the linear algebra, TRAIN for the training runs.
SMALL = (12, 40, 5)  # n, m, d; md = 200 is padded to 256 by the SRHT
TRAIN = (16, 1024, 8)  # overparametrised: m >> n


@cache
def _problem(n, m, d, seed=0, labels="normal"):
    """A float64 numpy problem (W, a, X, y) with unit-norm rows, built without jax."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    W = rng.normal(size=(m, d))
    a = rng.choice([-1.0, 1.0], size=m)
    y = rng.choice([-1.0, 1.0], size=n) if labels == "sign" else rng.normal(size=n)
    return W, a, X, y


def _x64(*arrays):
    return tuple(jnp.asarray(v, jnp.float64) for v in arrays)


@cache
def _dense_jacobian_of(n, m, d, seed=0):
    """n x md Jacobian of W -> f(W, X) by forward-mode autodiff (row-major vec of W)."""
    W, a, X, _ = _problem(n, m, d, seed)
    with jax.enable_x64(True):
        W, a, X = _x64(W, a, X)
        J = jax.jit(jax.jacfwd(lambda w: gn.forward(w.reshape(m, d), a, X)))(W.reshape(-1))
        return np.asarray(J)


# --------------------------------------------------------------------------
# Jacobian products and the Gram matrix
# --------------------------------------------------------------------------


def test_jacobian_products_match_dense_jacobian():
    with jax.enable_x64(True):
        W, a, X, _ = _x64(*_problem(*SMALL))
        J = _dense_jacobian_of(*SMALL)
        assert J.shape == (12, 200)
        PT = gn.activation_pattern_t(W, a, X)
        np.testing.assert_array_equal(PT, np.asarray(gn.activation_pattern(W, a, X)).T)
        # the paper's P_ir = a_r 1[w_r.x_i >= 0], from numpy
        np.testing.assert_array_equal(
            PT.T, np.where(np.asarray(X) @ np.asarray(W).T >= 0, np.asarray(a), 0.0)
        )
        rng = np.random.default_rng(7)
        V = jnp.asarray(rng.normal(size=W.shape))
        u = jnp.asarray(rng.normal(size=12))
        np.testing.assert_allclose(gn.jac_vec(PT, X, V), J @ V.reshape(-1), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            gn.jac_t_vec(PT, X, u).reshape(-1), J.T @ u, rtol=1e-12, atol=1e-12
        )
        # the steps compute f and P^T from one product W X^T
        f, PT2 = gn.forward_and_pattern(W, a, X)
        np.testing.assert_array_equal(PT2, PT)
        np.testing.assert_allclose(f, gn.forward(W, a, X), rtol=1e-13)


def test_gradient_of_squared_loss_is_jt_residual():
    with jax.enable_x64(True):
        W, a, X, y = _x64(*_problem(*SMALL))
        grad = jax.grad(lambda w: 0.5 * jnp.sum((gn.forward(w, a, X) - y) ** 2))(W)
        PT = gn.activation_pattern_t(W, a, X)
        np.testing.assert_allclose(
            gn.jac_t_vec(PT, X, gn.forward(W, a, X) - y), grad, rtol=1e-12, atol=1e-12
        )


def test_gram_equals_dense_jjt_and_matvec():
    with jax.enable_x64(True):
        W, a, X, _ = _x64(*_problem(*SMALL))
        J = _dense_jacobian_of(*SMALL)
        G = gn.gram(W, a, X)
        np.testing.assert_allclose(G, J @ J.T, rtol=1e-12, atol=1e-13)
        z = jnp.asarray(np.random.default_rng(3).normal(size=12))
        PT = gn.activation_pattern_t(W, a, X)
        np.testing.assert_allclose(gn.gram_matvec(PT, X, z), J @ (J.T @ z), rtol=1e-12, atol=1e-12)
        # unit-norm inputs: G_ii = fraction of neurons active on x_i, in (0, 1]
        frac = np.mean(np.asarray(X @ W.T) >= 0, axis=1)
        np.testing.assert_allclose(np.diag(G), frac, rtol=1e-12)


# --------------------------------------------------------------------------
# SRHT (the Hadamard transform itself: tests/test_core.py)
# --------------------------------------------------------------------------


def test_srht_is_the_explicit_matrix_and_preserves_norms_jl():
    """S = sqrt(N/s) R (H/sqrt N) D on the zero-padded vector (dim 1000 pads to 1024), and
    Johnson-Lindenstrauss: ||S v||^2 / ||v||^2 concentrates at 1 (std about sqrt(2/s))."""
    with jax.enable_x64(True):
        dim, s = 1000, 256
        S = gn.srht(jax.random.key(11), dim, s)
        assert S.padded_dim == 1024 and S.size == s and len(set(np.asarray(S.rows).tolist())) == s
        rng = np.random.default_rng(12)
        gauss = rng.normal(size=(200, dim))
        sparse = np.zeros((50, dim))
        sparse[np.arange(50), rng.integers(0, dim, 50)] = 1.0  # worst case for plain subsampling
        spiky = rng.normal(size=(50, dim)) * (rng.random((50, dim)) < 0.01)
        spiky[:, 0] += 1.0  # no zero vectors
        V = np.vstack([gauss, sparse, spiky])
        SV = np.asarray(gn.srht_apply(S, V))
        H = scipy.linalg.hadamard(1024) / np.sqrt(1024)
        dense = np.sqrt(1024 / s) * (H * np.asarray(S.signs)[None, :])[np.asarray(S.rows)][:, :dim]
        np.testing.assert_allclose(SV, V @ dense.T, rtol=1e-11, atol=1e-11)
        ratio = np.sum(SV**2, axis=1) / np.sum(V**2, axis=1)
        assert np.max(np.abs(ratio - 1)) < 0.4
        assert abs(np.mean(ratio[:200]) - 1) < 0.03
        # the randomised Hadamard flattens a basis vector exactly: norm preserved to rounding
        np.testing.assert_allclose(ratio[200:250], 1.0, rtol=1e-12)


def test_srht_rejects_bad_sizes():
    with pytest.raises(ValueError, match="sketch size"):
        gn.srht(jax.random.key(0), 100, 129)
    with pytest.raises(ValueError, match="sketch size"):
        gn.srht(jax.random.key(0), 100, 0)
    S = gn.srht(jax.random.key(0), 100, 10)
    with pytest.raises(ValueError, match="length 99"):
        gn.srht_apply(S, jnp.ones(99))


@pytest.mark.parametrize("batch_elems", [1 << 18, 5 * 256])
def test_sketch_of_jacobian_transpose_matches_dense(batch_elems):
    """S J^T built column by column (also in batches of 5 with a remainder) equals S applied to dense J^T."""
    with jax.enable_x64(True):
        W, a, X, _ = _x64(*_problem(*SMALL))  # md = 200, padded to 256
        J = _dense_jacobian_of(*SMALL)
        S = gn.srht(jax.random.key(5), 200, 48)
        SJt = gn.sketch_jacobian_t(S, gn.activation_pattern_t(W, a, X), X, batch_elems=batch_elems)
        assert SJt.shape == (48, 12)
        np.testing.assert_allclose(SJt, gn.srht_apply(S, J).T, rtol=1e-12, atol=1e-12)


@pytest.mark.heavy
def test_kronecker_sketch_is_s_m_kron_identity_applied_to_jacobian_transpose():
    """(S_m (x) I_d) J^T from the dense Jacobian and the dense SRHT of R^m: its Gram is the Schur
    product (QS QS^T) o (X X^T) / m, and both factors give R^T R = that Gram + damping I."""
    n, m, d = SMALL
    with jax.enable_x64(True):
        W, a, X, _ = _x64(*_problem(*SMALL))
        J = _dense_jacobian_of(*SMALL)
        PT = gn.activation_pattern_t(W, a, X)
        S = gn.srht(jax.random.key(9), m, 24)  # m = 40 padded to 64
        QS = np.asarray(gn.sketch_pattern(S, PT))
        assert QS.shape == (n, 24)
        Sm = np.asarray(gn.srht_apply(S, np.eye(m))).T  # the s x m matrix, column by column
        np.testing.assert_allclose(QS, (Sm @ np.asarray(PT)).T, rtol=1e-12, atol=1e-12)
        SJt = np.kron(Sm, np.eye(d)) @ J.T  # (s d) x n
        B = SJt.T @ SJt
        np.testing.assert_allclose(
            B, (QS @ QS.T) * (np.asarray(X) @ np.asarray(X).T) / m, rtol=1e-10, atol=1e-12
        )
        for damping in (0.0, 0.2):
            for factor in gn.FACTORS:
                R = np.asarray(gn.kron_preconditioner(jnp.asarray(QS), X, m, damping, factor))
                np.testing.assert_allclose(R, np.triu(R), atol=0)
                np.testing.assert_allclose(R.T @ R, B + damping * np.eye(n), rtol=1e-9, atol=1e-10)
        with pytest.raises(ValueError, match="has 40 rows"):
            gn.sketch_pattern(gn.srht(jax.random.key(0), 41, 8), PT)
        # the route the step takes: the pattern recomputed from W batch by batch, same matrix
        for batch_elems in (64, 1 << 18):  # 1 and all n columns per batch
            np.testing.assert_allclose(
                gn.sketch_pattern_from_weights(S, W, a, X, batch_elems=batch_elems),
                QS,
                rtol=1e-12,
                atol=1e-12,
            )
        with pytest.raises(ValueError, match="W has 40 rows"):
            gn.sketch_pattern_from_weights(gn.srht(jax.random.key(0), 41, 8), W, a, X)
        with pytest.raises(ValueError, match="unknown factor"):
            gn.kron_preconditioner(jnp.asarray(QS), X, m, 0.0, "lu")


@pytest.mark.heavy
def test_kronecker_sketch_step_equals_dense_step_and_srht_step():
    """The fast step with the Kronecker sketch is the GN step (dense route) up to the CG tolerance,
    and takes the same step as the fast step with the paper's SRHT; its preconditioned condition
    number is O(1) on ill-conditioned data, as the embedding argument says."""
    n, m, d = TRAIN
    with jax.enable_x64(True):
        W, a, X, y = _x64(*_problem(*TRAIN))
        J = np.asarray(jax.jacfwd(lambda w: gn.forward(w.reshape(m, d), a, X))(W.reshape(-1)))
        r = np.asarray(gn.forward(W, a, X) - y)
        step = (J.T @ np.linalg.solve(J @ J.T, r)).reshape(m, d)
        tol = 1e-11
        out = {
            sk: gn.fast_gauss_newton_step(
                W, a, X, y, jax.random.key(3), 2 * n, 1.0, 0.0, tol, 200, "qr", sk
            )
            for sk in gn.SKETCHES
        }
        for W_new, info in out.values():
            np.testing.assert_allclose(W - W_new, step, rtol=1e-7, atol=1e-8)
            assert float(info.cg_relative_residual) <= tol
        np.testing.assert_allclose(out["kron"][0], out["srht"][0], rtol=1e-7, atol=1e-8)
        # the Kronecker sketch's s d rows: fewer PCG iterations than the SRHT at the same s
        assert int(out["kron"][1].cg_iterations) <= int(out["srht"][1].cg_iterations)
        Wc, ac = gn.init_params(jax.random.key(2), 512, 8)
        Xc, _ = gn.nearly_collinear_data(32, 8, 0.1, jax.random.key(1))
        raw = np.linalg.cond(np.asarray(gn.gram(Wc, ac, Xc)))
        kron = [
            gn.preconditioned_condition_number(Wc, ac, Xc, 64, jax.random.key(k), sketch="kron")
            for k in range(3)
        ]
        assert raw > 1000 and all(1.0 <= c < 15 for c in kron), (raw, kron)
        # training with it converges like exact GN
        run = gn.train("fast", W, a, X, y, iters=4, sketch="kron", sketch_size=2 * n)
        ref = gn.train("gn", W, a, X, y, iters=4)
        # (the last iterate sits at the float64 floor, where only its order of magnitude agrees)
        np.testing.assert_allclose(run.residual_norms[:4], ref.residual_norms[:4], rtol=1e-5)


def test_qr_and_cholesky_preconditioners_agree():
    """Both factorisations give an upper-triangular R with R^T R = B^T B + lambda I (B = S J^T)."""
    with jax.enable_x64(True):
        B = np.random.default_rng(6).normal(size=(48, 12))
        for damping in (0.0, 0.3):
            target = B.T @ B + damping * np.eye(12)
            Rs = [
                np.asarray(gn.sketch_preconditioner(jnp.asarray(B), damping, f)) for f in gn.FACTORS
            ]
            for R in Rs:
                assert R.shape == (12, 12)
                np.testing.assert_allclose(R, np.triu(R), atol=0)
                np.testing.assert_allclose(R.T @ R, target, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(np.abs(Rs[0]), np.abs(Rs[1]), rtol=1e-8, atol=1e-10)
        with pytest.raises(ValueError, match="unknown factor"):
            gn.sketch_preconditioner(jnp.asarray(B), 0.0, "lu")


# --------------------------------------------------------------------------
# preconditioning, CG and the steps
# --------------------------------------------------------------------------


def test_preconditioned_condition_number_is_small_and_independent_of_lambda():
    with jax.enable_x64(True):
        n, m, d = 32, 512, 8
        W, a = gn.init_params(jax.random.key(2), m, d)
        X, _ = gn.nearly_collinear_data(n, d, 0.1, jax.random.key(1))
        raw = np.linalg.cond(np.asarray(gn.gram(W, a, X)))
        pre = [
            gn.preconditioned_condition_number(W, a, X, 4 * n, jax.random.key(k)) for k in range(3)
        ]
        assert raw > 1000  # the nearly collinear data make G ill-conditioned
        # s = 4n: a Gaussian sketch would give about the Marchenko-Pastur ratio
        # ((1 + 1/2) / (1 - 1/2))^2 = 9; measured 5.7-9.4 over seeds
        assert all(1.0 <= c < 15 for c in pre), pre


def test_pcg_matches_dense_solve_and_reports_history():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        B = rng.normal(size=(30, 30))
        A = jnp.asarray(B @ B.T + 0.1 * np.eye(30))
        b = jnp.asarray(rng.normal(size=30))
        # one compiled solver; L = I is plain CG, L = chol(A + 1% diag) a near-exact preconditioner
        solve = jax.jit(
            lambda b, L: gn.pcg(
                lambda p: A @ p, b, lambda r: jax.scipy.linalg.cho_solve((L, True), r), 1e-10, 200
            )
        )
        x, k, rel, hist = solve(b, jnp.eye(30))
        np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-7)
        assert rel <= 1e-10 and 0 < int(k) <= 200
        assert np.isfinite(hist[: int(k) + 1]).all() and np.isnan(hist[int(k) + 1 :]).all()
        assert hist[int(k)] == pytest.approx(float(rel))
        np.testing.assert_allclose(
            hist[int(k)], np.linalg.norm(A @ x - b) / np.linalg.norm(b), rtol=1e-3, atol=1e-12
        )

        L = jnp.linalg.cholesky(A + 0.01 * jnp.diag(jnp.diag(A)))
        xp, kp, relp, _ = solve(b, L)
        np.testing.assert_allclose(xp, np.linalg.solve(A, b), rtol=1e-7)
        assert int(kp) < int(k)
        # zero right-hand side: zero iterations, zero solution
        x0, k0, rel0, _ = solve(jnp.zeros(30), L)
        assert int(k0) == 0 and float(rel0) == 0.0 and not np.any(np.asarray(x0))


@pytest.mark.parametrize("damping", [0.0, 0.05])
@pytest.mark.heavy
def test_fast_step_equals_exact_gauss_newton_step(damping):
    """The sketch-preconditioned CG step is the GN step up to the CG tolerance.

    With ||G z - r|| <= tol ||r||, the step error ||J^T (z - z*)|| is at most
    tol sqrt(cond G) times ||J^T z*||.  md = 40 * 5 = 200 is padded to 256.
    """
    with jax.enable_x64(True):
        W, a, X, y = _x64(*_problem(*SMALL))
        n = X.shape[0]
        tol = 1e-10
        W_gn, info_gn = gn.gauss_newton_step(W, a, X, y, 1.0, damping)
        W_fast, info = gn.fast_gauss_newton_step(
            W, a, X, y, jax.random.key(8), 4 * n, 1.0, damping, tol, 200
        )
        W_cg, info_cg = gn.cg_gauss_newton_step(W, a, X, y, 1.0, damping, tol, 500)
        G = np.asarray(gn.gram(W, a, X)) + damping * np.eye(n)
        bound = 10 * tol * np.sqrt(np.linalg.cond(G))
        # independent route: dense J and a dense solve
        J = _dense_jacobian_of(*SMALL)
        r = np.asarray(gn.forward(W, a, X) - y)
        step = (J.T @ np.linalg.solve(J @ J.T + damping * np.eye(n), r)).reshape(W.shape)
        np.testing.assert_allclose(W - W_gn, step, rtol=1e-9, atol=1e-10)
        for W_new, inf in ((W_fast, info), (W_cg, info_cg)):
            err = np.linalg.norm(W_new - W_gn) / np.linalg.norm(step)
            assert err <= bound, (err, bound)
            assert float(inf.cg_relative_residual) <= tol
        assert int(info.cg_iterations) <= int(
            info_cg.cg_iterations
        )  # (CG terminates in n steps anyway)
        assert float(info.residual_norm) == pytest.approx(np.linalg.norm(r))


@pytest.mark.heavy
def test_triangular_factor_routes_equal_the_dense_solve():
    """spd_solver's three routes compute (R^T R)^{-1} r and (L L^T)^{-1} r, for one block, several
    blocks, a ragged last block and the inverse's recursion (leaves smaller than n)."""
    rng = np.random.default_rng(11)
    with jax.enable_x64(True):
        for n, block in ((7, 256), (40, 16), (40, 8), (33, 32)):
            R = np.triu(rng.normal(size=(n, n))) / np.sqrt(n) + 2 * np.eye(n)
            r = rng.normal(size=n)
            want = np.linalg.solve(R.T @ R, r)
            want_lower = np.linalg.solve(R.T @ R.T.T, r)  # L = R^T: L L^T = R^T R
            for how in gn.PRECOND_APPLY:
                got = gn.spd_solver(jnp.asarray(R), False, how, block)(jnp.asarray(r))
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
                got = gn.spd_solver(jnp.asarray(R.T), True, how, block)(jnp.asarray(r))
                np.testing.assert_allclose(got, want_lower, rtol=1e-12, atol=1e-13)
            Ri = np.asarray(gn._tri_inverse(jnp.asarray(R), False, leaf=block))
            np.testing.assert_allclose(Ri @ R, np.eye(n), atol=1e-12)
            np.testing.assert_allclose(Ri, np.triu(Ri), atol=0)
        with pytest.raises(ValueError, match="unknown precond_apply 'lu'"):
            gn.spd_solver(jnp.eye(3), False, "lu")


@cache
def _routes_problem():
    """n = 300 > TRI_BLOCK: the blocked route has two blocks, the inverse one level of recursion."""
    n, m, d = 300, 1024, 4
    assert n > gn.TRI_BLOCK
    return _problem(n, m, d, seed=3)


@pytest.mark.parametrize("sketch", gn.SKETCHES)
@pytest.mark.heavy
def test_preconditioner_routes_give_the_same_pcg_iterates_and_step(sketch):
    """The new routes (R^{-1} as a product, block substitution) give the previous edition's
    triangular-solve route's PCG iterates (relative residual after every iteration), step,
    iteration count and contraction to rounding, for both sketches."""
    with jax.enable_x64(True):
        W, a, X, y = _x64(*_routes_problem())
        n = X.shape[0]
        s = 4 * n if sketch == "srht" else 2 * n
        key = jax.random.key(5)
        f, PT = gn.forward_and_pattern(W, a, X)
        R = gn.sketched_factor(key, W, a, PT, X, s, 0.0, "cholesky", sketch)
        solve = jax.jit(
            lambda R, res, how: gn.pcg(
                lambda p: gn.gram_matvec(PT, X, p),
                res,
                gn.spd_solver(R, False, how),
                1e-10,
                60,
            ),
            static_argnums=2,
        )
        ref = solve(R, f - y, "triangular")
        k = int(ref[1])
        assert 3 <= k < 60
        steps = {
            how: gn.fast_gauss_newton_step(
                W, a, X, y, key, s, 1.0, 0.0, 1e-10, 60, "cholesky", sketch, how
            )
            for how in gn.PRECOND_APPLY
        }
        r0 = np.linalg.norm(np.asarray(f - y))
        contraction = {
            how: np.linalg.norm(np.asarray(gn.forward(Wn, a, X) - y)) / r0
            for how, (Wn, _) in steps.items()
        }
        for how in ("inverse", "blocked"):
            x, kk, rel, hist = solve(R, f - y, how)
            assert int(kk) == k
            np.testing.assert_allclose(hist[: k + 1], ref[3][: k + 1], rtol=1e-7)
            np.testing.assert_allclose(x, ref[0], rtol=1e-9, atol=1e-12)
            Wn, info = steps[how]
            np.testing.assert_allclose(Wn, steps["triangular"][0], rtol=1e-10, atol=1e-12)
            assert int(info.cg_iterations) == int(steps["triangular"][1].cg_iterations)
            assert contraction[how] == pytest.approx(contraction["triangular"], rel=1e-8)


def test_exact_gauss_newton_solve_routes_agree():
    with jax.enable_x64(True):
        W, a, X, y = _x64(*_routes_problem())
        out = {how: gn.gauss_newton_step(W, a, X, y, 1.0, 0.0, how) for how in gn.PRECOND_APPLY}
        for how in ("inverse", "blocked"):
            np.testing.assert_allclose(out[how][0], out["triangular"][0], rtol=1e-10, atol=1e-12)


def test_exact_and_fast_gauss_newton_halve_the_residual():
    """The paper's convergence claim ||f_{t+1} - y|| <= 1/2 ||f_t - y|| on an overparametrised instance."""
    W, a, X, y = _problem(*TRAIN, labels="sign")
    for method in ("gn", "fast"):
        res = gn.train(method, W, a, X, y, iters=3, key=jax.random.key(1))
        assert res.residual_norms.shape == (4,) and res.seconds.shape == (3,)
        assert np.all(res.contraction <= 0.5), (method, res.residual_norms)
        assert res.residual_norms[-1] < 1e-3 * res.residual_norms[0]
        if method == "fast":
            assert res.sketch_size == 64 and np.all(res.cg_iterations > 0)
        else:
            assert res.sketch_size is None and np.all(res.cg_iterations == 0)


def test_gradient_descent_decreases_and_divergence_is_reported():
    W, a, X, y = _problem(*TRAIN)
    res = gn.train("gd", W, a, X, y, iters=30)
    assert res.step_size > 0
    assert np.all(np.diff(res.residual_norms) < 0)
    with pytest.raises(gn.DivergenceError, match="diverged"):
        gn.train("gd", W, a, X, y, iters=60, step_size=1e30)


def test_train_stops_at_target_and_result_is_frozen():
    W, a, X, y = _problem(*TRAIN)
    res = gn.train("gn", W, a, X, y, iters=20, target=1e-8)
    assert res.iterations < 20
    assert len(res.residual_norms) == res.iterations + 1
    assert res.residual_norms[-1] <= 1e-8 * res.residual_norms[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.method = "x"


def test_method_descriptions_run_exactly_as_the_string_interface():
    """``run(GD() | ExactGN() | CG() | FastGN(...))`` is the deprecated ``train("gd" | ...)``, bit for bit."""
    W, a, X, y = _problem(*TRAIN, labels="sign")
    key = jax.random.key(3)
    pairs = [
        (gn.GD(), "gd", {}),
        (gn.ExactGN(damping=1e-3), "gn", dict(damping=1e-3)),
        (gn.CG(cg_tol=1e-6), "cg", dict(cg_tol=1e-6)),
        (
            gn.FastGN("kron", 32, "cholesky"),
            "fast",
            dict(sketch="kron", sketch_size=32, factor="cholesky"),
        ),
    ]
    for spec, name, settings in pairs:
        new = gn.run(spec, W, a, X, y, 2, key=key, warmup=False)
        old = gn.train(name, W, a, X, y, 2, key=key, warmup=False, **settings)
        assert new.method == old.method == name == spec.name
        assert (new.step_size, new.sketch_size) == (old.step_size, old.sketch_size)
        for f in ("residual_norms", "cg_iterations", "cg_relative_residuals", "W"):
            assert np.array_equal(getattr(new, f), getattr(old, f)), (name, f)


def test_build_resolves_defaults_and_refuses_non_methods():
    W, a, X, y = _problem(*TRAIN)
    n = X.shape[0]
    step = gn.build(gn.FastGN(), a, X, y)
    assert step.sketch_size == 4 * n and step.spec == gn.FastGN(sketch_size=4 * n)
    assert gn.build(gn.GD(), a, X, y, W).step_size > 0
    with pytest.raises(ValueError, match="needs a step size"):
        gn.build(gn.GD(), a, X, y)
    for bad in ("fast", None):
        with pytest.raises(ValueError, match="unknown method"):
            gn.build(bad, a, X, y)
        with pytest.raises(ValueError, match="unknown method"):
            gn.run(bad, W, a, X, y, 1)
    with pytest.raises(ValueError, match="unknown precond_apply"):
        gn.build(gn.FastGN(precond_apply="dense"), a, X, y)
    with pytest.raises(ValueError, match="smaller than n"):
        gn.build(gn.FastGN(sketch_size=n - 1), a, X, y)


# --------------------------------------------------------------------------
# data helpers and diagnostics
# --------------------------------------------------------------------------


def test_data_helpers():
    with jax.enable_x64(True):
        X, y = gn.synthetic_data(32, 8, jax.random.key(0), labels="sign")
        np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
        assert set(np.unique(np.asarray(y)).tolist()) == {-1.0, 1.0}
        W, a = gn.init_params(jax.random.key(2), 512, 8)  # the shapes of the conditioning test
        assert W.shape == (512, 8) and set(np.unique(np.asarray(a)).tolist()) == {-1.0, 1.0}
        lams = [
            gn.ntk_lambda_min(W, a, gn.nearly_collinear_data(32, 8, eps, jax.random.key(1))[0])
            for eps in (1.0, 0.3, 0.1, 0.03)
        ]
    assert all(x > 0 for x in lams)
    assert all(lo < hi for lo, hi in zip(lams[1:], lams[:-1])), lams  # lambda_min shrinks with eps


def test_gram_lambda_max_matches_eigvalsh():
    with jax.enable_x64(True):
        W, a, X, _ = _x64(*_problem(*TRAIN))
        exact = np.linalg.eigvalsh(np.asarray(gn.gram(W, a, X)))[-1]
        assert exact <= gn.gram_lambda_max(W, a, X) <= 1.05 * exact


def test_configs():
    for scale in ("smoke", "book", "paper"):
        c = study.config(scale)
        assert c.m > c.n and c.eps_m > c.eps_n and min(c.m_sweep) > c.sweep_n
        *ns, n_last = sorted(c.n_sweep)
        assert all(
            c.sweep_m >= 8 * n for n in ns
        )  # the overparametrised regime of the timing sweep
        # the largest n may sit at m = 4n (book scale: the 8 GB), where both sketches still
        # reduce dimension: s = 4n < md for the paper's SRHT, s = 2n < m for the Kronecker sketch
        assert c.sweep_m >= 4 * n_last
        assert gn.default_sketch_size(n_last, c.sketch_factor) < c.sweep_m * c.sweep_d
        assert gn.default_sketch_size(n_last, c.kron_sketch_factor) < c.sweep_m
        assert gn.default_sketch_size(c.n, c.sketch_factor) <= c.m * c.d
    with pytest.raises(ValueError, match="unknown scale"):
        study.config("huge")


# --------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------


def test_bad_inputs_give_clear_errors():
    W, a, X, y = _problem(*TRAIN)
    n = X.shape[0]
    with pytest.raises(ValueError, match="unit norm"):
        gn.train("gn", W, a, 2.0 * X, y, iters=1)
    gn.train("gn", W, a, gn.normalize_rows(2.0 * X), y, iters=1)  # the documented fix works
    with pytest.raises(ValueError, match="zero"):
        gn.normalize_rows(jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="smaller than n"):
        gn.train("fast", W, a, X, y, iters=1, sketch_size=n - 1)
    with pytest.raises(ValueError, match="smaller than n"):
        gn.preconditioned_condition_number(W, a, X, n // 2, jax.random.key(0))
    with pytest.raises(ValueError, match="exceeds the padded"):
        gn.train("fast", W[:2, :], a[:2], X, y, iters=1, sketch_size=32)
    with pytest.raises(ValueError, match="input dimension"):
        gn.train("gn", W[:, :-1], a, X, y, iters=1)
    with pytest.raises(ValueError, match="a must have shape"):
        gn.train("gn", W, a[:-1], X, y, iters=1)
    with pytest.raises(ValueError, match="y must have shape"):
        gn.train("gn", W, a, X, y[:-1], iters=1)
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        gn.train("gn", W, 0.5 * a, X, y, iters=1)
    with pytest.raises(ValueError, match="step size must be positive"):
        gn.train("gd", W, a, X, y, iters=1, step_size=-0.1)
    with pytest.raises(ValueError, match="damping"):
        gn.train("gn", W, a, X, y, iters=1, damping=-1.0)
    with pytest.raises(ValueError, match="unknown factor"):
        gn.train("fast", W, a, X, y, iters=1, factor="svd")
    with pytest.raises(ValueError, match="unknown method"):
        gn.train("newton", W, a, X, y, iters=1)
    with pytest.raises(ValueError, match="unknown sketch"):
        gn.train("fast", W, a, X, y, iters=1, sketch="gaussian")
    with pytest.raises(ValueError, match="exceeds the padded width"):  # kron sketches R^m
        gn.train("fast", W[:32, :], a[:32], X, y, iters=1, sketch="kron", sketch_size=64)
    with pytest.raises(ValueError, match="smaller than n"):
        gn.preconditioned_condition_number(W, a, X, n - 1, jax.random.key(0), sketch="kron")
    with pytest.raises(ValueError, match="eps must be positive"):
        gn.nearly_collinear_data(5, 3, 0.0, jax.random.key(0))
    # the preconditioner's route: refused before any work (no compilation, no data check)
    with pytest.raises(ValueError, match="unknown precond_apply 'trsv'"):
        gn.train("fast", W, a, X, y, iters=1, precond_apply="trsv")
    with pytest.raises(ValueError, match="unknown solve_apply 'lu'"):
        gn.train("gn", W, a, X, y, iters=1, solve_apply="lu")
    with pytest.raises(ValueError, match="unknown precond_apply"):
        gn.make_step("fast", a, X, y, precond_apply="dense")


# --------------------------------------------------------------------------
# the chapter's protocols (fasttrain.gauss_newton_study)
# --------------------------------------------------------------------------


def test_power_law_fit_and_crossover():
    x = np.array([100.0, 200.0, 400.0, 800.0])
    f = study.fit_power_law(x, 3e-4 * x**1.7)
    assert f.exponent == pytest.approx(1.7, abs=1e-12) and f.prefactor == pytest.approx(
        3e-4, rel=1e-10
    )
    np.testing.assert_allclose(f(x), 3e-4 * x**1.7, rtol=1e-10)
    slow, fast = study.PowerLaw(2.0, 1e-3), study.PowerLaw(1.0, 1e-1)  # equal at x = 100
    assert study.crossover(slow, fast) == pytest.approx(100.0)
    assert study.crossover(slow, fast, 10.0) == pytest.approx(1000.0)
    assert slow(1000.0) / fast(1000.0) == pytest.approx(10.0)
    assert (
        study.crossover(fast, slow) is None
    )  # the "slow" method grows slower: the ratio never reaches 1
    with pytest.raises(ValueError, match="positive"):
        study.fit_power_law([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="two distinct"):
        study.fit_power_law([2.0, 2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="equal length"):
        study.fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="ratio"):
        study.crossover(slow, fast, 0.0)


def test_power_law_of_constant_data_has_exactly_zero_exponent():
    # polyfit gives a slope of order ±1e-17 whose sign depends on the CPU; the slope of constant
    # data is exactly 0 (issue 21: exact GN's [2, 2, 2] iterations printed -5.9e-17 on one CPU)
    lam = [0.13, 0.079, 0.027]
    f = study.fit_power_law([1 / v for v in lam], [2.0, 2.0, 2.0])
    assert f.exponent == 0.0 and str(f.exponent) == "0.0" and f.prefactor == 2.0
    assert study.fit_power_law([1.0, 2.0], [2.0, 2.0 + 1e-9]).exponent != 0.0


def test_contractions_and_iterations_to():
    r = np.array([1.0, 0.1, 0.02, 1e-11, 1e-13])
    run = gn.TrainResult(
        "gn", r, np.ones(4), np.zeros(4, int), np.zeros(4), 1.0, None, np.zeros((1, 1))
    )
    np.testing.assert_allclose(
        study.contractions(run), [0.1, 0.2]
    )  # steps ending at the float64 floor left out
    assert study.iterations_to(run, 0.05) == 2 and study.iterations_to(run, 1e-14) is None


def test_timing_problem_and_numpy_model():
    W, a, X, y = study.problem32(20, 256, 6, seed=3)
    assert (
        W.dtype == jnp.float32 and W.shape == (256, 6) and X.shape == (20, 6) and y.shape == (20,)
    )
    np.testing.assert_allclose(np.linalg.norm(np.asarray(X), axis=1), 1.0, rtol=1e-6)
    W2, *_ = study.problem32(20, 256, 6, seed=3)
    np.testing.assert_array_equal(W, W2)  # deterministic
    np.testing.assert_allclose(
        study._forward_np(W, a, X), gn.forward(W, a, X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.heavy
def test_compiled_step_equals_step_and_memory_is_not_the_jacobian():
    """The compiled executable computes the same step; XLA's peak stays far below the n x md Jacobian.

    (The sketch transforms columns of J^T in batches of at most 2^18 entries, about 1 MB in float32,
    a constant that n = 64 puts well below the 16 MB of J.)"""
    n, m, d = 64, 512, 128
    W, a, X, y = study.problem32(n, m, d, seed=0)
    key = jax.random.key(4)
    c = study.compile_step(
        "fast", W, a, X, y, key, sketch_factor=4.0, cg_tol=1e-5, factor="cholesky"
    )
    assert (
        study.compile_step(
            "fast", W, a, X, y, key, sketch_factor=4.0, cg_tol=1e-5, factor="cholesky"
        )
        is c
    )  # cached
    W1, info = c.fn(W, a, X, y, key)
    W2, info2 = gn.fast_gauss_newton_step(W, a, X, y, key, 4 * n, 1.0, 0.0, 1e-5, 100, "cholesky")
    np.testing.assert_allclose(W1, W2, rtol=1e-5, atol=1e-6)
    assert int(info.cg_iterations) == int(info2.cg_iterations) > 0
    assert 0 < c.temp_bytes <= c.peak_bytes < 0.5 * n * m * d * 4, (c.peak_bytes, n * m * d * 4)
    g = study.compile_step("gn", W, a, X, y, key)
    np.testing.assert_allclose(
        g.fn(W, a, X, y, key)[0], gn.gauss_newton_step(W, a, X, y)[0], rtol=1e-5, atol=1e-6
    )


def test_step_function_rejects_bad_settings():
    with pytest.raises(ValueError, match="unknown method"):
        study.step_function("newton", 8, 64, 4)
    with pytest.raises(ValueError, match="unknown factor"):
        study.step_function("fast", 8, 64, 4, factor="lu")
    with pytest.raises(ValueError, match="smaller than n"):
        study.step_function("fast", 8, 64, 4, sketch_factor=0.5)
    with pytest.raises(ValueError, match="exceeds the padded width"):
        study.step_function("kron", 32, 64, 4, sketch_factor=4.0)
    with pytest.raises(ValueError, match="unknown precond_apply"):
        study.step_function("kron", 8, 64, 4, precond_apply="trsv")
    with pytest.raises(ValueError, match="unknown solve_apply"):
        study.step_function("gn", 8, 64, 4, solve_apply="trsv")
    with pytest.raises(ValueError, match="unknown route"):
        study.precond_bytes(8, "trsv")


def test_timing_sweeps_time_a_shared_size_once(monkeypatch):
    calls = []

    def fake(n, m, d, cfg, seed, methods=("gn", "fast", "kron")):
        calls.append((n, m))
        return [{"method": meth, "n": n, "m": m, "seconds": 1.0} for meth in methods]

    monkeypatch.setattr(study.step_timing, "time_size", fake)
    cfg = study.config("smoke")  # the point (sweep_n, sweep_m) lies on both sweeps
    rows = study.timing_sweeps(cfg, 0)
    assert len(rows) == 3 * (len(cfg.n_sweep) + len(cfg.m_sweep))
    assert len(calls) == len(set(calls)) == len(cfg.n_sweep) + len(cfg.m_sweep) - 1
    assert {r["axis"] for r in rows} == {"n", "m"}


def test_time_size_reports_both_methods_at_equal_contraction():
    cfg = study.config("smoke")
    rows = study.time_size(16, 512, 4, cfg, seed=0)
    assert [r["method"] for r in rows] == ["gn", "fast", "kron"]
    for r in rows:
        assert r["seconds"] > 0 and r["rounds"] >= cfg.timing_repeats and r["peak_bytes"] > 0
        assert 0 < r["contraction"] < 0.5 and r["seconds_per_decade"] > 0
    # the fast steps solve to 1e-5 in float32: the same contraction as the exact step
    for fast in rows[1:]:
        assert fast["contraction"] == pytest.approx(rows[0]["contraction"], rel=1e-2)
        assert fast["cg_iters"] > 0
    assert rows[0]["cg_iters"] == 0 and rows[0]["s"] is None
    assert rows[1]["s"] == 4 * 16 and rows[2]["s"] == cfg.kron_sketch_factor * 16


@pytest.mark.parametrize(
    ("kron_seconds", "chosen"),
    [
        ({1.0: 1.00, 1.25: 1.10, 1.5: 1.10, 2.0: 1.02}, 2.0),  # 2n within 3 % of the best: tie
        ({1.0: 1.00, 1.25: 1.02, 1.5: 1.10, 2.0: 1.05}, 1.25),  # 2n 5 % slower: the tie is 1.25
        ({1.0: 1.20, 1.25: 1.10, 1.5: 1.00, 2.0: 1.30}, 1.5),
    ],
)
@pytest.mark.heavy
def test_kron_sketch_factor_rule_takes_the_fastest_and_breaks_ties_to_larger_s(
    monkeypatch, kron_seconds, chosen
):
    """The declared rule of select_kron_sketch_factor on real steps (n = 32) with the round times
    replaced: lowest seconds per decade, ties within KRON_SELECTION_TIE to the larger s."""

    def fake(fns, rounds, warmup):
        for fn in fns.values():
            fn()  # the real steps run once: their contraction and PCG iterations are real
        times = {k: [2.0] * rounds if k[0] == "gn" else [kron_seconds[k[1]]] * rounds for k in fns}
        return {"times": times, "load": [0.0, 0.0]}

    monkeypatch.setattr(study.step_timing, "interleaved", fake)
    sel = study.select_kron_sketch_factor(32, 512, 4, study.config("smoke"), 0, rounds=2)
    assert sel["chosen"] == chosen
    gn_row, *kron = sel["rows"]
    assert gn_row["method"] == "gn" and [r["s_over_n"] for r in kron] == list(kron_seconds)
    for r in kron:  # every candidate takes the Gauss-Newton step (CG to 1e-5 in float32)
        assert r["contraction"] == pytest.approx(gn_row["contraction"], rel=1e-2)
        assert r["cg_iters"] > 0


def test_real_data_on_the_unit_sphere():
    X, y = study.mnist_sphere(40, seed=1)
    assert X.shape == (40, 16)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    assert set(np.unique(y).tolist()) == {-1.0, 1.0}
    Xb, yb = study.banknote_sphere(30, seed=0)
    assert Xb.shape == (30, 4) and set(np.unique(yb).tolist()) == {-1.0, 1.0}
    np.testing.assert_allclose(np.linalg.norm(Xb, axis=1), 1.0, rtol=1e-12)
    E = np.eye(3)
    assert study.closest_pair_angle(
        np.vstack([E, [[np.cos(0.1), np.sin(0.1), 0.0]]])
    ) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="pool"):
        study.mnist_sphere(10, 0, pool=5)
    with pytest.raises(ValueError, match="two different digits"):
        study.mnist_sphere(10, 0, classes=(3, 3))
    with pytest.raises(ValueError, match="n must be"):
        study.mnist_sphere(100000, 0)
    with pytest.raises(ValueError, match="n >= 2"):
        study.banknote_sphere(1, 0)


def test_lambda_min_helper_is_float64_and_matches_eigvalsh():
    X, _ = study.synthetic_sphere(12, 5, seed=2)
    W0, a = study.init(256, 5, seed=0)
    with jax.enable_x64(True):
        G = np.asarray(gn.gram(*(jnp.asarray(v, jnp.float64) for v in (W0, a, X))))
    assert study.lambda_min(X, 256, seed=0) == pytest.approx(np.linalg.eigvalsh(G)[0], rel=1e-10)
