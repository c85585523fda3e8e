"""The shared core: the one Hadamard transform and the progress helper."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from fasttrain.core.hadamard import fwht, is_pow2, next_pow2
from fasttrain.core.progress import progress_bar


@pytest.mark.parametrize("n", [1, 2, 8, 16, 256, 2048])
def test_fwht_matches_dense_hadamard(n):
    x = np.random.default_rng(n).normal(size=(3, n))
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(fwht)(jnp.asarray(x)))
    np.testing.assert_allclose(got, x @ scipy.linalg.hadamard(n).T, rtol=1e-12, atol=1e-10)


def test_fwht_rejects_non_power_of_two():
    with pytest.raises(ValueError, match="not a power of two"):
        fwht(jnp.ones(12))


def test_power_of_two_helpers():
    assert [next_pow2(n) for n in (0, 1, 2, 3, 5, 8, 9)] == [1, 1, 2, 4, 8, 8, 16]
    assert [is_pow2(n) for n in (0, 1, 2, 3, 4, 6)] == [False, True, True, False, True, False]


def test_progress_bar_off_is_a_transparent_wrapper(capsys):
    assert list(progress_bar(range(3), enabled=False, desc="x")) == [0, 1, 2]
    bar = progress_bar(total=5, enabled=False)
    bar.update(5)
    bar.close()
    assert capsys.readouterr().err == ""


def test_interleaved_rounds_alternate_and_give_ratios():
    from fasttrain.core.timing import interleaved, ratios

    order = []
    out = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, rounds=3)
    assert order == ["a", "b"] + ["a", "b"] * 3  # one warm-up each, then alternating rounds
    assert len(out["times"]["a"]) == 3 and len(out["load"]) == 2
    assert len(ratios(out, "a", "b")) == 3
    with pytest.raises(ValueError):
        interleaved({"a": lambda: None}, rounds=0)


def test_readable_table_keeps_renames_and_formats():
    import pandas as pd

    from fasttrain.core.tables import readable

    df = pd.DataFrame({"lr": [0.1, 0.01], "steps": [20000.0, 3120.0], "status": ["ok", "ok"]})
    html = readable(df, {"lr": "learning rate", "steps": "GD steps"}).to_html()
    assert "learning rate" in html and "GD steps" in html and "status" not in html
    assert "20 000" in html and "3 120" in html and "20000.000" not in html
    with pytest.raises(KeyError, match="not in the table"):
        readable(df, {"nope": "x"})


def test_readable_table_shows_missing_values_as_a_dash():
    import pandas as pd

    from fasttrain.core.tables import readable

    df = pd.DataFrame({"seeds": pd.array([5, None], dtype="Int64"), "acc": [0.9, float("nan")]})
    html = readable(df, {"seeds": "seeds", "acc": "accuracy"}).to_html()
    assert "&lt;NA&gt;" not in html and "<NA>" not in html and "nan" not in html
    assert html.count("–") == 2


# --------------------------------------------------------------------------- grid selection
def test_on_grid_keeps_diverged_candidates_as_rows_and_breaks_ties_to_the_smaller_value():
    from fasttrain.core.errors import DivergenceError
    from fasttrain.core.selection import AllDiverged, on_grid

    def err(lr):
        if lr > 1:
            raise DivergenceError("loss not finite at step 3")
        return {0.1: 0.5, 0.3: 0.2, 1.0: float("nan")}[lr]

    rows, best = on_grid((0.1, 0.3, 1.0, 3.0), err, higher=False, diverged=(DivergenceError,))
    assert best == 0.3
    assert [r["status"] for r in rows] == [
        "run",
        "run",
        "diverged",
        "diverged: loss not finite at step 3",
    ]
    assert [r["score"] for r in rows] == [0.5, 0.2, None, None]
    # higher is better, extra columns kept, a tie goes to the smaller value whatever the grid order
    rows, best = on_grid((4, 1, 2), lambda f: {"score": min(f, 2), "n": f}, higher=True)
    assert best == 2 and [r["n"] for r in rows] == [4, 1, 2]
    with pytest.raises(AllDiverged, match="every learning rate diverged"):
        on_grid((1.0,), lambda lr: float("inf"), higher=False, what="learning rate")
    with pytest.raises(ValueError, match="no"):
        on_grid((), err, higher=False)
