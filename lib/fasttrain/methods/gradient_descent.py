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
    x = jnp.asarray(x)
    y = jnp.asarray(y)

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

    carry = (params, opt.init(params))
    t0 = time.perf_counter()
    compiled = jax.jit(run_chunk).lower(carry).compile()
    compile_time = time.perf_counter() - t0

    losses, accs, chunk_end_times = [], [], []
    elapsed = 0.0
    n_chunks = math.ceil(max_steps / chunk)
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
            if stop_at_last_threshold and thresholds and a.max() >= thresholds[-1]:
                break
    finally:
        bar.close()

    loss = np.concatenate(losses)
    acc = np.concatenate(accs)
    # acc[i] is the accuracy after i steps; the final parameters' accuracy is not
    # yet measured, which only matters for the very last step of the run.
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
        elapsed,
    )
