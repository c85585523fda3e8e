"""Step cost of structured RBD against SGD, as chapter 03's ``timing()`` measures it.

The same setting as :func:`fasttrain.chapters.ch03_random_bases.timing` at book scale: the FC
model, the first 32 images of the MNIST subset, ``RBD(lr, 250, "hadamard-coset", chunk=50)``
against ``SGD(lr)`` with the paper's learning rates, ``timing_inner`` steps per round in one
jitted ``lax.fori_loop`` (``random_bases.step_runner``, as the chapter), interleaved rounds after a compiling
warm-up with BLAS pinned (:func:`fasttrain.core.timing.interleaved`).  It also prints the number
of fusions and of instructions of each compiled step loop, so the effect of a change is visible.

Run it from the repository root under the shared lock (it computes for tens of seconds)::

    flock -s /tmp/fasttrain-book.lock env PYTHONPATH=$PWD/lib \
        /work/main/.venv/bin/python benchmarks/rbd_step.py --rounds 7
"""

from __future__ import annotations

import argparse
import os
import re

import jax
import numpy as np

from fasttrain.chapters import ch03_random_bases as ch
from fasttrain.core import timing as T
from fasttrain.methods import random_bases as rb


def runner(model, method, x, y, seed: int, inner: int):
    """``(fn, compiled_text)``: the step loop the chapter times (``fn()`` runs ``inner`` steps from
    the seed's initial network) and its compiled program."""
    x, y = jax.numpy.asarray(x), jax.numpy.asarray(y)
    params = model.init(rb.stream_key(seed, rb.STREAM_INIT), tuple(x.shape[1:]))
    loss = rb.make_loss(model.apply)
    many, aux = rb.step_runner(method, loss, params, x, y, inner, seed, loop="fori")
    return (lambda: many(params, aux)), many.lower(params, aux).compile().as_text()


def hlo_counts(text: str) -> dict:
    """Fusion computations, fusion calls and instructions in an optimised HLO module."""
    comps = re.findall(r"^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$", text, flags=re.M)
    return {
        "fusion computations": sum(1 for c in comps if "fus" in c),
        "fusion calls": len(re.findall(r" fusion\(", text)),
        "instructions": len(re.findall(r"^\s+(?:ROOT )?%?\S+ = ", text, flags=re.M)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--inner", type=int, default=ch.CONFIGS["book"].timing_inner)
    ap.add_argument("--d", type=int, default=ch.CONFIGS["book"].d)
    ap.add_argument("--chunk", type=int, default=ch.CONFIGS["book"].chunk)
    ap.add_argument("--distribution", default=ch.CONFIGS["book"].rbd_distribution)
    ap.add_argument("--hlo", metavar="DIR", help="also write each loop's optimised HLO to DIR")
    args = ap.parse_args()

    cfg = ch.CONFIGS["book"]
    study = ch.Study(cfg, seed=0)
    ds = study.data()
    x, y = ds.x_train[: cfg.batch_size], ds.y_train[: cfg.batch_size]
    lr = ch.learning_rates("fc", cfg.dataset)
    model = study.model("fc")
    methods = {
        "SGD": rb.SGD(lr["sgd"]),
        f"RBD {args.distribution}": rb.RBD(lr["rbd"], args.d, args.distribution, chunk=args.chunk),
    }
    built = {n: runner(model, m, x, y, study.seed, args.inner) for n, m in methods.items()}
    fns = {n: fn for n, (fn, _) in built.items()}
    for name, (_, text) in built.items():
        counts = hlo_counts(text)
        print(f"{name:24s} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if args.hlo:
            with open(os.path.join(args.hlo, f"{name.split()[0].lower()}.hlo"), "w") as f:
                f.write(text)
    timed = T.interleaved(fns, rounds=args.rounds, warmup=1)
    per_step = {n: np.array(ts) / args.inner for n, ts in timed["times"].items()}
    names = list(fns)
    ratio = per_step[names[1]] / per_step[names[0]]
    for n in names:
        print(f"{n:24s} {1e3 * np.median(per_step[n]):.3f} ms/step (median of {args.rounds})")
    print(
        f"ratio RBD/SGD: median {np.median(ratio):.3f} [{ratio.min():.3f}, {ratio.max():.3f}]"
        f"  per round: {', '.join(f'{r:.2f}' for r in ratio)}  load {timed['load']}"
        f"  devices {jax.devices()}"
    )


if __name__ == "__main__":
    main()
