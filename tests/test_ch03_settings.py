"""Chapter 03's settings table from the labels of Config's fields (core.tables.settings_rows), and
the chapter's rules on the core's combinators (claims.step_state, claims.tally)."""

from dataclasses import replace

import pytest

from fasttrain.chapters import ch03_random_bases as S
from fasttrain.chapters.ch03_random_bases import rules as R
from fasttrain.core import claims as C

SMOKE = [
    ("data set", "mnist-subset"),
    ("training / test images", "512 / 1000"),
    ("epochs: FC / CNN / Table 2 read-off / NES", "1 / 1 / 1 / 1"),
    ("batch size", "32"),
    ("directions per step d", "64"),
    ("models", "FC"),
    (
        "seeds: Table 1 FC and switching / CNN and NES / ablations and compartments / Table 2",
        "2 / 1 / 1 / 1",
    ),
    ("d sweep", "8, 64"),
    (
        "learning-rate selection: candidates × paper's η (FC; CNN), validation images, seeds (FC)",
        "1; 1; 128; 1",
    ),
    ("CNN at the selected rates: epochs (steps), seeds", "not run"),
    ("budget curve: epochs (steps), seeds", "1; 2"),
    ("Table 2's budget, every variant (epochs)", "1"),
    ("NES: population, training images, step size", "20, 256, 0.005"),
    ("timing: interleaved rounds × steps per call (and for the call overhead)", "3 × 5 (1)"),
    ("compartments' time per step: FC hidden widths; parameters per compartment", "16, 32; 2500"),
    ("switch points (epochs)", "0.5, 0.75"),
    ("across processes (weak scaling): process counts × interleaved rounds", "1, 2 × 1"),
    ("extra XLA flags", "--xla_backend_optimization_level=0"),
]


class _NoData:
    """A study whose data must not be loaded (paper scale: the full sets are not here)."""

    def steps_per_epoch(self):
        raise AssertionError("steps_per_epoch asked for a scale without long CNN runs")


class _Steps:
    def steps_per_epoch(self):
        return 156


def test_smoke_settings_rows():
    assert S.settings(S.config("smoke"), _NoData()) == SMOKE


@pytest.mark.parametrize("scale", ["smoke", "book", "paper"])
def test_settings_every_scale_strings_and_lazy_steps(scale):
    rows = dict(S.settings(S.config(scale), _NoData()))
    assert len(rows) == 18 and all(isinstance(v, str) for v in rows.values())
    assert rows["CNN at the selected rates: epochs (steps), seeds"] == "not run"


def test_settings_computed_parts():
    cfg = replace(
        S.config("book"),
        cnn_long_epochs=3,
        cnn_long_seeds=(0, 1),
        budget_epochs=(),
        n_train=None,
        nes_n_train=None,
        xla_flags=(),
        switch_epochs=(),
        compartment_time_hidden=(),
    )
    rows = dict(S.settings(cfg, _Steps()))
    assert rows["CNN at the selected rates: epochs (steps), seeds"] == "3 (468); 2"
    assert rows["budget curve: epochs (steps), seeds"] == "none; 3"
    assert rows["training / test images"] == "all / all"
    assert rows["NES: population, training images, step size"] == "250, all, 0.005"
    assert rows["extra XLA flags"] == "none"
    assert rows["switch points (epochs)"] == "10"
    lr = "learning-rate selection: candidates × paper's η (FC; CNN), validation images, seeds (FC)"
    assert rows[lr] == "1, 4, 16, 64; 1, 4, 16, 64, 256; 1000; 3"
    key = "compartments' time per step: FC hidden widths; parameters per compartment"
    assert rows[key] == "not timed"


def test_several_is_the_core_container():
    assert S.Several is C.Measurements
    with pytest.raises(TypeError):
        S.Several({"a": 0.5})


def test_pair_state_words_follow_step_state():
    E, seeds = C.exact, C.over_seeds
    assert R._pair_state(E(0.5), E(0.6)) == "holds"
    assert R._pair_state(E(0.6), E(0.5)) == "reversed"
    assert R._pair_state(E(0.5), E(0.505)) == "tie"
    assert R._pair_state(E(0.5), seeds([0.55])) == "overlap"  # one run: limited


def test_compartments_faster_without_sizes_stays_inconclusive():
    assert R.compartments_faster.fn({}) == ("inconclusive", "")
