"""Full-batch gradient descent, the baseline every chapter times against.

:func:`full_batch_gd` runs optax SGD on the whole training set and
records, at every step, the training accuracy computed from the same
forward pass that gives the loss (so the bookkeeping costs no extra
network evaluation).  Steps run in jitted chunks of ``chunk`` steps with
``jax.lax.scan``; the wall clock is read between chunks, and the time to
reach an accuracy threshold is interpolated linearly inside the chunk in
which it is first reached.  Compilation is timed separately (ahead-of-time
``lower().compile()``) so a chapter can report it on its own and together
with the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core.errors import DivergenceError
from ..core.models import accuracy, softmax_cross_entropy
from ..core.progress import progress_bar


@dataclass(frozen=True)
class GDResult:
    """Outcome of :func:`full_batch_gd`.

    ``steps_to[thr]`` is the first step count after which the training
    accuracy is at least ``thr`` (``None``: not reached); ``time_to[thr]``
    the run time (compilation excluded) to get there.
    """

    params: object
    lr: float
    steps: int
    loss: np.ndarray
    train_accuracy: np.ndarray
    thresholds: tuple[float, ...]
    steps_to: dict
    time_to: dict
    compile_time: float
    run_time: float

    @property
    def time_per_step(self) -> float:
        return self.run_time / max(self.steps, 1)


def full_batch_gd(
    apply_fn: Callable,
    params,
    x,
    y,
    lr: float,
    max_steps: int,
    thresholds: Sequence[float] = (),
    chunk: int = 100,
    loss_fn: Callable = softmax_cross_entropy,
    stop_at_last_threshold: bool = True,
    progress: bool = False,
    diverge_factor: float | None = None,
) -> GDResult:
    """Full-batch GD (optax.sgd, constant ``lr``) on ``apply_fn(params, x)``.

    Stops after ``max_steps`` or, with ``stop_at_last_threshold``, as soon as
    every threshold is reached.  Raises :class:`DivergenceError` when the
    loss stops being finite or, with ``diverge_factor``, exceeds that
    multiple of the initial loss.
    """
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if max_steps < 1 or chunk < 1:
        raise ValueError("max_steps and chunk must be at least 1")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    thresholds = tuple(sorted(float(t) for t in thresholds))
    opt = optax.sgd(lr)
    run_chunk = _chunk_fn(apply_fn, loss_fn, opt, jnp.asarray(x), jnp.asarray(y), chunk)

    carry = (params, opt.init(params))
    t0 = time.perf_counter()
    compiled = jax.jit(run_chunk).lower(carry).compile()
    compile_time = time.perf_counter() - t0

    stop_at = thresholds[-1] if stop_at_last_threshold and thresholds else None
    carry, losses, accs, chunk_end_times = _run_chunks(
        compiled, carry, math.ceil(max_steps / chunk), chunk, lr, stop_at, diverge_factor, progress
    )
    loss = np.concatenate(losses)
    acc = np.concatenate(accs)
    steps_to, time_to = _time_to_thresholds(acc, thresholds, chunk, chunk_end_times)
    return GDResult(
        carry[0],
        float(lr),
        len(loss),
        loss,
        acc,
        thresholds,
        steps_to,
        time_to,
        compile_time,
        chunk_end_times[-1],
    )


def _chunk_fn(apply_fn, loss_fn, opt, x, y, chunk):
    """``run_chunk(carry) -> (carry, (losses, accuracies))``: ``chunk`` GD steps under ``lax.scan``.

    ``carry = (params, opt_state)``; the loss and accuracy of each step are
    those of the parameters *before* its update, from the same forward pass.
    """

    def step(carry, _):
        p, s = carry

        def loss_and_logits(p):
            logits = apply_fn(p, x)
            return loss_fn(logits, y), logits

        (loss, logits), g = jax.value_and_grad(loss_and_logits, has_aux=True)(p)
        upd, s = opt.update(g, s, p)
        p = optax.apply_updates(p, upd)
        # accuracy of the parameters *before* this update, i.e. after (step index) steps
        return (p, s), (loss, accuracy(logits, y))

    def run_chunk(carry):
        return jax.lax.scan(step, carry, None, length=chunk)

    return run_chunk


def _run_chunks(compiled, carry, n_chunks, chunk, lr, stop_at, diverge_factor, progress):
    """Run up to ``n_chunks`` compiled chunks, stopping once an accuracy reaches ``stop_at``.

    Returns ``(carry, losses, accuracies, chunk_end_times)``: per-chunk arrays
    and the run time (compilation excluded) at the end of each chunk.
    Raises :class:`DivergenceError` as :func:`full_batch_gd` documents.
    """
    losses, accs, chunk_end_times = [], [], []
    elapsed = 0.0
    bar = progress_bar(total=n_chunks * chunk, desc=f"GD lr={lr:g}", unit="step", enabled=progress)
    try:
        for _ in range(n_chunks):
            t0 = time.perf_counter()
            carry, (l, a) = compiled(carry)
            l, a = np.asarray(l), np.asarray(a)  # blocks until the chunk is done
            elapsed += time.perf_counter() - t0
            losses.append(l)
            accs.append(a)
            chunk_end_times.append(elapsed)
            bar.update(chunk)
            _check_diverged(losses, lr, diverge_factor)
            if stop_at is not None and a.max() >= stop_at:
                break
    finally:
        bar.close()
    return carry, losses, accs, chunk_end_times


def _check_diverged(losses, lr, diverge_factor):
    """Raise :class:`DivergenceError` if the last chunk's losses are not finite or have grown too much."""
    l = losses[-1]
    if not np.all(np.isfinite(l)):
        bad = len(np.concatenate(losses)) - len(l) + int(np.argmin(np.isfinite(l)))
        raise DivergenceError(
            f"gradient descent diverged at step {bad} with learning rate {lr:g} "
            f"(loss {l[np.argmin(np.isfinite(l))]}); use a smaller learning rate"
        )
    if diverge_factor is not None and l.max() > diverge_factor * losses[0][0]:
        raise DivergenceError(
            f"gradient descent diverged with learning rate {lr:g}: the loss grew from "
            f"{losses[0][0]:.3g} to {l.max():.3g}; use a smaller learning rate"
        )


def _time_to_thresholds(acc, thresholds, chunk, chunk_end_times):
    """``(steps_to, time_to)``: first step with ``acc >= thr`` and its run time, per threshold.

    ``acc[i]`` is the accuracy after i steps; the final parameters' accuracy is
    not yet measured, which only matters for the very last step of the run.
    The time is interpolated linearly inside the chunk of the step.
    """
    steps_to, time_to = {}, {}
    per_step = np.diff(np.concatenate([[0.0], chunk_end_times]))
    for thr in thresholds:
        hit = np.flatnonzero(acc >= thr)
        if len(hit) == 0:
            steps_to[thr] = None
            time_to[thr] = None
            continue
        i = int(hit[0])
        c, r = divmod(i, chunk)
        t_before = chunk_end_times[c - 1] if c > 0 else 0.0
        steps_to[thr] = i
        time_to[thr] = t_before + per_step[c] * r / chunk
    return steps_to, time_to
