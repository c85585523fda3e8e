"""Vendored data: checksums, shapes, splits, and clear errors on bad files."""

import shutil

import numpy as np
import pytest

from fasttrain.core import data


def test_vendored_files_match_their_checksums():
    for name in data.CHECKSUMS:
        data.verified_path(name)


def test_readme_lists_the_same_checksums():
    readme = (data.data_dir() / "README.md").read_text()
    for name, digest in data.CHECKSUMS.items():
        assert name in readme and digest in readme


def test_banknote_split_is_stratified_standardised_and_seeded():
    a = data.load_banknote(seed=0)
    b = data.load_banknote(seed=0)
    c = data.load_banknote(seed=1)
    assert a.x_train.shape == (1098, 4) and a.x_test.shape == (274, 4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    np.testing.assert_allclose(a.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(a.x_train.std(0), 1, atol=1e-4)
    assert abs(a.y_train.mean() - a.y_test.mean()) < 0.01  # stratified: 610/1372 forged


def test_magic_and_subsample():
    m = data.load_magic(n_train=500)
    assert m.x_train.shape == (500, 10) and m.n_classes == 2
    assert abs(m.y_train.mean() - 6688 / 19020) < 0.02


def test_mnist_subset():
    d = data.load_mnist_subset()
    assert d.x_train.shape == (5000, 28, 28, 1) and d.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(d.y_train).tolist() == [500] * 10
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0


def _copy_data(tmp_path):
    d = tmp_path / "datasets"
    shutil.copytree(data.data_dir(), d)
    return d


def test_corrupt_file_gives_clear_error(tmp_path):
    d = _copy_data(tmp_path)
    f = d / "magic04.data"
    f.chmod(0o644)
    f.write_text(f.read_text()[:-100])
    with pytest.raises(data.DataError, match="corrupt.*sha256"):
        data.verified_path("magic04.data", d)


def test_missing_file_gives_clear_error(tmp_path):
    d = _copy_data(tmp_path)
    (d / "magic04.data").unlink()
    with pytest.raises(data.DataError, match="missing"):
        data.verified_path("magic04.data", d)


def test_bad_split_arguments():
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_banknote(test_fraction=1.5)
    with pytest.raises(ValueError, match="n_train"):
        data.load_banknote(n_train=0)


def test_malformed_idx(tmp_path):
    p = tmp_path / "bad.idx"
    p.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    with pytest.raises(data.DataError, match="header says 5"):
        data.read_idx(p)
