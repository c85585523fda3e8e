"""The test session's JAX compilation cache (tests/conftest.py) changes no number.

Three fresh processes train the same tiny random-bases run (chapter 03's FC, RBD and SGD): the
first with an empty cache (it compiles and stores), the second with that cache (it loads), the
third with the cache switched off. The second must have loaded programs from the cache, and all
three must give the same losses, accuracies and parameters bit for bit.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import hashlib, json
    import numpy as np
    from jax._src import monitoring
    hits = []
    monitoring.register_event_listener(
        lambda name, **kw: hits.append(name) if name.endswith("/cache_hits") else None
    )
    from jax.flatten_util import ravel_pytree
    from fasttrain.chapters import ch03_random_bases as S
    from fasttrain.methods import random_bases as rb

    study = S.Study(S.config("smoke"), 0)
    data, model = study.data(n_train=256), study.model("fc")
    out = {}
    for method in (rb.RBD(1.0, 16, "hadamard-coset", chunk=8), rb.SGD(0.5)):
        r = rb.train(model, data, method, epochs=1, batch_size=32, seed=3)
        flat = np.asarray(ravel_pytree(r.params)[0])
        arrays = (np.asarray(r.loss), np.asarray(r.test_accuracy), flat)
        out[type(method).__name__] = [hashlib.sha256(a.tobytes()).hexdigest() for a in arrays]
    print(json.dumps({"hits": len(hits), "digests": out}))
    """
)


def _run(cache_dir, enabled: bool) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache_dir))
    env.update(
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_ENABLE_COMPILATION_CACHE="true" if enabled else "false",
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.heavy
def test_a_program_loaded_from_the_cache_computes_what_a_fresh_compilation_computes(tmp_path):
    stored = _run(tmp_path / "cache", enabled=True)
    assert stored["hits"] == 0 and any((tmp_path / "cache").iterdir())
    loaded = _run(tmp_path / "cache", enabled=True)
    assert loaded["hits"] > 0, "the second process loaded nothing from the cache"
    fresh = _run(tmp_path / "unused", enabled=False)
    assert fresh["hits"] == 0
    assert stored["digests"] == loaded["digests"] == fresh["digests"]
